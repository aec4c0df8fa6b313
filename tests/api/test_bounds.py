"""The bounds every JSON endpoint and every list keeps: nesting depth, repeated keys, page size."""

from typing import Any

import pytest
from django.db import DataError, IntegrityError, OperationalError
from rest_framework.test import APIClient

from config.api import exception_handler
from config.api_input import JSON_MAX_DEPTH, json_depth_exceeds
from postbacks.models import Conversion
from tests.api.conftest import World

JSON_ENDPOINTS = [
    ("ingest", "/api/v1/conversions/"),
    ("ingest", "/api/v1/conversions/batch/"),
    ("manage", "/api/v1/affiliates/"),
    ("manage", "/api/v1/offers/"),
    ("manage", "/api/v1/postback-endpoints/"),
    ("manage", "/api/v1/deliveries/replay/"),
]
LISTS = ["/api/v1/affiliates/", "/api/v1/offers/", "/api/v1/postback-endpoints/"]


def _client(scope: str, ingest_client: APIClient, manage_client: APIClient) -> APIClient:
    return ingest_client if scope == "ingest" else manage_client


@pytest.mark.parametrize(("scope", "url"), JSON_ENDPOINTS)
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(
    world: World,
    ingest_client: APIClient,
    manage_client: APIClient,
    scope: str,
    url: str,
    opener: str,
) -> None:
    # 1,200 levels in under 8 KB: the decoder alone would raise RecursionError (a 500).
    closer = "]" if opener == "[" else "}"
    body = opener * 1200 + "1" + closer * 1200
    client = _client(scope, ingest_client, manage_client)

    response = client.post(url, body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "levels deep" in response.json()["detail"]
    assert Conversion.objects.count() == 0


def test_nesting_up_to_the_bound_still_parses(world: World, ingest_client: APIClient) -> None:
    nested = "[" * (JSON_MAX_DEPTH - 1) + "1" + "]" * (JSON_MAX_DEPTH - 1)
    body = (
        '{"transaction_id": "tx-deep", "event": "signup", "offer_id": 66013, "x": ' + nested + "}"
    )
    response = ingest_client.post("/api/v1/conversions/", body, content_type="application/json")
    # Parsed, then validated: unknown fields are ignored, the conversion is stored.
    assert response.status_code == 202, response.content


def test_nesting_is_counted_on_arrays_and_objects_not_on_brackets_in_strings() -> None:
    assert not json_depth_exceeds({"tracker": "[" * 500 + "{" * 500}, JSON_MAX_DEPTH)
    nested: list[object] = []
    for _ in range(32):
        nested = [nested]
    assert not json_depth_exceeds(nested[0], 32)
    assert json_depth_exceeds(nested, 32)
    assert json_depth_exceeds({"a": [{"b": nested}]}, 34)
    assert not json_depth_exceeds("scalar", 0)


@pytest.mark.parametrize(
    "depth", [JSON_MAX_DEPTH + 1, 500, 5000], ids=["just-over", "decodable", "recursion-limit"]
)
def test_every_depth_over_the_bound_gets_the_same_answer(
    world: World, ingest_client: APIClient, depth: int
) -> None:
    body = "[" * depth + "]" * depth
    response = ingest_client.post("/api/v1/conversions/", body, content_type="application/json")
    assert response.status_code == 400
    assert "more than 32 levels deep" in response.json()["detail"]


@pytest.mark.parametrize(("scope", "url"), JSON_ENDPOINTS)
def test_a_repeated_key_is_a_400_naming_it(
    world: World, ingest_client: APIClient, manage_client: APIClient, scope: str, url: str
) -> None:
    body = (
        '{"transaction_id": "tx-a", "event": "signup", "offer_id": 66013,'
        ' "amount": "1.00", "amount": "900.00"}'
    )
    client = _client(scope, ingest_client, manage_client)

    response = client.post(url, body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert 'The key "amount" appears twice' in response.json()["detail"]
    assert Conversion.objects.count() == 0


def test_a_repeated_key_inside_a_batch_item_sinks_the_body(
    world: World, ingest_client: APIClient
) -> None:
    item = '{"transaction_id": "tx-b", "event": "signup", "event": "sale", "offer_id": 66013}'
    body = '{"conversions": [' + item + "]}"
    response = ingest_client.post(
        "/api/v1/conversions/batch/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert '"event" appears twice' in response.json()["detail"]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=99999999999999999999", "limit"),
        ("limit=1000000000", "limit"),
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=%D9%A3", "limit"),
        ("offset=99999999999999999999", "offset"),
        ("offset=1000001", "offset"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
    ],
)
def test_a_page_bound_crossed_is_a_400_naming_the_parameter(
    world: World, manage_client: APIClient, url: str, query: str, param: str
) -> None:
    response = manage_client.get(f"{url}?{query}")

    assert response.status_code == 400, response.content
    assert list(response.json()) == [param]
    assert "whole number" in response.json()[param][0]


@pytest.mark.parametrize("url", LISTS)
def test_the_largest_page_and_offset_are_served(
    world: World, manage_client: APIClient, url: str
) -> None:
    response = manage_client.get(f"{url}?limit=1000&offset=1000000")
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert len(manage_client.get(f"{url}?limit=1").json()["results"]) == 1


def test_the_schema_states_the_page_bounds(manage_client: APIClient) -> None:
    schema = manage_client.get("/api/schema/?format=json").json()
    parameters = {
        parameter["name"]: parameter["schema"]
        for parameter in schema["paths"]["/api/v1/affiliates/"]["get"]["parameters"]
    }
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert parameters["offset"] == {"type": "integer", "minimum": 0, "maximum": 1000000}


def test_a_value_the_database_cannot_hold_is_a_400_not_a_503() -> None:
    response = exception_handler(DataError("bigint out of range"), {})
    assert response is not None
    assert response.status_code == 400
    assert "out of range" in response.data["detail"][0]


def test_a_503_means_the_database_is_away() -> None:
    response = exception_handler(OperationalError("connection refused"), {})
    assert response is not None
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_other_database_errors_are_not_reported_as_an_outage() -> None:
    assert exception_handler(IntegrityError("duplicate key"), {}) is None


def test_the_body_must_be_utf8(world: World, ingest_client: APIClient) -> None:
    response = ingest_client.post(
        "/api/v1/conversions/", b'{"transaction_id": "\xff"}', content_type="application/json"
    )
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]


def test_plain_bad_json_is_still_a_400(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    response = ingest_client.post("/api/v1/conversions/", "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
