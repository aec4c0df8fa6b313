"""Editing a live endpoint (issue 15, item 3): a change of what it fires or where becomes a new
endpoint in testing; the live one keeps firing as it was until the new one is set live."""

import pytest
from django.urls import reverse

from postbacks.models import PostbackEndpoint
from tests.factories import AffiliateFactory, PostbackEndpointFactory
from tests.postbacks.test_admin import TEST_LINK, endpoint_form

pytestmark = pytest.mark.django_db

OLD_URL = "https://old.example/pb?cid={clickId}&tx={transaction_id}"


def live_endpoint(**overrides) -> PostbackEndpoint:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    fields = {"affiliate": affiliate, "url_template": OLD_URL, "test_link": TEST_LINK}
    fields.update(overrides)
    return PostbackEndpointFactory.create(status=PostbackEndpoint.Status.LIVE, **fields)


def change_url(endpoint: PostbackEndpoint) -> str:
    return reverse("admin:postbacks_postbackendpoint_change", args=[endpoint.pk])


def test_a_new_url_on_a_live_endpoint_waits_for_a_test_and_the_old_one_keeps_firing(
    admin_client, receiver
):
    live = live_endpoint()
    new_url = receiver.base_url + "/pb?cid={clickId}"
    response = admin_client.post(
        change_url(live),
        endpoint_form(live.affiliate, url_template=new_url, status="live", test_link=TEST_LINK),
        follow=True,
    )
    live.refresh_from_db()
    assert (live.url_template, live.status) == (OLD_URL, PostbackEndpoint.Status.LIVE)
    revision = PostbackEndpoint.objects.get(replaces=live)
    assert (revision.url_template, revision.status) == (new_url, PostbackEndpoint.Status.TESTING)
    assert response.redirect_chain[-1][0] == change_url(revision)
    body = response.content.decode()
    assert f"Endpoint #{live.pk} is live and keeps firing as it was." in body
    assert f"Set live, which disables #{live.pk}" in body

    admin_client.post(reverse("admin:postbacks_postbackendpoint_test", args=[revision.pk]))
    admin_client.post(reverse("admin:postbacks_postbackendpoint_set_live", args=[revision.pk]))
    live.refresh_from_db()
    revision.refresh_from_db()
    assert revision.status == PostbackEndpoint.Status.LIVE
    assert live.status == PostbackEndpoint.Status.DISABLED


def test_a_change_that_fires_nothing_new_is_saved_in_place(admin_client):
    live = live_endpoint()
    other_link = TEST_LINK.replace("c0ffee", "beef")
    admin_client.post(
        change_url(live),
        endpoint_form(live.affiliate, url_template=OLD_URL, status="live", test_link=other_link),
    )
    live.refresh_from_db()
    assert (live.test_link, live.status) == (other_link, PostbackEndpoint.Status.LIVE)
    assert not PostbackEndpoint.objects.filter(replaces=live).exists()
