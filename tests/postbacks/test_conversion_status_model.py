"""Conversion statuses in the database: conversions that existed before statuses are approved,
the database refuses a status that is not one, and the change log is a record that PostgreSQL
keeps from being edited or deleted."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError
from django.utils import timezone

from config.access import ACCOUNT_MANAGER_GROUP, NETWORK_ADMIN_GROUP
from postbacks.models import Conversion, ConversionStatusChange
from tests.factories import (
    ConversionFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def a_change(conversion: Conversion, **fields: object) -> ConversionStatusChange:
    values: dict[str, object] = {
        "conversion": conversion,
        "from_status": "pending",
        "to_status": "approved",
        "reason": "checked",
        "changed_at": timezone.now(),
        "changed_by": UserFactory.create(),
        "source": ConversionStatusChange.Source.API,
    }
    values.update(fields)
    return ConversionStatusChange.objects.create(**values)


def test_a_new_conversion_is_approved_unless_told_otherwise():
    conversion = ConversionFactory.create()

    conversion.refresh_from_db()
    assert conversion.status == "approved"
    assert conversion.status_reason == ""
    assert conversion.status_changed_at is None


def test_a_raw_insert_that_names_no_status_stores_approved():
    """Ingest writes conversions with a raw INSERT: the column's database default covers one
    that does not name it."""
    template = ConversionFactory.create()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO postbacks_conversion (transaction_id, event_type_id, offer_id, "
            "affiliate_id, tracker_raw, tracker_values, currency, occurred_at, received_at, "
            "attribution, attribution_error) VALUES ('raw-1', %s, %s, %s, '', '{}', 'USD', "
            "now(), now(), 'attributed', '') RETURNING status, status_reason",
            [template.event_type_id, template.offer_id, template.affiliate_id],
        )
        assert cursor.fetchone() == ("approved", "")


def test_conversions_stored_before_statuses_become_approved():
    """Unapplied and applied again inside the test's transaction, which rolls it all back."""
    executor = MigrationExecutor(connection)
    executor.migrate([("postbacks", "0007_attempts_append_only")])
    old = executor.loader.project_state([("postbacks", "0007_attempts_append_only")]).apps
    event_type = old.get_model("postbacks", "EventType").objects.get(code="signup")
    offer = old.get_model("offers", "Offer").objects.create(
        network_offer_id=77001, name="Old offer", kind="pps", payout="1.00"
    )
    old.get_model("postbacks", "Conversion").objects.create(
        transaction_id="before-statuses",
        event_type_id=event_type.pk,
        offer_id=offer.pk,
        occurred_at=timezone.now(),
        attribution="unattributed",
    )
    with connection.cursor() as cursor:
        # The foreign keys are checked at commit; ALTER TABLE refuses to run with checks pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    conversion = Conversion.objects.get(transaction_id="before-statuses")
    assert (conversion.status, conversion.status_reason) == ("approved", "")
    assert conversion.status_changed_at is None


def test_the_database_refuses_a_status_that_is_not_one():
    conversion = ConversionFactory.create()

    with pytest.raises(IntegrityError, match="conversion_status_valid"), transaction.atomic():
        Conversion.objects.filter(pk=conversion.pk).update(status="cancelled")


def test_a_status_change_cannot_be_updated_or_deleted_in_the_database():
    change = a_change(ConversionFactory.create())

    with pytest.raises(IntegrityError, match="changes are a record"), transaction.atomic():
        ConversionStatusChange.objects.filter(pk=change.pk).update(reason="rewritten")
    with pytest.raises(IntegrityError, match="changes are a record"), transaction.atomic():
        ConversionStatusChange.objects.filter(pk=change.pk).delete()
    change.refresh_from_db()
    assert change.reason == "checked"


def test_a_change_that_changes_nothing_cannot_be_recorded():
    with pytest.raises(IntegrityError, match="status_change_changes"), transaction.atomic():
        a_change(ConversionFactory.create(), from_status="approved", to_status="approved")


def test_a_conversion_or_user_with_changes_on_record_cannot_be_deleted():
    change = a_change(ConversionFactory.create())

    with pytest.raises(ProtectedError):
        change.conversion.delete()
    with pytest.raises(ProtectedError):
        change.changed_by.delete()


def test_both_staff_roles_may_change_statuses_and_read_the_changes():
    for name in (ACCOUNT_MANAGER_GROUP, NETWORK_ADMIN_GROUP):
        codenames = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert {"change_conversion_status", "view_conversionstatuschange"} <= codenames
        assert "change_conversionstatuschange" not in codenames


def test_a_conversion_fires_an_endpoint_at_most_once_per_status():
    delivery = DeliveryFactory.create()
    DeliveryFactory.create(
        conversion=delivery.conversion, endpoint=delivery.endpoint, status="reversed"
    )

    twin = {"conversion": delivery.conversion, "endpoint": delivery.endpoint, "status": "reversed"}
    unique = "delivery_unique_conversion_endpoint_status"
    with pytest.raises(IntegrityError, match=unique), transaction.atomic():
        DeliveryFactory.create(**twin)
    assert delivery.status == "approved"


def test_the_database_refuses_a_delivery_status_that_is_not_one():
    with pytest.raises(IntegrityError, match="delivery_status_valid"), transaction.atomic():
        DeliveryFactory.create(status="sale")


def test_an_endpoint_fires_on_approval_only_unless_told_otherwise():
    endpoint = PostbackEndpointFactory.create()

    endpoint.refresh_from_db()
    assert (endpoint.fire_on, endpoint.status_values) == (["approved"], {})


def test_an_endpoint_checks_its_fire_on_and_status_map_when_saved():
    endpoint = PostbackEndpointFactory.create()
    endpoint.fire_on = ["reversed", "approved"]
    endpoint.status_values = {"reversed": "rejected", "approved": "sale"}
    endpoint.full_clean()
    assert endpoint.fire_on == ["approved", "reversed"]

    endpoint.fire_on = []
    endpoint.status_values = {"chargeback": "cb"}
    with pytest.raises(ValidationError) as caught:
        endpoint.full_clean()
    assert caught.value.message_dict == {
        "fire_on": [
            "Choose at least one status to fire on, from pending, approved, rejected, reversed."
        ],
        "status_values": [
            "'chargeback' is not a status; use pending, approved, rejected, reversed."
        ],
    }
