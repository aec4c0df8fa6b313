"""The account manager's story in a real browser (issue 4, items 3 and 4): open an endpoint in
testing, watch the live preview while editing its template, send a test postback to a real local
receiver, read the answer on the page, and set the endpoint live."""

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from postbacks.models import Delivery, PostbackEndpoint
from tests.e2e.conftest import screenshot
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db(transaction=True)

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"


def test_account_manager_tests_an_endpoint_and_sets_it_live(
    page: Any, live_server: Any, admin_login: Any, receiver: Any
) -> None:
    receiver.default = (200, {"Content-Type": "text/plain"}, b"postback received: <b>ok</b>")
    affiliate = AffiliateFactory.create(
        network_id=1234567,
        tracker_params=["affid", "TransID", "clickId"],
        account_manager=admin_login,
    )
    offer = OfferFactory.create(network_offer_id=66013)
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate,
        offer=offer,
        url_template=receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}",
        status=PostbackEndpoint.Status.TESTING,
        test_link=TEST_LINK,
        events=["signup", "freereg"],
    )
    change_url = f"{live_server.url}/admin/postbacks/postbackendpoint/{endpoint.pk}/change/"

    page.goto(change_url)
    preview = page.locator("#postback-preview")
    expect(preview).to_contain_text("cid=c0ffee&tx=TEST-TX-1")
    expect(page.locator("#set-live")).to_be_disabled()

    # Live preview: the URL of each subscribed event follows the template as it is typed.
    template = page.locator("#id_url_template")
    template.fill(receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}&e={event}&x={clickid}")
    expect(preview).to_contain_text("unknown macro {clickid}")
    expect(preview).to_contain_text("did you mean {clickId}")
    template.fill(receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}&e={event}")
    expect(preview).to_contain_text("cid=c0ffee&tx=TEST-TX-1&e=freereg")
    expect(preview).to_contain_text("cid=c0ffee&tx=TEST-TX-1&e=signup")
    expect(page.locator("#postback-macros")).to_contain_text("{clickId}")
    page.click("input[name=_continue]")
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")

    # The test postback: fired now, answered on the page within seconds.
    page.click("#send-test-postback")
    messages = page.locator("ul.messagelist")
    expect(messages).to_contain_text(re.compile(r"Test postback answered 200 in \d+ ms\."))
    history = page.locator("#test-postbacks")
    # The receiver's answer is shown as text, never as markup.
    expect(history).to_contain_text("postback received: <b>ok</b>")
    expect(history.locator("b")).to_have_count(0)
    (request,) = receiver.wait_for(1)
    delivery = Delivery.objects.get(endpoint=endpoint, is_test=True)
    assert delivery.url == receiver.base_url + request.path
    assert re.fullmatch(r"/pb\?cid=c0ffee&tx=test-\d+&e=freereg", request.path)
    expect(history).to_contain_text(delivery.url)
    expect(page.locator("#set-live")).to_be_enabled()
    screenshot(page, "test-postback.png")

    page.click("#set-live")
    expect(messages).to_contain_text(f"Endpoint #{endpoint.pk} is live.")
    expect(page.locator("#set-live")).to_have_count(0)
    endpoint.refresh_from_db()
    assert endpoint.status == PostbackEndpoint.Status.LIVE
    assert endpoint.url_template.endswith("&e={event}")
    assert len(receiver.received) == 1


def test_add_page_lists_the_chosen_affiliates_macros_and_previews(
    page: Any, live_server: Any, admin_login: Any
) -> None:
    AffiliateFactory.create(network_id=7654321, name="Cam Traffic", tracker_params=["subId"])
    page.goto(f"{live_server.url}/admin/postbacks/postbackendpoint/add/")
    macros = page.locator("#postback-macros")
    expect(macros).to_contain_text("{transaction_id}")
    expect(macros).not_to_contain_text("{subId}")

    page.locator("#id_url_template").fill("https://t.example/pb?s={subId}&tx={transaction_id}")
    expect(page.locator("#postback-preview")).to_contain_text("Choose the affiliate")

    # The affiliate picker is an autocomplete (select2) widget.
    page.locator("#id_affiliate + .select2 .select2-selection").click()
    page.locator("input[aria-controls=select2-id_affiliate-results]").fill("Cam Traffic")
    page.locator(".select2-results__option", has_text="Cam Traffic").click()

    expect(macros).to_contain_text("{subId}")
    expect(macros).to_contain_text("your tracker value 'subId'")
    expect(page.locator("#postback-preview")).to_contain_text(
        "https://t.example/pb?s=sample_subId&tx=TEST-TX-1"
    )
