"""Postback endpoints: their creation and deletion, validated as the admin validates them
(docs/spec.md §2, §4), and every change of their status. The admin, its form, the API and the
circuit breaker call these; a change of an endpoint's fields is postbacks/endpoint_changes.py's.

The API names an endpoint's affiliate by its network id, its offer by the network offer id (none:
all offers) and its event types by their codes; these are resolved here.

Status: an endpoint is written as draft or testing; it goes live through endpoint_set_live, once
its latest test postback got a 2xx answer; the circuit breaker (or a manager) disables a live one
with the reason. (The management API may still write any status, live included.)
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from affiliates.models import Affiliate
from config.history import history_record_update
from config.services import delete_or_refuse
from offers.models import Offer
from postbacks import lifecycle
from postbacks.models import Delivery, EventType, PostbackEndpoint

logger = logging.getLogger(__name__)

Status = PostbackEndpoint.Status
# The statuses an endpoint may be set live from; a disabled one goes back to testing first.
LIVE_FROM: Sequence[str] = (Status.DRAFT, Status.TESTING)


def resolve_affiliate(network_id: int) -> Affiliate:
    affiliate = Affiliate.objects.filter(network_id=network_id).first()
    if affiliate is None:
        raise ValidationError({"affiliate_id": f"Unknown affiliate {network_id}."})
    return affiliate


def resolve_offer(network_offer_id: int | None) -> Offer | None:
    if network_offer_id is None:
        return None
    offer = Offer.objects.filter(network_offer_id=network_offer_id).first()
    if offer is None:
        raise ValidationError({"offer_id": f"Unknown offer {network_offer_id}."})
    return offer


def resolve_event_types(codes: Sequence[str]) -> list[EventType]:
    if not codes:
        raise ValidationError({"event_types": "Choose at least one event type."})
    found = list(EventType.objects.filter(code__in=list(codes)))
    unknown = sorted(set(codes) - {event_type.code for event_type in found})
    if unknown:
        listing = ", ".join(repr(code) for code in unknown)
        raise ValidationError({"event_types": f"Unknown event type {listing}."})
    return found


def _endpoint_save(endpoint: PostbackEndpoint, event_types: list[EventType] | None) -> None:
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save()
        if event_types is not None:
            endpoint.event_types.set(event_types)


def endpoint_create(
    *,
    affiliate_id: int,
    event_types: Sequence[str],
    url_template: str,
    offer_id: int | None = None,
    method: str = PostbackEndpoint.Method.GET,
    status: str = PostbackEndpoint.Status.DRAFT,
    disabled_reason: str = "",
    test_link: str = "",
    fire_on: Sequence[str] = lifecycle.DEFAULT_FIRE_ON,
    status_values: Mapping[str, str] | None = None,
    replaces_id: int | None = None,
    success_body: str = "",
) -> PostbackEndpoint:
    """A new endpoint; its template is checked against the affiliate's tracker params, the
    statuses it fires on and their words by the lifecycle's rules. ``replaces_id``: a live
    endpoint it takes over from when it is set live."""
    endpoint = PostbackEndpoint(
        replaces_id=replaces_id,
        affiliate=resolve_affiliate(affiliate_id),
        offer=resolve_offer(offer_id),
        url_template=url_template,
        method=method,
        status=status,
        disabled_reason=disabled_reason,
        test_link=test_link,
        fire_on=list(fire_on),
        status_values=dict(status_values or {}),
        success_body=success_body,
    )
    _endpoint_save(endpoint, resolve_event_types(event_types))
    return endpoint


def endpoint_delete(*, endpoint: PostbackEndpoint) -> None:
    """Delete an endpoint that never had a delivery; one with deliveries keeps its history."""
    delete_or_refuse(
        endpoint,
        refusal=f"Postback endpoint #{endpoint.pk} has deliveries and cannot be deleted; "
        "disable it instead.",
    )


# ------------------------------------------------------------------------------
# Status
# ------------------------------------------------------------------------------
def endpoint_status_check(*, was: str | None, status: str) -> None:
    """The status a manager may pick for an endpoint that has status ``was`` (None: a new one):
    any but live, unless it is live already. Going live is endpoint_set_live's."""
    if status == Status.LIVE and was != Status.LIVE:
        raise ValidationError(
            "An endpoint goes live with “Set live”, once a test postback got a 2xx answer: "
            "save it as testing, send a test postback, then press Set live."
        )


def _latest_test_state() -> Subquery:
    return Subquery(
        Delivery.objects.filter(endpoint=OuterRef("pk"), is_test=True)
        .order_by("-created_at", "-pk")
        .values("state")[:1]
    )


def endpoint_can_go_live(*, endpoint: PostbackEndpoint) -> bool:
    """Draft or testing, and its latest test postback succeeded."""
    return (
        PostbackEndpoint.objects.annotate(latest_test=_latest_test_state())
        .filter(pk=endpoint.pk, status__in=list(LIVE_FROM), latest_test=Delivery.State.SUCCEEDED)
        .exists()
    )


def endpoint_set_live(*, endpoint: PostbackEndpoint, user: Any = None) -> PostbackEndpoint:
    """Draft/testing -> live, only when the endpoint's latest test postback succeeded.

    One guarded UPDATE: a test that fails meanwhile, or another manager's change of status,
    makes it refuse rather than go live on stale facts.
    """
    with transaction.atomic():
        won = (
            PostbackEndpoint.objects.annotate(latest_test=_latest_test_state())
            .filter(
                pk=endpoint.pk, status__in=list(LIVE_FROM), latest_test=Delivery.State.SUCCEEDED
            )
            .update(status=Status.LIVE, disabled_reason="", updated_at=timezone.now())
        )
        if won:
            history_record_update(
                instance=endpoint, user=user, reason="set live after a successful test postback"
            )
            # The endpoint it replaces stops in the same transaction: never both, never neither.
            replaces_id = (
                PostbackEndpoint.objects.filter(pk=endpoint.pk)
                .values_list("replaces_id", flat=True)
                .get()
            )
            if replaces_id is not None:
                endpoint_disable(
                    endpoint_id=replaces_id,
                    reason=f"replaced by endpoint #{endpoint.pk}",
                    user=user,
                )
    if won:
        logger.info(
            "endpoint %s set live by %s", endpoint.pk, getattr(user, "username", None) or "api"
        )
        return endpoint
    endpoint.refresh_from_db()
    if endpoint.status == Status.LIVE:
        raise ValidationError("The endpoint is already live.")
    if endpoint.status not in LIVE_FROM:
        raise ValidationError(
            f"A {endpoint.get_status_display().lower()} endpoint cannot be set live directly; "
            "set it to testing first."
        )
    raise ValidationError(
        "Send a test postback that succeeds (the receiver answers 2xx) before setting the "
        "endpoint live: its latest test did not succeed."
    )


def endpoint_disable(*, endpoint_id: int, reason: str, user: Any = None) -> bool:
    """Draft, testing or live -> disabled with the reason (a manager's choice, e.g. while
    approving a setup request that changes the tracker its template uses). Guarded: False when
    it was disabled already."""
    changed = (
        PostbackEndpoint.objects.filter(pk=endpoint_id)
        .exclude(status=Status.DISABLED)
        .update(status=Status.DISABLED, disabled_reason=reason[:500], updated_at=timezone.now())
    )
    if changed:
        history_record_update(
            instance=PostbackEndpoint(pk=endpoint_id), user=user, reason=f"disabled: {reason}"
        )
    return bool(changed)


def endpoint_disable_live(
    *, endpoint_id: int, reason: str, history_reason: str, user: Any = None
) -> bool:
    """Live -> disabled with the reason, its failure streak restarted. Guarded: only a live
    endpoint is disabled, once, whoever else is looking at it. False when it was not live."""
    now = timezone.now()
    changed = PostbackEndpoint.objects.filter(pk=endpoint_id, status=Status.LIVE).update(
        status=Status.DISABLED,
        disabled_reason=reason,
        failure_streak=0,
        failing_since=None,
        updated_at=now,
    )
    if changed:
        history_record_update(
            instance=PostbackEndpoint(pk=endpoint_id), user=user, reason=history_reason
        )
    return bool(changed)
