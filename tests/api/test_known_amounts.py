"""Known amounts (docs/spec.md §11): a pay-per-sale conversion posted without an amount carries the
offer's payout, and the ingest answer says so; real postbacks say {is_test} 0."""

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from postbacks.models import Delivery
from tests.api.conftest import World
from tests.factories import OfferFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def test_a_pps_sale_without_amount_renders_the_offers_payout_and_says_so(
    world: World, post_json: Any
) -> None:
    world.endpoint.url_template = (
        "https://track.example/pb?cid={clickId}&sum={amount}&s={signed_amount}&t={is_test}"
    )
    world.endpoint.save()
    world.offer.kind, world.offer.payout, world.offer.currency = "pps", Decimal("25"), "EUR"
    world.offer.save()
    payload = world.payload()
    del payload["amount"]
    response = post_json(payload)
    assert response.status_code == 202
    assert response.json()["notes"] == [
        "no amount posted: postbacks carry the payout of offer 66013, 25.00 EUR"
    ]
    url = Delivery.objects.get().url
    assert parse_qs(urlsplit(url).query) == {
        "cid": ["c0ffee"],
        "sum": ["25.00"],
        "s": ["25.00"],
        "t": ["0"],
    }


def test_a_posted_amount_wins_and_a_revshare_sale_stays_without(
    world: World, post_json: Any
) -> None:
    world.endpoint.url_template = "https://track.example/pb?sum={amount}"
    world.endpoint.save()
    world.offer.kind, world.offer.payout = "pps", Decimal("25")
    world.offer.save()
    answer = post_json(world.payload(amount="35.00")).json()
    assert "notes" not in answer
    revshare = OfferFactory.create(network_offer_id=77001, revshare=True)
    PostbackEndpointFactory.create(
        affiliate=world.affiliate,
        offer=revshare,
        url_template="https://track.example/rs?sum={amount}",
        events=["signup"],
    )
    payload = world.payload(transaction_id="tx-2", offer_id=revshare.network_offer_id)
    del payload["amount"]
    answer = post_json(payload).json()
    assert "notes" not in answer
    urls = sorted(Delivery.objects.values_list("url", flat=True))
    assert urls == ["https://track.example/pb?sum=35.00", "https://track.example/rs?sum="]
