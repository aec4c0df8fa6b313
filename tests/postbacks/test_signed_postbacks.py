"""Signed postbacks (docs/spec.md §11), checked by verifiers nobody here wrote: the README's own
Python
snippet for {signature} in a GET, and the `standardwebhooks` library for JSON POSTs; a tampered
value fails both. A rotation keeps every postback verifiable; the secret is nowhere it is not
needed."""

import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from postbacks.delivery.sender import Outgoing
from postbacks.endpoint_secrets import endpoint_secret_rotate, endpoint_signing_keys
from postbacks.models import Delivery, DeliveryAttempt, EndpointSecret
from postbacks.probes import endpoint_test_fire
from postbacks.services import IngestItem, conversions_ingest
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory
from tests.postbacks.test_delivery import deliver_until_settled

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parents[2] / "README.md"
SIGNED = (
    "/pb?click={clickId}&postback_id={postback_id}&transaction_id={transaction_id}"
    "&event={event}&status={status}&amount={amount}&timestamp={timestamp}&signature={signature}"
)


def readme_verifier():
    """The README's Python verifier, run as written."""
    text = README.read_text()
    block = re.search(r"<!-- signature-verifier-python -->\s*```python\n(.*?)```", text, re.S)
    assert block, "the README lost its Python verifier"
    namespace: dict = {}
    exec(block.group(1), namespace)  # noqa: S102 -- our own README, the point of the test
    return namespace["postback_is_signed"]


def _endpoint(receiver, template, **kwargs):
    affiliate = AffiliateFactory(tracker_params=["affid", "clickId"])
    return PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + template, **kwargs
    )


def _sale(endpoint, transaction_id="tx-signed"):
    offer = OfferFactory.create()
    conversions_ingest(
        items=[
            IngestItem(
                transaction_id=transaction_id,
                event="signup",
                offer_id=offer.network_offer_id,
                affiliate_id=endpoint.affiliate.network_id,
                tracker="trID_aff9-c0ffee_trID",
            )
        ]
    )


def test_a_signed_get_verifies_with_the_readme_snippet_and_a_tampered_one_does_not(receiver):
    endpoint = _endpoint(receiver, SIGNED)
    secret = endpoint_secret_rotate(endpoint=endpoint)
    _sale(endpoint)
    deliver_until_settled()
    (request,) = receiver.wait_for(1)
    params = dict(parse_qsl(urlsplit(request.path).query))
    assert params["amount"] == "35.00" and len(params["signature"]) == 64
    verify = readme_verifier()
    assert verify(params, secret)
    assert not verify({**params, "amount": "350.00"}, secret)
    assert not verify({**params, "status": "reversed"}, secret)
    assert not verify(params, endpoint_secret_rotate(endpoint=endpoint))  # another secret


def test_a_signed_batch_reads_its_keys_once_and_signs_every_postback(receiver):
    endpoint = _endpoint(receiver, SIGNED)
    secret = endpoint_secret_rotate(endpoint=endpoint)
    offer = OfferFactory.create()
    items = [
        IngestItem(
            transaction_id=f"tx-batch-{n}",
            event="signup",
            offer_id=offer.network_offer_id,
            affiliate_id=endpoint.affiliate.network_id,
            tracker=f"trID_aff9-c{n}_trID",
        )
        for n in range(5)
    ]
    with CaptureQueriesContext(connection) as captured:
        conversions_ingest(items=items)
    secret_reads = [q for q in captured.captured_queries if "postbacks_endpointsecret" in q["sql"]]
    assert len(secret_reads) == 1
    verify = readme_verifier()
    for delivery in Delivery.objects.filter(endpoint=endpoint):
        assert verify(dict(parse_qsl(urlsplit(delivery.url).query)), secret)


def test_without_a_secret_the_signature_is_empty(receiver):
    endpoint = _endpoint(receiver, SIGNED)
    _sale(endpoint)
    deliver_until_settled()
    (request,) = receiver.wait_for(1)
    assert dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))["signature"] == ""


def test_a_json_post_verifies_with_standardwebhooks_and_a_tampered_one_does_not(receiver):
    endpoint = _endpoint(
        receiver, "/hook?click={clickId}&tx={transaction_id}&sum={amount}", method="JSON"
    )
    secret = endpoint_secret_rotate(endpoint=endpoint)
    _sale(endpoint)
    deliver_until_settled()
    (request,) = receiver.wait_for(1)
    assert request.method == "POST" and request.path == "/hook"
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["content-type"] == "application/json"
    payload = Webhook(secret).verify(request.body, headers)
    assert payload == {"click": "c0ffee", "tx": "tx-signed", "sum": "35.00"}
    tampered = request.body.replace(b"35.00", b"99.00")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert headers["webhook-id"] == f"msg_pb{delivery.pk}"


def test_a_rotation_while_deliveries_are_in_flight_keeps_each_verifiable(receiver):
    endpoint = _endpoint(receiver, "/hook?tx={transaction_id}", method="JSON")
    old = endpoint_secret_rotate(endpoint=endpoint)
    _sale(endpoint, "tx-a")
    new = endpoint_secret_rotate(endpoint=endpoint)  # between ingest and sending
    _sale(endpoint, "tx-b")
    deliver_until_settled()
    requests = receiver.wait_for(2)
    assert len(requests) == 2
    for request in requests:
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert len(headers["webhook-signature"].split(" ")) == 2
        # A receiver still on the old secret and one already on the new both verify.
        Webhook(old).verify(request.body, headers)
        Webhook(new).verify(request.body, headers)
    later = timezone.now() + timedelta(hours=25)
    assert len(endpoint_signing_keys(endpoint_ids=[endpoint.pk], now=later)[endpoint.pk]) == 1


def test_the_secret_is_in_no_delivery_attempt_history_or_log(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    endpoint = _endpoint(receiver, "/hook?tx={transaction_id}&sig={signature}", method="JSON")
    secret = endpoint_secret_rotate(endpoint=endpoint)
    key_text = EndpointSecret.objects.get(endpoint=endpoint).key
    _sale(endpoint)
    deliver_until_settled()
    endpoint_test_fire(endpoint=endpoint)
    stored = [
        *Delivery.objects.values_list("url", "last_error"),
        *DeliveryAttempt.objects.values_list("response_excerpt", "error"),
        *endpoint.history.values_list("url_template", "disabled_reason"),
    ]
    text = json.dumps(stored) + caplog.text
    for needle in (secret, secret.removeprefix("whsec_"), key_text):
        assert needle not in text
    keys = endpoint_signing_keys(endpoint_ids=[endpoint.pk])[endpoint.pk]
    outgoing = Outgoing(
        delivery_id=1, lease_token=uuid4(), number=1, url="u", method="JSON", signing_keys=keys
    )
    assert "signing_keys" not in repr(outgoing) and str(keys[0]) not in repr(outgoing)


def test_the_endpoint_page_makes_a_secret_shown_once(admin_client, receiver):
    endpoint = _endpoint(receiver, "/hook?tx={transaction_id}")
    url = f"/admin/postbacks/postbackendpoint/{endpoint.pk}/secret/"
    assert admin_client.get(url).status_code == 405
    page = admin_client.get(f"/admin/postbacks/postbackendpoint/{endpoint.pk}/change/")
    assert b"Make signing secret" in page.content
    shown = admin_client.post(url)
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    secret = re.search(rb"whsec_[A-Za-z0-9+/=]+", shown.content).group().decode()
    assert Webhook(secret)  # a valid Standard Webhooks secret
    page = admin_client.get(f"/admin/postbacks/postbackendpoint/{endpoint.pk}/change/")
    assert b"Rotate signing secret" in page.content and secret.encode() not in page.content
    history = admin_client.get(f"/admin/postbacks/postbackendpoint/{endpoint.pk}/history/")
    assert secret.encode() not in history.content
