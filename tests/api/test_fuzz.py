"""Schemathesis against our own OpenAPI schema (docs/spec.md §5): no request the schema allows, or
nearly allows, makes the API answer 5xx, and every answer matches the schema.

The schema is fetched from the app itself and every case runs in-process through the WSGI app,
with a real manage-scope token (manage includes ingest). A little data is seeded, and about half
of the generated path ids are swapped for a seeded row so GET/PUT/PATCH/DELETE and the test
postback also reach real rows, not only 404s. The seeded endpoint posts to a local receiver (the
test settings allow 127.0.0.0/8), so POST .../test/ sends a real postback without leaving the
host; generated endpoints pointing elsewhere are refused by the address guard before any socket
is opened (or fail DNS for reserved names), so nothing is excluded.

Bounded for CI: a few cases per operation, derandomized so a failure reproduces.
"""

import os
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from postbacks.models import Conversion, Delivery
from tests.api.conftest import CONVERSIONS_URL, World, issue_token, token_client
from tests.conftest import Receiver

# Per operation; FUZZ_MAX_EXAMPLES=200 for a deeper local run.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))

# The seeded row each id-taking path should hit, by the path's template.
_SEEDED: dict[str, str] = {
    "/api/v1/affiliates/{id}/": "affiliate",
    "/api/v1/offers/{id}/": "offer",
    "/api/v1/postback-endpoints/{id}/": "endpoint",
    "/api/v1/postback-endpoints/{id}/test/": "endpoint",
    "/api/v1/conversions/{id}/": "conversion",
    "/api/v1/conversions/{id}/status/": "conversion",
    "/api/v1/deliveries/{id}/": "delivery",
}


# Loaded at import (pytest-django has configured Django by then; serving the schema reads no
# database): schemathesis.pytest.from_fixture does not work with pytest 9 (it sets the removed
# Node._nodeid). config.wsgi would select the production settings; pytest-django already set the
# test ones, which get_wsgi_application() keeps.
schema: OpenApiSchema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def seeded(event_types: None, receiver: Receiver) -> dict[str, int]:
    world = World()
    world.endpoint.url_template = f"{receiver.base_url}/pb?cid={{clickId}}&tx={{transaction_id}}"
    world.endpoint.save(update_fields=["url_template"])
    key = issue_token("fuzz-seed", "manage")
    answer = token_client(key).post(CONVERSIONS_URL, world.payload(), format="json")
    assert answer.status_code == 202, answer.content
    conversion = Conversion.objects.get()
    delivery = Delivery.objects.filter(conversion=conversion).first()
    assert delivery is not None
    return {
        "affiliate": world.affiliate.pk,
        "offer": world.offer.pk,
        "endpoint": world.endpoint.pk,
        "conversion": conversion.pk,
        "delivery": delivery.pk,
    }


@pytest.fixture
def manage_key(db: Any) -> str:
    return issue_token("fuzz-manager", "manage")


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_conforms_to_its_schema(case: Any, manage_key: str, seeded: dict[str, int]) -> None:
    seeded_kind = _SEEDED.get(case.path)
    if seeded_kind is not None and case.path_parameters:
        generated = case.path_parameters.get("id")
        if isinstance(generated, int) and generated % 2 == 0:
            case.path_parameters["id"] = seeded[seeded_kind]
    case.call_and_validate(
        headers={"Authorization": f"Token {manage_key}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
