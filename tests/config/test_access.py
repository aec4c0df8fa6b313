"""Access control (issue 6 item 3): the admin needs staff; an account manager sees and edits only
their own affiliates and what hangs off them; superusers and network admins see everything; the
session-authenticated API is for those who see everything."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from affiliates.models import Affiliate, SetupRequest
from config.access import ACCOUNT_MANAGER_GROUP, NETWORK_ADMIN_GROUP
from postbacks.models import Conversion, Delivery, DeliveryAttempt, PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    OfferFactory,
    SetupRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def member(group: str, **fields: Any) -> User:
    user = UserFactory.create(**fields)
    user.groups.add(Group.objects.get(name=group))
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(model: Any, view: str, *args: Any) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


@pytest.fixture
def world() -> dict[str, Any]:
    """Two account managers with an affiliate each, its endpoint, a sale and its postback."""
    alice = member(ACCOUNT_MANAGER_GROUP, username="alice")
    bob = member(ACCOUNT_MANAGER_GROUP, username="bob")
    rows: dict[str, Any] = {"alice": alice, "bob": bob}
    for owner in (alice, bob):
        affiliate = AffiliateFactory(account_manager=owner, name=f"{owner.username}'s affiliate")
        attempt = DeliveryAttemptFactory.create(
            delivery=DeliveryFactory(
                conversion=ConversionFactory(
                    affiliate=affiliate, transaction_id=f"tx-{owner.username}"
                )
            )
        )
        rows[owner.username + "_affiliate"] = affiliate
        rows[owner.username + "_attempt"] = attempt
        rows[owner.username + "_delivery"] = attempt.delivery
        rows[owner.username + "_endpoint"] = attempt.delivery.endpoint
        rows[owner.username + "_conversion"] = attempt.delivery.conversion
    return rows


def test_migrate_creates_both_groups_with_their_permissions():
    manager = set(
        Group.objects.get(name=ACCOUNT_MANAGER_GROUP).permissions.values_list("codename", flat=True)
    )
    admin = set(
        Group.objects.get(name=NETWORK_ADMIN_GROUP).permissions.values_list("codename", flat=True)
    )
    assert {"view_affiliate", "add_affiliate", "change_affiliate"} <= manager
    assert {"view_setuprequest", "change_setuprequest", "change_postbackendpoint"} <= manager
    assert {"view_conversion", "view_delivery", "change_delivery", "view_offer"} <= manager
    assert not {"delete_affiliate", "change_offer", "add_offer", "change_eventtype"} & manager
    assert {"delete_affiliate", "change_offer", "add_eventtype", "delete_postbackendpoint"} <= admin
    assert manager < admin
    assert {"view_accessattempt", "delete_accessattempt"} <= admin  # lift login lockouts
    # Neither group may hand out accounts (change_user would let it make superusers).
    assert not {"add_user", "change_user"} & (manager | admin)


def test_admin_needs_staff():
    user = UserFactory(is_staff=False)
    response = client_for(user).get(reverse("admin:affiliates_affiliate_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (Affiliate, "affiliate"),
        (PostbackEndpoint, "endpoint"),
        (Conversion, "conversion"),
        (Delivery, "delivery"),
        (DeliveryAttempt, "attempt"),
    ],
)
def test_account_manager_lists_and_opens_only_their_own_rows(world, model, key):
    client = client_for(world["alice"])
    mine, theirs = world[f"alice_{key}"], world[f"bob_{key}"]
    listing = client.get(url(model, "changelist"))
    assert listing.status_code == 200
    shown = {row.pk for row in listing.context["cl"].result_list}
    assert mine.pk in shown
    assert theirs.pk not in shown
    assert client.get(url(model, "change", mine.pk)).status_code == 200
    # Django's admin answers a row outside get_queryset as missing: back to the index.
    other = client.get(url(model, "change", theirs.pk))
    assert other.status_code == 302
    assert other["Location"] == reverse("admin:index")


def test_network_admin_and_superuser_see_every_managers_rows(world):
    network_admin = member(NETWORK_ADMIN_GROUP, username="nadia")
    superuser = UserFactory(username="root", is_superuser=True)
    for user in (network_admin, superuser):
        listing = client_for(user).get(url(Affiliate, "changelist"))
        shown = {row.pk for row in listing.context["cl"].result_list}
        assert {world["alice_affiliate"].pk, world["bob_affiliate"].pk} <= shown


def test_account_manager_cannot_change_another_managers_affiliate_by_posting(world):
    theirs = world["bob_affiliate"]
    response = client_for(world["alice"]).post(
        url(Affiliate, "change", theirs.pk),
        {"network_id": theirs.network_id, "name": "Taken over", "status": "active"},
    )
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.name == "bob's affiliate"


def test_affiliate_added_by_an_account_manager_is_theirs_and_they_cannot_reassign_it(world):
    client = client_for(world["alice"])
    form = client.get(url(Affiliate, "add"))
    assert "account_manager" not in form.context["adminform"].form.fields
    response = client.post(
        url(Affiliate, "add"),
        {
            "network_id": 7654321,
            "name": "New partner",
            "status": "active",
            "account_manager": world["bob"].pk,
            "tracker_params": "affid, clickId",
            "tracker_prefix": "trID_",
            "tracker_separator": "-",
            "tracker_suffix": "_trID",
            "endpoints-TOTAL_FORMS": "0",
            "endpoints-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Affiliate.objects.get(network_id=7654321).account_manager == world["alice"]


def test_account_manager_cannot_attach_an_endpoint_to_another_managers_affiliate(world):
    response = client_for(world["alice"]).post(
        url(PostbackEndpoint, "add"),
        {
            "affiliate": world["bob_affiliate"].pk,
            "url_template": "https://evil.example/pb?tx={transaction_id}",
            "method": "GET",
            "status": "draft",
        },
    )
    assert response.status_code == 200
    assert "affiliate" in response.context["adminform"].form.errors
    assert not PostbackEndpoint.objects.filter(url_template__startswith="https://evil").exists()


def test_account_manager_cannot_fire_or_inspect_another_managers_endpoint(world):
    client = client_for(world["alice"])
    theirs = world["bob_endpoint"]
    assert client.post(url(PostbackEndpoint, "test", theirs.pk)).status_code == 404
    assert client.post(url(PostbackEndpoint, "set_live", theirs.pk)).status_code == 404
    assert client.get(url(PostbackEndpoint, "health", theirs.pk)).status_code == 404
    assert client.post(url(PostbackEndpoint, "health_replay", theirs.pk)).status_code == 404
    assert client.get(url(Affiliate, "invite", world["bob_affiliate"].pk)).status_code == 404


def test_live_preview_refuses_another_managers_affiliate(world):
    response = client_for(world["alice"]).post(
        url(PostbackEndpoint, "preview"),
        {"affiliate": world["bob_affiliate"].pk, "url_template": "https://t.example/?a={affid}"},
    )
    assert response.status_code == 400
    assert "affiliate" in response.json()["errors"]


def test_unattributed_conversions_are_every_managers_to_pick_up(world):
    lost = ConversionFactory(
        affiliate=None, attribution="unattributed", attribution_error="no such affiliate"
    )
    listing = client_for(world["alice"]).get(url(Conversion, "changelist"))
    assert lost.pk in {row.pk for row in listing.context["cl"].result_list}


def test_csv_export_holds_only_the_managers_own_rows(world):
    response = client_for(world["alice"]).get(url(Delivery, "export"))
    body = b"".join(response.streaming_content).decode()
    assert "tx-alice" in body
    assert "tx-bob" not in body


def test_replay_action_on_another_managers_delivery_does_nothing(world):
    theirs = world["bob_delivery"]
    Delivery.objects.filter(pk=theirs.pk).update(state="dead")
    client_for(world["alice"]).post(
        url(Delivery, "changelist"),
        {"action": "replay_selected", "_selected_action": [theirs.pk]},
    )
    theirs.refresh_from_db()
    assert theirs.state == "dead"


def test_setup_requests_of_another_managers_affiliate_are_hidden_and_cannot_be_approved(world):
    theirs = SetupRequestFactory(network_id=world["bob_affiliate"].network_id)
    mine = SetupRequestFactory(network_id=world["alice_affiliate"].network_id)
    newcomer = SetupRequestFactory(network_id=9_999_001)
    client = client_for(world["alice"])
    listing = client.get(url(SetupRequest, "changelist"))
    shown = {row.pk for row in listing.context["cl"].result_list}
    assert {mine.pk, newcomer.pk} <= shown
    assert theirs.pk not in shown
    assert listing.context["new_count"] == 2
    assert client.post(url(SetupRequest, "approve", theirs.pk)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == SetupRequest.Status.NEW


def test_account_manager_list_filters_offer_no_other_managers(world):
    listing = client_for(world["alice"]).get(url(PostbackEndpoint, "changelist"))
    titles = [spec.title for spec in listing.context["cl"].filter_specs]
    assert "account manager" not in titles
    admin_listing = client_for(UserFactory(username="root", is_superuser=True)).get(
        url(PostbackEndpoint, "changelist")
    )
    assert "account manager" in [spec.title for spec in admin_listing.context["cl"].filter_specs]


def test_account_managers_front_page_shows_their_own_numbers_whatever_the_query(world):
    response = client_for(world["alice"]).get(reverse("admin:index"), {"manager": world["bob"].pk})
    assert response.status_code == 200
    assert response.context["manager_id"] == world["alice"].pk
    assert b'id="manager-filter"' not in response.content
    rows = {row.label for row in response.context["dashboard"].affiliates}
    assert rows <= {str(world["alice_affiliate"])}


def test_session_api_is_for_those_who_see_every_affiliate(world):
    api = "/api/v1/affiliates/"
    assert client_for(world["alice"]).get(api).status_code == 403
    assert client_for(member(NETWORK_ADMIN_GROUP, username="nadia")).get(api).status_code == 200


def test_offers_are_read_only_for_account_managers(world):
    offer = OfferFactory()
    client = client_for(world["alice"])
    assert client.get(url(offer, "change", offer.pk)).status_code == 200
    response = client.post(url(offer, "change", offer.pk), {"name": "Cheaper"})
    assert response.status_code == 403
