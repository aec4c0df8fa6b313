"""Reads for affiliates and their setup requests."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from affiliates.models import Affiliate, SetupRequest
from config.access import user_sees_all
from offers.models import Offer
from postbacks.macros import TemplateError, validate_template
from postbacks.models import EventType, PostbackEndpoint
from postbacks.preview import sample_url, tracker_from_test_link
from postbacks.tracker import TrackerError, TrackerFormat


def setup_request_reference(*, setup_request: SetupRequest) -> str:
    """The reference an affiliate quotes, e.g. SR-000123."""
    return f"SR-{setup_request.pk:06d}"


def portal_base_url(*, request: HttpRequest) -> str:
    """The portal's public address for links sent out: PORTAL_BASE_URL, or the request's."""
    return settings.PORTAL_BASE_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")


def setup_requests_visible(
    queryset: QuerySet[SetupRequest], *, user: Any
) -> QuerySet[SetupRequest]:
    """The requests `user` may review: those whose network id belongs to one of the user's
    affiliates or to nobody yet (a newcomer, or an affiliate without a manager); all of them for
    superusers and network admins. The network id decides, not the request's affiliate link,
    which is set only on approval or when the affiliate already existed."""
    if user_sees_all(user):
        return queryset
    owned_by_another = Affiliate.objects.filter(
        network_id=OuterRef("network_id"), account_manager__isnull=False
    ).exclude(account_manager=user.pk)
    return queryset.filter(~Exists(owned_by_another))


def event_types_active() -> QuerySet[EventType]:
    return EventType.objects.filter(is_active=True).order_by("code")


def offers_active() -> QuerySet[Offer]:
    return Offer.objects.filter(is_active=True).order_by("name", "network_offer_id")


def offer_for_link_id(*, link_id: int | None) -> Offer | None:
    """The offer a test link points at (its ``id``), for realistic preview amounts."""
    if link_id is None:
        return None
    return Offer.objects.filter(network_offer_id=link_id).first()


@dataclass(frozen=True)
class EndpointBreak:
    """An existing endpoint whose template would not render with a setup request's params."""

    endpoint: PostbackEndpoint
    problem: str


def setup_request_breaks(*, setup_request: SetupRequest) -> list[EndpointBreak]:
    """The existing affiliate's endpoints (disabled ones aside) that approving the request would
    break: their templates use a tracker param the request no longer has."""
    params = list(setup_request.tracker_params or [])
    endpoints = (
        PostbackEndpoint.objects.filter(affiliate__network_id=setup_request.network_id)
        .exclude(status=PostbackEndpoint.Status.DISABLED)
        .select_related("affiliate", "offer")
        .order_by("pk")
    )
    breaks = []
    for endpoint in endpoints:
        try:
            validate_template(endpoint.url_template, params)
        except TemplateError as exc:
            breaks.append(EndpointBreak(endpoint, str(exc)))
    return breaks


@dataclass(frozen=True)
class EndpointDouble:
    """A live endpoint that would fire beside a setup request's new all-offers endpoint."""

    endpoint: PostbackEndpoint
    events: list[str]


def setup_request_doubles(*, network_id: int, event_codes: list[str]) -> list[EndpointDouble]:
    """The affiliate's live endpoints that receive any of ``event_codes``: the new endpoint is for
    all offers, so each of their postbacks would fire twice once both are live."""
    endpoints = (
        PostbackEndpoint.objects.filter(
            affiliate__network_id=network_id,
            status=PostbackEndpoint.Status.LIVE,
            event_types__code__in=event_codes,
        )
        .distinct()
        .select_related("affiliate", "offer")
        .prefetch_related("event_types")
        .order_by("pk")
    )
    return [
        EndpointDouble(e, sorted(t.code for t in e.event_types.all() if t.code in set(event_codes)))
        for e in endpoints
    ]


@dataclass(frozen=True)
class ComparisonRow:
    label: str
    asked: str
    current: str

    @property
    def changes(self) -> bool:
        return bool(self.current) and self.asked != self.current


def setup_request_comparison(*, setup_request: SetupRequest) -> list[ComparisonRow]:
    """What the affiliate asked for next to its current settings, row by row, for review."""
    affiliate = Affiliate.objects.filter(network_id=setup_request.network_id).first()
    meanings = setup_request.tracker_param_descriptions or {}
    asked_params = ", ".join(
        f"{name} ({meanings[name]})" if meanings.get(name) else name
        for name in setup_request.tracker_params
    )
    if affiliate is None:
        return [
            ComparisonRow("Affiliate", f"#{setup_request.network_id}", ""),
            ComparisonRow("Tracker params", asked_params, ""),
            ComparisonRow("Separator", setup_request.tracker_separator, ""),
        ]
    endpoints = PostbackEndpoint.objects.filter(affiliate=affiliate).prefetch_related("event_types")
    endpoint_lines = [
        f"#{e.pk} {e.get_status_display()} {e.method} "
        f"[{', '.join(t.code for t in e.event_types.all())}] {e.url_template}"
        for e in endpoints
    ]
    return [
        ComparisonRow("Affiliate", f"#{setup_request.network_id}", str(affiliate)),
        ComparisonRow(
            "Tracker params",
            ", ".join(setup_request.tracker_params),
            ", ".join(affiliate.tracker_params or []),
        ),
        ComparisonRow("Param meanings", asked_params, ""),
        ComparisonRow("Separator", setup_request.tracker_separator, affiliate.tracker_separator),
        ComparisonRow(
            "Prefix / suffix",
            f"{affiliate.tracker_prefix} / {affiliate.tracker_suffix}",
            f"{affiliate.tracker_prefix} / {affiliate.tracker_suffix}",
        ),
        ComparisonRow("E-mail", setup_request.contact_email, affiliate.email),
        ComparisonRow(
            "Postback endpoints",
            f"new, testing {setup_request.method} {setup_request.url_template}",
            "\n".join(endpoint_lines) or "none",
        ),
    ]


# What an account manager may correct in a new request (affiliates/setup_request_edits.py), by
# the names a person reads in the history and on the review page.
SETUP_REQUEST_EDITABLE = {
    "tracker_params": "tracker params",
    "tracker_separator": "separator",
    "url_template": "postback URL",
    "test_link": "test link",
}


@dataclass(frozen=True)
class SetupRequestEdits:
    """What the affiliate asked for where an account manager has changed it since, and who did."""

    rows: list[ComparisonRow]  # label, asked by the affiliate (asked), as it is now (current)
    editors: list[str]


def _shown(value: object) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def setup_request_edits(*, setup_request: SetupRequest) -> SetupRequestEdits:
    """The affiliate's own ask (the request's first version in its history) beside the request as
    account managers have edited it, so a review never loses what the affiliate sent."""
    versions = setup_request.history.order_by("history_date", "history_id")
    first = versions.first()
    if first is None:
        return SetupRequestEdits(rows=[], editors=[])
    rows = [
        ComparisonRow(label[:1].upper() + label[1:], _shown(getattr(first, field)), _shown(now))
        for field, label in SETUP_REQUEST_EDITABLE.items()
        if (now := getattr(setup_request, field)) != getattr(first, field)
    ]
    edits = versions.filter(history_change_reason__startswith="edited").select_related(
        "history_user"
    )
    editors = list(
        dict.fromkeys(str(v.history_user) if v.history_user else "someone" for v in edits)
    )
    return SetupRequestEdits(rows=rows, editors=editors)


@dataclass(frozen=True)
class PreviewRow:
    event: str
    event_name: str
    url: str = ""
    error: str = ""


def setup_preview_rows(
    *,
    network_id: int,
    event_codes: list[str],
    url_template: str,
    tracker_params: list[str],
    tracker_separator: str,
    test_link: str,
    affiliate: Affiliate | None = None,
    status_values: Mapping[str, str] | None = None,
) -> list[PreviewRow]:
    """The postback URL per event, as a test postback would fire it for the test link (read
    once), with the payout of the offer the link points at. A template or test link that cannot
    be used gives every row its error; an unknown event, its own row."""
    affiliate = affiliate or Affiliate.objects.filter(network_id=network_id).first()
    events = {e.code: e for e in EventType.objects.filter(code__in=event_codes)}
    try:
        validate_template(url_template, tracker_params)
        fmt = TrackerFormat(
            prefix=affiliate.tracker_prefix if affiliate else "trID_",
            suffix=affiliate.tracker_suffix if affiliate else "_trID",
            separator=tracker_separator,
            params=tuple(tracker_params),
        )
        link = tracker_from_test_link(test_link=test_link, fmt=fmt, network_id=network_id)
    except (TemplateError, TrackerError) as exc:
        return [PreviewRow(code, _event_name(events, code), error=str(exc)) for code in event_codes]
    offer = offer_for_link_id(link_id=link.link_id)
    now = timezone.now()
    rows = []
    for code in event_codes:
        event = events.get(code)
        if event is None:
            rows.append(PreviewRow(code, code, error=f"unknown event {code!r}"))
            continue
        try:
            url = sample_url(
                url_template=url_template,
                tracker_params=tracker_params,
                network_id=network_id,
                tracker=link.values,
                offer=offer,
                event=event,
                occurred_at=now,
                status_values=status_values,
            )
        except TemplateError as exc:
            rows.append(PreviewRow(code, event.name, error=str(exc)))
        else:
            rows.append(PreviewRow(code, event.name, url=url))
    return rows


def _event_name(events: dict[str, EventType], code: str) -> str:
    event = events.get(code)
    return event.name if event else code


def setup_initial_from_endpoint(*, affiliate: Affiliate, endpoint_id: str) -> dict[str, Any]:
    """The setup form pre-filled from one of the affiliate's endpoints (a change request from
    its own page); nothing when the id is not one of its endpoints."""
    if not endpoint_id.isdigit() or len(endpoint_id) > 18:
        return {}
    endpoint = PostbackEndpoint.objects.filter(affiliate=affiliate, pk=int(endpoint_id)).first()
    if endpoint is None:
        return {}
    return {
        "url_template": endpoint.url_template,
        "method": endpoint.method,
        "test_link": endpoint.test_link,
        "events": SetupRequest.Events.CHOSEN,
        "event_codes": sorted(endpoint.event_types.values_list("code", flat=True)),
    }
