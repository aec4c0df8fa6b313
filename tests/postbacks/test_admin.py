"""The admin account managers live in: every page renders, records stay read-only, replay queues,
hostile receiver text is escaped, big tables are not counted (docs/spec.md §2, §4, §6)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from affiliates.models import Affiliate
from config.admin_tools import EstimatedCountPaginator
from postbacks.delivery.queue import get_queue
from postbacks.models import Conversion, Delivery, EventType, PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    OfferFactory,
    PostbackEndpointFactory,
    SetupRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

State = Delivery.State


def admin_url(obj_or_model: Any, view: str, *args: Any) -> str:
    opts = obj_or_model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


# Each model, how to make one, a search term that finds it, and whether the admin may add it.
MODELS: dict[str, tuple[Callable[[], Model], Callable[[Any], str], bool]] = {
    "affiliate": (lambda: AffiliateFactory.create(), lambda o: str(o.network_id), True),
    "setuprequest": (lambda: SetupRequestFactory.create(), lambda o: o.contact_email, False),
    "offer": (lambda: OfferFactory.create(), lambda o: str(o.network_offer_id), True),
    "eventtype": (lambda: EventType.objects.get(code="signup"), lambda o: o.code, True),
    "postbackendpoint": (
        lambda: PostbackEndpointFactory.create(),
        lambda o: str(o.affiliate.network_id),
        True,
    ),
    "conversion": (lambda: ConversionFactory.create(), lambda o: o.transaction_id, False),
    "delivery": (lambda: DeliveryFactory.create(), lambda o: o.conversion.transaction_id, False),
    "deliveryattempt": (
        lambda: DeliveryAttemptFactory.create(),
        lambda o: str(o.delivery_id),
        False,
    ),
}


@pytest.fixture(params=sorted(MODELS))
def record(request: pytest.FixtureRequest) -> tuple[Model, str, bool]:
    make, term, can_add = MODELS[request.param]
    obj = make()
    return obj, term(obj), can_add


def test_changelist_lists_the_object(admin_client, record):
    obj, _term, _can_add = record
    response = admin_client.get(admin_url(obj, "changelist"))
    assert response.status_code == 200
    assert admin_url(obj, "change", obj.pk) in response.content.decode()


def test_changelist_search_finds_the_object(admin_client, record):
    obj, term, _can_add = record
    response = admin_client.get(admin_url(obj, "changelist"), {"q": term})
    assert response.status_code == 200
    assert admin_url(obj, "change", obj.pk) in response.content.decode()


def test_changelist_search_without_match_is_empty_not_an_error(admin_client, record):
    obj, _term, _can_add = record
    response = admin_client.get(admin_url(obj, "changelist"), {"q": "no-such-thing 99"})
    assert response.status_code == 200
    assert admin_url(obj, "change", obj.pk) not in response.content.decode()


def test_add_page_renders_or_is_refused_for_records(admin_client, record):
    obj, _term, can_add = record
    response = admin_client.get(admin_url(obj, "add"))
    assert response.status_code == (200 if can_add else 403)


def test_change_page_renders(admin_client, record):
    obj, _term, _can_add = record
    response = admin_client.get(admin_url(obj, "change", obj.pk))
    assert response.status_code == 200


@pytest.mark.parametrize("model", [Conversion, Delivery])
def test_records_are_view_only(admin_client, model):
    obj = ConversionFactory.create() if model is Conversion else DeliveryFactory.create()
    response = admin_client.get(admin_url(obj, "change", obj.pk))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    before = model.objects.get(pk=obj.pk).__dict__.get("transaction_id")
    posted = admin_client.post(admin_url(obj, "change", obj.pk), {"transaction_id": "forged"})
    assert posted.status_code == 403
    assert model.objects.get(pk=obj.pk).__dict__.get("transaction_id") == before


def test_conversions_cannot_be_deleted(admin_client):
    conversion = ConversionFactory.create()
    response = admin_client.post(admin_url(conversion, "delete", conversion.pk), {"post": "yes"})
    assert response.status_code == 403
    assert Conversion.objects.filter(pk=conversion.pk).exists()


def test_fixed_event_codes_cannot_be_deleted(admin_client):
    signup = EventType.objects.get(code="signup")
    response = admin_client.post(admin_url(signup, "delete", signup.pk), {"post": "yes"})
    assert response.status_code == 403
    assert EventType.objects.filter(code="signup").exists()


# ------------------------------------------------------------------------------
# Endpoints: template validation, available macros, sample URL
# ------------------------------------------------------------------------------
def endpoint_form(affiliate, **overrides: Any) -> dict[str, Any]:
    data = {
        "affiliate": affiliate.pk,
        "offer": "",
        "event_types": [EventType.objects.get(code="signup").pk],
        "url_template": "https://track.example/pb?cid={clickId}&tx={transaction_id}",
        "method": "GET",
        "status": "draft",
        "disabled_reason": "",
        "test_link": "",
        # As the page offers them: approval checked, no words of the receiver's own.
        "fire_on": ["approved"],
        "status_values": "{}",
    }
    data.update(overrides)
    return data


def test_the_form_cannot_set_an_endpoint_live_only_the_tested_set_live_can(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    added = admin_client.post(
        admin_url(PostbackEndpoint, "add"), endpoint_form(affiliate, status="live")
    )
    assert added.status_code == 200
    assert "Set live" in added.context["adminform"].form.errors["status"][0]
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate, status=PostbackEndpoint.Status.TESTING
    )
    changed = admin_client.post(
        admin_url(endpoint, "change", endpoint.pk), endpoint_form(affiliate, status="live")
    )
    assert changed.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.status == PostbackEndpoint.Status.TESTING
    # A live endpoint stays editable: saving it live again is no new decision.
    live = PostbackEndpointFactory.create(affiliate=affiliate, status=PostbackEndpoint.Status.LIVE)
    kept = admin_client.post(
        admin_url(live, "change", live.pk), endpoint_form(affiliate, status="live")
    )
    assert kept.status_code == 302


def test_endpoint_add_form_creates_a_valid_endpoint(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    response = admin_client.post(admin_url(PostbackEndpoint, "add"), endpoint_form(affiliate))
    assert response.status_code == 302
    endpoint = PostbackEndpoint.objects.get(affiliate=affiliate)
    assert endpoint.url_template == "https://track.example/pb?cid={clickId}&tx={transaction_id}"
    assert list(endpoint.event_types.values_list("code", flat=True)) == ["signup"]


def test_endpoint_form_takes_the_statuses_to_fire_on_and_the_receivers_words(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    data = endpoint_form(
        affiliate,
        fire_on=["reversed", "approved"],
        status_values='{"approved": "sale", "reversed": "rejected"}',
    )
    response = admin_client.post(admin_url(PostbackEndpoint, "add"), data)
    assert response.status_code == 302
    endpoint = PostbackEndpoint.objects.get(affiliate=affiliate)
    assert endpoint.fire_on == ["approved", "reversed"]
    assert endpoint.status_values == {"approved": "sale", "reversed": "rejected"}
    page = admin_client.get(admin_url(endpoint, "change", endpoint.pk)).content.decode()
    assert 'name="fire_on" value="reversed"' in page


def test_endpoint_form_refuses_no_status_and_an_unknown_one(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    data = endpoint_form(affiliate, fire_on=[], status_values='{"chargeback": "cb"}')
    response = admin_client.post(admin_url(PostbackEndpoint, "add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Choose at least one status" in errors["fire_on"][0]
    assert "'chargeback' is not a status" in errors["status_values"][0]
    assert not PostbackEndpoint.objects.exists()


def test_endpoint_add_form_refuses_an_unknown_macro_naming_it(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    data = endpoint_form(affiliate, url_template="https://track.example/pb?c={clickid}&x={bogus}")
    response = admin_client.post(admin_url(PostbackEndpoint, "add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["url_template"]
    assert "unknown macro {clickid}" in errors[0]
    assert "did you mean {clickId}" in errors[0]
    assert not PostbackEndpoint.objects.exists()


def test_endpoint_add_form_refuses_a_relative_url(admin_client):
    affiliate = AffiliateFactory.create()
    response = admin_client.post(
        admin_url(PostbackEndpoint, "add"), endpoint_form(affiliate, url_template="/pb?x=1")
    )
    assert response.status_code == 200
    assert "absolute" in response.context["adminform"].form.errors["url_template"][0]


def test_endpoint_page_lists_the_affiliates_macros_escaped(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    endpoint = PostbackEndpointFactory.create(affiliate=affiliate)
    body = admin_client.get(admin_url(endpoint, "change", endpoint.pk)).content.decode()
    assert "<code>{clickId}</code>" in body
    assert "<code>{p2}</code>" in body
    assert "<code>{transaction_id}</code>" in body
    assert "your tracker value number 2 (&#x27;clickId&#x27;)" in body


def test_endpoint_page_shows_the_url_rendered_from_its_test_link(admin_client):
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate,
        url_template="https://track.example/pb?cid={clickId}&tx={transaction_id}&a={affiliate_id}",
        test_link="https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID",
    )
    body = admin_client.get(admin_url(endpoint, "change", endpoint.pk)).content.decode()
    assert "<code>https://track.example/pb?cid=c0ffee&amp;tx=TEST-TX-1&amp;a=1234567</code>" in body
    assert "tracker values from the test link" in body


def test_endpoint_page_explains_a_test_link_without_tracker_instead_of_failing(admin_client):
    endpoint = PostbackEndpointFactory.create(test_link="https://offers.example/go?id=66013")
    response = admin_client.get(admin_url(endpoint, "change", endpoint.pk))
    assert response.status_code == 200
    assert "Cannot render a sample: the test link holds no tracker" in response.content.decode()


def test_endpoint_page_explains_a_stored_template_that_no_longer_renders(admin_client):
    endpoint = PostbackEndpointFactory.create(url_template="https://track.example/pb?x={gone}")
    response = admin_client.get(admin_url(endpoint, "change", endpoint.pk))
    assert response.status_code == 200
    assert "Cannot render a sample: unknown macro {gone}" in response.content.decode()


# ------------------------------------------------------------------------------
# Conversion and delivery records
# ------------------------------------------------------------------------------
def test_conversion_page_shows_tracker_values_error_and_deliveries(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    conversion = ConversionFactory.create(
        affiliate=affiliate,
        tracker_raw="trID_aff9-c0ffee_trID",
        tracker_values={"affid": "aff9", "clickId": "<b>c0ffee</b>"},
    )
    delivery = DeliveryFactory.create(conversion=conversion, state=State.DEAD, last_status_code=404)
    unattributed = ConversionFactory.create(
        affiliate=None,
        attribution=Conversion.Attribution.UNATTRIBUTED,
        attribution_error="unknown affiliate 999",
    )

    body = admin_client.get(admin_url(conversion, "change", conversion.pk)).content.decode()
    assert "<th>clickId</th><td><code>&lt;b&gt;c0ffee&lt;/b&gt;</code></td>" in body
    assert admin_url(delivery, "change", delivery.pk) in body
    assert "404" in body
    other = admin_client.get(admin_url(unattributed, "change", unattributed.pk)).content.decode()
    assert "unknown affiliate 999" in other


def test_delivery_page_shows_attempts_with_the_receivers_answer_escaped(admin_client):
    delivery = DeliveryFactory.create(state=State.FAILED, attempts=1)
    DeliveryAttemptFactory.create(
        delivery=delivery,
        status_code=500,
        duration_ms=321,
        error="receiver answered 500",
        response_excerpt="<script>alert('pwned')</script>",
    )
    body = admin_client.get(admin_url(delivery, "change", delivery.pk)).content.decode()
    assert "<script>alert(" not in body
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in body
    assert "321 ms" in body
    assert "receiver answered 500" in body


def test_attempt_page_escapes_the_receivers_answer(admin_client):
    attempt = DeliveryAttemptFactory.create(response_excerpt='<img src=x onerror="alert(1)">')
    body = admin_client.get(admin_url(attempt, "change", attempt.pk)).content.decode()
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body


def test_replay_action_queues_selected_deliveries(admin_client):
    past = timezone.now() - timedelta(days=1)
    dead = DeliveryFactory.create(
        state=State.DEAD, attempts=8, next_attempt_at=None, completed_at=past
    )
    failed = DeliveryFactory.create(
        state=State.FAILED, attempts=2, next_attempt_at=past + timedelta(2)
    )
    untouched = DeliveryFactory.create(state=State.SUCCEEDED, completed_at=past)

    response = admin_client.post(
        admin_url(Delivery, "changelist"),
        {"action": "replay_selected", "_selected_action": [dead.pk, failed.pk]},
        follow=True,
    )

    assert "2 deliveries queued for replay." in response.content.decode()
    for delivery in (dead, failed):
        delivery.refresh_from_db()
        assert delivery.state == State.PENDING
        assert delivery.next_attempt_at <= timezone.now()
        assert delivery.completed_at is None
    untouched.refresh_from_db()
    assert untouched.state == State.SUCCEEDED
    assert get_queue().count == 1
    (job,) = get_queue().get_jobs()
    assert sorted(job.args[0]) == sorted([dead.pk, failed.pk])
    assert job.args[1] == "manual"


def test_replay_action_leaves_a_delivery_a_worker_is_sending(admin_client):
    sending = DeliveryFactory.create(state=State.SENDING)
    response = admin_client.post(
        admin_url(Delivery, "changelist"),
        {"action": "replay_selected", "_selected_action": [sending.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "0 deliveries queued for replay. 1 skipped" in body
    sending.refresh_from_db()
    assert sending.state == State.SENDING
    assert get_queue().count == 0


def test_conversion_replay_action_replays_only_failed_and_dead_deliveries(admin_client):
    conversion = ConversionFactory.create()
    failed = DeliveryFactory.create(conversion=conversion, state=State.FAILED)
    dead = DeliveryFactory.create(conversion=conversion, state=State.DEAD)
    succeeded = DeliveryFactory.create(conversion=conversion, state=State.SUCCEEDED)

    response = admin_client.post(
        admin_url(Conversion, "changelist"),
        {"action": "replay_failed_deliveries", "_selected_action": [conversion.pk]},
        follow=True,
    )

    assert "2 deliveries queued for replay." in response.content.decode()
    states = dict(Delivery.objects.values_list("pk", "state"))
    assert states == {failed.pk: State.PENDING, dead.pk: State.PENDING, succeeded.pk: "succeeded"}
    assert get_queue().count == 1


def test_conversion_replay_action_says_when_there_is_nothing_to_replay(admin_client):
    conversion = ConversionFactory.create()
    DeliveryFactory.create(conversion=conversion, state=State.SUCCEEDED)
    response = admin_client.post(
        admin_url(Conversion, "changelist"),
        {"action": "replay_failed_deliveries", "_selected_action": [conversion.pk]},
        follow=True,
    )
    assert "No deliveries to replay." in response.content.decode()
    assert get_queue().count == 0


# ------------------------------------------------------------------------------
# Big tables
# ------------------------------------------------------------------------------
TABLE = "postbacks_conversion"


def _count_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]


def test_unfiltered_big_table_is_estimated_not_counted(monkeypatch):
    ConversionFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [TABLE])
        (estimate,) = cursor.fetchone()
    assert estimate == 3
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 0)
    paginator = EstimatedCountPaginator(Conversion.objects.order_by("-received_at"), 100)
    with CaptureQueriesContext(connection) as captured:
        assert paginator.count == estimate
    assert _count_queries(captured) == []


def test_filtered_list_is_counted_exactly(monkeypatch):
    ConversionFactory.create_batch(3)
    ConversionFactory.create(affiliate=None, attribution=Conversion.Attribution.UNATTRIBUTED)
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 0)
    queryset = Conversion.objects.filter(attribution="unattributed")
    assert EstimatedCountPaginator(queryset, 100).count == 1


def test_small_table_is_counted_exactly():
    ConversionFactory.create_batch(2)
    assert EstimatedCountPaginator(Conversion.objects.all(), 100).count == 2


@pytest.mark.parametrize("model", ["conversion", "delivery", "deliveryattempt"])
def test_big_table_changelists_do_not_count_the_table(admin_client, monkeypatch, model):
    DeliveryAttemptFactory.create()
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 0)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE postbacks_{model}")
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse(f"admin:postbacks_{model}_changelist"))
    assert response.status_code == 200
    assert _count_queries(captured) == []


def test_conversion_changelist_avoids_a_query_per_row(admin_client):
    ConversionFactory.create_batch(3)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(admin_url(Conversion, "changelist"))
    ConversionFactory.create_batch(10)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(admin_url(Conversion, "changelist"))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_delivery_changelist_avoids_a_query_per_row(admin_client):
    DeliveryFactory.create_batch(2)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(admin_url(Delivery, "changelist"))
    DeliveryFactory.create_batch(8)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(admin_url(Delivery, "changelist"))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_delivery_search_finds_by_affiliate_network_id_and_endpoint_url(admin_client):
    affiliate = AffiliateFactory.create(network_id=7654321)
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate, url_template="https://special-tracker.example/pb?tx={transaction_id}"
    )
    mine = DeliveryFactory.create(
        conversion=ConversionFactory.create(affiliate=affiliate), endpoint=endpoint
    )
    other = DeliveryFactory.create()
    for term in ("7654321", "special-tracker"):
        body = admin_client.get(admin_url(Delivery, "changelist"), {"q": term}).content.decode()
        assert admin_url(mine, "change", mine.pk) in body
        assert admin_url(other, "change", other.pk) not in body


# ------------------------------------------------------------------------------
# Endpoints: test postbacks, set live, live preview
# ------------------------------------------------------------------------------
TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"


def endpoint_in_testing(receiver, **overrides: Any) -> PostbackEndpoint:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    fields: dict[str, Any] = {
        "affiliate": affiliate,
        "url_template": receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}",
        "status": PostbackEndpoint.Status.TESTING,
        "test_link": TEST_LINK,
    }
    fields.update(overrides)
    return PostbackEndpointFactory.create(**fields)


def endpoint_view_url(endpoint: PostbackEndpoint, view: str) -> str:
    return reverse(f"admin:postbacks_postbackendpoint_{view}", args=[endpoint.pk])


def test_change_page_has_test_and_disabled_set_live_buttons(admin_client, receiver):
    endpoint = endpoint_in_testing(receiver)
    body = admin_client.get(admin_url(endpoint, "change", endpoint.pk)).content.decode()
    assert f'action="{endpoint_view_url(endpoint, "test")}"' in body
    assert 'id="send-test-postback"' in body
    assert "csrfmiddlewaretoken" in body
    assert 'id="set-live" disabled' in body
    assert "No test postback yet" in body


def test_send_test_postback_shows_url_status_latency_and_escaped_answer(admin_client, receiver):
    receiver.default = (200, {"Content-Type": "text/html"}, b"<script>alert('pwned')</script>ok")
    endpoint = endpoint_in_testing(receiver)

    response = admin_client.post(endpoint_view_url(endpoint, "test"), follow=True)

    assert response.redirect_chain[-1][0].endswith(
        admin_url(endpoint, "change", endpoint.pk) + "#test-postbacks"
    )
    (request,) = receiver.wait_for(1)
    body = response.content.decode()
    delivery = Delivery.objects.get(endpoint=endpoint, is_test=True)
    attempt = delivery.attempt_log.get()
    assert attempt.trigger == "manual"
    assert f"Test postback answered 200 in {attempt.duration_ms} ms." in body
    assert delivery.url == receiver.base_url + request.path
    assert delivery.url.replace("&", "&amp;") in body
    assert f"{attempt.duration_ms} ms" in body
    assert "<script>alert(" not in body
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;ok" in body
    assert 'id="set-live"' in body
    assert 'id="set-live" disabled' not in body  # enabled by the successful test


def test_a_failed_test_is_shown_as_an_error_and_keeps_set_live_disabled(
    admin_client, receiver, settings
):
    settings.POSTBACK_ALLOWED_NETWORKS = []
    endpoint = endpoint_in_testing(receiver)
    body = admin_client.post(endpoint_view_url(endpoint, "test"), follow=True).content.decode()
    assert "Test postback failed: address refused" in body
    assert 'id="set-live" disabled' in body
    assert receiver.received == []


def test_a_template_that_cannot_render_is_explained_and_nothing_sent(admin_client, receiver):
    endpoint = endpoint_in_testing(receiver, url_template=receiver.base_url + "/pb?x={gone}")
    body = admin_client.post(endpoint_view_url(endpoint, "test"), follow=True).content.decode()
    assert "Nothing was sent: the template cannot be rendered: unknown macro {gone}" in body
    assert not Delivery.objects.exists()


def test_history_shows_the_last_tests_newest_first(admin_client, receiver):
    endpoint = endpoint_in_testing(receiver)
    receiver.replies = [(500, {}, b"answer-one"), (200, {}, b"answer-two")]
    admin_client.post(endpoint_view_url(endpoint, "test"))
    admin_client.post(endpoint_view_url(endpoint, "test"))
    body = admin_client.get(admin_url(endpoint, "change", endpoint.pk)).content.decode()
    history = body[body.index('id="test-postbacks"') :]
    assert history.index("answer-two") < history.index("answer-one")
    assert "receiver answered 500" in history


def test_history_is_capped(admin_client, receiver):
    endpoint = endpoint_in_testing(receiver)
    for number in range(22):
        attempt = DeliveryAttemptFactory.create(
            delivery=DeliveryFactory.create(
                conversion=None, endpoint=endpoint, is_test=True, state=State.SUCCEEDED
            ),
            response_excerpt=f"answer #{number:02}.",
        )
        Delivery.objects.filter(pk=attempt.delivery_id).update(
            created_at=timezone.now() + timedelta(seconds=number)
        )
    body = admin_client.get(admin_url(endpoint, "change", endpoint.pk)).content.decode()
    assert "answer #21." in body and "answer #02." in body
    assert "answer #01." not in body and "answer #00." not in body


def test_set_live_is_refused_without_a_successful_test(admin_client, receiver):
    endpoint = endpoint_in_testing(receiver)
    body = admin_client.post(endpoint_view_url(endpoint, "set_live"), follow=True).content.decode()
    assert "Send a test postback that succeeds" in body
    endpoint.refresh_from_db()
    assert endpoint.status == PostbackEndpoint.Status.TESTING


def test_set_live_after_a_successful_test(admin_client, receiver):
    endpoint = endpoint_in_testing(receiver)
    admin_client.post(endpoint_view_url(endpoint, "test"))
    body = admin_client.post(endpoint_view_url(endpoint, "set_live"), follow=True).content.decode()
    assert f"Endpoint #{endpoint.pk} is live." in body
    assert 'id="set-live"' not in body
    endpoint.refresh_from_db()
    assert endpoint.status == PostbackEndpoint.Status.LIVE


@pytest.mark.parametrize("view", ["test", "set_live"])
def test_test_and_set_live_refuse_get(admin_client, receiver, view):
    endpoint = endpoint_in_testing(receiver)
    assert admin_client.get(endpoint_view_url(endpoint, view)).status_code == 405
    assert receiver.received == []


@pytest.mark.parametrize("view", ["test", "set_live"])
def test_test_and_set_live_need_the_change_permission(client, receiver, view):
    from django.contrib.auth.models import Permission

    endpoint = endpoint_in_testing(receiver)
    viewer = UserFactory.create(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_postbackendpoint"))
    # The viewer's own affiliate: the permission is what refuses, not the row's owner.
    Affiliate.objects.filter(pk=endpoint.affiliate_id).update(account_manager=viewer)
    client.force_login(viewer)
    page = client.get(admin_url(endpoint, "change", endpoint.pk)).content.decode()
    assert 'id="send-test-postback"' not in page
    assert client.post(endpoint_view_url(endpoint, view)).status_code == 403
    assert receiver.received == []
    assert PostbackEndpoint.objects.get(pk=endpoint.pk).status == PostbackEndpoint.Status.TESTING


def test_test_postback_needs_the_csrf_token(admin_user, receiver):
    from django.test import Client

    endpoint = endpoint_in_testing(receiver)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(endpoint_view_url(endpoint, "test")).status_code == 403
    assert receiver.received == []


def test_test_postback_of_an_unknown_endpoint_is_404(admin_client):
    url = reverse("admin:postbacks_postbackendpoint_test", args=[999999])
    assert admin_client.post(url).status_code == 404


PREVIEW_URL = "/admin/postbacks/postbackendpoint/preview/"


def preview(client, **data: Any) -> Any:
    response = client.post(reverse("admin:postbacks_postbackendpoint_preview"), data)
    return response.status_code, response.json()


def test_preview_returns_the_url_of_each_selected_event(admin_client):
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    offer = OfferFactory.create(network_offer_id=66013)
    events = EventType.objects.filter(code__in=["signup", "trial"])
    status, data = preview(
        admin_client,
        affiliate=affiliate.pk,
        offer=offer.pk,
        event_types=[e.pk for e in events],
        url_template="https://t.example/pb?cid={clickId}&e={event}&sum={amount}&o={offer_id}",
        test_link=TEST_LINK,
        # The whole change form is posted; fields the preview does not use are ignored.
        status="draft",
        method="GET",
    )
    assert status == 200
    assert data["error"] == ""
    assert data["source"] == "tracker values from the test link"
    assert data["urls"] == [
        {
            "event": "signup",
            "event_name": EventType.objects.get(code="signup").name,
            "status": "approved",
            "url": "https://t.example/pb?cid=c0ffee&e=signup&sum=35.00&o=66013",
        },
        {
            "event": "trial",
            "event_name": EventType.objects.get(code="trial").name,
            "status": "approved",
            "url": "https://t.example/pb?cid=c0ffee&e=trial&sum=35.00&o=66013",
        },
    ]
    names = [macro["name"] for macro in data["macros"]]
    assert "clickId" in names and "p3" in names and "transaction_id" in names


def test_preview_returns_the_error_for_an_unknown_macro(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    status, data = preview(
        admin_client, affiliate=affiliate.pk, url_template="https://t.example/pb?c={clickid}"
    )
    assert status == 200
    assert data["urls"] == []
    assert "unknown macro {clickid}" in data["error"]
    assert "did you mean {clickId}" in data["error"]


def test_preview_without_affiliate_lists_network_macros_only(admin_client):
    status, data = preview(admin_client, url_template="https://t.example/pb?c={clickId}")
    assert status == 200
    assert "Choose the affiliate" in data["error"]
    assert "clickId" not in [macro["name"] for macro in data["macros"]]


def test_preview_is_staff_only_and_post_only(client, admin_client):
    url = reverse("admin:postbacks_postbackendpoint_preview")
    assert url == PREVIEW_URL
    assert admin_client.get(url).status_code == 405
    anonymous = client.post(url, {"url_template": "https://t.example/"})
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]


def test_endpoint_pages_load_the_preview_script_and_its_view_url(admin_client):
    affiliate = AffiliateFactory.create()
    endpoint = PostbackEndpointFactory.create(affiliate=affiliate)
    for url in (admin_url(PostbackEndpoint, "add"), admin_url(endpoint, "change", endpoint.pk)):
        body = admin_client.get(url).content.decode()
        assert "postbacks/endpoint_preview.js" in body
        assert f'data-preview-url="{PREVIEW_URL}"' in body
        assert 'id="postback-macros"' in body
