"""Mending what went wrong (docs/spec.md §10): replaying deliveries with the endpoint's template as
it is now, and giving an unattributed conversion its affiliate.

Both build on ingest's own pieces (postbacks/services.py): the same renderer, and the same
function that chooses and creates a conversion's deliveries, so a rule about which postbacks a
conversion calls for changes in one place."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Case, CharField, Value, When

from postbacks.macros import TemplateError
from postbacks.models import Delivery
from postbacks.services import Replay, deliveries_replay, endpoint_render

State = Delivery.State


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
            url = endpoint_render(endpoint=delivery.endpoint, conversion=delivery.conversion)
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
