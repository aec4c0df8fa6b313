"""The audit trail names the API token's user for changes made through the management API."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.api.conftest import World

pytestmark = pytest.mark.django_db


def test_an_api_update_of_an_offer_records_the_tokens_user(
    world: World, manage_client: APIClient
) -> None:
    response = manage_client.patch(
        f"/api/v1/offers/{world.offer.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 200, response.content

    latest = world.offer.history.latest()
    assert latest.history_user == User.objects.get(username="account-manager-bot")
    assert latest.diff_against(latest.prev_record).changed_fields == ["is_active"]


def test_an_api_update_of_an_endpoint_records_the_tokens_user_and_its_event_types(
    world: World, manage_client: APIClient
) -> None:
    before = world.endpoint.history.latest()
    response = manage_client.patch(
        f"/api/v1/postback-endpoints/{world.endpoint.pk}/",
        {"status": "disabled", "disabled_reason": "Receiver moved.", "event_types": ["rebill"]},
        format="json",
    )
    assert response.status_code == 200, response.content

    bot = User.objects.get(username="account-manager-bot")
    changes = world.endpoint.history.filter(history_id__gt=before.history_id)
    assert changes and {record.history_user for record in changes} == {bot}
    latest = changes[0]
    assert (latest.status, latest.disabled_reason) == ("disabled", "Receiver moved.")
    assert [t.eventtype.code for t in latest.event_types.all()] == ["rebill"]
    delta = latest.diff_against(before)
    assert {"status", "disabled_reason", "event_types"} <= set(delta.changed_fields)
