"""The affiliate page: tracker params as a comma-separated line, endpoints inline and validated
against the params being saved with them (docs/spec.md §2, §4)."""

from collections.abc import Sequence
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from affiliates.models import Affiliate
from postbacks.models import EventType, PostbackEndpoint
from tests.factories import AffiliateFactory, PostbackEndpointFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:affiliates_affiliate_add")


def affiliate_form(
    *, endpoints: Sequence[dict[str, Any]] = (), initial: int = 0, **fields: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "network_id": "1234567",
        "name": "Cam Traffic Ltd",
        "email": "pb@camtraffic.example",
        "status": "active",
        "account_manager": "",
        "tracker_params": "affid, TransID, clickId",
        "tracker_prefix": "trID_",
        "tracker_separator": "-",
        "tracker_suffix": "_trID",
        "notes": "",
        "endpoints-TOTAL_FORMS": str(len(endpoints)),
        "endpoints-INITIAL_FORMS": str(initial),
        "endpoints-MIN_NUM_FORMS": "0",
        "endpoints-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    signup = EventType.objects.get(code="signup").pk
    for index, endpoint in enumerate(endpoints):
        row = {
            "id": "",
            "url_template": "https://track.example/pb?cid={clickId}&tx={transaction_id}",
            "offer": "",
            "event_types": [signup],
            "method": "GET",
            "status": "draft",
            "test_link": "",
        }
        row.update(endpoint)
        data.update({f"endpoints-{index}-{name}": value for name, value in row.items()})
    return data


def form_errors(response: Any) -> dict[str, list[str]]:
    return dict(response.context["adminform"].form.errors)


def inline_errors(response: Any) -> list[dict[str, list[str]]]:
    (formset,) = response.context["inline_admin_formsets"]
    return [dict(errors) for errors in formset.formset.errors]


def test_adding_an_affiliate_with_an_endpoint_saves_both(admin_client):
    response = admin_client.post(ADD_URL, affiliate_form(endpoints=[{}]))
    assert response.status_code == 302
    affiliate = Affiliate.objects.get(network_id=1234567)
    assert affiliate.tracker_params == ["affid", "TransID", "clickId"]
    (endpoint,) = affiliate.endpoints.all()
    assert endpoint.url_template == "https://track.example/pb?cid={clickId}&tx={transaction_id}"
    assert [e.code for e in endpoint.event_types.all()] == ["signup"]


def test_new_affiliates_endpoint_with_an_unknown_macro_is_refused_naming_it(admin_client):
    data = affiliate_form(endpoints=[{"url_template": "https://track.example/pb?c={clickID}"}])
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    (errors,) = inline_errors(response)
    assert "unknown macro {clickID} (did you mean {clickId}?)" in errors["url_template"][0]
    assert not Affiliate.objects.exists()
    assert not PostbackEndpoint.objects.exists()


def test_tracker_params_line_is_shown_comma_separated(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    response = admin_client.get(reverse("admin:affiliates_affiliate_change", args=[affiliate.pk]))
    assert 'value="affid, clickId"' in response.content.decode()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("affid, 9lives", "'9lives' is not a valid param name"),
        ("affid, affid", "The param 'affid' is listed twice."),
        ("affid, p2", "'p2' is reserved for positional macros"),
    ],
)
def test_bad_tracker_params_are_refused_with_the_reason(admin_client, line, message):
    response = admin_client.post(ADD_URL, affiliate_form(tracker_params=line))
    assert response.status_code == 200
    assert message in form_errors(response)["tracker_params"][0]


def test_empty_tracker_params_line_means_no_params(admin_client):
    response = admin_client.post(ADD_URL, affiliate_form(tracker_params="  "))
    assert response.status_code == 302
    assert Affiliate.objects.get().tracker_params == []


def test_same_prefix_and_suffix_are_refused(admin_client):
    data = affiliate_form(tracker_prefix="tr_", tracker_suffix="tr_")
    response = admin_client.post(ADD_URL, data)
    assert "The suffix must differ from the prefix." in form_errors(response)["tracker_suffix"]


def existing_endpoint_row(endpoint: PostbackEndpoint, **overrides: Any) -> dict[str, Any]:
    return {"id": str(endpoint.pk), "affiliate": str(endpoint.affiliate_id), **overrides}


def test_renaming_a_param_with_its_endpoint_in_one_submit_is_accepted(admin_client):
    # The endpoint is live and stays live: {clickId} -> {cid} with the param renamed sends the
    # same URL for the same tracker, so it is no change of what fires and is saved in place (a
    # template changed beyond the rename is a revision: tests/postbacks/test_live_edit_inline.py).
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate, url_template="https://track.example/pb?c={clickId}"
    )
    row = existing_endpoint_row(
        endpoint, url_template="https://track.example/pb?c={cid}", status="live"
    )
    data = affiliate_form(
        endpoints=[row],
        initial=1,
        network_id=str(affiliate.network_id),
        tracker_params="affid, cid",
    )
    url = reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 302, inline_errors(response)
    endpoint.refresh_from_db()
    assert endpoint.url_template == "https://track.example/pb?c={cid}"
    assert endpoint.status == PostbackEndpoint.Status.LIVE
    assert not PostbackEndpoint.objects.filter(replaces=endpoint).exists()


def test_removing_a_param_an_endpoint_uses_is_refused(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate, url_template="https://track.example/pb?c={clickId}"
    )
    row = existing_endpoint_row(endpoint, url_template=endpoint.url_template)
    data = affiliate_form(
        endpoints=[row], initial=1, network_id=str(affiliate.network_id), tracker_params="affid"
    )
    url = reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 200
    (errors,) = inline_errors(response)
    assert "unknown macro {clickId}" in errors["url_template"][0]
    affiliate.refresh_from_db()
    assert affiliate.tracker_params == ["affid", "clickId"]


def test_affiliate_page_lists_its_endpoints_inline(admin_client):
    endpoint = PostbackEndpointFactory.create(url_template="https://inline.example/pb?c={clickId}")
    url = reverse("admin:affiliates_affiliate_change", args=[endpoint.affiliate_id])
    body = admin_client.get(url).content.decode()
    assert "https://inline.example/pb?c={clickId}" in body
    assert reverse("admin:postbacks_postbackendpoint_change", args=[endpoint.pk]) in body


def test_account_manager_filters_offer_staff_only_not_api_service_users(admin_client):
    staff = UserFactory.create(username="alice-am")
    User.objects.create_user(username="ingest-service", is_staff=False)
    for url in (
        reverse("admin:affiliates_affiliate_changelist"),
        reverse("admin:postbacks_postbackendpoint_changelist"),
        reverse("admin:postbacks_delivery_changelist"),
    ):
        body = admin_client.get(url).content.decode()
        assert staff.username in body, url
        assert "ingest-service" not in body, url
