"""Reviewing setup requests in the admin (docs/spec.md §7): approve into an endpoint in testing,
reject."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from affiliates.models import Affiliate, SetupRequest
from affiliates.setup_requests import setup_request_approve, setup_request_reject
from postbacks.models import PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    PostbackEndpointFactory,
    SetupRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_2345678_aff9-c0ffee_trID"


def new_request(**overrides):
    fields = {
        "network_id": 2345678,
        "contact_email": "jane@tracker.example",
        "url_template": "https://track.example/pb?cid={clickId}&tx={transaction_id}",
        "tracker_params": ["affid", "clickId"],
        "tracker_param_descriptions": {"clickId": "the click"},
        "test_link": TEST_LINK,
        "method": "POST",
        "events": SetupRequest.Events.BOTH,
    }
    fields.update(overrides)
    return SetupRequestFactory.create(**fields)


def codes(endpoint):
    return sorted(endpoint.event_types.values_list("code", flat=True))


def test_approve_creates_the_affiliate_and_an_endpoint_in_testing():
    manager = UserFactory.create()
    request = new_request()
    endpoint = setup_request_approve(setup_request=request, reviewer=manager)
    affiliate = Affiliate.objects.get(network_id=2345678)
    assert affiliate.name == "jane"
    assert affiliate.email == "jane@tracker.example"
    assert affiliate.account_manager == manager
    assert affiliate.tracker_params == ["affid", "clickId"]
    assert endpoint.affiliate == affiliate
    assert endpoint.status == PostbackEndpoint.Status.TESTING
    assert endpoint.method == "POST"
    assert endpoint.test_link == TEST_LINK
    assert endpoint.url_template == request.url_template
    assert codes(endpoint) == ["freereg", "signup"]
    request.refresh_from_db()
    assert request.status == SetupRequest.Status.APPROVED
    assert request.reviewed_by == manager
    assert request.reviewed_at is not None
    assert request.affiliate == affiliate


def test_an_approved_request_fires_on_approved_sales_only_as_before_statuses():
    endpoint = setup_request_approve(setup_request=new_request(), reviewer=UserFactory.create())

    endpoint.refresh_from_db()
    assert (endpoint.fire_on, endpoint.status_values) == (["approved"], {})


@pytest.mark.parametrize(
    ("events", "chosen", "expected"),
    [
        ("conversions", [], ["signup"]),
        ("freereg", [], ["freereg"]),
        ("chosen", ["trial", "rebill"], ["rebill", "trial"]),
    ],
)
def test_the_events_asked_for_become_the_endpoints_event_types(events, chosen, expected):
    request = new_request(events=events, event_codes=chosen)
    endpoint = setup_request_approve(setup_request=request, reviewer=UserFactory.create())
    assert codes(endpoint) == expected


def test_approve_updates_an_existing_affiliates_tracker_and_keeps_its_manager():
    keeper = UserFactory.create()
    affiliate = AffiliateFactory.create(
        network_id=2345678, tracker_params=["old"], tracker_separator="|", account_manager=keeper
    )
    setup_request_approve(setup_request=new_request(), reviewer=UserFactory.create())
    affiliate.refresh_from_db()
    assert affiliate.tracker_params == ["affid", "clickId"]
    assert affiliate.tracker_separator == "-"
    assert affiliate.account_manager == keeper
    assert affiliate.endpoints.get().status == PostbackEndpoint.Status.TESTING


def test_a_failure_midway_leaves_nothing_behind():
    # The template names a macro the params do not have (written past the form): the endpoint
    # cannot be created after the affiliate was, and the whole approval must roll back.
    request = new_request(url_template="https://track.example/pb?c={nosuchparam}")
    with pytest.raises(ValidationError, match="nosuchparam"):
        setup_request_approve(setup_request=request, reviewer=UserFactory.create())
    assert not Affiliate.objects.exists()
    assert not PostbackEndpoint.objects.exists()
    request.refresh_from_db()
    assert request.status == SetupRequest.Status.NEW
    assert request.reviewed_by is None


def test_an_update_that_would_break_an_existing_endpoint_rolls_back():
    endpoint = PostbackEndpointFactory.create(
        affiliate__network_id=2345678,
        affiliate__tracker_params=["subid"],
        url_template="https://old.example/pb?s={subid}",
    )
    request = new_request()
    with pytest.raises(ValidationError, match=f"endpoint #{endpoint.pk} would break"):
        setup_request_approve(setup_request=request, reviewer=UserFactory.create())
    endpoint.affiliate.refresh_from_db()
    assert endpoint.affiliate.tracker_params == ["subid"]
    assert PostbackEndpoint.objects.count() == 1
    request.refresh_from_db()
    assert request.status == SetupRequest.Status.NEW


def test_approving_twice_is_refused():
    request = new_request()
    setup_request_approve(setup_request=request, reviewer=UserFactory.create())
    stale = SetupRequest.objects.get(pk=request.pk)
    stale.status = SetupRequest.Status.NEW  # a second manager's page, loaded before the first
    with pytest.raises(ValidationError, match="is already approved"):
        setup_request_approve(setup_request=stale, reviewer=UserFactory.create())
    assert PostbackEndpoint.objects.count() == 1


def test_reject_records_the_reason_and_the_reviewer():
    manager = UserFactory.create()
    request = new_request()
    setup_request_reject(setup_request=request, reviewer=manager, reason="Unknown network id.")
    request.refresh_from_db()
    assert request.status == SetupRequest.Status.REJECTED
    assert request.rejection_reason == "Unknown network id."
    assert request.reviewed_by == manager
    with pytest.raises(ValidationError, match="is already rejected"):
        setup_request_approve(setup_request=request, reviewer=manager)


def test_reject_needs_a_reason():
    with pytest.raises(ValidationError, match="Say why"):
        setup_request_reject(setup_request=new_request(), reviewer=UserFactory.create(), reason=" ")


# ------------------------------------------------------------------------------
# Through the admin
# ------------------------------------------------------------------------------
def test_the_queue_lists_newest_first_with_the_count_of_new(admin_client):
    older = new_request(network_id=1111111)
    newer = new_request(network_id=2222222)
    new_request(network_id=3333333, status=SetupRequest.Status.REJECTED)
    response = admin_client.get(reverse("admin:affiliates_setuprequest_changelist"))
    body = response.content.decode()
    assert "<strong>2</strong> new requests waiting" in body
    assert body.index(f"SR-{newer.pk:06d}") < body.index(f"SR-{older.pk:06d}")
    filtered = admin_client.get(
        reverse("admin:affiliates_setuprequest_changelist"), {"status__exact": "new"}
    )
    assert "3333333" not in filtered.content.decode()
    verified = admin_client.get(
        reverse("admin:affiliates_setuprequest_changelist"), {"verified__exact": "1"}
    )
    assert "1111111" not in verified.content.decode()


def test_the_change_page_compares_asked_and_current_and_previews(admin_client):
    PostbackEndpointFactory.create(
        affiliate__network_id=2345678,
        affiliate__tracker_params=["affid", "clickId"],
        affiliate__tracker_separator="|",
        url_template="https://old.example/pb?c={clickId}",
    )
    request = new_request()
    body = admin_client.get(
        reverse("admin:affiliates_setuprequest_change", args=[request.pk])
    ).content.decode()
    assert "what was asked, next to the affiliate's current settings" in body
    assert "https://old.example/pb?c={clickId}" in body
    assert "clickId (the click)" in body
    assert "POST https://track.example/pb?cid=c0ffee&amp;tx=TEST-TX-1" in body
    assert 'id="approve-button"' in body
    assert 'name="_save"' not in body


def test_the_approve_button_creates_the_endpoint_and_opens_it(admin_client, admin_user):
    request = new_request()
    response = admin_client.post(
        reverse("admin:affiliates_setuprequest_approve", args=[request.pk])
    )
    endpoint = PostbackEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:postbacks_postbackendpoint_change", args=[endpoint.pk]
    )
    request.refresh_from_db()
    assert request.reviewed_by == admin_user
    again = admin_client.post(
        reverse("admin:affiliates_setuprequest_approve", args=[request.pk]), follow=True
    )
    assert "is already approved" in again.content.decode()
    assert PostbackEndpoint.objects.count() == 1


def test_the_approve_action_reports_each_refusal(admin_client):
    good = new_request(network_id=4444444, test_link="")
    bad = new_request(network_id=5555555, url_template="https://t.example/{nope}")
    response = admin_client.post(
        reverse("admin:affiliates_setuprequest_changelist"),
        {"action": "approve_selected", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "1 request(s) approved" in body
    assert f"SR-{bad.pk:06d}" in body
    assert "nope" in body
    assert PostbackEndpoint.objects.get().affiliate.network_id == 4444444


def test_reject_with_a_reason_through_the_admin(admin_client, admin_user):
    request = new_request()
    url = reverse("admin:affiliates_setuprequest_reject", args=[request.pk])
    assert "Reason, for the affiliate" in admin_client.get(url).content.decode()
    empty = admin_client.post(url, {"reason": ""})
    assert empty.status_code == 200
    request.refresh_from_db()
    assert request.status == SetupRequest.Status.NEW
    response = admin_client.post(url, {"reason": "Your tracker is not on our list."})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == SetupRequest.Status.REJECTED
    assert request.rejection_reason == "Your tracker is not on our list."
    assert request.reviewed_by == admin_user
