"""Retention: old attempts, test deliveries and login logs go; conversions and real deliveries
stay."""

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessFailureLog, AccessLog
from django.core.management import call_command
from django.utils import timezone

from postbacks.models import Conversion, Delivery, DeliveryAttempt
from postbacks.retention import retention_purge
from tests.factories import DeliveryAttemptFactory, DeliveryFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def test_old_attempts_and_test_deliveries_go_records_stay():
    long_ago = timezone.now() - timedelta(days=100)
    old = DeliveryAttemptFactory.create_batch(7, started_at=long_ago)
    fresh = DeliveryAttemptFactory(started_at=timezone.now())
    endpoint = PostbackEndpointFactory()
    old_test = Delivery.objects.create(endpoint=endpoint, url="http://x/", is_test=True)
    Delivery.objects.filter(pk=old_test.pk).update(created_at=long_ago)
    DeliveryAttempt.objects.create(delivery=old_test, number=1, started_at=timezone.now())
    new_test = Delivery.objects.create(endpoint=endpoint, url="http://x/", is_test=True)
    real = DeliveryFactory()
    Delivery.objects.filter(pk=real.pk).update(created_at=long_ago)

    purged = retention_purge(older_than=timedelta(days=90), batch_size=3)

    assert (purged.attempts, purged.test_deliveries) == (7, 1)
    assert set(DeliveryAttempt.objects.values_list("pk", flat=True)) == {fresh.pk}
    assert set(Delivery.objects.filter(is_test=True).values_list("pk", flat=True)) == {new_test.pk}
    assert Delivery.objects.filter(pk=real.pk).exists()
    assert Conversion.objects.count() == len(old) + 2


def test_command_reports_what_it_deleted():
    DeliveryAttemptFactory(started_at=timezone.now() - timedelta(days=3))
    out = StringIO()
    call_command("postback_retention", "--days", "1", stdout=out)
    assert out.getvalue().strip() == (
        "deleted 1 attempts, 0 test deliveries and 0 login log entries"
    )


def test_admin_login_logs_older_than_the_age_go_and_newer_ones_stay():
    long_ago = timezone.now() - timedelta(days=100)
    for log in (AccessLog, AccessFailureLog):
        old = log.objects.create(username="alice", ip_address="203.0.113.7", user_agent="x")
        log.objects.filter(pk=old.pk).update(attempt_time=long_ago)
        log.objects.create(username="alice", ip_address="203.0.113.7", user_agent="x")
    purged = retention_purge(older_than=timedelta(days=90))
    assert purged.login_logs == 2
    assert AccessLog.objects.count() == AccessFailureLog.objects.count() == 1
