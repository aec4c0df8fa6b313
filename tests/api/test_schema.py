"""The OpenAPI schema (docs/spec.md §5) documents every view without a warning."""

import io
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from postbacks.endpoint_apis import EndpointInputSerializer, EndpointOutputSerializer
from postbacks.endpoint_changes import ENDPOINT_FIELDS, ENDPOINT_SETTINGS
from postbacks.forms import PostbackEndpointAdminForm


def test_schema_generates_without_warnings() -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    paths = yaml.safe_load(out.getvalue())["paths"]
    assert {
        "/api/v1/conversions/",
        "/api/v1/conversions/batch/",
        "/api/v1/conversions/{id}/",
        "/api/v1/deliveries/{id}/",
        "/api/v1/deliveries/replay/",
        "/api/v1/affiliates/",
        "/api/v1/affiliates/{id}/",
        "/api/v1/offers/",
        "/api/v1/offers/{id}/",
        "/api/v1/postback-endpoints/",
        "/api/v1/postback-endpoints/{id}/",
        "/api/v1/receiver-presets/",
    } <= set(paths)
    ingest = paths["/api/v1/conversions/"]["post"]["responses"]
    assert {"200", "202", "400", "401", "403", "413", "415"} <= set(ingest)


@pytest.mark.django_db
def test_schema_and_docs_are_served_to_staff(admin_client: Any) -> None:
    assert admin_client.get("/api/schema/").status_code == 200
    assert admin_client.get("/api/docs/").status_code == 200


def test_schema_documents_the_mending_routes_and_fields() -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    attribute = schema["paths"]["/api/v1/conversions/{id}/attribute/"]["post"]["responses"]
    assert {"200", "400", "404", "409"} <= set(attribute)
    parts = schema["components"]["schemas"]
    answer = parts["ConversionAnswer"]["properties"]
    assert {"duplicate", "ignored", "notes", "warnings"} <= set(answer)
    assert set(parts["IgnoredFields"]["properties"]) == {
        "offer_id",
        "tracker",
        "affiliate_id",
        "amount",
        "currency",
        "occurred_at",
    }
    assert "rerender" in parts["DeliveryReplayInputRequest"]["properties"]
    assert "refused" in parts["DeliveryReplayOutput"]["properties"]
    assert "url" in parts["DeliveryAttemptOutput"]["properties"]


def test_an_endpoints_settings_are_named_once_for_the_api_and_the_admin() -> None:
    """What the API shows and takes of an endpoint, and what the admin's form edits, is the one
    list in postbacks/endpoint_changes.py: a setting added to the model is added there once."""
    assert set(EndpointInputSerializer().fields) == set(ENDPOINT_FIELDS)
    assert set(ENDPOINT_FIELDS) <= set(EndpointOutputSerializer().fields)
    assert set(ENDPOINT_SETTINGS) <= set(PostbackEndpointAdminForm.base_fields)
