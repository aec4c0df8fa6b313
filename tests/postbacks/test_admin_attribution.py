"""Re-attribution in the admin (docs/spec.md §10): an account manager gives an unattributed
conversion one of their own affiliates from its page; the postbacks are created once."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from affiliates.models import Affiliate
from config.access import ACCOUNT_MANAGER_GROUP
from postbacks.models import Conversion, Delivery
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    PostbackEndpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def manager(username: str) -> User:
    user = UserFactory.create(username=username)
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGER_GROUP))
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rows() -> dict[str, Any]:
    alice, bob = manager("alice"), manager("bob")
    mine = AffiliateFactory.create(
        network_id=1234567, account_manager=alice, tracker_params=["affid", "clickId"]
    )
    theirs = AffiliateFactory.create(network_id=7654321, account_manager=bob)
    PostbackEndpointFactory.create(
        affiliate=mine, url_template="https://track.example/pb?cid={clickId}&tx={transaction_id}"
    )
    lost = ConversionFactory.create(
        affiliate=None,
        attribution=Conversion.Attribution.UNATTRIBUTED,
        attribution_error="unknown affiliate 999",
        tracker_raw="trID_999_aff9-c0ffee_trID",
    )
    return {"alice": alice, "mine": mine, "theirs": theirs, "lost": lost}


def attribute_url(conversion: Conversion) -> str:
    return reverse("admin:postbacks_conversion_attribute", args=[conversion.pk])


def test_the_conversion_page_offers_attribute_while_unattributed(rows: dict[str, Any]) -> None:
    client = client_for(rows["alice"])
    page = client.get(reverse("admin:postbacks_conversion_change", args=[rows["lost"].pk]))
    assert 'id="attribute-button"' in page.content.decode()
    form = client.get(attribute_url(rows["lost"])).content.decode()
    assert "unknown affiliate 999" in form
    assert "#1234567" in form
    assert "#7654321" not in form  # someone else's affiliate is not offered


def test_a_manager_attributes_to_their_own_affiliate_with_a_corrected_tracker(
    rows: dict[str, Any],
) -> None:
    client = client_for(rows["alice"])
    response = client.post(
        attribute_url(rows["lost"]),
        {"affiliate": rows["mine"].pk, "tracker": "trID_1234567_aff9-c0ffee_trID"},
        follow=True,
    )
    body = response.content.decode()
    assert "Attributed to affiliate 1234567; 1 postback queued." in body
    assert 'id="attribute-button"' not in body
    conversion = Conversion.objects.get(pk=rows["lost"].pk)
    assert conversion.affiliate == rows["mine"]
    assert conversion.tracker_values == {"affid": "aff9", "clickId": "c0ffee"}
    (delivery,) = Delivery.objects.filter(conversion=conversion)
    assert delivery.url == f"https://track.example/pb?cid=c0ffee&tx={conversion.transaction_id}"
    # The factory saved the conversion through the ORM ("+"); ingest records no such row.
    (record,) = Conversion.history.filter(id=conversion.pk, history_type="~")
    assert record.history_user == rows["alice"]
    history = client.get(reverse("admin:postbacks_conversion_history", args=[conversion.pk]))
    assert history.status_code == 200
    assert "attributed to affiliate 1234567" in history.content.decode()

    again = client.post(attribute_url(rows["lost"]), {"affiliate": rows["mine"].pk}, follow=True)
    assert "already attributed" in again.content.decode()
    assert Delivery.objects.count() == 1


def test_someone_elses_affiliate_is_refused(rows: dict[str, Any]) -> None:
    response = client_for(rows["alice"]).post(
        attribute_url(rows["lost"]), {"affiliate": rows["theirs"].pk}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Conversion.objects.get(pk=rows["lost"].pk).affiliate_id is None


def test_a_tracker_that_does_not_parse_is_shown_and_nothing_changes(rows: dict[str, Any]) -> None:
    response = client_for(rows["alice"]).post(
        attribute_url(rows["lost"]), {"affiliate": rows["mine"].pk, "tracker": "garbage"}
    )
    assert response.status_code == 200
    assert "affiliate 1234567:" in response.content.decode()
    assert Conversion.objects.get(pk=rows["lost"].pk).affiliate_id is None
    assert not Delivery.objects.exists()


def test_staff_without_the_permission_get_403(rows: dict[str, Any]) -> None:
    viewer = UserFactory.create(username="viewer")
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_conversion"))
    assert client_for(viewer).get(attribute_url(rows["lost"])).status_code == 403


def test_attributing_to_a_paused_affiliate_says_why_nothing_fires(rows: dict[str, Any]) -> None:
    Affiliate.objects.filter(pk=rows["mine"].pk).update(status=Affiliate.Status.PAUSED)
    response = client_for(rows["alice"]).post(
        attribute_url(rows["lost"]),
        {"affiliate": rows["mine"].pk, "tracker": "trID_1234567_aff9-c0ffee_trID"},
        follow=True,
    )
    assert (
        "Attributed to affiliate 1234567; 0 postbacks queued. Nothing fires: affiliate 1234567 "
        "is paused." in response.content.decode()
    )
    assert Conversion.objects.get(pk=rows["lost"].pk).affiliate_id == rows["mine"].pk
