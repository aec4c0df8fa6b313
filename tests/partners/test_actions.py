"""What an affiliate does from its page: test its endpoint (the admin's sender and address guard,
a few per minute), replay its failed postbacks since a time (bounded, rate-limited, manual), and
ask for a change (the setup form pre-filled from the endpoint, filing a verified request)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from affiliates.models import SetupRequest
from postbacks.models import Delivery, DeliveryAttempt, PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
)
from tests.partners.conftest import sign_in
from tests.postbacks.test_delivery import deliver_until_settled

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_{network}_aff9-tx77-c0ffee_trID"


@pytest.fixture
def endpoint(affiliate, receiver):
    return PostbackEndpointFactory(
        affiliate=affiliate,
        url_template=receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}",
        status=PostbackEndpoint.Status.LIVE,
        test_link=TEST_LINK.format(network=affiliate.network_id),
    )


def _failed(endpoint, *, url, age=timedelta(minutes=5)):
    delivery = DeliveryFactory(
        conversion=ConversionFactory(affiliate=endpoint.affiliate),
        endpoint=endpoint,
        url=url,
        state=Delivery.State.DEAD,
        attempts=8,
        next_attempt_at=None,
    )
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - age)
    return delivery


@pytest.mark.django_db
def test_testing_my_endpoint_fires_at_my_receiver_and_shows_the_answer(
    signed_in, endpoint, receiver
):
    receiver.default = (200, {}, b"<i>accepted</i>")
    response = signed_in.post(reverse("partner:endpoint-test", args=[endpoint.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    (request,) = receiver.wait_for(1)
    assert request.path.startswith("/pb?cid=c0ffee")
    assert "&lt;i&gt;accepted&lt;/i&gt;" in html
    test = Delivery.objects.get(endpoint=endpoint, is_test=True)
    assert test.attempt_log.get().trigger == DeliveryAttempt.Trigger.MANUAL
    # The endpoints page shows it as the last test.
    assert "HTTP 200" in signed_in.get(reverse("partner:home")).content.decode()


@pytest.mark.django_db
def test_tests_are_limited_to_a_few_per_minute(signed_in, endpoint, receiver, settings):
    settings.PARTNER_RATE_LIMIT = {**settings.PARTNER_RATE_LIMIT, "test": 2}
    url = reverse("partner:endpoint-test", args=[endpoint.pk])
    assert [signed_in.post(url).status_code for _ in range(3)] == [200, 200, 429]
    assert len(receiver.wait_for(2)) == 2


@pytest.mark.django_db
def test_a_test_cannot_reach_a_private_address(signed_in, affiliate):
    endpoint = PostbackEndpointFactory(
        affiliate=affiliate,
        url_template="http://169.254.169.254/latest/meta-data?cid={clickId}",
        test_link=TEST_LINK.format(network=affiliate.network_id),
    )
    html = signed_in.post(reverse("partner:endpoint-test", args=[endpoint.pk])).content.decode()
    assert "The test postback failed." in html
    test = Delivery.objects.get(endpoint=endpoint, is_test=True)
    assert test.state == Delivery.State.DEAD
    assert test.attempt_log.get().status_code is None


@pytest.mark.django_db(transaction=True)
def test_replay_sends_my_failed_postbacks_since_a_time_as_manual(client, endpoint, receiver):
    sign_in(client, endpoint.affiliate)
    recent = _failed(endpoint, url=receiver.base_url + "/pb?cid=recent")
    older = _failed(endpoint, url=receiver.base_url + "/pb?cid=older", age=timedelta(days=2))
    other = PostbackEndpointFactory(
        affiliate=AffiliateFactory(), url_template=receiver.base_url + "/x"
    )
    theirs = _failed(other, url=receiver.base_url + "/pb?cid=theirs")
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("partner:replay"), {"since": since})
    assert response.status_code == 200
    assert "1 failed postback is on its way again." in response.content.decode()
    deliver_until_settled()
    assert [r.path for r in receiver.received] == ["/pb?cid=recent"]
    recent.refresh_from_db()
    assert recent.state == Delivery.State.SUCCEEDED
    assert recent.attempt_log.get().trigger == DeliveryAttempt.Trigger.MANUAL
    older.refresh_from_db()
    theirs.refresh_from_db()
    assert older.state == theirs.state == Delivery.State.DEAD


@pytest.mark.django_db
def test_replay_is_bounded_and_rate_limited(signed_in, endpoint, settings):
    settings.PARTNER_REPLAY_MAX = 2
    settings.PARTNER_RATE_LIMIT = {**settings.PARTNER_RATE_LIMIT, "replay": 1}
    for n in range(3):
        _failed(endpoint, url=f"https://track.example/pb?cid={n}")
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    first = signed_in.post(reverse("partner:replay"), {"since": since})
    assert "2 failed postbacks are on their way again." in first.content.decode()
    assert Delivery.objects.filter(state=Delivery.State.PENDING).count() == 2
    assert signed_in.post(reverse("partner:replay"), {"since": since}).status_code == 429


@pytest.mark.django_db
def test_asking_for_a_change_opens_the_setup_form_prefilled_and_files_a_verified_request(
    signed_in, endpoint
):
    response = signed_in.get(reverse("partner:change-request", args=[endpoint.pk]), follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert endpoint.url_template.replace("&", "&amp;") in html
    assert f'value="{endpoint.affiliate.network_id}"' in html
    form_url = response.redirect_chain[-1][0].split("?")[0]
    data = {
        "contact_email": "acme@example.com",
        "offer_links": "https://offers.example/go?id=66013",
        "events": "conversions",
        "url_template": "https://fixed.example/pb?cid={clickId}",
        "method": "GET",
        "tracker_separator": "-",
        "test_link": endpoint.test_link,
        "param_name_0": "affid",
        "param_name_1": "TransID",
        "param_name_2": "clickId",
        "submit": "1",
    }
    assert signed_in.post(form_url, data).status_code == 302
    request = SetupRequest.objects.get()
    assert request.verified and request.network_id == endpoint.affiliate.network_id
    assert request.url_template == "https://fixed.example/pb?cid={clickId}"
