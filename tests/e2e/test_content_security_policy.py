"""The Content-Security-Policy in a real browser (issue 6): the portal's own pages work under it
and the browser reports no violation. Chromium fires `securitypolicyviolation` for every blocked
script, style, handler or image, and logs it to the console; both are collected, with script
errors, and must stay empty.

The policy is the one every environment sends (config/settings/base.py), so a page it breaks fails
here, not in production.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import expect

from postbacks.models import PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    OfferFactory,
    PostbackEndpointFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"

# Registered before any page script runs (Playwright injects it outside the page's policy).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportCspViolation(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
  );
});
"""


@dataclass
class BrowserTrouble:
    violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def violation(self, text: str) -> None:
        self.violations.append(text)

    def console_message(self, message: Any) -> None:
        url = message.location.get("url") or ""
        # The setup form names no favicon, so the browser asks for /favicon.ico: a 404, no error.
        if message.type == "error" and not url.endswith("/favicon.ico"):
            self.console_errors.append(f"{message.text} ({url})")

    def assert_none(self) -> None:
        assert self.violations == []
        assert self.console_errors == []
        assert self.page_errors == []


@pytest.fixture
def trouble(page: Any) -> Iterator[BrowserTrouble]:
    seen = BrowserTrouble()
    page.expose_function("reportCspViolation", seen.violation)
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", seen.console_message)
    page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
    yield seen


def settle(page: Any) -> None:
    """Let late violations (deferred scripts, lazy styles) arrive before asserting."""
    page.wait_for_load_state("networkidle")


def test_the_setup_form_and_its_live_preview_work_under_the_policy(
    page: Any, live_server: Any, trouble: BrowserTrouble
) -> None:
    page.goto(f"{live_server.url}/setup/")
    assert page.evaluate("() => document.querySelector('#add-param').hidden") is False
    page.fill("#id_network_id", "1234567")
    page.fill("#id_contact_email", "jane@tracker.example")
    page.fill("#id_offer_links", "https://offers.example/go?id=66013;tracker=trID_1234567_x_trID")
    page.check("input[name=events][value=conversions]")
    page.fill("#id_param_name_0", "affid")
    page.fill("#id_param_name_1", "TransID")
    page.fill("#id_param_name_2", "clickId")
    page.fill("#id_test_link", TEST_LINK)
    # Typing is enough: setup.js posts the form to the preview endpoint and fills the table.
    page.fill("#id_url_template", "https://track.example/pb?cid={clickId}&tx={transaction_id}")
    expect(page.locator("#preview-table")).to_be_visible()
    expect(page.locator("code.preview-url").first).to_have_text(
        "https://track.example/pb?cid=c0ffee&tx=TEST-TX-1"
    )
    # The form's own stylesheet applied (a style the policy refused would leave it unstyled).
    assert page.evaluate("() => getComputedStyle(document.querySelector('header.top')).display")
    settle(page)
    trouble.assert_none()


def test_the_admin_dashboard_draws_its_charts_under_the_policy(
    page: Any, live_server: Any, trouble: BrowserTrouble, admin_login: Any
) -> None:
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#postbacks-dashboard")).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-hourly')")
    # ops.css, the dashboard's stylesheet, took effect: the dashboard spans the page.
    width = page.evaluate("() => getComputedStyle(document.querySelector('#content')).maxWidth")
    assert width == "1500px"
    settle(page)
    trouble.assert_none()


def test_an_endpoint_page_and_its_live_preview_work_under_the_policy(
    page: Any, live_server: Any, trouble: BrowserTrouble, admin_login: Any
) -> None:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate,
        offer=OfferFactory.create(network_offer_id=66013),
        url_template="https://track.example/pb?cid={clickId}",
        status=PostbackEndpoint.Status.TESTING,
        test_link=TEST_LINK,
        events=["signup"],
    )
    page.goto(f"{live_server.url}/admin/postbacks/postbackendpoint/{endpoint.pk}/change/")
    preview = page.locator("#postback-preview")
    expect(preview).to_contain_text("cid=c0ffee")
    page.locator("#id_url_template").fill("https://track.example/pb?cid={clickId}&e={event}")
    expect(preview).to_contain_text("cid=c0ffee&e=signup")
    # The admin's autocomplete widget (select2, jQuery) runs too.
    expect(page.locator("#id_affiliate + .select2")).to_be_visible()
    settle(page)
    trouble.assert_none()


def test_the_link_builder_selects_the_link_on_focus_without_an_inline_handler(
    page: Any, live_server: Any, trouble: BrowserTrouble, admin_login: Any
) -> None:
    affiliate = AffiliateFactory.create(network_id=1234567, tracker_params=["affid", "clickId"])
    offer = OfferFactory.create(network_offer_id=66013)
    page.goto(f"{live_server.url}/admin/affiliates/affiliate/{affiliate.pk}/change/")
    page.select_option("#builder-offer", str(offer.pk))
    page.click("#link-builder input[type=submit]")
    link = page.locator("#offer-link")
    link.focus()
    selected = page.evaluate(
        "() => { const f = document.querySelector('#offer-link');"
        " return f.value.substring(f.selectionStart, f.selectionEnd); }"
    )
    assert selected == link.input_value() != ""
    # portal/admin.css replaced the inline styles: the link spans its box, in monospace.
    assert "monospace" in link.evaluate("f => getComputedStyle(f).fontFamily")
    settle(page)
    trouble.assert_none()


def test_the_api_docs_render_their_operations_under_the_policy(
    page: Any, live_server: Any, trouble: BrowserTrouble, admin_login: Any
) -> None:
    page.goto(f"{live_server.url}/api/docs/")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 10
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Postback portal API")
    # Open one operation: Swagger UI's own rendering (React) works under the policy.
    page.locator(".opblock-summary", has_text="/api/v1/conversions/").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    settle(page)
    trouble.assert_none()


def test_rejecting_conversions_with_a_reason_works_under_the_policy(
    page: Any, live_server: Any, trouble: BrowserTrouble, admin_login: Any
) -> None:
    conversion = ConversionFactory.create(transaction_id="tx-check", status="pending")
    page.goto(f"{live_server.url}/admin/postbacks/conversion/")
    page.check(f"input[name=_selected_action][value='{conversion.pk}']")
    page.select_option("select[name=action]", "reject_selected")
    page.click("button[name=index]")
    expect(page.locator("#id_reason")).to_be_visible()
    page.fill("#id_reason", "fraud ring")
    page.click("input[type=submit][value='Reject 1 conversion']")
    expect(page.locator("ul.messagelist")).to_contain_text("1 conversion rejected.")
    conversion.refresh_from_db()
    assert (conversion.status, conversion.status_reason) == ("rejected", "fraud ring")
    settle(page)
    trouble.assert_none()
