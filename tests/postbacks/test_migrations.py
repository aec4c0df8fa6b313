"""The data migration: the event codes of docs/spec.md §1 exist, active, after `migrate`."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from postbacks.models import EventType

pytestmark = pytest.mark.django_db


def test_the_four_event_codes_exist_and_are_active_after_migrate():
    events = dict(EventType.objects.values_list("code", "is_active"))
    assert {code: events.get(code) for code in ("freereg", "trial", "signup", "rebill")} == {
        "freereg": True,
        "trial": True,
        "signup": True,
        "rebill": True,
    }


def test_the_event_codes_have_readable_names():
    names = dict(EventType.objects.values_list("code", "name"))
    assert all(names[code].strip() for code in ("freereg", "trial", "signup", "rebill"))


def test_the_event_codes_come_back_when_the_migration_is_reapplied():
    """Unapplied and applied again inside the test's transaction, which rolls it all back."""
    executor = MigrationExecutor(connection)
    executor.migrate([("postbacks", "0001_initial")])
    assert not EventType.objects.filter(code__in=["freereg", "trial", "signup", "rebill"]).exists()
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    codes = set(EventType.objects.filter(is_active=True).values_list("code", flat=True))
    assert {"freereg", "trial", "signup", "rebill"} <= codes


def test_attempts_made_before_attempt_urls_get_their_deliverys_url():
    """0008 backfills the URL each earlier attempt sent (its delivery's: it never changed then),
    through the append-only trigger, which still refuses updates afterwards."""
    from django.db import IntegrityError, transaction

    from postbacks.models import DeliveryAttempt
    from tests.factories import DeliveryAttemptFactory

    attempt = DeliveryAttemptFactory.create(delivery__url="https://track.example/pb?tx=old")
    with connection.cursor() as cursor:
        # The rows' deferred foreign key checks would keep their tables from being dropped.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    executor.migrate([("postbacks", "0007_attempts_append_only")])
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert DeliveryAttempt.objects.get(pk=attempt.pk).url == "https://track.example/pb?tx=old"
    with pytest.raises(IntegrityError, match="attempts are a record"), transaction.atomic():
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(url="x")
