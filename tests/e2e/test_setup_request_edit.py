"""An account manager corrects a setup request's params on its review page in a real browser and
approves it (issue 15, item 1): the params would break the affiliate's live endpoint; after the
edit nothing breaks, the preview follows, and the page never scrolls sideways at 1,366 x 768."""

from typing import Any

import pytest
from playwright.sync_api import expect

from affiliates.models import Affiliate, SetupRequest
from postbacks.models import PostbackEndpoint
from tests.e2e.conftest import screenshot
from tests.factories import AffiliateFactory, PostbackEndpointFactory, SetupRequestFactory

pytestmark = pytest.mark.django_db(transaction=True)

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-c0ffee_trID"


def no_sideways_scroll(page: Any) -> bool:
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return bool(scroll <= client)


def test_account_manager_edits_a_requests_params_and_approves(
    page: Any, live_server: Any, admin_login: Any
) -> None:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "subid"], account_manager=admin_login
    )
    live = PostbackEndpointFactory.create(
        affiliate=affiliate,
        url_template="https://old.example/pb?s={subid}&tx={transaction_id}",
        status=PostbackEndpoint.Status.LIVE,
        events=["freereg"],
    )
    setup_request = SetupRequestFactory.create(
        network_id=1234567,
        tracker_params=["affid", "whateverId"],
        url_template="https://track.example/pb?w={whateverId}&tx={transaction_id}",
        test_link=TEST_LINK,
        events=SetupRequest.Events.CONVERSIONS,
    )
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/admin/affiliates/setuprequest/{setup_request.pk}/change/")

    breaks = page.locator("#setup-breaks")
    expect(breaks).to_contain_text(f"#{live.pk}")
    expect(breaks).to_contain_text("unknown macro {subid}")
    assert no_sideways_scroll(page)

    page.click("#edit-params-link")
    params = page.locator("#id_tracker_params")
    expect(params).to_be_focused()
    expect(params).to_have_value("affid, whateverId")
    params.fill("affid, subid")
    page.fill("#id_url_template", "https://track.example/pb?s={subid}&tx={transaction_id}")
    assert no_sideways_scroll(page)
    page.click("#save-edits")

    expect(page.locator("ul.messagelist")).to_contain_text("tracker params, postback URL saved")
    expect(page.locator("#setup-breaks")).to_have_count(0)
    expect(page.locator("#setup-review")).to_contain_text("https://track.example/pb?s=c0ffee")
    edited = page.locator("#setup-edited")
    expect(edited).to_contain_text("affid, whateverId")
    expect(edited).to_contain_text("affid, subid")
    expect(page.locator("#approve-button")).to_have_value("Approve: create the endpoint in testing")
    assert no_sideways_scroll(page)
    screenshot(page, "setup-request-edit.png")

    page.click("#approve-button")
    expect(page.locator("ul.messagelist")).to_contain_text("approved: postback endpoint #")
    affiliate.refresh_from_db()
    assert affiliate.tracker_params == ["affid", "subid"]
    new = Affiliate.objects.get(pk=affiliate.pk).endpoints.exclude(pk=live.pk).get()
    assert new.url_template == "https://track.example/pb?s={subid}&tx={transaction_id}"
    assert new.status == PostbackEndpoint.Status.TESTING
    live.refresh_from_db()
    assert live.status == PostbackEndpoint.Status.LIVE
