"""A failed test postback in a real browser (issue 15, item 4): the page says in plain words
what went wrong, the technical detail opens with one click (a <details>, no script), and the
test is labelled failed, not dead."""

import socket
from typing import Any

import pytest
from playwright.sync_api import expect

from postbacks.models import PostbackEndpoint
from tests.factories import AffiliateFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db(transaction=True)

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"


def test_a_failed_test_reads_plainly_with_the_detail_one_click_away(
    page: Any, live_server: Any, admin_login: Any
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = PostbackEndpointFactory.create(
        affiliate=AffiliateFactory.create(
            network_id=1234567,
            tracker_params=["affid", "TransID", "clickId"],
            account_manager=admin_login,
        ),
        url_template=f"http://127.0.0.1:{port}/pb?cid={{clickId}}",
        status=PostbackEndpoint.Status.TESTING,
        test_link=TEST_LINK,
    )
    page.goto(f"{live_server.url}/admin/postbacks/postbackendpoint/{endpoint.pk}/change/")
    page.click("#send-test-postback")

    expect(page.locator("ul.messagelist")).to_contain_text(
        f"Test postback failed: could not connect to 127.0.0.1:{port}"
    )
    history = page.locator("#test-postbacks")
    expect(history).to_contain_text("failed")
    expect(history).not_to_contain_text("dead")
    detail = history.locator("details.problem-detail code")
    expect(detail).to_be_hidden()
    history.locator("details.problem-detail summary").click()
    expect(detail).to_be_visible()
    expect(detail).to_contain_text("ClientConnectorError: Cannot connect to host")
