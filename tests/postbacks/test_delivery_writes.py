"""Ingest and status changes write conversions and deliveries as plain rows
(postbacks/conversion_writes.py, postbacks/delivery_writes.py), not through the ORM: each row
they write must be, column by column, the row the ORM writes for the same facts. The columns are
read from the model, so a field added to it with a default and not added to the rows fails
here."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from postbacks.conversion_status import conversion_status_change
from postbacks.delivery_writes import deliveries_insert, delivery_row
from postbacks.models import Conversion, ConversionStatusChange, Delivery
from postbacks.services import IngestItem, IngestResult, conversions_ingest
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    OfferFactory,
    PostbackEndpointFactory,
    event_type,
)

pytestmark = pytest.mark.django_db

TEMPLATE = "https://track.example/pb?tx={transaction_id}&click={clickId}&sum={amount}"


def _row(model: type[models.Model], pk: int) -> dict[str, Any]:
    """Every column of the row, as the ORM reads it back."""
    names = [f.attname for f in model._meta.concrete_fields]
    return model.objects.filter(pk=pk).values(*names).get()  # type: ignore[attr-defined]


def _assert_same_row(
    written: dict[str, Any], orm: dict[str, Any], *, model: type[models.Model], apart: set[str]
) -> None:
    """Equal in every column but the primary key and the ones `apart` (which differ by design);
    a time the write takes from its clock (auto_now, due now, queued now) may differ by the
    moment between the two writes."""
    assert written.keys() == orm.keys()
    for field in model._meta.concrete_fields:
        name = field.attname
        if field.primary_key or name in apart:
            continue
        if isinstance(field, models.DateTimeField) and orm[name] is not None:
            assert written[name] is not None, name
            assert abs(written[name] - orm[name]) < timedelta(seconds=30), name
        else:
            assert written[name] == orm[name], name


def test_an_ingested_conversion_and_its_deliveries_are_the_rows_the_orm_writes():
    affiliate = AffiliateFactory(network_id=4711, tracker_params=["clickId"])
    offer = OfferFactory(network_offer_id=88001)
    endpoints = [
        PostbackEndpointFactory(affiliate=affiliate, url_template=TEMPLATE, method=method)
        for method in ("GET", "POST")
    ]
    item = IngestItem(
        transaction_id="tx-rows",
        event="signup",
        offer_id=offer.network_offer_id,
        tracker="trID_4711_c42_trID",
        amount=Decimal("12.5"),
        currency="eur",
        occurred_at=timezone.now() - timedelta(hours=3),
        status="pending",
    )
    endpoints[1].fire_on = ["pending", "approved"]
    endpoints[1].save()

    (result,) = conversions_ingest(items=[item])

    assert isinstance(result, IngestResult) and result.created
    written = _row(Conversion, result.conversion.pk)
    (delivery_id,) = result.delivery_ids
    written_delivery = _row(Delivery, delivery_id)
    Delivery.objects.filter(pk=delivery_id).delete()
    Conversion.objects.filter(pk=result.conversion.pk).delete()
    now = timezone.now()
    conversion = Conversion.objects.create(
        transaction_id=item.transaction_id,
        event_type=event_type("signup"),
        offer=offer,
        affiliate=affiliate,
        tracker_raw=item.tracker,
        tracker_values={"clickId": "c42"},
        amount=item.amount,
        currency="EUR",
        occurred_at=item.occurred_at,
        attribution=Conversion.Attribution.ATTRIBUTED,
        status="pending",
    )
    delivery = Delivery.objects.create(
        conversion=conversion,
        endpoint=endpoints[1],
        status="pending",
        url=written_delivery["url"],
        method="POST",
        next_attempt_at=now,
        enqueued_at=now,
    )
    _assert_same_row(written, _row(Conversion, conversion.pk), model=Conversion, apart=set())
    _assert_same_row(
        written_delivery,
        _row(Delivery, delivery.pk),
        model=Delivery,
        apart={"conversion_id"},
    )
    assert written_delivery["url"] == "https://track.example/pb?tx=tx-rows&click=c42&sum=12.50"
    assert written["amount"] == Decimal("12.5000")


def test_an_unattributed_conversion_is_the_row_the_orm_writes():
    offer = OfferFactory(network_offer_id=88002)
    (result,) = conversions_ingest(
        items=[IngestItem(transaction_id="tx-lost", event="signup", offer_id=88002, tracker="x")]
    )

    assert isinstance(result, IngestResult) and result.delivery_ids == []
    written = _row(Conversion, result.conversion.pk)
    Conversion.objects.filter(pk=result.conversion.pk).delete()
    conversion = Conversion.objects.create(
        transaction_id="tx-lost",
        event_type=event_type("signup"),
        offer=offer,
        tracker_raw="x",
        currency="USD",
        occurred_at=written["occurred_at"],
        attribution=Conversion.Attribution.UNATTRIBUTED,
        attribution_error=written["attribution_error"],
    )
    _assert_same_row(written, _row(Conversion, conversion.pk), model=Conversion, apart=set())
    assert written["amount"] is None and written["affiliate_id"] is None


def test_a_status_change_writes_its_postback_as_the_orm_would():
    conversion = ConversionFactory(status="pending", tracker_values={"clickId": "c7"})
    endpoint = PostbackEndpointFactory(
        affiliate=conversion.affiliate, url_template=TEMPLATE, method="POST"
    )

    outcome = conversion_status_change(
        conversion_id=conversion.pk, status="approved", changed_by=None, source="api"
    )

    (delivery_id,) = outcome.delivery_ids
    written = _row(Delivery, delivery_id)
    now = timezone.now()
    orm = Delivery.objects.create(
        conversion=ConversionFactory(affiliate=conversion.affiliate),
        endpoint=endpoint,
        status="approved",
        url=written["url"],
        method="POST",
        next_attempt_at=now,
        enqueued_at=now,
    )
    _assert_same_row(written, _row(Delivery, orm.pk), model=Delivery, apart={"conversion_id"})
    assert ConversionStatusChange.objects.filter(conversion=conversion).count() == 1


def test_deliveries_insert_tells_each_endpoint_of_a_status_once_in_the_rows_order():
    first, second = ConversionFactory(), ConversionFactory()
    endpoint = PostbackEndpointFactory(affiliate=first.affiliate)
    other = PostbackEndpointFactory(affiliate=first.affiliate)
    rows = [
        delivery_row(conversion_id=second.pk, endpoint=endpoint, status="approved", url="u1"),
        delivery_row(conversion_id=first.pk, endpoint=other, status="approved", url="u2"),
        delivery_row(conversion_id=first.pk, endpoint=endpoint, status="approved", url="u3"),
    ]
    now = timezone.now()

    created = deliveries_insert(rows, now=now)
    again = deliveries_insert([*rows, {**rows[0], "status": "reversed"}], now=now)

    ids = sorted(pk for listed in created.values() for pk in listed)
    assert [Delivery.objects.get(pk=pk).url for pk in ids] == ["u1", "u2", "u3"]
    assert set(created) == {first.pk, second.pk} and len(created[first.pk]) == 2
    (reversal,) = again[second.pk]
    assert list(again) == [second.pk] and reversal > max(ids)
    assert Delivery.objects.count() == 4


def test_no_rows_write_nothing():
    assert deliveries_insert([], now=timezone.now()) == {}
