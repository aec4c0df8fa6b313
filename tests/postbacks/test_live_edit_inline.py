"""Editing a live endpoint in the affiliate page's endpoints inline (issue 15, item 3): the same
service as the endpoint's own page, so a change of what it fires becomes a new endpoint in testing
and the live one keeps firing as it was; a tracker param renamed in the same save leaves the live
one sending what it sent."""

from typing import Any

import pytest
from django.urls import reverse

from affiliates.models import Affiliate
from postbacks.models import EventType, PostbackEndpoint
from tests.affiliates.test_admin import affiliate_form, inline_errors
from tests.postbacks.test_live_edit import (
    OLD_URL,
    assert_revision_of,
    live_endpoint,
    snapshot,
    view_url,
)

pytestmark = pytest.mark.django_db

Status = PostbackEndpoint.Status


def inline_row(endpoint: PostbackEndpoint, **overrides: Any) -> dict[str, Any]:
    """The endpoint's row in the inline as the page shows it, with `overrides`."""
    row = {
        "id": str(endpoint.pk),
        "affiliate": str(endpoint.affiliate_id),
        "url_template": endpoint.url_template,
        "offer": str(endpoint.offer_id or ""),
        "event_types": [event.pk for event in endpoint.event_types.all()],
        "method": endpoint.method,
        "status": endpoint.status,
        "test_link": endpoint.test_link,
    }
    row.update(overrides)
    return row


def save_affiliate_page(client: Any, endpoint: PostbackEndpoint, **row: Any) -> Any:
    params = row.pop("tracker_params", "affid, TransID, clickId")
    data = affiliate_form(endpoints=[inline_row(endpoint, **row)], initial=1, tracker_params=params)
    url = reverse("admin:affiliates_affiliate_change", args=[endpoint.affiliate_id])
    return client.post(url, data, follow=True)


def test_a_new_url_for_a_live_endpoint_in_the_inline_is_made_a_revision(admin_client, receiver):
    live = live_endpoint()
    before = snapshot(live)
    new_url = receiver.base_url + "/pb?cid={clickId}"

    response = save_affiliate_page(admin_client, live, url_template=new_url)

    assert response.status_code == 200 and response.redirect_chain, inline_errors(response)
    revision = assert_revision_of(live, before, url_template=new_url)
    body = response.content.decode()
    assert f"Endpoint #{live.pk} is live and keeps firing as it was." in body
    assert reverse("admin:postbacks_postbackendpoint_change", args=[revision.pk]) in body

    admin_client.post(view_url(revision, "test"))
    admin_client.post(view_url(revision, "set_live"))
    assert snapshot(revision)["status"] == Status.LIVE
    assert snapshot(live)["status"] == Status.DISABLED


@pytest.mark.parametrize(
    ("change", "saved"),
    [
        ({"method": "POST"}, {"method": "POST"}),
        ({"offer": ""}, {"offer": None}),
        ({"event_types": ["freereg"]}, {"event_types": ["freereg"]}),
    ],
)
def test_every_change_of_what_it_fires_in_the_inline_is_a_revision(admin_client, change, saved):
    live = live_endpoint()
    before = snapshot(live)
    if "event_types" in change:
        change = {"event_types": [EventType.objects.get(code="freereg").pk]}
    response = save_affiliate_page(admin_client, live, **change)
    assert response.redirect_chain, inline_errors(response)
    assert_revision_of(live, before, **saved)


def test_a_new_test_link_in_the_inline_is_saved_in_place(admin_client):
    live = live_endpoint()
    before = snapshot(live)
    link = before["test_link"].replace("c0ffee", "beef")
    response = save_affiliate_page(admin_client, live, test_link=link)
    assert response.redirect_chain, inline_errors(response)
    assert snapshot(live) == {**before, "test_link": link}
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


def test_a_change_that_also_disables_it_in_the_inline_is_saved_in_place(admin_client):
    live = live_endpoint()
    new_url = "https://new.example/pb?cid={clickId}"
    response = save_affiliate_page(admin_client, live, url_template=new_url, status="disabled")
    assert response.redirect_chain, inline_errors(response)
    assert (snapshot(live)["url_template"], snapshot(live)["status"]) == (new_url, "disabled")
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


def test_a_renamed_param_and_a_new_url_keep_the_live_endpoint_sending_what_it_sent(admin_client):
    live = live_endpoint()
    before = snapshot(live)
    new_url = "https://new.example/pb?cid={cid}&tx={transaction_id}"

    response = save_affiliate_page(
        admin_client, live, url_template=new_url, tracker_params="affid, TransID, cid"
    )

    assert response.redirect_chain, inline_errors(response)
    assert Affiliate.objects.get(pk=live.affiliate_id).tracker_params == ["affid", "TransID", "cid"]
    # The live one's template follows the rename: the same URL for the same tracker.
    renamed = OLD_URL.replace("{clickId}", "{cid}")
    assert_revision_of(live, {**before, "url_template": renamed}, url_template=new_url)


def test_a_param_dropped_while_a_live_endpoint_uses_it_is_refused_saying_what_to_do(
    admin_client,
):
    live = live_endpoint()
    before = snapshot(live)
    response = save_affiliate_page(
        admin_client,
        live,
        url_template="https://new.example/pb?a={affid}&tx={transaction_id}",
        tracker_params="affid, TransID",
    )

    assert not response.redirect_chain
    (errors,) = inline_errors(response)
    message = errors["url_template"][0]
    assert f"Endpoint #{live.pk} is live and keeps firing as it is" in message
    assert "unknown macro {clickId}" in message
    assert "or set this endpoint to disabled in the same save" in message
    assert Affiliate.objects.get(pk=live.affiliate_id).tracker_params == [
        "affid",
        "TransID",
        "clickId",
    ]
    assert snapshot(live) == before
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()


def test_the_affiliate_page_says_what_saving_a_live_endpoints_row_does(admin_client):
    live = live_endpoint()
    url = reverse("admin:affiliates_affiliate_change", args=[live.affiliate_id])
    page = admin_client.get(url).content.decode()
    assert 'id="endpoints-live-edit-note"' in page

    PostbackEndpoint.objects.filter(pk=live.pk).update(status=Status.TESTING)
    assert 'id="endpoints-live-edit-note"' not in admin_client.get(url).content.decode()
