"""The audit trail in the admin (issue 6): who changed what and when, for affiliates, setup
requests, offers and endpoints; read-only."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from affiliates.models import Affiliate, SetupRequest
from affiliates.setup_requests import setup_request_approve, setup_request_reject
from config.access import ACCOUNT_MANAGER_GROUP
from tests.affiliates.test_admin import affiliate_form
from tests.affiliates.test_review import new_request
from tests.factories import (
    AffiliateFactory,
    OfferFactory,
    PostbackEndpointFactory,
    SetupRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AUDITED = {
    "affiliate": lambda: AffiliateFactory.create(),
    "setuprequest": lambda: SetupRequestFactory.create(),
    "offer": lambda: OfferFactory.create(),
    "postbackendpoint": lambda: PostbackEndpointFactory.create(),
}


def admin_url(obj: Model, view: str, *args: Any) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def test_an_admin_edit_of_an_affiliate_records_who_and_what_and_the_history_page_lists_it(
    admin_client, admin_user
):
    affiliate = AffiliateFactory.create(network_id=1234567, name="Cam Traffic Ltd")
    response = admin_client.post(
        admin_url(affiliate, "change", affiliate.pk),
        affiliate_form(status="paused", notes="Paused: unpaid invoices."),
    )
    assert response.status_code == 302

    latest = affiliate.history.latest()
    assert (latest.history_type, latest.history_user) == ("~", admin_user)
    changed = latest.diff_against(latest.prev_record).changed_fields
    assert set(changed) >= {"status", "notes"}
    assert "updated_at" not in changed

    page = admin_client.get(admin_url(affiliate, "history", affiliate.pk)).content.decode()
    assert "Changes" in page
    assert "<strong>Status:</strong>" in page and "paused" in page
    assert "Paused: unpaid invoices." in page
    assert admin_user.username in page


@pytest.mark.parametrize("model", sorted(AUDITED))
def test_the_history_button_and_pages_of_each_audited_model_answer(admin_client, model):
    obj = AUDITED[model]()
    change = admin_client.get(admin_url(obj, "change", obj.pk)).content.decode()
    history_url = admin_url(obj, "history", obj.pk)
    assert f'href="{history_url}"' in change

    page = admin_client.get(history_url)
    assert page.status_code == 200
    assert "Changed by" in page.content.decode()
    version = obj.history.earliest()
    detail = admin_client.get(admin_url(obj, "simple_history", obj.pk, version.history_id))
    assert detail.status_code == 200
    assert 'value="Revert"' not in detail.content.decode()


def test_a_version_page_saves_nothing_posted_to_it(admin_client):
    affiliate = AffiliateFactory.create(network_id=1234567, name="Cam Traffic Ltd")
    version = affiliate.history.earliest()
    url = admin_url(affiliate, "simple_history", affiliate.pk, version.history_id)
    response = admin_client.post(url, affiliate_form(name="Changed behind the services"))
    assert response.status_code == 405
    affiliate.refresh_from_db()
    assert affiliate.name == "Cam Traffic Ltd"
    assert affiliate.history.count() == 1


def test_an_account_manager_reads_only_the_history_of_their_own_affiliates():
    alice, bob = (UserFactory.create(username=name) for name in ("alice", "bob"))
    for user in (alice, bob):
        user.groups.add(Group.objects.get(name=ACCOUNT_MANAGER_GROUP))
    mine = AffiliateFactory.create(account_manager=alice)
    theirs = AffiliateFactory.create(account_manager=bob)
    client = Client()
    client.force_login(alice)
    for affiliate, status in ((mine, 200), (theirs, 404)):
        version = affiliate.history.earliest()
        history = admin_url(affiliate, "history", affiliate.pk)
        assert client.get(history).status_code == status
        detail = admin_url(affiliate, "simple_history", affiliate.pk, version.history_id)
        assert client.get(detail).status_code == status


def test_approving_a_setup_request_records_the_reviewer_and_the_endpoint():
    reviewer = UserFactory.create(username="jane")
    setup_request = new_request()
    endpoint = setup_request_approve(setup_request=setup_request, reviewer=reviewer)

    latest = setup_request.history.latest()
    assert latest.history_user == reviewer
    assert latest.history_change_reason == f"approved: postback endpoint #{endpoint.pk} in testing"
    assert (latest.status, latest.affiliate_id) == (
        SetupRequest.Status.APPROVED,
        Affiliate.objects.get(network_id=setup_request.network_id).pk,
    )
    changed = latest.diff_against(latest.prev_record).changed_fields
    assert {"status", "reviewed_by", "reviewed_at", "affiliate"} <= set(changed)


def test_rejecting_a_setup_request_records_the_reviewer_and_the_reason():
    reviewer = UserFactory.create(username="jane")
    setup_request = new_request()
    setup_request_reject(setup_request=setup_request, reviewer=reviewer, reason="Unknown domain.")

    latest = setup_request.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (reviewer, "rejected")
    assert (latest.status, latest.rejection_reason) == ("rejected", "Unknown domain.")
    assert setup_request.history.count() == 2


def test_a_refused_review_records_nothing():
    reviewer = UserFactory.create(username="jane")
    setup_request = new_request()
    setup_request_reject(setup_request=setup_request, reviewer=reviewer, reason="No.")
    with pytest.raises(ValidationError, match="already rejected"):
        setup_request_reject(setup_request=setup_request, reviewer=reviewer, reason="Again.")
    assert setup_request.history.count() == 2
