"""Picking a tracker fills the postback in (docs/spec.md §11), in a real browser, under the strict
CSP: on the setup form (the affiliate) and on the endpoint page (the account manager)."""

import re

import pytest

from affiliates.models import SetupRequest
from affiliates.setup_requests import setup_request_approve
from tests.factories import AffiliateFactory, PostbackEndpointFactory

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"


@pytest.mark.django_db(transaction=True)
def test_an_affiliate_picks_keitaro_and_gets_its_postback(page, live_server, django_user_model):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/setup/")
    page.fill("#id_network_id", "1234567")
    page.fill("#id_contact_email", "jane@tracker.example")
    page.fill("#id_offer_links", "https://offers.example/go?id=66013;tracker=trID_1234567_x_trID")
    page.fill("#id_param_name_0", "affid")
    page.fill("#id_param_name_1", "TransID")
    page.fill("#id_param_name_2", "clickId")
    page.fill("#id_test_link", TEST_LINK)
    page.select_option("#id_receiver_preset", "keitaro")
    page.fill("#id_receiver_domain", "track.example.com")

    page.fill("#id_receiver_key", "ab cd")
    page.click("#receiver-preset-fill")
    page.wait_for_function(
        "() => document.getElementById('receiver-preset-result').textContent.includes('space')"
    )
    assert page.input_value("#id_url_template") == ""

    page.fill("#id_receiver_key", "k3y")
    page.click("#receiver-preset-fill")
    page.wait_for_function("() => document.getElementById('id_url_template').value !== ''")
    assert page.input_value("#id_url_template") == (
        "https://track.example.com/k3y/postback?subid={clickId}&status={status}&payout={amount}"
        "&tid={transaction_id}-{event}&currency={currency}"
    )
    assert "{subid}" in page.inner_text("#receiver-preset-result")
    # The live preview follows the filled-in template as it follows typing.
    page.wait_for_function(
        "() => [...document.querySelectorAll('code.preview-url')]"
        ".some(c => c.textContent.includes('subid=c0ffee&status=sale'))"
    )
    page.click("#submit-button")
    page.wait_for_url(re.compile(r".*/setup/done/.+"))
    request = SetupRequest.objects.get()
    assert request.receiver_preset == "keitaro"
    reviewer = django_user_model.objects.create_superuser("rev", "rev@example.com", "x")
    endpoint = setup_request_approve(setup_request=request, reviewer=reviewer)
    assert endpoint.fire_on == ["pending", "approved", "rejected", "reversed"]
    assert endpoint.status_values["approved"] == "sale"
    assert endpoint.status_values["pending"] == "lead"
    assert not [e for e in errors if "Content Security Policy" in e]


@pytest.mark.django_db(transaction=True)
def test_an_account_manager_fills_an_endpoint_from_a_preset(page, live_server, admin_login):
    admin_page = page
    affiliate = AffiliateFactory(tracker_params=["affid", "clickId"], account_manager=admin_login)
    endpoint = PostbackEndpointFactory(affiliate=affiliate)
    admin_page.goto(f"{live_server.url}/admin/postbacks/postbackendpoint/{endpoint.pk}/change/")
    admin_page.select_option("#id_receiver_preset", "funnelflux")
    admin_page.fill("#id_receiver_domain", "10.0.0.5")
    admin_page.click("#receiver-preset-fill")
    admin_page.wait_for_function(
        "() => document.getElementById('receiver-preset-result').textContent.includes('private')"
    )
    admin_page.fill("#id_receiver_domain", "ff.example.com")
    admin_page.click("#receiver-preset-fill")
    admin_page.wait_for_function(
        "() => document.getElementById('id_url_template').value.includes('ff.example.com')"
    )
    assert admin_page.input_value("#id_url_template") == (
        "https://ff.example.com/pb/?hit={clickId}&tx={postback_id}&rev={signed_amount}"
    )
    assert admin_page.is_checked("input[name=fire_on][value=reversed]")
    admin_page.wait_for_function(
        "() => document.getElementById('postback-preview').textContent.includes('rev=-')"
    )
