"""Ingest services: attribution (docs/spec.md §3) and the network macro values (docs/spec.md §4)."""

from decimal import Decimal

import pytest

from postbacks.macros import format_amount
from postbacks.services import AffiliateBook
from tests.factories import AffiliateFactory


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("35"), "35.00"),
        (Decimal("35.0000"), "35.00"),
        (Decimal("35.5"), "35.50"),
        (Decimal("1.2345"), "1.2345"),
        (Decimal("100"), "100.00"),
        (None, ""),
    ],
)
def test_amount_keeps_two_decimals_and_no_noise(amount, text):
    assert format_amount(amount) == text


@pytest.mark.django_db
def test_affiliate_found_from_the_leading_network_id_with_its_own_prefix():
    AffiliateFactory(network_id=111, tracker_prefix="X_", tracker_suffix="_X", tracker_params=["a"])
    AffiliateFactory(network_id=222, tracker_params=["a", "b"])
    got = AffiliateBook(trackers=[("X_111_v1_X", None)]).attribute(
        tracker="X_111_v1_X", affiliate_id=None
    )
    assert (got.affiliate.network_id, got.values) == (111, {"a": "v1"})
    got = AffiliateBook(trackers=[("trID_222_v1-v2-v3_trID", None)]).attribute(
        tracker="trID_222_v1-v2-v3_trID", affiliate_id=None
    )
    assert (got.affiliate.network_id, got.values) == (222, {"a": "v1", "b": "v2-v3"})


@pytest.mark.django_db
def test_revshare_affiliate_given_outside_the_tracker():
    AffiliateFactory(network_id=333, tracker_params=["a", "b"])
    got = AffiliateBook(trackers=[("trID_1-2_trID", 333)]).attribute(
        tracker="trID_1-2_trID", affiliate_id=333
    )
    assert got.values == {"a": "1", "b": "2"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tracker", "affiliate_id", "reason"),
    [
        ("trID_999_x_trID", None, "unknown affiliate 999"),
        ("garbage", None, "none found in the tracker"),
        ("", None, "no affiliate id and no tracker"),
        ("trID_444_x", None, "does not end with"),
    ],
)
def test_unattributable_trackers_say_why(tracker, affiliate_id, reason):
    AffiliateFactory(network_id=444)
    got = AffiliateBook(trackers=[(tracker, affiliate_id)]).attribute(
        tracker=tracker, affiliate_id=affiliate_id
    )
    assert got.affiliate is None
    assert reason in got.error


@pytest.mark.django_db
def test_many_items_one_answer_each_in_order_with_twins_and_refusals():
    from postbacks.models import Conversion, Delivery
    from postbacks.services import IngestItem, IngestResult, conversions_ingest
    from tests.factories import OfferFactory, PostbackEndpointFactory

    affiliate = AffiliateFactory(network_id=555, tracker_params=["clickId"])
    PostbackEndpointFactory(affiliate=affiliate)
    offer = OfferFactory(network_offer_id=77)
    ok = IngestItem(transaction_id="a", event="signup", offer_id=77, affiliate_id=555)
    results = conversions_ingest(
        items=[
            ok,
            IngestItem(transaction_id="b", event="nope", offer_id=77),
            ok,
            IngestItem(transaction_id="c", event="signup", offer_id=1),
            IngestItem(transaction_id="d", event="signup", offer_id=offer.network_offer_id),
        ]
    )
    first, bad_event, twin, bad_offer, unattributed = results
    assert isinstance(first, IngestResult) and first.created and len(first.delivery_ids) == 1
    assert "event" in bad_event.message_dict
    assert isinstance(twin, IngestResult) and not twin.created
    assert (twin.conversion.pk, twin.delivery_ids) == (first.conversion.pk, first.delivery_ids)
    assert "offer_id" in bad_offer.message_dict
    assert unattributed.conversion.attribution == "unattributed"
    again = conversions_ingest(items=[ok])[0]
    assert (again.created, again.delivery_ids) == (False, first.delivery_ids)
    assert (Conversion.objects.count(), Delivery.objects.count()) == (2, 1)


@pytest.mark.django_db
def test_cached_lookups_still_see_a_new_offer_and_a_new_tracker_prefix():
    from postbacks.services import IngestItem, conversions_ingest
    from tests.factories import OfferFactory

    AffiliateFactory(network_id=100, tracker_params=["a"])
    OfferFactory(network_offer_id=1)
    first = conversions_ingest(
        items=[
            IngestItem(transaction_id="t1", event="signup", offer_id=1, tracker="trID_100_x_trID")
        ]
    )[0]
    assert first.conversion.affiliate.network_id == 100
    # Added after the caches were filled: a miss asks the database again.
    OfferFactory(network_offer_id=2)
    AffiliateFactory(
        network_id=200, tracker_prefix="NEW_", tracker_suffix="_NEW", tracker_params=["a"]
    )
    second = conversions_ingest(
        items=[IngestItem(transaction_id="t2", event="signup", offer_id=2, tracker="NEW_200_y_NEW")]
    )[0]
    assert second.conversion.offer.network_offer_id == 2
    assert (second.conversion.affiliate.network_id, second.conversion.tracker_values) == (
        200,
        {"a": "y"},
    )


@pytest.mark.django_db
def test_repeated_ingest_reads_event_types_offers_and_prefixes_once(django_assert_num_queries):
    from postbacks.services import IngestItem, conversions_ingest
    from tests.factories import OfferFactory

    AffiliateFactory(network_id=100, tracker_params=["a"])
    OfferFactory(network_offer_id=1)
    item = IngestItem(transaction_id="t1", event="signup", offer_id=1, tracker="trID_100_x_trID")
    conversions_ingest(items=[item])
    again = IngestItem(transaction_id="t2", event="signup", offer_id=1, tracker="trID_100_z_trID")
    # The affiliate, the insert (in a savepoint here), the endpoints and their event types; no
    # event type, offer or prefix query.
    with django_assert_num_queries(6, exact=False) as captured:
        conversions_ingest(items=[again])
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert 'postbacks_eventtype"."is_active" AND' not in sql
    assert "offers_offer" not in sql
    assert "DISTINCT" not in sql
