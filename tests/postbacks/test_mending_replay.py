"""Replay with the current URL (docs/spec.md §10): a fixed endpoint is sent its failed postbacks
again, rendered from the template as it is now, while each earlier attempt keeps the URL it sent.
Real RQ, DeliveryWorker and local HTTP receivers."""

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from postbacks.delivery.queue import get_queue
from postbacks.mending import deliveries_replay_rerendered
from postbacks.models import Delivery, PostbackEndpoint
from tests.api.conftest import issue_token, token_client
from tests.conftest import Receiver, _handler
from tests.factories import (
    AffiliateFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
)
from tests.postbacks.test_delivery import run_worker_burst, sale_for

pytestmark = pytest.mark.django_db(transaction=True)

State = Delivery.State


@pytest.fixture
def fixed_host() -> Iterator[Receiver]:
    """A second receiver: where the endpoint points once its host is fixed."""
    ref: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    server.daemon_threads = True
    ref.append(Receiver(server=server))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield ref[0]
    server.shutdown()
    server.server_close()


def _dead_sale(receiver: Receiver) -> tuple[PostbackEndpoint, Delivery]:
    """A signup whose postback went to the wrong host, which answered 404: dead at once."""
    receiver.default = (404, {}, b"no such tracker")
    endpoint = PostbackEndpointFactory.create(
        affiliate=AffiliateFactory.create(),
        url_template=receiver.base_url + "/old?tx={transaction_id}",
    )
    result = sale_for(endpoint, transaction_id="tx-fix")
    run_worker_burst()
    delivery = Delivery.objects.get(pk=result.delivery_ids[0])
    assert delivery.state == State.DEAD
    return endpoint, delivery


def _manage_client() -> APIClient:
    return token_client(issue_token("mender", "manage"))


def test_replay_with_rerender_sends_to_the_fixed_host_and_keeps_the_old_url(
    receiver: Receiver, fixed_host: Receiver
) -> None:
    endpoint, delivery = _dead_sale(receiver)
    old_url = delivery.url
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(
        url_template=fixed_host.base_url + "/pb?tx={transaction_id}&e={event}"
    )

    response = _manage_client().post(
        "/api/v1/deliveries/replay/", {"ids": [delivery.pk], "rerender": True}, format="json"
    )
    assert response.status_code == 202
    assert response.json() == {"queued": [delivery.pk], "queue_available": True, "refused": []}
    run_worker_burst()

    (request,) = fixed_host.wait_for(1)
    assert request.path == "/pb?tx=tx-fix&e=signup"
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert delivery.state == State.SUCCEEDED
    assert delivery.url == fixed_host.base_url + "/pb?tx=tx-fix&e=signup"
    log = list(delivery.attempt_log.order_by("number").values_list("url", "status_code", "trigger"))
    assert log == [(old_url, 404, "auto"), (delivery.url, 200, "manual")]
    shown = _manage_client().get(f"/api/v1/deliveries/{delivery.pk}/").json()
    assert [a["url"] for a in shown["attempt_log"]] == [old_url, delivery.url]


def test_replay_without_rerender_sends_the_stored_url(
    receiver: Receiver, fixed_host: Receiver
) -> None:
    endpoint, delivery = _dead_sale(receiver)
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(
        url_template=fixed_host.base_url + "/pb?tx={transaction_id}"
    )

    response = _manage_client().post(
        "/api/v1/deliveries/replay/", {"ids": [delivery.pk]}, format="json"
    )
    assert response.json() == {"queued": [delivery.pk], "queue_available": True}
    run_worker_burst()

    assert [r.path for r in receiver.wait_for(2)] == ["/old?tx=tx-fix", "/old?tx=tx-fix"]
    assert fixed_host.received == []


def test_rerender_also_takes_the_endpoints_current_method(
    receiver: Receiver, fixed_host: Receiver
) -> None:
    endpoint, delivery = _dead_sale(receiver)
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(
        url_template=fixed_host.base_url + "/pb?tx={transaction_id}", method="POST"
    )
    deliveries_replay_rerendered(delivery_ids=[delivery.pk])
    run_worker_burst()
    (request,) = fixed_host.wait_for(1)
    assert (request.method, request.path, request.body) == ("POST", "/pb", b"tx=tx-fix")


def test_a_template_that_cannot_render_now_is_not_replayed(receiver: Receiver) -> None:
    endpoint, delivery = _dead_sale(receiver)
    # Saved around validation: a macro the renderer does not know.
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(
        url_template=receiver.base_url + "/pb?x={nope}"
    )
    result = deliveries_replay_rerendered(delivery_ids=[delivery.pk])
    assert result.replay.delivery_ids == []
    assert "cannot be rendered now" in result.refused[delivery.pk]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.url) == (State.DEAD, receiver.base_url + "/old?tx=tx-fix")


def test_admin_replay_with_the_current_url(admin_client: object) -> None:
    attempt = DeliveryAttemptFactory.create(
        delivery__state=State.DEAD,
        delivery__url="https://old.example/pb?tx=x",
        url="https://old.example/pb?tx=x",
        status_code=404,
    )
    delivery = attempt.delivery
    PostbackEndpoint.objects.filter(pk=delivery.endpoint_id).update(
        url_template="https://fixed.example/pb?tx={transaction_id}"
    )

    response = admin_client.post(  # type: ignore[attr-defined]
        reverse("admin:postbacks_delivery_changelist"),
        {"action": "replay_with_current_url", "_selected_action": [delivery.pk]},
        follow=True,
    )

    assert "1 delivery queued for replay." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.conversion is not None
    new_url = f"https://fixed.example/pb?tx={delivery.conversion.transaction_id}"
    assert (delivery.state, delivery.url) == (State.PENDING, new_url)
    (job,) = get_queue().get_jobs()
    assert list(job.args) == [[delivery.pk], "manual"]
    page = admin_client.get(  # type: ignore[attr-defined]
        reverse("admin:postbacks_delivery_change", args=[delivery.pk])
    ).content.decode()
    assert "https://old.example/pb?tx=x" in page


def test_a_test_postback_is_not_rerendered() -> None:
    test = DeliveryFactory.create(
        conversion=None,
        endpoint=PostbackEndpointFactory.create(affiliate=AffiliateFactory.create()),
        is_test=True,
        state=State.DEAD,
    )
    result = deliveries_replay_rerendered(delivery_ids=[test.pk])
    assert result.replay.delivery_ids == []
    assert "a test postback" in result.refused[test.pk]
