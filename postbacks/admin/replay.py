"""Replaying deliveries from the admin: who may, and what the manager is told."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from postbacks import services

# Records stay read-only; replaying one is a change to its delivery.
REPLAY_PERMISSION = "postbacks.change_delivery"


def may_replay(user: Any) -> bool:
    return bool(user.has_perm(REPLAY_PERMISSION))


class ReplaysDeliveries:
    """Replay actions (permissions=["replay"]) are for those who may change deliveries."""

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return may_replay(request.user)


def replay_and_report(
    model_admin: admin.ModelAdmin, request: HttpRequest, delivery_ids: list[int]
) -> None:
    """Hand the deliveries to the replay service and tell the manager what happened."""
    if not delivery_ids:
        model_admin.message_user(request, "No deliveries to replay.", messages.WARNING)
        return
    replay = services.deliveries_replay(delivery_ids=delivery_ids)
    count = len(replay.delivery_ids)
    noun = "delivery" if count == 1 else "deliveries"
    if replay.queued:
        text = f"{count} {noun} queued for replay."
    else:
        text = (
            f"{count} {noun} made due for replay; the queue is unavailable right now, so they "
            "will be sent as soon as it is back."
        )
    skipped = len(delivery_ids) - count
    if skipped:
        text += f" {skipped} skipped: a worker is sending them right now."
    level = messages.SUCCESS if count and replay.queued else messages.WARNING
    model_admin.message_user(request, text, level)
