"""Mending what went wrong (docs/spec.md §6, §10): replaying deliveries (as they were sent, or
with the endpoint's template as it is now), and giving an unattributed conversion its affiliate.

Both build on ingest's own pieces (postbacks/services.py): the same renderer, and the same
function that chooses and creates a conversion's deliveries, so a rule about which postbacks a
conversion calls for changes in one place."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, CharField, Value, When
from django.utils import timezone

from config.history import history_record_update
from postbacks.conversion_postbacks import endpoint_render
from postbacks.delivery.queue import enqueue_ids
from postbacks.macros import TemplateError
from postbacks.models import Conversion, Delivery
from postbacks.services import (
    AffiliateBook,
    conversion_deliveries_create,
    conversion_quiet_notes,
)

State = Delivery.State


@dataclass(frozen=True)
class Replay:
    delivery_ids: list[int]
    # False when the queue is away: the deliveries are due and the sweep sends them once it is back.
    queued: bool


def deliveries_replay(*, delivery_ids: Sequence[int]) -> Replay:
    """Account managers' replay (docs/spec.md §6): the deliveries are due now whatever their state
    (but one a worker holds right now), then handed to the queue."""
    now = timezone.now()
    ids = list(
        Delivery.objects.filter(pk__in=list(delivery_ids))
        .exclude(state=Delivery.State.SENDING)
        .values_list("pk", flat=True)
    )
    Delivery.objects.filter(pk__in=ids).exclude(state=Delivery.State.SENDING).update(
        state=Delivery.State.PENDING,
        next_attempt_at=now,
        completed_at=None,
        enqueued_at=now,
        updated_at=now,
    )
    return Replay(delivery_ids=ids, queued=enqueue_ids(ids, trigger="manual"))


@dataclass(frozen=True)
class RerenderedReplay:
    replay: Replay
    # Deliveries left as they were, by id, with the reason (a template that cannot render now,
    # a test postback, which has no conversion to render from).
    refused: dict[int, str] = field(default_factory=dict)


def deliveries_replay_rerendered(*, delivery_ids: Sequence[int]) -> RerenderedReplay:
    """Replay with the current URL: each delivery's URL (and method) rendered again from its
    endpoint's template as it is now, then replayed as `deliveries_replay` does. The attempts
    made before keep the URL they sent (DeliveryAttempt.url); a delivery whose template cannot
    render now is not replayed, so a broken template never sends a half-made URL."""
    deliveries = (
        Delivery.objects.filter(pk__in=list(delivery_ids))
        .exclude(state=State.SENDING)
        .select_related(
            "endpoint__affiliate",
            "conversion__event_type",
            "conversion__offer",
            "conversion__affiliate",
        )
        .order_by("pk")
    )
    urls: dict[int, tuple[str, str]] = {}
    refused: dict[int, str] = {}
    for delivery in deliveries:
        if delivery.conversion is None:
            refused[delivery.pk] = "a test postback: send a new test from its endpoint instead"
            continue
        try:
            conversion = delivery.conversion
            # The status this delivery tells of; its reason is known while it is still current.
            reason = conversion.status_reason if conversion.status == delivery.status else ""
            url = endpoint_render(
                endpoint=delivery.endpoint,
                conversion=conversion,
                status=delivery.status,
                reason=reason,
            )
        except TemplateError as exc:
            refused[delivery.pk] = f"the template cannot be rendered now: {exc}"
            continue
        urls[delivery.pk] = (url, delivery.endpoint.method)
    if urls:
        # One statement for the whole selection; one a worker took meanwhile keeps its URL for
        # this attempt (and is skipped by the replay as well).
        Delivery.objects.filter(pk__in=list(urls)).exclude(state=State.SENDING).update(
            url=Case(
                *(When(pk=pk, then=Value(url)) for pk, (url, _) in urls.items()),
                output_field=CharField(),
            ),
            method=Case(
                *(When(pk=pk, then=Value(method)) for pk, (_, method) in urls.items()),
                output_field=CharField(),
            ),
        )
    return RerenderedReplay(replay=deliveries_replay(delivery_ids=list(urls)), refused=refused)


class AlreadyAttributed(Exception):
    """The conversion has its affiliate: re-attribution is for unattributed ones only."""

    def __init__(self, conversion: Conversion) -> None:
        self.conversion = conversion
        affiliate = conversion.affiliate
        who = f"affiliate {affiliate.network_id}" if affiliate else "an affiliate"
        super().__init__(f"Conversion {conversion.pk} is already attributed to {who}.")


@dataclass(frozen=True)
class Attributed:
    conversion: Conversion
    delivery_ids: list[int]
    # Why nothing fires, when nothing does (as ingest's notes say it).
    notes: list[str] = field(default_factory=list)


def conversion_attribute(
    *, conversion_id: int, affiliate_id: int, tracker: str | None = None, user: Any = None
) -> Attributed:
    """Give an unattributed conversion its affiliate (network id `affiliate_id`) and, when given,
    a corrected tracker: the tracker is parsed again as ingest parses it, the deliveries it calls
    for are created once, and the change is kept in the conversion's history by `user`.

    Raises Conversion.DoesNotExist; ValidationError (unknown affiliate, a tracker that does not
    parse for it: nothing is written); AlreadyAttributed, also for the loser of two attributions
    at the same moment (one guarded UPDATE ... WHERE affiliate IS NULL decides)."""
    conversion = Conversion.objects.select_related("event_type", "offer", "affiliate").get(
        pk=conversion_id
    )
    if conversion.affiliate_id is not None:
        raise AlreadyAttributed(conversion)
    raw = conversion.tracker_raw if tracker is None else tracker
    attribution = AffiliateBook(trackers=[(raw, affiliate_id)]).attribute(
        tracker=raw, affiliate_id=affiliate_id
    )
    if attribution.affiliate is None:
        unknown = attribution.error.startswith("unknown affiliate")
        where = "affiliate_id" if unknown else "tracker"
        raise ValidationError({where: attribution.error})
    before = (conversion.tracker_raw, conversion.attribution_error)
    with transaction.atomic():
        won = Conversion.objects.filter(pk=conversion.pk, affiliate__isnull=True).update(
            affiliate=attribution.affiliate,
            tracker_raw=raw,
            tracker_values=attribution.values,
            attribution=Conversion.Attribution.ATTRIBUTED,
            attribution_error="",
        )
        if not won:
            conversion.refresh_from_db()
            raise AlreadyAttributed(conversion)
        conversion.affiliate = attribution.affiliate
        conversion.tracker_raw = raw
        conversion.tracker_values = attribution.values
        conversion.attribution = Conversion.Attribution.ATTRIBUTED
        conversion.attribution_error = ""
        delivery_ids = conversion_deliveries_create(conversion=conversion, now=timezone.now())
        reason = f"attributed to affiliate {affiliate_id} (was unattributed: {before[1]})"
        if raw != before[0]:
            reason += f"; tracker {before[0]!r} corrected to {raw!r}"
        history_record_update(instance=conversion, user=user, reason=reason)
    notes = [] if delivery_ids else conversion_quiet_notes(conversion=conversion)
    return Attributed(conversion=conversion, delivery_ids=delivery_ids, notes=notes)
