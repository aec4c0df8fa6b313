"""The conversion status service (postbacks/conversion_status.py): each change once, guarded,
recorded with who, when, from, to and why; a batch in a fixed number of statements."""

import pytest
from django.utils import timezone

from postbacks.conversion_status import (
    Source,
    StatusOutcome,
    StatusRefused,
    StatusRequest,
    conversion_status_change,
    conversion_statuses_change,
)
from postbacks.models import Conversion, ConversionStatusChange, Delivery
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    OfferFactory,
    PostbackEndpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def change(conversion: Conversion, status: str, reason: str = "") -> StatusOutcome:
    return conversion_status_change(
        conversion_id=conversion.pk,
        status=status,
        reason=reason,
        changed_by=None,
        source=Source.API,
    )


def test_an_allowed_change_is_written_and_recorded():
    user = UserFactory.create(username="billing-bot")
    conversion = ConversionFactory.create(status="pending")
    before = timezone.now()

    outcome = conversion_status_change(
        conversion_id=conversion.pk,
        status="approved",
        reason="fraud check passed",
        changed_by=user,
        source=Source.API,
    )

    assert outcome == StatusOutcome(conversion.pk, "approved", "pending", True)
    conversion.refresh_from_db()
    assert (conversion.status, conversion.status_reason) == ("approved", "fraud check passed")
    assert conversion.status_changed_at is not None
    assert conversion.status_changed_at >= before
    (record,) = ConversionStatusChange.objects.filter(conversion=conversion)
    assert (record.from_status, record.to_status, record.reason) == (
        "pending",
        "approved",
        "fraud check passed",
    )
    assert (record.changed_by, record.source) == (user, "api")
    assert record.changed_at == conversion.status_changed_at


def test_the_same_status_again_changes_and_records_nothing():
    conversion = ConversionFactory.create(status="approved")

    outcome = change(conversion, "approved", "again")

    assert outcome == StatusOutcome(conversion.pk, "approved", "approved", False)
    conversion.refresh_from_db()
    assert (conversion.status_reason, conversion.status_changed_at) == ("", None)
    assert not ConversionStatusChange.objects.exists()


def test_a_refused_change_names_the_current_status_and_writes_nothing():
    conversion = ConversionFactory.create(status="rejected")

    with pytest.raises(StatusRefused) as caught:
        change(conversion, "reversed", "chargeback")

    assert caught.value.code == "invalid_transition"
    assert caught.value.current_status == "rejected"
    assert "the conversion is rejected" in str(caught.value)
    conversion.refresh_from_db()
    assert conversion.status == "rejected"
    assert not ConversionStatusChange.objects.exists()


def test_an_unknown_conversion_is_not_found():
    with pytest.raises(StatusRefused) as caught:
        conversion_status_change(
            conversion_id=987654, status="approved", changed_by=None, source=Source.ADMIN
        )

    assert (caught.value.code, caught.value.conversion_id) == ("not_found", 987654)


def test_a_batch_answers_each_request_in_order_and_applies_the_good_ones():
    pending, approved, rejected = (
        ConversionFactory.create(status=status) for status in ("pending", "approved", "rejected")
    )

    results = conversion_statuses_change(
        requests=[
            StatusRequest(pending.pk, "rejected", "no payment"),
            StatusRequest(424242, "approved"),
            StatusRequest(approved.pk, "pending"),
            StatusRequest(rejected.pk, "approved", "appeal accepted"),
            StatusRequest(approved.pk, "approved"),
        ],
        changed_by=None,
        source=Source.API,
    )

    assert results[0] == StatusOutcome(pending.pk, "rejected", "pending", True)
    assert isinstance(results[1], StatusRefused)
    assert results[1].code == "not_found"
    assert isinstance(results[2], StatusRefused)
    assert (results[2].code, results[2].current_status) == ("invalid_transition", "approved")
    assert results[3] == StatusOutcome(rejected.pk, "approved", "rejected", True)
    assert results[4] == StatusOutcome(approved.pk, "approved", "approved", False)
    assert dict(Conversion.objects.values_list("pk", "status")) == {
        pending.pk: "rejected",
        approved.pk: "approved",
        rejected.pk: "approved",
    }
    assert ConversionStatusChange.objects.count() == 2


def test_a_conversion_named_twice_in_a_batch_goes_through_both_changes_in_turn():
    conversion = ConversionFactory.create(status="pending")

    results = conversion_statuses_change(
        requests=[
            StatusRequest(conversion.pk, "approved", "paid"),
            StatusRequest(conversion.pk, "reversed", "refunded"),
            StatusRequest(conversion.pk, "approved", "too late"),
        ],
        changed_by=None,
        source=Source.ADMIN,
    )

    assert results[0] == StatusOutcome(conversion.pk, "approved", "pending", True)
    assert results[1] == StatusOutcome(conversion.pk, "reversed", "approved", True)
    assert isinstance(results[2], StatusRefused)
    assert results[2].current_status == "reversed"
    conversion.refresh_from_db()
    assert (conversion.status, conversion.status_reason) == ("reversed", "refunded")
    assert list(
        ConversionStatusChange.objects.order_by("id").values_list("from_status", "to_status")
    ) == [("pending", "approved"), ("approved", "reversed")]


def test_a_batch_of_1000_is_a_handful_of_statements(django_assert_max_num_queries):
    affiliate, offer = AffiliateFactory.create(), OfferFactory.create()
    PostbackEndpointFactory.create(affiliate=affiliate, events=["signup"])
    ConversionFactory.create_batch(1000, status="pending", affiliate=affiliate, offer=offer)
    ids = list(Conversion.objects.values_list("pk", flat=True))

    # Savepoint, lock, UPDATE, the conversions, their endpoints and event types, the deliveries'
    # INSERT (two of 500), the log's INSERT, release: never one per change.
    with django_assert_max_num_queries(10):
        results = conversion_statuses_change(
            requests=[StatusRequest(pk, "approved", "batch") for pk in ids],
            changed_by=None,
            source=Source.API,
        )

    assert all(isinstance(r, StatusOutcome) and r.changed for r in results)
    assert all(isinstance(r, StatusOutcome) and len(r.delivery_ids) == 1 for r in results)
    assert Conversion.objects.filter(status="approved").count() == 1000
    assert ConversionStatusChange.objects.count() == 1000
    assert Delivery.objects.filter(status="approved").count() == 1000
