"""The affiliate's pages: its endpoints, its postback log (last 30 days, filtered, paginated,
secrets redacted, answers escaped) and a conversion's detail; never another affiliate's rows."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partners import selectors
from partners.redaction import url_redact
from postbacks.models import Delivery
from tests.config.test_security_headers import assert_hardened
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
    event_type,
)
from tests.partners.conftest import sign_in

pytestmark = pytest.mark.django_db


def _delivery(endpoint, *, state=Delivery.State.SUCCEEDED, code=200, excerpt="OK", **kwargs):
    conversion = ConversionFactory(affiliate=endpoint.affiliate, **kwargs.pop("conversion", {}))
    delivery = DeliveryFactory(
        conversion=conversion, endpoint=endpoint, state=state, attempts=1, **kwargs
    )
    DeliveryAttemptFactory(
        delivery=delivery, status_code=code, response_excerpt=excerpt, duration_ms=42
    )
    return delivery


@pytest.fixture
def endpoint(affiliate):
    return PostbackEndpointFactory(
        affiliate=affiliate,
        url_template="https://track.example/pb?cid={clickId}&sig={signature}",
        fire_on=["approved", "reversed"],
        events=["signup", "rebill"],
    )


def test_the_endpoints_page_shows_events_statuses_template_and_last_test(signed_in, endpoint):
    test = DeliveryFactory(conversion=None, endpoint=endpoint, is_test=True, state="dead")
    DeliveryAttemptFactory(delivery=test, status_code=500, response_excerpt="<b>boom</b>")
    html = signed_in.get(reverse("partner:home")).content.decode()
    assert "signup" in html and "rebill" in html
    assert "approved" in html and "reversed" in html
    assert "https://track.example/pb?cid={clickId}&amp;sig={signature}" in html
    assert "HTTP 500" in html
    assert "(live)" in html
    assert "&lt;b&gt;boom&lt;/b&gt;" in html and "<b>boom</b>" not in html


def test_the_log_shows_each_postback_redacted_and_escaped(signed_in, endpoint):
    delivery = _delivery(
        endpoint,
        url="https://track.example/pb?cid=c1&sig=abcdef0123&api_key=k3y",
        state=Delivery.State.DEAD,
        code=502,
        excerpt="<script>alert(1)</script>",
    )
    html = signed_in.get(reverse("partner:log")).content.decode()
    assert f'id="delivery-{delivery.pk}"' in html
    assert "abcdef0123" not in html and "k3y" not in html
    assert "sig=[redacted]" in html and "cid=c1" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "502" in html and "42 ms" in html


def test_the_log_filters_by_event_status_failure_and_day(signed_in, endpoint):
    ok = _delivery(endpoint)
    failed = _delivery(endpoint, state=Delivery.State.FAILED, code=500)
    sale = _delivery(
        endpoint,
        conversion={"event_type": event_type("rebill")},
        status="reversed",
    )
    old = _delivery(endpoint)
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))

    def shown(**query):
        html = signed_in.get(reverse("partner:log"), query).content.decode()
        return {d.pk for d in (ok, failed, sale, old) if f'id="delivery-{d.pk}"' in html}

    assert shown() == {ok.pk, failed.pk, sale.pk}
    assert shown(failed="on") == {failed.pk}
    assert shown(event="rebill") == {sale.pk}
    assert shown(status="reversed") == {sale.pk}
    assert shown(day=timezone.now().date().isoformat()) == {ok.pk, failed.pk, sale.pk}
    assert shown(day="2001-01-01") == set()


def test_the_log_pages_without_counting(signed_in, endpoint, monkeypatch):
    monkeypatch.setattr(selectors, "LOG_PAGE_SIZE", 2)
    deliveries = [_delivery(endpoint) for _ in range(3)]
    first = signed_in.get(reverse("partner:log")).content.decode()
    assert 'id="next-page"' in first
    second = signed_in.get(reverse("partner:log"), {"page": 2}).content.decode()
    assert f'id="delivery-{deliveries[0].pk}"' in second
    assert 'id="next-page"' not in second


def test_a_conversion_detail_shows_its_postbacks(signed_in, endpoint):
    delivery = _delivery(endpoint, conversion={"transaction_id": "tx-detail-1"})
    response = signed_in.get(reverse("partner:conversion", args=[delivery.conversion_id]))
    html = response.content.decode()
    assert "tx-detail-1" in html and f'id="delivery-{delivery.pk}"' in html


def test_an_affiliate_never_sees_another_affiliates_rows(signed_in, endpoint):
    other_endpoint = PostbackEndpointFactory(affiliate=AffiliateFactory())
    theirs = _delivery(other_endpoint, url="https://theirs.example/pb?cid=secret-of-theirs")
    mine = _delivery(endpoint)
    html = signed_in.get(reverse("partner:log")).content.decode()
    assert f'id="delivery-{mine.pk}"' in html
    assert "theirs.example" not in html
    for query in ({"event": "signup"}, {"failed": "on"}, {"page": "1"}):
        assert "theirs.example" not in signed_in.get(reverse("partner:log"), query).content.decode()
    assert "theirs.example" not in signed_in.get(reverse("partner:home")).content.decode()
    assert (
        signed_in.get(reverse("partner:conversion", args=[theirs.conversion_id])).status_code == 404
    )
    assert signed_in.get(reverse("partner:conversion", args=[2**70])).status_code == 404
    for name in ("partner:endpoint-test",):
        assert signed_in.post(reverse(name, args=[other_endpoint.pk])).status_code == 404
    assert (
        signed_in.get(reverse("partner:change-request", args=[other_endpoint.pk])).status_code
        == 404
    )
    assert signed_in.post(reverse("partner:endpoint-test", args=[2**70])).status_code == 404
    assert signed_in.get(reverse("partner:change-request", args=[2**70])).status_code == 404


def test_every_page_needs_a_session(client, endpoint):
    for url in (reverse("partner:home"), reverse("partner:log")):
        assert client.get(url)["Location"] == reverse("partner:sign-in")


def test_the_pages_keep_the_strict_policy_and_every_form_needs_csrf(affiliate, endpoint):
    browser = Client(enforce_csrf_checks=True)
    for url in (reverse("partner:sign-in"), reverse("partner:sign-in-sent")):
        assert_hardened(browser.get(url))
    assert browser.post(reverse("partner:sign-in"), {"email": affiliate.email}).status_code == 403
    sign_in(Client(), affiliate)  # a second browser, to check the pages behind the sign-in
    signed = Client()
    sign_in(signed, affiliate)
    for url in (reverse("partner:home"), reverse("partner:log")):
        response = signed.get(url)
        assert_hardened(response)
        assert response.content.decode().count("csrfmiddlewaretoken") >= 2
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = signed.cookies
    for url in (
        reverse("partner:replay"),
        reverse("partner:endpoint-test", args=[endpoint.pk]),
        reverse("partner:sign-out"),
    ):
        assert strict.post(url, {"since": "2026-01-01T00:00"}).status_code == 403


def test_a_secret_written_into_a_template_is_redacted_and_macros_stay(signed_in, affiliate):
    PostbackEndpointFactory(
        affiliate=affiliate,
        url_template="https://track.example/pb?cid={clickId}&api_key=hunter2&sig={signature}",
    )
    html = signed_in.get(reverse("partner:home")).content.decode()
    assert "hunter2" not in html
    assert "api_key=[redacted]&amp;sig={signature}" in html


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://t.example/pb?cid=1&signature=ab12",
            "https://t.example/pb?cid=1&signature=[redacted]",
        ),
        (
            "https://t.example/pb?cid=1&secret=s&token=t",
            "https://t.example/pb?cid=1&secret=[redacted]&token=[redacted]",
        ),
        ("https://user:pw@t.example/pb?cid=1", "https://[redacted]@t.example/pb?cid=1"),
        ("https://t.example/pb?cid=1&amount=2", "https://t.example/pb?cid=1&amount=2"),
    ],
)
def test_urls_lose_their_secrets(url, shown):
    assert url_redact(url) == shown


def test_the_log_merges_several_endpoints_newest_first_across_pages(
    signed_in, affiliate, endpoint, monkeypatch
):
    monkeypatch.setattr(selectors, "LOG_PAGE_SIZE", 2)
    second = PostbackEndpointFactory(affiliate=affiliate)
    deliveries = [_delivery(endpoint if n % 2 else second) for n in range(5)]
    for age, delivery in enumerate(reversed(deliveries)):
        Delivery.objects.filter(pk=delivery.pk).update(
            created_at=timezone.now() - timedelta(minutes=age)
        )
    seen = []
    for page in (1, 2, 3):
        html = signed_in.get(reverse("partner:log"), {"page": page}).content.decode()
        seen += [int(pk) for pk in re.findall(r'id="delivery-(\d+)"', html)]
        assert ('id="next-page"' in html) == (page < 3)
    assert seen == [d.pk for d in reversed(deliveries)]
