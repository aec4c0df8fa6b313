"""Test postbacks and the preview (docs/spec.md §1, §4, §6): fired now through the one sending path
at a real local receiver, recorded as test deliveries; set live only after a successful test."""

import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from affiliates.selectors import setup_preview_rows
from postbacks.delivery.services import deliveries_due
from postbacks.endpoints import endpoint_can_go_live, endpoint_set_live
from postbacks.models import Delivery, DeliveryAttempt, EventType, PostbackEndpoint
from postbacks.preview import template_preview
from postbacks.probes import endpoint_test_fire, endpoint_tests
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

Status = PostbackEndpoint.Status
PPS_TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"


@pytest.fixture
def affiliate():
    return AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )


def make_endpoint(receiver, affiliate, **overrides):
    fields = {
        "affiliate": affiliate,
        "url_template": receiver.base_url
        + "/pb?cid={clickId}&tx={transaction_id}&sum={amount}&o={offer_id}&e={event}",
        "status": Status.TESTING,
        "test_link": PPS_TEST_LINK,
        "events": ["signup", "freereg"],
    }
    fields.update(overrides)
    return PostbackEndpointFactory.create(**fields)


def query_of(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


# ------------------------------------------------------------------------------
# Firing
# ------------------------------------------------------------------------------
def test_success_sends_the_test_links_values_and_records_a_manual_test_delivery(
    receiver, affiliate
):
    offer = OfferFactory.create(network_offer_id=66013)
    endpoint = make_endpoint(receiver, affiliate, offer=offer)
    receiver.default = (200, {}, b"thanks, got it")
    before = int(time.time())

    result = endpoint_test_fire(endpoint=endpoint)

    (request,) = receiver.wait_for(1)
    assert result.url == receiver.base_url + request.path
    query = query_of(request.path)
    assert query["cid"] == ["c0ffee"]
    assert query["sum"] == ["35.00"]
    assert query["o"] == ["66013"]
    assert query["e"] == ["freereg"]  # the first subscribed event
    (tx,) = query["tx"]
    assert tx.startswith("test-") and int(tx.removeprefix("test-")) >= before
    assert result.succeeded
    assert result.status_code == 200
    assert result.response_excerpt == "thanks, got it"
    assert result.error == ""
    assert 0 <= result.duration_ms < 3000
    assert result.source == "tracker values from the test link"

    delivery = Delivery.objects.get(pk=result.delivery_id)
    assert delivery.is_test and delivery.conversion_id is None
    assert delivery.endpoint_id == endpoint.pk
    assert delivery.url == result.url
    assert delivery.state == Delivery.State.SUCCEEDED
    attempt = DeliveryAttempt.objects.get(pk=result.attempt_id)
    assert attempt.delivery_id == delivery.pk
    assert (attempt.number, attempt.trigger, attempt.status_code) == (1, "manual", 200)
    assert attempt.response_excerpt == "thanks, got it"


def test_a_given_event_is_used_and_an_unsubscribed_one_is_refused(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate)
    result = endpoint_test_fire(endpoint=endpoint, event_code="signup")
    assert query_of(result.url)["e"] == ["signup"]
    with pytest.raises(ValidationError, match="does not receive event 'rebill'"):
        endpoint_test_fire(endpoint=endpoint, event_code="rebill")
    assert len(receiver.received) == 1


def test_without_an_offer_the_sample_pays_one_unit(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate)
    result = endpoint_test_fire(endpoint=endpoint)
    assert query_of(result.url)["sum"] == ["1.00"]


def test_an_all_offers_test_pays_what_the_setup_preview_showed(receiver, affiliate):
    OfferFactory.create(network_offer_id=66013, payout=Decimal("35.00"))
    endpoint = make_endpoint(receiver, affiliate, offer=None)
    (row,) = setup_preview_rows(
        network_id=affiliate.network_id,
        event_codes=["signup"],
        url_template=endpoint.url_template,
        tracker_params=list(affiliate.tracker_params),
        tracker_separator=affiliate.tracker_separator,
        test_link=endpoint.test_link,
        affiliate=affiliate,
    )
    assert query_of(row.url)["sum"] == ["35.00"]
    result = endpoint_test_fire(endpoint=endpoint, event_code="signup")
    assert query_of(result.url)["sum"] == ["35.00"]
    assert (
        template_preview(
            affiliate=affiliate,
            url_template=endpoint.url_template,
            test_link=endpoint.test_link,
            event_types=[EventType.objects.get(code="signup")],
        )
        .urls[0]
        .url.count("sum=35.00")
        == 1
    )


def test_a_revshare_test_link_without_network_id_gives_its_values(receiver, affiliate):
    endpoint = make_endpoint(
        receiver,
        affiliate,
        test_link="https://offers.example/go?id=1234567;tracker=trID_aff9-tx77-c0ffee_trID",
    )
    result = endpoint_test_fire(endpoint=endpoint)
    assert query_of(result.url)["cid"] == ["c0ffee"]


def test_a_post_endpoint_sends_the_query_as_form_body(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate, method="POST")
    result = endpoint_test_fire(endpoint=endpoint)
    (request,) = receiver.wait_for(1)
    assert result.succeeded and result.method == "POST"
    assert request.method == "POST"
    assert parse_qs(request.body.decode())["cid"] == ["c0ffee"]


def test_receiver_500_shows_500_is_not_retried_and_not_succeeded(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate)
    receiver.default = (500, {}, b"boom")

    result = endpoint_test_fire(endpoint=endpoint)

    assert not result.succeeded
    assert result.status_code == 500
    assert result.response_excerpt == "boom"
    assert "receiver answered 500" in result.error
    delivery = Delivery.objects.get(pk=result.delivery_id)
    # One try only: the sweep never picks a failed test up to send again.
    assert delivery.state == Delivery.State.DEAD
    assert delivery.next_attempt_at is None
    assert delivery.pk not in deliveries_due(limit=100)


def test_a_hung_receiver_times_out_within_the_total_timeout(receiver, affiliate, settings):
    settings.POSTBACK_TOTAL_TIMEOUT = 0.5

    def hang(_request):
        time.sleep(2)
        return 200, {}, b"too late"

    receiver.default = hang
    endpoint = make_endpoint(receiver, affiliate)
    started = time.monotonic()

    result = endpoint_test_fire(endpoint=endpoint)

    assert time.monotonic() - started < 1.5
    assert not result.succeeded
    assert result.status_code is None
    assert "timed out" in result.error
    assert DeliveryAttempt.objects.get(pk=result.attempt_id).error.startswith("timed out")


def test_a_refused_address_sends_nothing(receiver, affiliate, settings):
    settings.POSTBACK_ALLOWED_NETWORKS = []
    endpoint = make_endpoint(receiver, affiliate)

    result = endpoint_test_fire(endpoint=endpoint)

    assert not result.succeeded
    assert result.status_code is None
    assert result.error.startswith("address refused")
    assert "127.0.0.1" in result.error
    time.sleep(0.2)
    assert receiver.received == []
    assert Delivery.objects.get(pk=result.delivery_id).state == Delivery.State.DEAD


def test_a_template_that_cannot_render_sends_nothing_and_stores_nothing(receiver, affiliate):
    # Saved before the affiliate renamed its param: the stored template no longer renders.
    endpoint = make_endpoint(receiver, affiliate, url_template=receiver.base_url + "/pb?x={gone}")
    with pytest.raises(ValidationError) as caught:
        endpoint_test_fire(endpoint=endpoint)
    assert "unknown macro {gone}" in caught.value.message_dict["url_template"][0]
    assert "Nothing was sent" in caught.value.message_dict["url_template"][0]
    assert not Delivery.objects.exists()
    assert receiver.received == []


def test_a_test_link_without_tracker_is_refused_naming_the_test_link(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate, test_link="https://offers.example/go?id=66013")
    with pytest.raises(ValidationError) as caught:
        endpoint_test_fire(endpoint=endpoint)
    assert "the test link holds no tracker" in caught.value.message_dict["test_link"][0]
    assert not Delivery.objects.exists()


def test_without_a_test_link_sample_values_are_sent(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate, test_link="")
    result = endpoint_test_fire(endpoint=endpoint)
    assert query_of(result.url)["cid"] == ["sample_clickId"]
    assert result.source.startswith("no test link")


@pytest.mark.parametrize("status", [Status.DRAFT, Status.TESTING, Status.LIVE, Status.DISABLED])
def test_every_status_may_be_tested(receiver, affiliate, status):
    endpoint = make_endpoint(receiver, affiliate, status=status)
    assert endpoint_test_fire(endpoint=endpoint).succeeded


def test_history_lists_tests_newest_first_with_their_attempts(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate)
    receiver.replies = [(500, {}, b"first"), (200, {}, b"second")]
    first = endpoint_test_fire(endpoint=endpoint)
    second = endpoint_test_fire(endpoint=endpoint)
    history = endpoint_tests(endpoint=endpoint)
    assert [d.pk for d in history] == [second.delivery_id, first.delivery_id]
    assert [a.response_excerpt for a in history[0].attempt_log.all()] == ["second"]


# ------------------------------------------------------------------------------
# Set live
# ------------------------------------------------------------------------------
def test_set_live_is_refused_without_a_test(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate)
    assert not endpoint_can_go_live(endpoint=endpoint)
    with pytest.raises(ValidationError, match="test postback that succeeds"):
        endpoint_set_live(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.status == Status.TESTING


def test_set_live_is_refused_after_a_failed_test_and_allowed_after_a_successful_one(
    receiver, affiliate
):
    endpoint = make_endpoint(receiver, affiliate)
    receiver.replies = [(404, {}, b"no such tracker")]
    assert not endpoint_test_fire(endpoint=endpoint).succeeded
    with pytest.raises(ValidationError, match="latest test did not succeed"):
        endpoint_set_live(endpoint=endpoint)

    assert endpoint_test_fire(endpoint=endpoint).succeeded
    assert endpoint_can_go_live(endpoint=endpoint)
    endpoint_set_live(endpoint=endpoint)

    assert endpoint.status == Status.LIVE
    assert PostbackEndpoint.objects.get(pk=endpoint.pk).status == Status.LIVE


def test_only_the_latest_test_counts(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate, status=Status.DRAFT)
    receiver.replies = [(200, {}, b"ok"), (503, {}, b"down")]
    endpoint_test_fire(endpoint=endpoint)
    endpoint_test_fire(endpoint=endpoint)
    with pytest.raises(ValidationError):
        endpoint_set_live(endpoint=endpoint)
    assert PostbackEndpoint.objects.get(pk=endpoint.pk).status == Status.DRAFT


def test_a_disabled_endpoint_goes_back_to_testing_before_live(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate, status=Status.DISABLED)
    assert endpoint_test_fire(endpoint=endpoint).succeeded
    with pytest.raises(ValidationError, match="set it to testing first"):
        endpoint_set_live(endpoint=endpoint)
    assert PostbackEndpoint.objects.get(pk=endpoint.pk).status == Status.DISABLED


def test_a_live_endpoint_is_not_set_live_again(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate, status=Status.LIVE)
    endpoint_test_fire(endpoint=endpoint)
    with pytest.raises(ValidationError, match="already live"):
        endpoint_set_live(endpoint=endpoint)


def test_another_endpoints_success_does_not_count(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate)
    other = make_endpoint(receiver, affiliate)
    assert endpoint_test_fire(endpoint=other).succeeded
    assert not endpoint_can_go_live(endpoint=endpoint)


# ------------------------------------------------------------------------------
# Preview
# ------------------------------------------------------------------------------
def test_preview_renders_one_url_per_event_with_the_test_links_values(affiliate):
    events = EventType.objects.filter(code__in=["signup", "freereg"])
    preview = template_preview(
        affiliate=affiliate,
        url_template="https://t.example/pb?cid={clickId}&e={event}&tx={transaction_id}",
        test_link=PPS_TEST_LINK,
        event_types=events,
    )
    assert preview.error == ""
    assert [(u.event, u.url) for u in preview.urls] == [
        ("freereg", "https://t.example/pb?cid=c0ffee&e=freereg&tx=TEST-TX-1"),
        ("signup", "https://t.example/pb?cid=c0ffee&e=signup&tx=TEST-TX-1"),
    ]
    assert "clickId" in preview.macros and "p3" in preview.macros


def test_preview_names_an_unknown_macro(affiliate):
    preview = template_preview(affiliate=affiliate, url_template="https://t.example/?c={clickid}")
    assert preview.urls == []
    assert "unknown macro {clickid}" in preview.error
    assert "did you mean {clickId}" in preview.error


def test_preview_without_affiliate_asks_for_one():
    preview = template_preview(affiliate=None, url_template="https://t.example/?c={clickId}")
    assert preview.urls == [] and "Choose the affiliate" in preview.error
    assert "clickId" not in preview.macros


def test_preview_writes_nothing(affiliate):
    before = timezone.now()
    template_preview(affiliate=affiliate, url_template="https://t.example/?c={clickId}")
    assert not Delivery.objects.filter(created_at__gte=before).exists()


# ------------------------------------------------------------------------------
# Recognisable tests (docs/spec.md §11)
# ------------------------------------------------------------------------------
def test_two_tests_in_the_same_second_carry_different_ids_and_is_test_1(receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate)
    endpoint.url_template = (
        receiver.base_url + "/pb?tx={transaction_id}&pid={postback_id}&t={is_test}"
    )
    endpoint.save()
    receiver.default = (200, {}, b"ok")
    first = endpoint_test_fire(endpoint=endpoint)
    second = endpoint_test_fire(endpoint=endpoint)
    requests = receiver.wait_for(2)
    queries = [query_of(request.path) for request in requests]
    assert queries[0]["tx"] != queries[1]["tx"]
    assert queries[0]["pid"] != queries[1]["pid"]
    assert [q["t"] for q in queries] == [["1"], ["1"]]
    assert first.url != second.url


def test_the_test_page_says_a_receiver_may_record_a_test(admin_client, receiver, affiliate):
    endpoint = make_endpoint(receiver, affiliate)
    page = admin_client.get(f"/admin/postbacks/postbackendpoint/{endpoint.pk}/change/")
    text = page.content.decode()
    assert "may record a test as a real conversion" in text
    assert "use a test click" in text
