"""Data retention: old attempts, test deliveries and admin login logs go, in small batches;
conversions stay."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from axes.models import AccessFailureLog, AccessLog
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from postbacks.models import Delivery, DeliveryAttempt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    attempts: int
    test_deliveries: int
    login_logs: int


def _delete_in_batches(queryset: models.QuerySet[Any], *, batch_size: int) -> int:
    """Delete the queryset's rows a batch at a time, each batch its own short transaction, so
    no long lock is held on a table workers write to."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:batch_size])
            if ids:
                queryset.model.objects.filter(pk__in=ids).delete()
                deleted += len(ids)
        if len(ids) < batch_size:
            return deleted


def retention_purge(*, older_than: timedelta | None = None, batch_size: int = 5000) -> Purged:
    """Delete attempts, test deliveries and admin login logs (django-axes: every login and every
    failed one) older than `older_than` (POSTBACK_RETENTION_DAYS). Conversions and real
    deliveries are records of money and stay; live lockouts expire on their own."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.POSTBACK_RETENTION_DAYS))
    attempts = _delete_in_batches(
        DeliveryAttempt.objects.filter(started_at__lt=cutoff), batch_size=batch_size
    )
    tests = _delete_in_batches(
        Delivery.objects.filter(is_test=True, created_at__lt=cutoff).exclude(
            state=Delivery.State.SENDING
        ),
        batch_size=batch_size,
    )
    logins = sum(
        _delete_in_batches(log.objects.filter(attempt_time__lt=cutoff), batch_size=batch_size)
        for log in (AccessLog, AccessFailureLog)
    )
    if attempts or tests or logins:
        logger.info(
            "retention: %d attempts, %d test deliveries and %d login log entries deleted",
            attempts,
            tests,
            logins,
        )
    return Purged(attempts=attempts, test_deliveries=tests, login_logs=logins)
