"""Editing a live endpoint through the management API (issue 15, item 3): a change of what it fires
answers 202 with the new endpoint in testing that carries it, the live one is left as it was; the
new one goes live by its status only after a successful test, and that disables the old one."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from postbacks.models import PostbackEndpoint
from tests.api.conftest import issue_token, token_client
from tests.postbacks.test_live_edit import assert_revision_of, live_endpoint, snapshot

pytestmark = pytest.mark.django_db

Status = PostbackEndpoint.Status
ENDPOINTS = "/api/v1/postback-endpoints/"


@pytest.fixture
def api(db: Any) -> APIClient:
    return token_client(issue_token("account-manager-bot", "manage"))


def detail(endpoint_id: int) -> str:
    return f"{ENDPOINTS}{endpoint_id}/"


def test_a_new_url_for_a_live_endpoint_answers_202_with_the_change_in_testing(api, receiver):
    live = live_endpoint()
    before = snapshot(live)
    new_url = receiver.base_url + "/pb?cid={clickId}&s={status}"

    response = api.patch(detail(live.pk), {"url_template": new_url}, format="json")

    assert response.status_code == 202, response.content
    revision = assert_revision_of(live, before, url_template=new_url)
    body = response.json()
    assert (body["id"], body["replaces"], body["status"]) == (revision.pk, live.pk, "testing")
    assert (body["url_template"], body["fire_on"]) == (new_url, ["approved", "reversed"])
    assert body["notes"] == [
        f"endpoint #{live.pk} stays live as it was; your change is endpoint #{revision.pk} in "
        f"testing: send it a test postback (POST /api/v1/postback-endpoints/{revision.pk}/test/), "
        f'then set it live (PATCH /api/v1/postback-endpoints/{revision.pk}/ with {{"status": '
        f'"live"}}), which disables #{live.pk}'
    ]
    assert api.get(detail(live.pk)).json()["url_template"] == before["url_template"]

    refused = api.patch(detail(revision.pk), {"status": "live"}, format="json")
    assert refused.status_code == 400
    assert "Send a test postback that succeeds" in str(refused.json())
    assert snapshot(live)["status"] == Status.LIVE

    tested = api.post(f"{detail(revision.pk)}test/", {}, format="json")
    assert tested.json()["succeeded"] is True, tested.content
    went_live = api.patch(detail(revision.pk), {"status": "live"}, format="json")
    assert went_live.status_code == 200, went_live.content
    assert went_live.json()["status"] == "live"
    live.refresh_from_db()
    assert (live.status, live.disabled_reason) == (
        Status.DISABLED,
        f"replaced by endpoint #{revision.pk}",
    )


@pytest.mark.parametrize(
    ("change", "saved"),
    [
        ({"method": "POST"}, {"method": "POST"}),
        ({"fire_on": ["approved"]}, {"fire_on": ["approved"]}),
        ({"status_values": {"approved": "lead"}}, {"status_values": {"approved": "lead"}}),
        ({"offer_id": None}, {"offer": None}),
        ({"event_types": ["freereg"]}, {"event_types": ["freereg"]}),
    ],
)
def test_every_change_of_what_a_live_endpoint_fires_is_a_revision_with_every_field(
    api, change, saved
):
    live = live_endpoint()
    before = snapshot(live)
    response = api.patch(detail(live.pk), change, format="json")
    assert response.status_code == 202, response.content
    assert_revision_of(live, before, **saved)


def test_a_put_of_the_live_endpoint_as_it_is_changes_nothing(api):
    live = live_endpoint()
    before = snapshot(live)
    shown = api.get(detail(live.pk)).json()
    fields = ("affiliate_id", "offer_id", "event_types", "url_template", "method", "status")
    fields += ("disabled_reason", "test_link", "fire_on", "status_values", "success_body")
    response = api.put(detail(live.pk), {name: shown[name] for name in fields}, format="json")
    assert response.status_code == 200, response.content
    assert snapshot(live) == before
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


@pytest.mark.parametrize(
    "change",
    [
        {"test_link": "https://offers.example/go?id=66013;tracker=trID_1234567_a-b-beef_trID"},
        {"disabled_reason": "Kept while the receiver moves."},
        {"success_body": "received"},
    ],
)
def test_a_change_that_fires_nothing_new_is_saved_in_place_with_200(api, change):
    live = live_endpoint()
    before = snapshot(live)
    response = api.patch(detail(live.pk), change, format="json")
    assert response.status_code == 200, response.content
    assert "notes" not in response.json()
    assert snapshot(live) == {**before, **change}
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


def test_a_change_that_takes_the_endpoint_out_of_live_is_saved_in_place(api):
    live = live_endpoint()
    new_url = "https://new.example/pb?cid={clickId}"
    response = api.patch(
        detail(live.pk), {"url_template": new_url, "status": "disabled"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (snapshot(live)["url_template"], snapshot(live)["status"]) == (new_url, "disabled")
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


def test_a_change_that_cannot_be_used_is_400_and_makes_no_revision(api):
    live = live_endpoint()
    before = snapshot(live)
    response = api.patch(
        detail(live.pk), {"url_template": "https://new.example/pb?c={clikId}"}, format="json"
    )
    assert response.status_code == 400
    assert "{clikId}" in response.json()["url_template"][0]
    assert snapshot(live) == before
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


def test_the_schema_documents_the_202_of_a_change_that_is_tested_first(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for method in ("put", "patch"):
        operation = schema["paths"]["/api/v1/postback-endpoints/{id}/"][method]
        assert {"200", "202"} <= set(operation["responses"])
        assert "keeps firing" in operation["description"]
    revision = schema["components"]["schemas"]["PostbackEndpointRevision"]
    assert {"notes", "replaces"} <= set(revision["properties"])
