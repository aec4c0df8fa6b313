"""Where attempts are shown, their errors read in plain words with the stored error one click
away (postbacks/plain_errors.py); a failed test postback is not labelled dead."""

import socket

import pytest
from django.urls import reverse

from postbacks.models import Delivery, PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
)

pytestmark = pytest.mark.django_db

CONNECT_ERROR = (
    "ClientConnectorError: Cannot connect to host 127.0.0.1:8009 ssl:default "
    "[Connect call failed ('127.0.0.1', 8009)]"
)
PLAIN = "could not connect to 127.0.0.1:8009"
DETAIL = (
    '<details class="problem-detail"><summary>Technical detail</summary><code>'
    + CONNECT_ERROR.replace("'", "&#x27;")
    + "</code></details>"
)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_delivery_and_attempt_pages_say_what_went_wrong_plainly(admin_client):
    delivery = DeliveryFactory.create(state=Delivery.State.FAILED, last_error=CONNECT_ERROR)
    attempt = DeliveryAttemptFactory.create(
        delivery=delivery, status_code=None, error=CONNECT_ERROR
    )

    for url in (
        reverse("admin:postbacks_delivery_change", args=[delivery.pk]),
        reverse("admin:postbacks_deliveryattempt_change", args=[attempt.pk]),
    ):
        body = admin_client.get(url).content.decode()
        assert f'<span class="problem">{PLAIN} (nothing answered there' in body
        assert DETAIL in body


def test_the_health_page_says_what_went_wrong_plainly(admin_client):
    delivery = DeliveryFactory.create(state=Delivery.State.FAILED, last_error=CONNECT_ERROR)
    DeliveryAttemptFactory.create(delivery=delivery, status_code=None, error=CONNECT_ERROR)
    url = reverse("admin:postbacks_postbackendpoint_health", args=[delivery.endpoint_id])
    body = admin_client.get(url).content.decode()
    last_error = body[body.index('id="last-error"') : body.index('id="chart-latency"')]
    assert PLAIN in last_error and DETAIL in last_error
    recent = body[body.index('id="recent-attempts"') :]
    assert PLAIN in recent and DETAIL in recent


def test_a_test_postback_to_a_closed_port_says_it_could_not_connect(admin_client):
    port = unused_port()
    endpoint = PostbackEndpointFactory.create(
        affiliate=AffiliateFactory.create(
            network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
        ),
        url_template=f"http://127.0.0.1:{port}/pb?cid={{clickId}}",
        status=PostbackEndpoint.Status.TESTING,
        test_link="https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID",
    )
    url = reverse("admin:postbacks_postbackendpoint_test", args=[endpoint.pk])
    body = admin_client.post(url, follow=True).content.decode()
    assert f"Test postback failed: could not connect to 127.0.0.1:{port} (" in body
    history = body[body.index('id="test-postbacks"') :]
    assert "ClientConnectorError: Cannot connect to host" in history
    assert "<summary>Technical detail</summary>" in history
    assert "dead" not in history
