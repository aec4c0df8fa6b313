"""Editing a live endpoint (issue 15, item 3) on its own admin page: a change of what it fires
(affiliate, offer, events, URL, method, custom headers, the statuses it fires on or their words)
becomes a new endpoint in testing that carries every field; the live one keeps firing as it was
until the new one passes a test and is set live. The API and the affiliate page's inline go
through the same service: test_live_edit_api.py, test_live_edit_inline.py."""

import json
from typing import Any

import pytest
from django.urls import reverse

from postbacks.endpoint_secrets import endpoint_secret_rotate, endpoint_signing_keys
from postbacks.models import EventType, PostbackEndpoint
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory
from tests.postbacks.test_admin import TEST_LINK

pytestmark = pytest.mark.django_db

Status = PostbackEndpoint.Status
OLD_URL = "https://old.example/pb?cid={clickId}&tx={transaction_id}&s={status}"


def live_endpoint(**overrides: Any) -> PostbackEndpoint:
    """A live endpoint with every field set away from its default, and a signing secret."""
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    fields: dict[str, Any] = {
        "affiliate": affiliate,
        "offer": OfferFactory.create(network_offer_id=66013),
        "url_template": OLD_URL,
        "test_link": TEST_LINK,
        "fire_on": ["approved", "reversed"],
        "status_values": {"approved": "sale", "reversed": "rejected"},
        "success_body": "OK",
        "headers": {"X-Api-Key": "k-123"},
        "events": ["signup", "rebill"],
    }
    fields.update(overrides)
    endpoint = PostbackEndpointFactory.create(status=Status.LIVE, **fields)
    endpoint_secret_rotate(endpoint=endpoint)
    return endpoint


def snapshot(endpoint: PostbackEndpoint) -> dict[str, Any]:
    """Every field a manager sets, as saved."""
    endpoint.refresh_from_db()
    return {
        "affiliate": endpoint.affiliate_id,
        "offer": endpoint.offer_id,
        "event_types": sorted(event.code for event in endpoint.event_types.all()),
        "url_template": endpoint.url_template,
        "method": endpoint.method,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "test_link": endpoint.test_link,
        "fire_on": endpoint.fire_on,
        "status_values": endpoint.status_values,
        "success_body": endpoint.success_body,
        "headers": endpoint.headers,
    }


def assert_revision_of(
    live: PostbackEndpoint, before: dict[str, Any], **changed: Any
) -> PostbackEndpoint:
    """`live` is live and unchanged; its one revision is in testing, with the change and every
    other field as the live one has it, and signs with the live one's secret."""
    assert snapshot(live) == before
    revision = PostbackEndpoint.objects.get(replaces=live, status=Status.TESTING)
    assert snapshot(revision) == {**before, "status": Status.TESTING, **changed}
    keys = endpoint_signing_keys(endpoint_ids=[live.pk, revision.pk])
    assert keys[revision.pk] == keys[live.pk]
    return revision


def form_of(endpoint: PostbackEndpoint, **overrides: Any) -> dict[str, Any]:
    """The endpoint's change form as the page shows it, with `overrides`."""
    data: dict[str, Any] = {
        "affiliate": endpoint.affiliate_id,
        "offer": endpoint.offer_id or "",
        "event_types": [event.pk for event in endpoint.event_types.all()],
        "url_template": endpoint.url_template,
        "method": endpoint.method,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "test_link": endpoint.test_link,
        "fire_on": endpoint.fire_on,
        "status_values": json.dumps(endpoint.status_values),
        "success_body": endpoint.success_body,
        "headers_text": "",
    }
    data.update(overrides)
    return data


def change_url(endpoint: PostbackEndpoint) -> str:
    return reverse("admin:postbacks_postbackendpoint_change", args=[endpoint.pk])


def view_url(endpoint: PostbackEndpoint, view: str) -> str:
    return reverse(f"admin:postbacks_postbackendpoint_{view}", args=[endpoint.pk])


def test_a_new_url_on_a_live_endpoint_waits_for_a_test_and_the_old_one_keeps_firing(
    admin_client, receiver
):
    live = live_endpoint()
    before = snapshot(live)
    new_url = receiver.base_url + "/pb?cid={clickId}"
    response = admin_client.post(change_url(live), form_of(live, url_template=new_url), follow=True)

    revision = assert_revision_of(live, before, url_template=new_url)
    assert response.redirect_chain[-1][0] == change_url(revision)
    body = response.content.decode()
    assert f"Endpoint #{live.pk} is live and keeps firing as it was." in body
    assert f"Set live, which disables #{live.pk}" in body

    admin_client.post(view_url(revision, "test"))
    assert receiver.received[0].headers["X-Api-Key"] == "k-123"
    admin_client.post(view_url(revision, "set_live"))
    live.refresh_from_db()
    revision.refresh_from_db()
    assert revision.status == Status.LIVE
    assert (live.status, live.disabled_reason) == (
        Status.DISABLED,
        f"replaced by endpoint #{revision.pk}",
    )


def other_event_types() -> list[int]:
    return [EventType.objects.get(code="freereg").pk]


@pytest.mark.parametrize(
    ("form_change", "saved_change"),
    [
        ({"method": "POST"}, {"method": "POST"}),
        ({"fire_on": ["approved"]}, {"fire_on": ["approved"]}),
        (
            {"status_values": '{"approved": "lead"}'},
            {"status_values": {"approved": "lead"}},
        ),
        ({"offer": ""}, {"offer": None}),
        ({"event_types": other_event_types}, {"event_types": ["freereg"]}),
        ({"headers_text": "X-Api-Key: k-456"}, {"headers": {"X-Api-Key": "k-456"}}),
        ({"clear_headers": "on"}, {"headers": {}}),
    ],
)
def test_every_change_of_what_a_live_endpoint_fires_is_made_a_revision_with_every_field(
    admin_client, form_change, saved_change
):
    live = live_endpoint()
    before = snapshot(live)
    posted = {key: value() if callable(value) else value for key, value in form_change.items()}
    response = admin_client.post(change_url(live), form_of(live, **posted))
    assert response.status_code == 302
    assert_revision_of(live, before, **saved_change)


@pytest.mark.parametrize(
    "change",
    [
        {"test_link": TEST_LINK.replace("c0ffee", "beef")},
        {"success_body": "received"},
        {"disabled_reason": "Receiver asked us to keep this one."},
    ],
)
def test_a_change_that_fires_nothing_new_is_saved_in_place(admin_client, change):
    live = live_endpoint()
    before = snapshot(live)
    response = admin_client.post(change_url(live), form_of(live, **change))
    assert response.status_code == 302
    assert snapshot(live) == {**before, **change}
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


def test_a_change_that_also_takes_the_endpoint_out_of_live_is_saved_in_place(admin_client):
    live = live_endpoint()
    before = snapshot(live)
    new_url = "https://new.example/pb?cid={clickId}"
    response = admin_client.post(
        change_url(live), form_of(live, url_template=new_url, status=Status.DISABLED)
    )
    assert response.status_code == 302
    assert snapshot(live) == {**before, "url_template": new_url, "status": Status.DISABLED}
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


def test_a_second_change_of_a_live_endpoint_disables_the_first_that_still_waits(admin_client):
    live = live_endpoint()
    first_url, second_url = "https://one.example/pb?c={clickId}", "https://two.example/pb?c={p3}"
    admin_client.post(change_url(live), form_of(live, url_template=first_url))
    first = PostbackEndpoint.objects.get(replaces=live)
    response = admin_client.post(
        change_url(live), form_of(live, url_template=second_url), follow=True
    )

    second = PostbackEndpoint.objects.get(replaces=live, status=Status.TESTING)
    assert second.url_template == second_url
    first.refresh_from_db()
    assert (first.status, first.disabled_reason) == (
        Status.DISABLED,
        f"superseded by endpoint #{second.pk}",
    )
    assert (
        f"The earlier change still waiting (#{first.pk}) is disabled." in response.content.decode()
    )
    assert PostbackEndpoint.objects.get(pk=live.pk).status == Status.LIVE


def test_the_page_of_a_live_endpoint_says_a_change_of_what_it_fires_is_tested_first(admin_client):
    live = live_endpoint()
    page = admin_client.get(change_url(live)).content.decode()
    assert 'id="live-edit-note"' in page
    assert "keeps firing as it is until the new one passes a test postback" in page

    testing = PostbackEndpointFactory.create(affiliate=live.affiliate, status=Status.TESTING)
    assert 'id="live-edit-note"' not in admin_client.get(change_url(testing)).content.decode()
