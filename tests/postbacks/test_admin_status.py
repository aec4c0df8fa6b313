"""Conversion statuses in the admin: the column and filter, the change log on the conversion's
page, and the approve / reject / reverse actions with their reason page (account managers: their
own affiliates' conversions only)."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from config.access import ACCOUNT_MANAGER_GROUP
from postbacks.conversion_status import Source, conversion_status_change
from postbacks.models import Conversion, ConversionStatusChange
from tests.factories import AffiliateFactory, ConversionFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:postbacks_conversion_changelist"


def changelist() -> str:
    return reverse(CHANGELIST)


def manager(username: str) -> User:
    user = UserFactory.create(username=username)
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGER_GROUP))
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, action: str, ids: list[int], **extra: Any) -> Any:
    return client.post(
        changelist(), {"action": action, "_selected_action": ids, **extra}, follow=True
    )


def test_the_list_shows_and_filters_by_status(admin_client: Client) -> None:
    ConversionFactory.create(transaction_id="tx-waiting", status="pending")
    ConversionFactory.create(transaction_id="tx-paid", status="approved")

    everything = admin_client.get(changelist()).content.decode()
    assert "column-status" in everything
    pending = admin_client.get(changelist(), {"status__exact": "pending"}).content.decode()
    assert "tx-waiting" in pending
    assert "tx-paid" not in pending


def test_the_conversion_page_shows_its_status_and_every_change(admin_client: Client) -> None:
    conversion = ConversionFactory.create(status="pending")
    bot = UserFactory.create(username="billing-bot")
    for status, reason in [("approved", "paid in full"), ("reversed", "chargeback CB-77")]:
        conversion_status_change(
            conversion_id=conversion.pk,
            status=status,
            reason=reason,
            changed_by=bot,
            source=Source.API,
        )

    page = admin_client.get(
        reverse("admin:postbacks_conversion_change", args=[conversion.pk])
    ).content.decode()

    log = page[page.index("Status changes") :]
    assert "billing-bot" in log
    assert log.index("paid in full") < log.index("chargeback CB-77")
    # A record: no field of a change can be edited, nor a change added or deleted.
    assert 'name="status_changes-0-reason"' not in page
    assert "Add another status change" not in page


def test_an_action_first_asks_for_the_reason(admin_client: Client) -> None:
    waiting = ConversionFactory.create(transaction_id="tx-waiting", status="pending")

    response = act(admin_client, "approve_selected", [waiting.pk])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/postbacks/conversion/change_status.html"
    page = response.content.decode()
    assert 'name="reason"' in page
    assert "tx-waiting" in page
    assert "Approve 1 conversion" in page
    # The policy allows no inline script or style.
    assert "<script>" not in page
    assert "style=" not in page
    waiting.refresh_from_db()
    assert waiting.status == "pending"


def test_an_action_applied_with_a_reason_reports_what_changed_and_what_was_refused(
    admin_client: Client, admin_user: User
) -> None:
    waiting = ConversionFactory.create(status="pending")
    paid = ConversionFactory.create(status="approved")
    gone = ConversionFactory.create(status="reversed")

    response = act(
        admin_client,
        "reject_selected",
        [waiting.pk, paid.pk, gone.pk],
        apply="1",
        reason="fraud ring",
    )

    text = " ".join(str(m) for m in response.context["messages"])
    assert "1 conversion rejected." in text
    assert "2 refused (1 approved, 1 reversed): they cannot become rejected." in text
    waiting.refresh_from_db()
    assert (waiting.status, waiting.status_reason) == ("rejected", "fraud ring")
    (record,) = ConversionStatusChange.objects.all()
    assert (record.changed_by, record.source) == (admin_user, "admin")


def test_an_action_says_which_already_had_the_status(admin_client: Client) -> None:
    paid = ConversionFactory.create(status="approved")

    response = act(admin_client, "approve_selected", [paid.pk], apply="1", reason="again")

    text = " ".join(str(m) for m in response.context["messages"])
    assert "0 conversions approved. 1 conversion already approved: nothing changed." in text


def test_without_a_reason_the_page_asks_again_and_nothing_changes(admin_client: Client) -> None:
    paid = ConversionFactory.create(status="approved")

    response = act(admin_client, "reverse_selected", [paid.pk], apply="1", reason="")

    assert response.templates[0].name == "admin/postbacks/conversion/change_status.html"
    assert "This field is required." in response.content.decode()
    paid.refresh_from_db()
    assert paid.status == "approved"


def test_a_reason_over_500_characters_is_refused(admin_client: Client) -> None:
    paid = ConversionFactory.create(status="approved")

    response = act(admin_client, "reverse_selected", [paid.pk], apply="1", reason="x" * 501)

    assert "at most 500 characters" in response.content.decode()
    paid.refresh_from_db()
    assert paid.status == "approved"


def test_an_account_manager_changes_only_their_own_affiliates_conversions() -> None:
    alice, bob = manager("alice"), manager("bob")
    mine = ConversionFactory.create(
        status="approved", affiliate=AffiliateFactory.create(account_manager=alice)
    )
    theirs = ConversionFactory.create(
        status="approved", affiliate=AffiliateFactory.create(account_manager=bob)
    )
    nobodys = ConversionFactory.create(
        status="approved", affiliate=None, attribution=Conversion.Attribution.UNATTRIBUTED
    )

    response = act(
        client_for(alice),
        "reverse_selected",
        [mine.pk, theirs.pk, nobodys.pk],
        apply="1",
        reason="refund",
    )

    text = " ".join(str(m) for m in response.context["messages"])
    assert "1 conversion reversed." in text
    assert "1 conversion left alone: not of an affiliate you manage" in text
    assert dict(Conversion.objects.values_list("pk", "status")) == {
        mine.pk: "reversed",
        theirs.pk: "approved",
        nobodys.pk: "approved",
    }


def test_the_actions_are_offered_only_with_the_permission() -> None:
    viewer = UserFactory.create(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_conversion"))
    ConversionFactory.create()
    actions = ("approve_selected", "reject_selected", "reverse_selected")

    page = client_for(viewer).get(changelist()).content.decode()
    assert not any(f'value="{action}"' in page for action in actions)

    viewer.user_permissions.add(Permission.objects.get(codename="change_conversion_status"))
    page = client_for(User.objects.get(pk=viewer.pk)).get(changelist()).content.decode()
    assert all(f'value="{action}"' in page for action in actions)


def test_an_action_on_every_filtered_row_keeps_the_selection_through_the_reason_page(
    admin_client: Client,
) -> None:
    waiting = ConversionFactory.create_batch(3, status="pending")
    paid = ConversionFactory.create(status="approved")
    url = changelist() + "?status__exact=pending"
    chosen = {"action": "reject_selected", "_selected_action": [waiting[0].pk], "select_across": 1}

    asked = admin_client.post(url, chosen)
    assert "Reject 3 conversions" in asked.content.decode()
    assert 'name="select_across" value="1"' in asked.content.decode()
    admin_client.post(url, {**chosen, "apply": "1", "reason": "chargeback wave"})

    assert set(Conversion.objects.filter(status="rejected").values_list("pk", flat=True)) == {
        c.pk for c in waiting
    }
    paid.refresh_from_db()
    assert paid.status == "approved"


def test_an_action_on_more_than_a_batch_asks_for_fewer(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("postbacks.admin.status.ACTION_MAX_CONVERSIONS", 2)
    waiting = ConversionFactory.create_batch(3, status="pending")

    response = act(admin_client, "approve_selected", [c.pk for c in waiting])

    text = " ".join(str(m) for m in response.context["messages"])
    assert "Select at most 2 conversions at a time (3 selected)" in text
    assert not Conversion.objects.exclude(status="pending").exists()
