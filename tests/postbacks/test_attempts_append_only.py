"""Delivery attempts are never edited (issue 6): the database refuses an UPDATE of an attempt;
inserting attempts and deleting them (retention, a test delivery's) still work."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from postbacks.models import DeliveryAttempt
from tests.factories import DeliveryAttemptFactory

pytestmark = pytest.mark.django_db


def test_an_attempt_cannot_be_updated_in_the_database():
    attempt = DeliveryAttemptFactory.create(status_code=500)
    with pytest.raises(IntegrityError, match="attempts are a record"), transaction.atomic():
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(status_code=200)
    attempt.status_code = 200
    with pytest.raises(IntegrityError, match="attempts are a record"), transaction.atomic():
        attempt.save()
    attempt.refresh_from_db()
    assert attempt.status_code == 500


def test_attempts_can_still_be_inserted_and_deleted():
    attempt = DeliveryAttemptFactory.create(started_at=timezone.now())
    DeliveryAttemptFactory.create(delivery=attempt.delivery, number=2)
    assert attempt.delivery.attempt_log.count() == 2
    DeliveryAttempt.objects.filter(delivery=attempt.delivery).delete()
    assert not DeliveryAttempt.objects.exists()
