"""A change of a postback endpoint, from any door (the management API, the endpoint's admin page,
the affiliate page's inline): saved in place, or, for a live endpoint whose change alters what it
fires, made a new endpoint in testing that replaces it (issue 15). The live one keeps firing as it
was until the new one passes a test postback and is set live; endpoints.endpoint_set_live then
disables the old one in the same transaction, so the two never both fire and never neither.
"""

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from config.history import history_record_update
from postbacks.endpoint_secrets import endpoint_secrets_copy
from postbacks.endpoints import (
    LIVE_FROM,
    Status,
    endpoint_disable,
    endpoint_set_live,
    resolve_affiliate,
    resolve_event_types,
    resolve_offer,
)
from postbacks.macros import (
    TemplateError,
    template_by_position,
    template_params_renamed,
    validate_template,
)
from postbacks.models import EventType, PostbackEndpoint

# An endpoint's settings, as the model names them: what the admin's endpoint form edits.
ENDPOINT_SETTINGS = (
    "affiliate",
    "offer",
    "event_types",
    "url_template",
    "method",
    "status",
    "disabled_reason",
    "test_link",
    "fire_on",
    "status_values",
    "success_body",
)
# The same, as the management API names them (endpoint_update): the affiliate and the offer are
# given by their network ids.
ENDPOINT_FIELDS = tuple(
    {"affiliate": "affiliate_id", "offer": "offer_id"}.get(name, name) for name in ENDPOINT_SETTINGS
)
# The fields an update copies as given; the others name rows (affiliate, offer, event types).
_PLAIN_FIELDS = tuple(
    name for name in ENDPOINT_FIELDS if name not in ("affiliate_id", "offer_id", "event_types")
)


# What a live endpoint sends, where and when: whose conversions (affiliate, offer, events), the
# URL, method and custom headers, the statuses it fires on and their words (docs/spec.md §9). A
# change of any of these is made a new endpoint in testing; the live one fires on as it was.
FIRING_FIELDS = (
    "affiliate",
    "offer",
    "event_types",
    "url_template",
    "method",
    "headers",
    "fire_on",
    "status_values",
)
# The fields a change may give (model names; event_types a list of EventType). A revision takes
# each from the change, or else as the live endpoint has it; its status is testing.
CHANGE_FIELDS = (*FIRING_FIELDS, "status", "disabled_reason", "test_link", "success_body")
# The fields of the changed copy endpoint_change starts from: every one a manager sets.
_COPIED = tuple(name for name in CHANGE_FIELDS if name != "event_types")


@dataclass(frozen=True)
class EndpointChange:
    """What endpoint_change did: saved `endpoint` in place; or, for a firing change of a live
    endpoint, left `endpoint` as it was and made `revision`, disabling the earlier revisions
    still waiting for their test (`superseded`, their ids)."""

    endpoint: PostbackEndpoint
    revision: PostbackEndpoint | None = None
    superseded: tuple[int, ...] = ()


def endpoint_change_needs_test(*, was: str, becomes: str, changed: Sequence[str]) -> bool:
    """A live endpoint that stays live and changes what it fires must pass a test first. One
    taken out of live by the same change (draft, testing, disabled) fires nothing meanwhile, so
    it is changed in place."""
    return was == becomes == Status.LIVE and any(name in FIRING_FIELDS for name in changed)


def _firing_facts(
    endpoint: PostbackEndpoint, event_types: Sequence[EventType], params: Sequence[str]
) -> dict[str, object]:
    """What the endpoint fires, comparable: its template by position (macros.py), so a param
    renamed together with the template that uses it is no change of what is sent."""
    try:
        template = template_by_position(endpoint.url_template, params)
    except TemplateError:
        template = endpoint.url_template
    return {
        "affiliate": endpoint.affiliate_id,
        "offer": endpoint.offer_id,
        "event_types": frozenset(event_type.pk for event_type in event_types),
        "url_template": template,
        "method": endpoint.method,
        "headers": endpoint.headers or {},
        "fire_on": frozenset(endpoint.fire_on or ()),
        "status_values": endpoint.status_values or {},
    }


def endpoint_change(
    *,
    endpoint: PostbackEndpoint,
    values: Mapping[str, Any],
    user: Any = None,
    params_before: Sequence[str] | None = None,
) -> EndpointChange:
    """The one way an endpoint is changed (API, change page, the affiliate page's inline).

    `values` by model field name (CHANGE_FIELDS). Checked as a whole, as the endpoint would be.
    A live endpoint that stays live and changes a FIRING_FIELDS field keeps firing as it was:
    the change becomes its revision (endpoint_revise). Anything else is saved in place; an
    endpoint that replaces another goes live only as endpoint_set_live lets it (after a test).

    `params_before`: the affiliate's tracker params the saved template was written for, when
    they change in the same save (the affiliate page), so that a renamed param is read as one.
    """
    unknown = set(values) - set(CHANGE_FIELDS)
    if unknown:
        raise ValueError(f"not endpoint fields: {sorted(unknown)}")
    with transaction.atomic():
        saved = (
            PostbackEndpoint.objects.select_for_update(of=("self",))
            .select_related("affiliate")
            .get(pk=endpoint.pk)
        )
        saved_events = list(saved.event_types.all())
        fields = {name: copy.deepcopy(getattr(saved, name)) for name in _COPIED}
        fields.update((name, value) for name, value in values.items() if name != "event_types")
        wanted = PostbackEndpoint(**fields)
        wanted_events = list(values.get("event_types", saved_events))
        wanted.full_clean()
        params = wanted.affiliate.tracker_params or []
        before = _firing_facts(
            saved, saved_events, params if params_before is None else params_before
        )
        after = _firing_facts(wanted, wanted_events, params)
        changed = [name for name in FIRING_FIELDS if before[name] != after[name]]
        if endpoint_change_needs_test(was=saved.status, becomes=wanted.status, changed=changed):
            change = endpoint_revise(
                endpoint=saved,
                revision=wanted,
                event_types=wanted_events,
                user=user,
                params_before=params_before,
            )
        else:
            _change_in_place(saved, wanted, values, user=user)
            change = EndpointChange(endpoint=saved)
    endpoint.refresh_from_db()
    return change


def _change_in_place(
    saved: PostbackEndpoint, wanted: PostbackEndpoint, values: Mapping[str, Any], *, user: Any
) -> None:
    going_live = (
        wanted.status == Status.LIVE
        and saved.status != Status.LIVE
        and saved.replaces_id is not None
    )
    for name in values:
        if name != "event_types" and not (name == "status" and going_live):
            # As wanted.full_clean() normalised them (statuses in order, headers checked).
            setattr(saved, name, getattr(wanted, name))
    saved.save()
    if "event_types" in values:
        saved.event_types.set(values["event_types"])
    if going_live:
        # The management API may set an endpoint live by its status (docs/spec.md, known gap
        # 9); one that replaces a live endpoint is a tested change of it: set live as the admin
        # does, which stops the one it replaces in the same transaction.
        endpoint_set_live(endpoint=saved, user=user)


def endpoint_revise(
    *,
    endpoint: PostbackEndpoint,
    revision: PostbackEndpoint,
    event_types: Sequence[EventType],
    user: Any = None,
    params_before: Sequence[str] | None = None,
) -> EndpointChange:
    """Save `revision` (unsaved, checked: the live `endpoint` with the change applied) as a new
    endpoint in testing that replaces it. The live one keeps firing as it was until the new one
    passes a test and is set live (endpoint_set_live then disables the old one in the same
    transaction). The revision signs with the live one's secrets. Earlier revisions of the same
    endpoint still waiting are disabled: one change waits at a time, so two never both go live.

    A param renamed in the same save (`params_before`): the live template is rewritten for the
    new name, sending what it sent; one that uses a param now gone is refused.
    """
    revision.status = Status.TESTING
    revision.replaces = endpoint
    with transaction.atomic():
        try:
            kept = live_template_kept(
                template=endpoint.url_template,
                params=endpoint.affiliate.tracker_params or [],
                params_before=params_before,
            )
        except TemplateError as exc:
            raise ValidationError(
                {"url_template": live_endpoint_would_break(endpoint, exc)}
            ) from exc
        if kept != endpoint.url_template:
            endpoint.url_template = kept
            endpoint.save(update_fields=["url_template", "updated_at"])
        revision.save()
        revision.event_types.set(list(event_types))
        endpoint_secrets_copy(source=endpoint, target=revision)
        earlier = list(
            PostbackEndpoint.objects.filter(replaces=endpoint, status__in=list(LIVE_FROM))
            .exclude(pk=revision.pk)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for earlier_id in earlier:
            endpoint_disable(
                endpoint_id=earlier_id, reason=f"superseded by endpoint #{revision.pk}", user=user
            )
        history_record_update(
            instance=endpoint, user=user, reason=f"changed as endpoint #{revision.pk}, in testing"
        )
    return EndpointChange(endpoint=endpoint, revision=revision, superseded=tuple(earlier))


def live_template_kept(
    *, template: str, params: Sequence[str], params_before: Sequence[str] | None
) -> str:
    """A live endpoint's template as it fires on while its change is tested, with the
    affiliate's params as they are now: as it is, or rewritten for a param renamed in the same
    save (`params_before` -> `params`) so it sends what it sent. Raises TemplateError when the
    new params break it (a param it uses is gone)."""
    try:
        validate_template(template, params)
    except TemplateError:
        renamed = None
        if params_before is not None:
            renamed = template_params_renamed(template, old_params=params_before, new_params=params)
        if renamed is None:
            raise
        return renamed
    return template


def live_endpoint_would_break(endpoint: PostbackEndpoint, error: Exception) -> str:
    """Why a firing change of a live endpoint cannot be saved with the affiliate's new params,
    and what to do instead."""
    return (
        f"Endpoint #{endpoint.pk} is live and keeps firing as it is until your change passes a "
        f"test, but the new tracker params break it ({error}). Keep the param until the change "
        "is live, or set this endpoint to disabled in the same save."
    )


def endpoint_update(
    *, endpoint: PostbackEndpoint, data: Mapping[str, Any], user: Any = None
) -> EndpointChange:
    """Change the given fields (names from ENDPOINT_FIELDS, ids as in endpoint_create), through
    endpoint_change: a live endpoint's change of what it fires becomes its revision."""
    unknown = set(data) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ValueError(f"not endpoint fields: {sorted(unknown)}")
    values: dict[str, Any] = {name: data[name] for name in _PLAIN_FIELDS if name in data}
    if "affiliate_id" in data:
        values["affiliate"] = resolve_affiliate(data["affiliate_id"])
    if "offer_id" in data:
        values["offer"] = resolve_offer(data["offer_id"])
    if "event_types" in data:
        values["event_types"] = resolve_event_types(data["event_types"])
    return endpoint_change(endpoint=endpoint, values=values, user=user)
