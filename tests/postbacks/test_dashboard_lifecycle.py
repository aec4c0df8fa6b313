"""The dashboard's lifecycle numbers: sales pending the network's decision, the last 30 days'
status changes by the status reached, and the affiliates with the most reversals."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from postbacks import dashboard
from postbacks.conversion_status import Source, StatusRequest, conversion_statuses_change
from postbacks.models import Conversion, ConversionStatusChange
from tests.factories import AffiliateFactory, ConversionFactory, UserFactory

pytestmark = pytest.mark.django_db


def change(conversions: list[Conversion], status: str) -> None:
    conversion_statuses_change(
        requests=[StatusRequest(c.pk, status) for c in conversions],
        changed_by=None,
        source=Source.API,
    )


@pytest.fixture
def scene() -> dict[str, object]:
    alice, bob = UserFactory.create(username="alice"), UserFactory.create(username="bob")
    mine = AffiliateFactory.create(network_id=1111111, name="Alice's", account_manager=alice)
    theirs = AffiliateFactory.create(network_id=2222222, name="Bob's", account_manager=bob)
    ConversionFactory.create_batch(2, affiliate=mine, status="pending")
    ConversionFactory.create(affiliate=theirs, status="pending")
    ConversionFactory.create(affiliate=None, attribution="unattributed", status="pending")
    change(ConversionFactory.create_batch(3, affiliate=theirs), "reversed")
    change(ConversionFactory.create_batch(1, affiliate=mine), "reversed")
    change(list(Conversion.objects.filter(affiliate=mine, status="pending")[:1]), "approved")
    return {"alice": alice, "bob": bob}


def test_pending_sales_changes_and_reversals_are_counted(scene):
    numbers = dashboard.lifecycle_numbers(since=timezone.now() - timedelta(days=30))

    # Unattributed sales fire nothing either way: not counted as held.
    assert numbers.pending == 2
    assert numbers.changes == {"approved": 1, "rejected": 0, "reversed": 4}
    assert [(r.network_id, r.count) for r in numbers.reversals] == [(2222222, 3), (1111111, 1)]


def test_an_account_managers_numbers_are_their_own_affiliates(scene):
    alice = scene["alice"]
    numbers = dashboard.lifecycle_numbers(
        since=timezone.now() - timedelta(days=30), manager_id=alice.pk
    )

    assert numbers.pending == 1
    assert numbers.changes == {"approved": 1, "rejected": 0, "reversed": 1}
    assert [(r.network_id, r.count) for r in numbers.reversals] == [(1111111, 1)]


def test_changes_older_than_the_window_are_left_out(scene):
    later = ConversionStatusChange.objects.order_by("-changed_at").first()
    assert later is not None
    since = later.changed_at + timedelta(seconds=1)

    numbers = dashboard.lifecycle_numbers(since=since)

    assert numbers.changes == {"approved": 0, "rejected": 0, "reversed": 0}
    assert numbers.reversals == []


def test_the_front_page_shows_the_lifecycle_numbers(admin_client, scene):
    cache.clear()
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert 'id="card-pending"' in html
    assert "?status__exact=pending" in html
    assert "1 approved, 0 rejected, 4 reversed." in html
    assert 'data-affiliate="2222222"' in html
