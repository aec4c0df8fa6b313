"""Reads for the affiliate's own pages. Every read starts from the signed-in affiliate, so no
filter, id or page number can reach another affiliate's rows."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from affiliates.models import Affiliate
from config.api import MAX_ID
from partners.redaction import url_redact
from postbacks.models import Conversion, Delivery, DeliveryAttempt, PostbackEndpoint

LOG_PAGE_SIZE = 50
LOG_MAX_PAGES = 200
EXCERPT_CHARS = 200
FAILED_STATES = (Delivery.State.FAILED, Delivery.State.DEAD)


@dataclass(frozen=True)
class LogFilters:
    event: str = ""
    status: str = ""
    failed_only: bool = False
    day: date | None = None


@dataclass(frozen=True)
class LogRow:
    """One postback as the affiliate sees it: the URL with its secrets redacted."""

    delivery_id: int
    conversion_id: int | None
    created_at: datetime
    event: str
    status: str
    state: str
    url: str
    status_code: int | None
    excerpt: str
    error: str
    latency_ms: int | None
    attempts: int


@dataclass(frozen=True)
class EndpointView:
    """One endpoint as the affiliate sees it: its template with any secret written into it
    redacted, and its last test postback (attempts prefetched)."""

    endpoint: PostbackEndpoint
    template: str
    last_test: Delivery | None
    last_test_url: str


def partner_endpoints(*, affiliate: Affiliate) -> list[EndpointView]:
    """The affiliate's endpoints, oldest first."""
    endpoints = list(
        PostbackEndpoint.objects.filter(affiliate=affiliate)
        .select_related("offer")
        .prefetch_related("event_types")
        .order_by("pk")
    )
    result = []
    for endpoint in endpoints:
        last_test = (
            Delivery.objects.filter(endpoint=endpoint, is_test=True)
            .order_by("-created_at", "-pk")
            .prefetch_related("attempt_log")
            .first()
        )
        result.append(
            EndpointView(
                endpoint=endpoint,
                template=url_redact(endpoint.url_template, keep_macros=True),
                last_test=last_test,
                last_test_url=url_redact(last_test.url) if last_test else "",
            )
        )
    return result


def partner_endpoint(*, affiliate: Affiliate, endpoint_id: int) -> PostbackEndpoint | None:
    """One of the affiliate's endpoints; None for anyone else's, or an id no row can have."""
    if endpoint_id > MAX_ID:
        return None
    return PostbackEndpoint.objects.filter(affiliate=affiliate, pk=endpoint_id).first()


def _affiliate_endpoint_ids(affiliate: Affiliate) -> list[int]:
    return list(
        PostbackEndpoint.objects.filter(affiliate=affiliate)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _log_queryset(*, endpoint_id: int, filters: LogFilters) -> QuerySet[Delivery]:
    since = timezone.now() - timedelta(days=settings.PARTNER_LOG_DAYS)
    queryset = Delivery.objects.filter(
        endpoint_id=endpoint_id, is_test=False, created_at__gte=since
    )
    if filters.event:
        queryset = queryset.filter(conversion__event_type__code=filters.event)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.failed_only:
        queryset = queryset.filter(state__in=FAILED_STATES)
    if filters.day is not None:
        start = timezone.make_aware(datetime.combine(filters.day, time.min))
        queryset = queryset.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    return queryset


def _page_ids(*, affiliate: Affiliate, filters: LogFilters, offset: int, limit: int) -> list[int]:
    """The ids of one page of the log, newest first.

    One ordered, limited read per endpoint, each a range of the (endpoint, -created_at) index,
    merged by UNION ALL: one read over all the endpoints at once would make PostgreSQL walk every
    delivery by date and filter out the other affiliates' ones.
    """
    per_endpoint = [
        _log_queryset(endpoint_id=endpoint_id, filters=filters)
        .order_by("-created_at", "-pk")
        .values_list("created_at", "pk")[: offset + limit]
        for endpoint_id in _affiliate_endpoint_ids(affiliate)
    ]
    if not per_endpoint:
        return []
    merged = per_endpoint[0].union(*per_endpoint[1:], all=True) if len(per_endpoint) > 1 else None
    if merged is None:
        rows = list(per_endpoint[0])[offset : offset + limit]
    else:
        rows = list(merged.order_by("-created_at", "-pk")[offset : offset + limit])
    return [pk for _created_at, pk in rows]


def _row(delivery: Delivery) -> LogRow:
    attempts = list(delivery.attempt_log.all())
    last = max(attempts, key=lambda a: a.number) if attempts else None
    return LogRow(
        delivery_id=delivery.pk,
        conversion_id=delivery.conversion_id,
        created_at=delivery.created_at,
        event=delivery.conversion.event_type.code if delivery.conversion else "",
        status=delivery.status,
        state=delivery.state,
        url=url_redact(delivery.url),
        status_code=last.status_code if last else delivery.last_status_code,
        excerpt=(last.response_excerpt if last else "")[:EXCERPT_CHARS],
        error=(last.error if last else "") or delivery.last_error,
        latency_ms=last.duration_ms if last else None,
        attempts=delivery.attempts,
    )


def partner_log(
    *, affiliate: Affiliate, filters: LogFilters, page: int
) -> tuple[list[LogRow], bool]:
    """One page of the affiliate's postbacks of the last PARTNER_LOG_DAYS days, newest first, and
    whether a next page exists. No COUNT: on an affiliate with millions of rows it would read
    them all; one row more than the page tells whether there is a next one."""
    page = max(1, min(page, LOG_MAX_PAGES))
    ids = _page_ids(
        affiliate=affiliate,
        filters=filters,
        offset=(page - 1) * LOG_PAGE_SIZE,
        limit=LOG_PAGE_SIZE + 1,
    )
    found = (
        Delivery.objects.filter(pk__in=ids[:LOG_PAGE_SIZE])
        .select_related("conversion__event_type")
        .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.all()))
        .in_bulk()
    )
    rows = [_row(found[pk]) for pk in ids[:LOG_PAGE_SIZE] if pk in found]
    return rows, len(ids) > LOG_PAGE_SIZE


def partner_conversion(
    *, affiliate: Affiliate, conversion_id: int
) -> tuple[Conversion, list[LogRow]] | None:
    """One of the affiliate's conversions and its postbacks; None for anyone else's, or an id no
    row can have."""
    if conversion_id > MAX_ID:
        return None
    conversion = (
        Conversion.objects.select_related("event_type", "offer")
        .filter(pk=conversion_id, affiliate=affiliate)
        .first()
    )
    if conversion is None:
        return None
    deliveries = (
        Delivery.objects.filter(conversion=conversion, endpoint__affiliate=affiliate)
        .select_related("conversion__event_type")
        .prefetch_related("attempt_log")
        .order_by("created_at", "pk")
    )
    return conversion, [_row(d) for d in deliveries]


def partner_failed_since(*, affiliate: Affiliate, since: datetime, limit: int) -> list[int]:
    """Ids of the affiliate's failed and dead postbacks created since ``since``, oldest first,
    at most ``limit``."""
    return list(
        Delivery.objects.filter(
            endpoint_id__in=_affiliate_endpoint_ids(affiliate),
            is_test=False,
            state__in=FAILED_STATES,
            created_at__gte=since,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
