"""POST /api/v1/conversions/: every answer of docs/spec.md §5."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.access import ACCOUNT_MANAGER_GROUP, NETWORK_ADMIN_GROUP
from config.permissions import token_digest
from postbacks.models import Conversion, Delivery
from tests.api.conftest import CONVERSIONS_URL, World, token_client

pytestmark = pytest.mark.django_db


def test_new_conversion_is_accepted_with_its_deliveries(world: World, post_json: Any) -> None:
    response = post_json(world.payload())

    assert response.status_code == 202
    body = response.json()
    conversion = Conversion.objects.get()
    delivery = Delivery.objects.get()
    assert body == {
        "id": conversion.pk,
        "transaction_id": "tx-1",
        "event": "signup",
        "attribution": "attributed",
        "attribution_error": "",
        "deliveries": [delivery.pk],
    }
    assert conversion.tracker_values == {"affid": "aff9", "TransID": "tx77", "clickId": "c0ffee"}
    assert conversion.amount == Decimal("35.00")
    assert conversion.currency == "USD"
    assert delivery.url == "https://track.example/pb?cid=c0ffee&tx=tx-1"


def test_same_transaction_and_event_again_answers_200_with_the_first_answer(
    world: World, post_json: Any
) -> None:
    first = post_json(world.payload())
    again = post_json(world.payload(amount="99.00", tracker="something else"))

    assert (first.status_code, again.status_code) == (202, 200)
    # The first answer, plus what the repeat said differently (docs/spec.md §10).
    assert again.json() == {
        **first.json(),
        "duplicate": True,
        "ignored": {
            "tracker": ["trID_1234567_aff9-tx77-c0ffee_trID", "something else"],
            "amount": ["35.00", "99.00"],
        },
    }
    assert Conversion.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_same_transaction_with_another_event_is_a_new_conversion(
    world: World, post_json: Any
) -> None:
    assert post_json(world.payload()).status_code == 202
    assert post_json(world.payload(event="rebill")).status_code == 202
    assert Conversion.objects.count() == 2


def test_unattributed_conversion_is_stored_and_answered_with_its_reason(
    world: World, post_json: Any
) -> None:
    response = post_json(world.payload(tracker="not-a-tracker"))

    assert response.status_code == 202
    body = response.json()
    assert body["attribution"] == "unattributed"
    assert "no affiliate id" in body["attribution_error"]
    assert body["deliveries"] == []
    conversion = Conversion.objects.get(pk=body["id"])
    assert conversion.affiliate is None
    assert conversion.tracker_raw == "not-a-tracker"


def test_unknown_affiliate_is_unattributed_naming_it(world: World, post_json: Any) -> None:
    body = post_json(world.payload(tracker="trID_7654321_a-b-c_trID")).json()
    assert body["attribution"] == "unattributed"
    assert "7654321" in body["attribution_error"]


def test_revshare_affiliate_id_outside_the_tracker_attributes(world: World, post_json: Any) -> None:
    response = post_json(world.payload(tracker="trID_aff9-tx77-c0ffee_trID", affiliate_id=1234567))
    assert response.status_code == 202
    assert response.json()["attribution"] == "attributed"


def test_only_required_fields_default_currency_and_time(world: World, post_json: Any) -> None:
    payload = {"transaction_id": "tx-min", "event": "signup", "offer_id": 66013}
    response = post_json(payload)
    assert response.status_code == 202
    conversion = Conversion.objects.get()
    assert conversion.currency == "USD"
    assert conversion.amount is None
    assert conversion.occurred_at is not None


def test_optional_fields_may_be_null(world: World, post_json: Any) -> None:
    nulls = {"tracker": None, "affiliate_id": None, "amount": None, "currency": None}
    response = post_json(world.payload(occurred_at=None, **nulls))
    assert response.status_code == 202
    assert response.json()["attribution"] == "unattributed"


def test_naive_occurred_at_is_utc_and_currency_is_upper_cased(world: World, post_json: Any) -> None:
    response = post_json(world.payload(occurred_at="2025-01-31T12:00:00", currency="eur"))
    assert response.status_code == 202
    conversion = Conversion.objects.get()
    assert conversion.occurred_at == datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
    assert conversion.currency == "EUR"


def test_amount_may_be_a_json_number(world: World, post_json: Any) -> None:
    assert post_json(world.payload(amount=12.5)).status_code == 202
    assert Conversion.objects.get().amount == Decimal("12.5")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transaction_id", ""),
        ("transaction_id", "   "),
        ("transaction_id", "x" * 129),
        ("transaction_id", None),
        ("event", None),
        ("event", ""),
        ("event", "x" * 33),
        ("offer_id", "abc"),
        ("offer_id", 0),
        ("offer_id", -5),
        ("offer_id", 1.5),
        ("offer_id", True),
        ("offer_id", None),
        ("offer_id", 10**30),
        ("tracker", "t" * 1025),
        ("tracker", {"a": 1}),
        ("affiliate_id", 0),
        ("affiliate_id", 2**63),
        ("affiliate_id", "12x"),
        ("amount", "abc"),
        ("amount", "1e999999"),
        ("amount", "NaN"),
        ("amount", "12345678901.1"),
        ("amount", "1.23456"),
        ("amount", [1]),
        ("currency", "US"),
        ("currency", "USDX"),
        ("currency", "U$D"),
        ("currency", "QQQ"),
        ("transaction_id", "tx-1\u202e2"),
        ("transaction_id", "tx-1\u200b2"),
        ("transaction_id", "tx-1\n2"),
        ("amount", "-1"),
        ("amount", "-0.01"),
        ("occurred_at", "0001-01-01T00:00:00Z"),
        ("occurred_at", "9999-12-31T00:00:00Z"),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2025-02-30T00:00:00Z"),
        ("occurred_at", "9999-12-31T23:59:59-05:00"),
        ("occurred_at", 1738324800),
    ],
)
def test_schema_error_is_400_naming_the_field(
    world: World, post_json: Any, field: str, value: Any
) -> None:
    response = post_json(world.payload(**{field: value}))

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert Conversion.objects.count() == 0


@pytest.mark.parametrize("field", ["transaction_id", "event", "offer_id"])
def test_missing_required_field_is_400_naming_it(world: World, post_json: Any, field: str) -> None:
    payload = world.payload()
    del payload[field]
    response = post_json(payload)
    assert response.status_code == 400
    assert response.json() == {field: ["This field is required."]}


@pytest.mark.parametrize("field", ["transaction_id", "event", "tracker", "currency"])
def test_nul_character_in_a_string_is_400(world: World, post_json: Any, field: str) -> None:
    value = {"transaction_id": "tx\x001", "event": "sign\x00up", "tracker": "trID_\x00_trID"}
    response = post_json(world.payload(**{field: value.get(field, "US\x00")}))
    assert response.status_code == 400
    assert field in response.json()


def test_lone_surrogate_in_a_string_is_400(world: World, ingest_client: APIClient) -> None:
    body = json.dumps(world.payload()).replace('"tx-1"', '"tx-\\ud800"')
    response = ingest_client.post(CONVERSIONS_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "transaction_id" in response.json()


def test_unknown_event_is_400_naming_it(world: World, post_json: Any) -> None:
    response = post_json(world.payload(event="chargeback"))
    assert response.status_code == 400
    assert list(response.json()) == ["event"]
    assert "chargeback" in response.json()["event"][0]


def test_inactive_event_is_refused(world: World, post_json: Any) -> None:
    from postbacks.models import EventType

    EventType.objects.filter(code="trial").update(is_active=False)
    response = post_json(world.payload(event="trial"))
    assert response.status_code == 400
    assert "trial" in response.json()["event"][0]


def test_unknown_offer_is_400_naming_it(world: World, post_json: Any) -> None:
    response = post_json(world.payload(offer_id=99999))
    assert response.status_code == 400
    assert list(response.json()) == ["offer_id"]
    assert "99999" in response.json()["offer_id"][0]


@pytest.mark.parametrize(
    "body",
    ["[]", '"a string"', "null", "42", "[{}]", '{"transaction_id": ["tx"]}', "{}"],
)
def test_json_that_is_not_a_conversion_object_is_400(
    world: World, ingest_client: APIClient, body: str
) -> None:
    response = ingest_client.post(CONVERSIONS_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert isinstance(response.json(), dict)


@pytest.mark.parametrize(
    "body", ['{"transaction_id": ', "{'single': 'quotes'}", '{"amount": NaN}', "\xff\xfe"]
)
def test_malformed_json_is_400(world: World, ingest_client: APIClient, body: str) -> None:
    response = ingest_client.post(CONVERSIONS_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("field", "literal"), [("offer_id", "9" * 5000), ("amount", "1e400"), ("amount", "-1e400")]
)
def test_huge_number_literal_is_400(
    world: World, ingest_client: APIClient, field: str, literal: str
) -> None:
    body = json.dumps(world.payload(**{field: "HUGE"})).replace('"HUGE"', literal)
    response = ingest_client.post(CONVERSIONS_URL, body, content_type="application/json")
    assert response.status_code == 400


def test_not_json_is_415(world: World, ingest_client: APIClient) -> None:
    form = ingest_client.post(CONVERSIONS_URL, {"transaction_id": "tx"})  # multipart
    text = ingest_client.post(CONVERSIONS_URL, "transaction_id=tx", content_type="text/plain")
    assert (form.status_code, text.status_code) == (415, 415)
    assert "detail" in text.json()


def test_body_without_content_type_is_415(world: World, ingest_client: APIClient) -> None:
    response = ingest_client.generic(
        "POST", CONVERSIONS_URL, json.dumps(world.payload()), content_type=""
    )
    assert response.status_code == 415
    assert "Content-Type" in response.json()["detail"]


def test_body_over_64_kib_is_413(world: World, post_json: Any) -> None:
    response = post_json(world.payload(padding="x" * (64 * 1024)))
    assert response.status_code == 413
    assert "65536" in response.json()["detail"]
    assert Conversion.objects.count() == 0


def test_body_just_under_the_limit_is_read(world: World, post_json: Any) -> None:
    payload = world.payload(padding="")
    size = len(json.dumps(payload).encode())
    payload["padding"] = "x" * (64 * 1024 - size)
    assert len(json.dumps(payload).encode()) == 64 * 1024
    assert post_json(payload).status_code == 202


def test_no_token_is_401_with_the_token_challenge(world: World) -> None:
    response = APIClient().post(CONVERSIONS_URL, world.payload(), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_bad_token_is_401(world: World) -> None:
    response = token_client("0" * 40).post(CONVERSIONS_URL, world.payload(), format="json")
    assert response.status_code == 401


def test_token_without_a_scope_is_403(world: World) -> None:
    user = User.objects.create(username="no-scope")
    key = "f" * 40
    Token.objects.create(user=user, key=token_digest(key))
    response = token_client(key).post(CONVERSIONS_URL, world.payload(), format="json")
    assert response.status_code == 403


def test_manage_token_may_ingest(world: World, manage_client: APIClient) -> None:
    response = manage_client.post(CONVERSIONS_URL, world.payload(), format="json")
    assert response.status_code == 202


def test_signed_in_network_admins_may_ingest_and_other_staff_may_not(world: World) -> None:
    network_admin, manager, clerk = APIClient(), APIClient(), APIClient()
    admin_user = User.objects.create(username="nadia", is_staff=True)
    admin_user.groups.add(Group.objects.get(name=NETWORK_ADMIN_GROUP))
    network_admin.force_login(admin_user)
    manager_user = User.objects.create(username="am", is_staff=True)
    manager_user.groups.add(Group.objects.get(name=ACCOUNT_MANAGER_GROUP))
    manager.force_login(manager_user)
    clerk.force_login(User.objects.create(username="clerk"))
    assert manager.post(CONVERSIONS_URL, world.payload(), format="json").status_code == 403
    assert clerk.post(CONVERSIONS_URL, world.payload(), format="json").status_code == 403
    assert network_admin.post(CONVERSIONS_URL, world.payload(), format="json").status_code == 202


def test_percent_encoded_nul_in_the_tracker_is_still_stored(world: World, post_json: Any) -> None:
    response = post_json(world.payload(tracker="trID_1234567_aff%00-tx77-c0ffee_trID"))
    assert response.status_code == 202
    conversion = Conversion.objects.get(pk=response.json()["id"])
    assert next(iter(conversion.tracker_values.values())) == "aff%00"


def test_a_single_ingest_runs_three_statements(
    world: World, post_json: Any, django_assert_num_queries: Any
) -> None:
    """The token; the affiliate with its endpoints and the new conversion's id; the conversion
    written with its deliveries (docs/benchmarks.md: each statement was a round trip and a
    share of the request's Python)."""
    post_json(world.payload(transaction_id="warm"))  # event types and offers are read once
    with django_assert_num_queries(3) as captured:
        response = post_json(world.payload(transaction_id="counted"))
    assert response.status_code == 202, response.content
    first, reads, write = (q["sql"] for q in captured.captured_queries)
    assert "authtoken" in first
    assert "nextval" in reads and "postbacks_postbackendpoint" in reads
    assert write.startswith("WITH c AS (INSERT INTO")
