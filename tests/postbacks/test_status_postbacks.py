"""Status postbacks end to end: the ingest and status APIs, RQ, the delivery worker and a real
local HTTP receiver. Each transition and each fire_on choice: the receiver gets exactly the URLs
expected, with the status in its own words, the signed amount and a postback id per postback."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from postbacks.delivery.queue import sweep
from postbacks.delivery.services import deliveries_claim
from postbacks.models import Delivery, EventType, PostbackEndpoint
from postbacks.preview import template_preview
from postbacks.probes import endpoint_test_fire
from tests.api.conftest import CONVERSIONS_URL, issue_token, token_client
from tests.conftest import Receiver
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory
from tests.postbacks.test_delivery import deliver_until_settled, run_worker_burst

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {"pending": "lead", "approved": "sale", "rejected": "rejected", "reversed": "rejected"}
TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"
TEMPLATE = (
    "/pb?cid={clickId}&tx={transaction_id}&s={status}&sum={signed_amount}&amt={amount}"
    "&pid={postback_id}&why={reason}"
)


class Lifecycle:
    """Affiliate 1234567 on offer 66013, one live signup endpoint at the receiver, and an ingest
    token that posts sales and changes their statuses."""

    def __init__(self, receiver: Receiver, *, fire_on: list[str]) -> None:
        self.receiver = receiver
        affiliate = AffiliateFactory.create(
            network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
        )
        OfferFactory.create(network_offer_id=66013)
        self.endpoint = PostbackEndpointFactory.create(
            affiliate=affiliate,
            url_template=receiver.base_url + TEMPLATE,
            events=["signup"],
            fire_on=fire_on,
            status_values=WORDS,
        )
        self.client = token_client(issue_token("billing-bot", "ingest"))

    def sell(self, status: str) -> int:
        response = self.client.post(
            CONVERSIONS_URL,
            {
                "transaction_id": "tx-1",
                "event": "signup",
                "offer_id": 66013,
                "tracker": "trID_1234567_aff9-tx77-c0ffee_trID",
                "amount": "35.00",
                "status": status,
            },
            format="json",
        )
        assert response.status_code == 202, response.content
        return int(response.json()["id"])

    def change(self, pk: int, status: str, reason: str = "") -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/conversions/{pk}/status/",
            {"status": status, "reason": reason},
            format="json",
        )
        assert response.status_code == 200, response.content
        return dict(response.json())

    def heard(self) -> list[dict[str, str]]:
        """What the receiver got once every due postback is sent, in order of arrival."""
        deliver_until_settled()
        return [
            {
                name: values[0]
                for name, values in parse_qs(urlsplit(r.path).query, keep_blank_values=True).items()
            }
            for r in self.receiver.received
        ]


def postback(conversion_id: int, endpoint_id: int, status: str, **fields: str) -> dict[str, str]:
    signed = "-35.00" if status in ("rejected", "reversed") else "35.00"
    expected = {
        "cid": "c0ffee",
        "tx": "tx-1",
        "s": WORDS[status],
        "sum": signed,
        "amt": "35.00",
        "pid": f"{conversion_id}-{endpoint_id}-{status}",
    }
    expected.update(fields)
    return expected


def test_held_until_approved_then_approve_sends_one_postback(receiver: Receiver) -> None:
    sale = Lifecycle(receiver, fire_on=["approved"])
    pk = sale.sell("pending")
    assert sale.heard() == []
    assert not Delivery.objects.exists()

    answer = sale.change(pk, "approved", "checked")

    (delivery,) = Delivery.objects.all()
    assert answer["deliveries"] == [delivery.pk]
    assert sale.heard() == [postback(pk, sale.endpoint.pk, "approved", why="checked")]
    assert delivery.status == "approved"


def test_a_rejected_sale_is_never_sent_to_an_approval_only_endpoint(receiver: Receiver) -> None:
    sale = Lifecycle(receiver, fire_on=["approved"])
    pk = sale.sell("pending")

    assert sale.change(pk, "rejected", "fraud")["deliveries"] == []

    sweep()
    run_worker_burst()
    assert sale.heard() == []
    assert not Delivery.objects.exists()


def test_approve_then_reverse_sends_two_postbacks_the_second_negative(receiver: Receiver) -> None:
    sale = Lifecycle(receiver, fire_on=["approved", "reversed"])
    pk = sale.sell("approved")
    assert sale.heard() == [postback(pk, sale.endpoint.pk, "approved", why="")]

    sale.change(pk, "reversed", "chargeback CB-77")

    assert sale.heard() == [
        postback(pk, sale.endpoint.pk, "approved", why=""),
        postback(pk, sale.endpoint.pk, "reversed", why="chargeback CB-77"),
    ]
    assert sale.heard()[1]["s"] == WORDS["reversed"]
    assert sale.heard()[1]["sum"] == "-35.00"


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("pending", "approved"),
        ("pending", "rejected"),
        ("approved", "reversed"),
    ],
)
def test_each_change_tells_an_endpoint_that_fires_on_every_status(
    receiver: Receiver, start: str, target: str
) -> None:
    sale = Lifecycle(receiver, fire_on=["pending", "approved", "rejected", "reversed"])
    pk = sale.sell(start)

    sale.change(pk, target, f"now {target}")

    assert sale.heard() == [
        postback(pk, sale.endpoint.pk, start, why=""),
        postback(pk, sale.endpoint.pk, target, why=f"now {target}"),
    ]


def test_rejected_then_approved_tells_both_and_the_approval_once(receiver: Receiver) -> None:
    sale = Lifecycle(receiver, fire_on=["approved", "rejected"])
    pk = sale.sell("pending")
    sale.change(pk, "rejected", "no payment yet")

    sale.change(pk, "approved", "paid after all")
    again = sale.change(pk, "approved", "paid after all")

    assert again == {**again, "changed": False, "deliveries": []}
    assert sale.heard() == [
        postback(pk, sale.endpoint.pk, "rejected", why="no payment yet"),
        postback(pk, sale.endpoint.pk, "approved", why="paid after all"),
    ]


def test_a_refused_change_sends_nothing(receiver: Receiver) -> None:
    sale = Lifecycle(receiver, fire_on=["pending", "approved", "rejected", "reversed"])
    pk = sale.sell("pending")
    assert len(sale.heard()) == 1

    response = sale.client.post(
        f"/api/v1/conversions/{pk}/status/", {"status": "reversed"}, format="json"
    )

    assert response.status_code == 409
    assert len(sale.heard()) == 1
    assert Delivery.objects.count() == 1


# ------------------------------------------------------------------------------
# Samples: the live preview and test postbacks know the status macros
# ------------------------------------------------------------------------------


def test_the_preview_shows_each_event_at_each_status_the_endpoint_fires_on(
    receiver: Receiver,
) -> None:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    preview = template_preview(
        affiliate=affiliate,
        url_template="https://t.example/pb?s={status}&sum={signed_amount}&pid={postback_id}",
        test_link=TEST_LINK,
        offer=OfferFactory.create(network_offer_id=66013),
        event_types=EventType.objects.filter(code="signup"),
        fire_on=["reversed", "approved"],
        status_values=WORDS,
    )

    assert preview.error == ""
    assert [(u.event, u.status, u.url) for u in preview.urls] == [
        ("signup", "approved", "https://t.example/pb?s=sale&sum=35.00&pid=TEST-TX-1-approved"),
        (
            "signup",
            "reversed",
            "https://t.example/pb?s=rejected&sum=-35.00&pid=TEST-TX-1-reversed",
        ),
    ]
    assert {"status", "reason", "signed_amount", "postback_id"} <= set(preview.macros)


def test_a_test_postback_carries_the_first_status_fired_on_in_the_receivers_word(
    receiver: Receiver,
) -> None:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate,
        url_template=receiver.base_url + "/pb?s={status}&pid={postback_id}&why={reason}",
        status=PostbackEndpoint.Status.TESTING,
        test_link=TEST_LINK,
        fire_on=["pending", "approved"],
        status_values=WORDS,
    )

    result = endpoint_test_fire(endpoint=endpoint)

    assert result.succeeded
    (request,) = receiver.wait_for(1)
    query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
    assert query["s"] == ["lead"]
    assert query["pid"][0].startswith("test-") and query["pid"][0].endswith("-pending")
    assert query["why"] == [""]


def test_the_endpoint_pages_live_preview_follows_the_statuses_as_typed(admin_client: Any) -> None:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    url = reverse("admin:postbacks_postbackendpoint_preview")
    form = {
        "affiliate": affiliate.pk,
        "url_template": "https://t.example/pb?s={status}&sum={signed_amount}",
        "test_link": TEST_LINK,
        "fire_on": ["approved", "reversed"],
        "status_values": '{"reversed": "chargeback"}',
    }

    answer = admin_client.post(url, form).json()
    assert [(u["status"], u["url"]) for u in answer["urls"]] == [
        ("approved", "https://t.example/pb?s=approved&sum=1.00"),
        ("reversed", "https://t.example/pb?s=chargeback&sum=-1.00"),
    ]

    refused = admin_client.post(url, {**form, "status_values": '{"sale": "x"}'})
    assert refused.status_code == 400
    assert "'sale' is not a status" in refused.content.decode()


# ------------------------------------------------------------------------------
# Order: the receiver hears of the sale before the change
# ------------------------------------------------------------------------------


def test_a_status_postback_waits_until_the_first_postback_started_its_attempt(
    receiver: Receiver,
) -> None:
    sale = Lifecycle(receiver, fire_on=["approved", "reversed"])
    pk = sale.sell("approved")
    sale.change(pk, "reversed", "refund")
    first, second = Delivery.objects.order_by("pk")

    assert deliveries_claim(delivery_ids=[second.pk]) == []
    assert [o.delivery_id for o in deliveries_claim(delivery_ids=[first.pk])] == [first.pk]
    assert [o.delivery_id for o in deliveries_claim(delivery_ids=[second.pk])] == [second.pk]


def test_a_change_made_while_the_first_postback_is_being_sent_goes_out_too(
    receiver: Receiver,
) -> None:
    sale = Lifecycle(receiver, fire_on=["approved", "reversed"])
    pk = sale.sell("approved")
    # A worker has taken the first postback: its attempt has started.
    (first,) = deliveries_claim(delivery_ids=list(Delivery.objects.values_list("pk", flat=True)))

    sale.change(pk, "reversed", "refund")
    reversal = Delivery.objects.get(status="reversed")

    # The reversal need not wait for the first one's answer; the first is not taken twice.
    assert [o.delivery_id for o in deliveries_claim(delivery_ids=[reversal.pk])] == [reversal.pk]
    assert deliveries_claim(delivery_ids=[first.delivery_id]) == []
