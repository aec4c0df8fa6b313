"""The affiliate's story in a real browser (docs/spec.md §7): fill the setup form, preview the
postback for the test link, send it, and get a reference."""

import re

import pytest

from affiliates.models import SetupRequest
from affiliates.selectors import setup_request_reference
from tests.e2e.conftest import screenshot

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"
EXPECTED_URL = "https://track.example/pb?cid=c0ffee&tx=TEST-TX-1&sub=aff9"


@pytest.mark.django_db(transaction=True)
def test_an_affiliate_previews_and_files_a_setup_request(page, live_server):
    page.goto(f"{live_server.url}/setup/")
    page.fill("#id_network_id", "1234567")
    page.fill("#id_contact_email", "jane@tracker.example")
    page.fill("#id_offer_links", "https://offers.example/go?id=66013;tracker=trID_1234567_x_trID")
    page.check("input[name=events][value=both]")
    page.fill("#id_param_name_0", "affid")
    page.fill("#id_param_meaning_0", "our affiliate id")
    page.fill("#id_param_name_1", "TransID")
    page.fill("#id_param_name_2", "clickId")
    page.fill("#id_param_meaning_2", "the click id")
    page.fill("#id_test_link", TEST_LINK)
    page.fill(
        "#id_url_template", "https://track.example/pb?cid={clickId}&tx={transaction_id}&sub={p1}"
    )

    page.click("#preview-button")
    preview = page.locator("#preview-table")
    preview.wait_for(state="visible")
    urls = page.locator("code.preview-url").all_inner_texts()
    assert urls == [EXPECTED_URL, EXPECTED_URL]
    assert "Sale" in preview.inner_text() or "signup" in preview.inner_text()
    assert "freereg" in preview.inner_text()
    screenshot(page, "setup-form.png")

    # The live preview follows the template as it is typed (plain JS, fetch).
    page.fill("#id_url_template", "https://track.example/pb?cid={clickId}&e={event}")
    page.wait_for_function(
        "() => [...document.querySelectorAll('code.preview-url')]"
        ".some(c => c.textContent.endsWith('&e=freereg'))"
    )

    page.click("#submit-button")
    page.wait_for_url(re.compile(r".*/setup/done/.+"))
    reference = page.locator(".reference").inner_text()
    request = SetupRequest.objects.get()
    assert reference == setup_request_reference(setup_request=request)
    assert request.network_id == 1234567
    assert request.events == SetupRequest.Events.BOTH
    assert request.tracker_param_descriptions == {
        "affid": "our affiliate id",
        "clickId": "the click id",
    }
    assert request.url_template == "https://track.example/pb?cid={clickId}&e={event}"


@pytest.mark.django_db(transaction=True)
def test_mistakes_are_shown_next_to_their_fields(page, live_server):
    page.goto(f"{live_server.url}/setup/")
    page.fill("#id_network_id", "1234567")
    page.fill("#id_contact_email", "jane@tracker.example")
    page.fill("#id_offer_links", "https://offers.example/go")
    page.fill("#id_param_name_0", "clickId")
    page.fill("#id_test_link", "https://offers.example/go?id=66013")
    page.fill("#id_url_template", "https://track.example/pb?cid={clickid}")
    page.click("#submit-button")
    assert "did you mean {clickId}?" in page.locator("#row-url_template .error").inner_text()
    assert "holds no tracker" in page.locator("#row-test_link .error").inner_text()
    assert not SetupRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_add_a_param_reveals_another_row(page, live_server):
    page.goto(f"{live_server.url}/setup/")
    rows = page.locator("tr.param-row:visible")
    before = rows.count()
    page.click("#add-param")
    assert rows.count() == before + 1
