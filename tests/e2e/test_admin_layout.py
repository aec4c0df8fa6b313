"""No admin page of the portal's own models scrolls sideways at 1,366 x 768 (issue 15, item 5):
every changelist, add page and change page of a demo object, the dashboard and a health page,
with the long URLs and errors real endpoints have."""

from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse
from rest_framework.authtoken.models import Token

from postbacks.models import Delivery, DeliveryAttempt, PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    OfferFactory,
    PostbackEndpointFactory,
    SetupRequestFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

PORTAL_APPS = {"affiliates", "offers", "postbacks", "authtoken"}
LONG_URL = (
    "https://tracking.partner-network-with-a-long-name.example/postback/v2/conversions/receive"
    "?clickid={clickId}&transaction={transaction_id}&event={event}&amount={amount}"
    "&currency={currency}&offer={offer_id}&affiliate={affid}&sub={TransID}"
)
LONG_ERROR = (
    "ClientConnectorError: Cannot connect to host tracking.partner-network-with-a-long-name."
    "example:443 ssl:default [Connect call failed ('203.0.113.10', 443)]"
)


# A section bar (a module's h2) with nothing under it, or with no words in it.
EMPTY_BARS_JS = """
[...document.querySelectorAll('#content-main .module > h2, #content-main fieldset > h2')]
  .filter(h => h.offsetParent !== null)
  .filter(h => !h.textContent.trim() || ![...h.parentElement.children].some(
      c => c !== h && c.offsetParent !== null && c.getBoundingClientRect().height > 0))
  .map(h => h.textContent.trim() || '(no title)')
"""


def demo_objects(manager: Any) -> None:
    affiliate = AffiliateFactory.create(
        name="An affiliate with a rather long company name, Ltd.",
        network_id=1234567,
        account_manager=manager,
    )
    offer = OfferFactory.create(name="A premium dating offer for the whole of Europe, desktop")
    for status in PostbackEndpoint.Status.values:
        PostbackEndpointFactory.create(
            affiliate=affiliate,
            offer=offer,
            url_template=LONG_URL,
            status=status,
            test_link="https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID",
            events=["signup", "freereg", "sale"],
        )
    endpoint = PostbackEndpoint.objects.filter(affiliate=affiliate).first()
    conversion = ConversionFactory.create(
        affiliate=affiliate,
        offer=offer,
        transaction_id="tx-" + "0123456789abcdef" * 4,
        tracker_raw="trID_1234567_aff9-tx77-" + "c0ffee" * 10 + "_trID",
    )
    delivery = DeliveryFactory.create(
        conversion=conversion,
        endpoint=endpoint,
        url=LONG_URL.replace("{", "").replace("}", ""),
        state=Delivery.State.FAILED,
        last_error=LONG_ERROR,
    )
    DeliveryAttemptFactory.create(
        delivery=delivery,
        status_code=None,
        error=LONG_ERROR,
        response_excerpt="<html>" + "x" * 900 + "</html>",
    )
    DeliveryAttemptFactory.create(
        delivery=delivery, number=2, status_code=500, error="receiver answered 500"
    )
    SetupRequestFactory.create(
        network_id=1234567,
        url_template=LONG_URL,
        tracker_params=["affid", "TransID", "clickId"],
    )
    Token.objects.create(user=manager)


def portal_pages() -> list[str]:
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        if meta.app_label not in PORTAL_APPS:
            continue
        name = f"admin:{meta.app_label}_{meta.model_name}"
        urls.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(_superuser_request()):
            urls.append(reverse(f"{name}_add"))
        obj = model_admin.get_queryset(_superuser_request()).order_by("pk").first()
        if obj is not None:
            urls.append(reverse(f"{name}_change", args=[obj.pk]))
    endpoint = PostbackEndpoint.objects.order_by("pk").first()
    assert endpoint is not None
    urls.append(reverse("admin:postbacks_postbackendpoint_health", args=[endpoint.pk]))
    return urls


def _superuser_request() -> Any:
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = User.objects.filter(is_superuser=True).get()
    return request


def test_no_portal_admin_page_scrolls_sideways_at_1366(
    page: Any, live_server: Any, admin_login: Any
) -> None:
    demo_objects(admin_login)
    assert DeliveryAttempt.objects.count() == 2
    page.set_viewport_size({"width": 1366, "height": 768})

    too_wide = {}
    cut_off = {}
    empty_bars = {}
    for url in portal_pages():
        response = page.goto(live_server.url + url)
        assert response is not None and response.status == 200, url
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        # The changelist scrolls its table inside a box: a column past its edge is cut off.
        hidden = page.evaluate(
            "[...document.querySelectorAll('#changelist .results')]"
            ".filter(e => e.scrollWidth > e.clientWidth).length"
        )
        if hidden:
            cut_off[url] = hidden
        bars = page.evaluate(EMPTY_BARS_JS)
        if bars:
            empty_bars[url] = bars
        if url.startswith("/admin/affiliates/affiliate/") and url.endswith("/change/"):
            builder, buttons = page.evaluate(
                "['#link-builder', '#affiliate_form .submit-row']"
                ".map(s => document.querySelector(s).getBoundingClientRect().top)"
            )
            assert builder < buttons, "the link builder sits above the save buttons"
        if scroll > client:
            too_wide[url] = scroll
    assert too_wide == {}
    assert cut_off == {}
    assert empty_bars == {}
