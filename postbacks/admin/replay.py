"""Replaying deliveries from the admin: who may, and what the manager is told."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from postbacks import mending

# Records stay read-only; replaying one is a change to its delivery.
REPLAY_PERMISSION = "postbacks.change_delivery"


def may_replay(user: Any) -> bool:
    return bool(user.has_perm(REPLAY_PERMISSION))


class ReplaysDeliveries:
    """Replay actions (permissions=["replay"]) are for those who may change deliveries."""

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return may_replay(request.user)


def replay_and_report(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    delivery_ids: list[int],
    *,
    rerender: bool = False,
) -> None:
    """Hand the deliveries to the replay service (with `rerender`, the one that renders their URL
    again from the current template) and tell the manager what happened."""
    if not delivery_ids:
        model_admin.message_user(request, "No deliveries to replay.", messages.WARNING)
        return
    refused: dict[int, str] = {}
    if rerender:
        rerendered = mending.deliveries_replay_rerendered(delivery_ids=delivery_ids)
        replay, refused = rerendered.replay, rerendered.refused
    else:
        replay = mending.deliveries_replay(delivery_ids=delivery_ids)
    for pk, reason in refused.items():
        model_admin.message_user(request, f"Delivery #{pk} not replayed: {reason}.", messages.ERROR)
    count = len(replay.delivery_ids)
    noun = "delivery" if count == 1 else "deliveries"
    if replay.queued:
        text = f"{count} {noun} queued for replay."
    else:
        text = (
            f"{count} {noun} made due for replay; the queue is unavailable right now, so they "
            "will be sent as soon as it is back."
        )
    skipped = len(delivery_ids) - count - len(refused)
    if skipped:
        text += f" {skipped} skipped: a worker is sending them right now."
    level = messages.SUCCESS if count and replay.queued else messages.WARNING
    model_admin.message_user(request, text, level)
