"""Admin for event types, endpoints and the delivery records (SPEC §2, §4, §6).

Conversions, deliveries and attempts are records: viewable, never edited here. Their tables grow
without bound, so their changelists never count a whole table and search only indexed columns.
"""

from collections.abc import Iterable
from datetime import UTC
from functools import cached_property
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from redis.exceptions import RedisError

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks import services
from postbacks.forms import PostbackEndpointAdminForm, PostbackEndpointInlineFormSet
from postbacks.macros import available_macros, macro_values, render_url
from postbacks.models import Conversion, Delivery, DeliveryAttempt, EventType, PostbackEndpoint
from postbacks.tracker import TrackerError, TrackerFormat, parse_tracker

FIXED_EVENT_CODES = frozenset({"freereg", "trial", "signup", "rebill"})
EXCERPT_PREVIEW = 200


# ------------------------------------------------------------------------------
# Big tables
# ------------------------------------------------------------------------------
class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered big table from PostgreSQL's statistics instead of COUNT(*).

    The estimate (pg_class.reltuples, kept by autovacuum/ANALYZE) is used only when the queryset
    has no WHERE clause and the table is large; filtered lists and small tables are counted.
    """

    exact_below = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        if not queryset.query.where:
            estimate = _table_estimate(queryset.db, queryset.model._meta.db_table)
            if estimate >= self.exact_below:
                return estimate
        return queryset.count()


def _table_estimate(alias: str, table: str) -> int:
    """The planner's row estimate for a table; -1 when unknown (never analysed, or not PG)."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table]
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


class RecordAdmin(admin.ModelAdmin):
    """A record of what happened: viewable, never added or edited through the admin."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _ids(queryset: QuerySet[Any]) -> list[int]:
    return list(queryset.values_list("pk", flat=True))


def _number(term: str) -> int | None:
    """The term as a positive id that fits a bigint column, or None."""
    if term.isdigit() and len(term) <= 18:
        return int(term)
    return None


def _replay(admin_: admin.ModelAdmin, request: HttpRequest, delivery_ids: list[int]) -> None:
    """Hand the deliveries to the replay service and tell the manager what happened."""
    if not delivery_ids:
        admin_.message_user(request, "No deliveries to replay.", messages.WARNING)
        return
    try:
        queued = services.deliveries_replay(delivery_ids=delivery_ids)
    except ValidationError as exc:
        admin_.message_user(request, "; ".join(exc.messages), messages.ERROR)
        return
    except (RedisError, OSError) as exc:
        admin_.message_user(request, f"The queue is unavailable: {exc}", messages.ERROR)
        return
    skipped = len(delivery_ids) - len(queued)
    text = f"{len(queued)} {'delivery' if len(queued) == 1 else 'deliveries'} queued for replay."
    if skipped:
        text += f" {skipped} skipped: a worker is sending them right now."
    admin_.message_user(request, text, messages.SUCCESS if queued else messages.WARNING)


def _error(message: str) -> SafeString:
    return format_html('<span class="errornote" style="display:inline-block">{}</span>', message)


# ------------------------------------------------------------------------------
# Event types and endpoints
# ------------------------------------------------------------------------------
@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Codes are what the ingest API and endpoints refer to; only names are editable.
        return ("code",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.code in FIXED_EVENT_CODES:
            return False
        return super().has_delete_permission(request, obj)


class PostbackEndpointInline(admin.TabularInline):
    model = PostbackEndpoint
    form = PostbackEndpointAdminForm
    formset = PostbackEndpointInlineFormSet
    fields = ("url_template", "offer", "event_types", "method", "status", "test_link")
    autocomplete_fields = ("offer", "event_types")
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostbackEndpoint]:
        return (
            super()
            .get_queryset(request)
            .select_related("affiliate", "offer")
            .prefetch_related("event_types")
        )


def _tracker_in_link(link: str, fmt: TrackerFormat) -> str:
    """The tracker (prefix ... suffix) inside an offer link."""
    start = link.find(fmt.prefix)
    if start == -1:
        raise TrackerError("missing_prefix", f"the test link holds no tracker ({fmt.prefix}...)")
    end = link.find(fmt.suffix, start + len(fmt.prefix))
    if end == -1:
        raise TrackerError("missing_suffix", f"the test link's tracker never ends ({fmt.suffix})")
    return link[start : end + len(fmt.suffix)]


def _sample_network_values(endpoint: PostbackEndpoint) -> dict[str, str]:
    offer = endpoint.offer or Offer(network_offer_id=66013, name="Sample offer", kind="pps")
    event = endpoint.event_types.order_by("code").first() or EventType(code="signup", name="Sale")
    occurred = timezone.now().astimezone(UTC).replace(microsecond=0)
    return {
        "transaction_id": "SAMPLE-TX-1",
        "conversion_id": "0",
        "event": event.code,
        "event_name": event.name,
        "offer_id": str(offer.network_offer_id),
        "offer_name": offer.name,
        "offer_kind": offer.kind,
        "affiliate_id": str(endpoint.affiliate.network_id),
        "amount": str(offer.payout) if offer.payout is not None else "25.00",
        "currency": offer.currency or "USD",
        "timestamp": str(int(occurred.timestamp())),
        "datetime": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def endpoint_sample_url(endpoint: PostbackEndpoint) -> tuple[str, str]:
    """The URL as it would be fired with sample network values, and where its tracker values
    came from. Raises ValueError (TemplateError, TrackerError) naming the problem."""
    affiliate = endpoint.affiliate
    params = list(affiliate.tracker_params or [])
    if endpoint.test_link:
        fmt = affiliate.tracker_format
        raw = _tracker_in_link(endpoint.test_link, fmt)
        tracker = parse_tracker(raw, fmt, network_id=affiliate.network_id)
        source = "tracker values from the test link"
    else:
        tracker = {name: f"sample_{name}" for name in params}
        source = "no test link: tracker values are samples"
    values = macro_values(
        network=_sample_network_values(endpoint), tracker=tracker, tracker_params=params
    )
    return render_url(endpoint.url_template, values), source


@admin.register(PostbackEndpoint)
class PostbackEndpointAdmin(admin.ModelAdmin):
    form = PostbackEndpointAdminForm
    list_display = (
        "id",
        "affiliate",
        "offer_display",
        "events_display",
        "method",
        "status",
        "url_template",
        "updated_at",
    )
    list_display_links = ("id", "affiliate")
    list_filter = ("status", "method", "event_types", "affiliate__account_manager")
    list_select_related = ("affiliate", "offer")
    search_fields = (
        "affiliate__network_id__exact",
        "affiliate__name",
        "url_template",
        "offer__network_offer_id__exact",
    )
    search_help_text = "Affiliate network id (exact) or name, offer id (exact), or URL."
    autocomplete_fields = ("affiliate", "offer", "event_types")
    readonly_fields = ("available_macros_display", "sample_url", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("affiliate", "offer", "event_types", "status", "disabled_reason")}),
        (
            "Postback",
            {"fields": ("url_template", "method", "available_macros_display", "test_link")},
        ),
        ("Preview", {"fields": ("sample_url",)}),
        (None, {"fields": (("created_at", "updated_at"),)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostbackEndpoint]:
        return super().get_queryset(request).prefetch_related("event_types")

    @admin.display(description="Offer")
    def offer_display(self, obj: PostbackEndpoint) -> str:
        return str(obj.offer) if obj.offer else "All offers"

    @admin.display(description="Events")
    def events_display(self, obj: PostbackEndpoint) -> str:
        return ", ".join(sorted(event.code for event in obj.event_types.all())) or "-"

    @admin.display(description="Available macros")
    def available_macros_display(self, obj: PostbackEndpoint | None) -> SafeString:
        params = (obj.affiliate.tracker_params or []) if obj and obj.affiliate_id else []
        rows = format_html_join(
            "",
            "<tr><td><code>{{{}}}</code></td><td>{}</td></tr>",
            available_macros(params).items(),
        )
        note = "" if obj and obj.affiliate_id else "Save to see the affiliate's tracker macros."
        return format_html("<table><tbody>{}</tbody></table>{}", rows, note)

    @admin.display(description="Sample postback URL")
    def sample_url(self, obj: PostbackEndpoint | None) -> SafeString | str:
        if obj is None or obj.pk is None:
            return "Shown once the endpoint is saved."
        try:
            url, source = endpoint_sample_url(obj)
        except ValueError as exc:
            return _error(f"Cannot render a sample: {exc}")
        return format_html("<code>{}</code><br><small>{}</small>", url, source)


# ------------------------------------------------------------------------------
# Records: conversions, deliveries, attempts
# ------------------------------------------------------------------------------
class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = (
        "endpoint",
        "state",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "is_test",
        "url",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return (
            super()
            .get_queryset(request)
            .select_related("endpoint__affiliate", "endpoint__offer")
            .order_by("pk")
        )


@admin.register(Conversion)
class ConversionAdmin(RecordAdmin):
    list_display = (
        "transaction_id",
        "event_type",
        "offer",
        "affiliate",
        "amount",
        "currency",
        "attribution",
        "occurred_at",
        "received_at",
    )
    list_filter = ("attribution", "event_type", "offer__kind", "affiliate__account_manager")
    list_select_related = ("event_type", "offer", "affiliate")
    date_hierarchy = "received_at"
    ordering = ("-received_at",)
    search_fields = ("transaction_id", "affiliate__network_id", "offer__network_offer_id")
    search_help_text = "Transaction id, affiliate network id or offer id (all exact)."
    autocomplete_fields = ("event_type", "offer", "affiliate")
    inlines = (DeliveryInline,)
    actions = ("replay_failed_deliveries",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("transaction_id", "event_type"),
                    ("offer", "affiliate"),
                    ("amount", "currency"),
                    ("occurred_at", "received_at"),
                )
            },
        ),
        (
            "Attribution",
            {"fields": ("attribution", "attribution_error", "tracker_raw", "tracker_values_table")},
        ),
    )
    readonly_fields = ("tracker_values_table",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postbacks.change_delivery")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversion], search_term: str
    ) -> tuple[QuerySet[Conversion], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(transaction_id=term)
        number = _number(term)
        if number is not None:
            match |= Q(pk=number)
            match |= Q(affiliate_id__in=_ids(Affiliate.objects.filter(network_id=number)))
            match |= Q(offer_id__in=_ids(Offer.objects.filter(network_offer_id=number)))
        return queryset.filter(match), False

    @admin.display(description="Tracker values")
    def tracker_values_table(self, obj: Conversion) -> SafeString | str:
        values = obj.tracker_values or {}
        if not values:
            return "-"
        order = list(obj.affiliate.tracker_params or []) if obj.affiliate else []
        names = [name for name in order if name in values]
        names += sorted(name for name in values if name not in order)
        rows = format_html_join(
            "", "<tr><th>{}</th><td><code>{}</code></td></tr>", ((n, values[n]) for n in names)
        )
        return format_html("<table><tbody>{}</tbody></table>", rows)

    @admin.action(description="Replay failed and dead deliveries", permissions=["replay"])
    def replay_failed_deliveries(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> None:
        deliveries = Delivery.objects.filter(
            conversion__in=queryset.values("pk"),
            state__in=[Delivery.State.FAILED, Delivery.State.DEAD],
        )
        _replay(self, request, _ids(deliveries))


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = (
        "number",
        "started_at",
        "duration",
        "status_code",
        "error",
        "trigger",
        "excerpt",
    )
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeliveryAttempt]:
        return super().get_queryset(request).order_by("number")

    @admin.display(description="Duration")
    def duration(self, obj: DeliveryAttempt) -> str:
        return f"{obj.duration_ms} ms"

    @admin.display(description="Response excerpt")
    def excerpt(self, obj: DeliveryAttempt) -> SafeString | str:
        return _excerpt(obj.response_excerpt, limit=EXCERPT_PREVIEW)


def _excerpt(text: str, *, limit: int | None = None) -> SafeString | str:
    """Receivers' answers are hostile text: always escaped, never marked safe as they are."""
    if not text:
        return "-"
    shown = text if limit is None or len(text) <= limit else text[:limit] + "…"
    return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', shown)


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    list_display = (
        "id",
        "conversion",
        "endpoint",
        "state",
        "attempts",
        "last_status_code",
        "is_test",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("state", "is_test", "method", "endpoint__affiliate__account_manager")
    list_select_related = ("conversion__event_type", "endpoint__affiliate", "endpoint__offer")
    ordering = ("-created_at",)
    search_fields = ("id", "conversion__transaction_id", "endpoint__url_template")
    search_help_text = (
        "Delivery id, transaction id or affiliate network id (exact), or part of the endpoint URL."
    )
    autocomplete_fields = ("conversion", "endpoint")
    inlines = (DeliveryAttemptInline,)
    actions = ("replay_selected",)
    fieldsets = (
        (None, {"fields": (("conversion", "endpoint"), ("method", "is_test"), "url")}),
        (
            "State",
            {
                "fields": (
                    ("state", "attempts"),
                    ("last_status_code", "last_error"),
                    ("next_attempt_at", "completed_at"),
                    ("enqueued_at", "locked_until"),
                    ("created_at", "updated_at"),
                )
            },
        ),
    )
    readonly_fields = ("created_at", "updated_at")

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postbacks.change_delivery")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Delivery], search_term: str
    ) -> tuple[QuerySet[Delivery], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        conversions = Conversion.objects.filter(transaction_id=term)
        endpoints = PostbackEndpoint.objects.filter(url_template__icontains=term)
        match = Q(conversion_id__in=_ids(conversions))
        number = _number(term)
        if number is not None:
            match |= Q(pk=number)
            endpoints = endpoints | PostbackEndpoint.objects.filter(affiliate__network_id=number)
        match |= Q(endpoint_id__in=_ids(endpoints))
        return queryset.filter(match), False

    @admin.action(description="Replay selected deliveries", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        _replay(self, request, _ids(queryset))


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(RecordAdmin):
    list_display = (
        "id",
        "delivery",
        "number",
        "started_at",
        "duration",
        "status_code",
        "error",
        "trigger",
    )
    list_filter = ("trigger",)
    list_select_related = ("delivery",)
    ordering = ("-started_at",)
    search_fields = ("delivery__id", "delivery__conversion__transaction_id")
    search_help_text = "Delivery id or transaction id (exact)."
    autocomplete_fields = ("delivery",)
    fields = (
        "delivery",
        ("number", "trigger"),
        ("started_at", "duration"),
        "status_code",
        "error",
        "excerpt",
    )
    readonly_fields = ("duration", "excerpt")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[DeliveryAttempt], search_term: str
    ) -> tuple[QuerySet[DeliveryAttempt], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        conversions = Conversion.objects.filter(transaction_id=term)
        deliveries: Iterable[int] = _ids(Delivery.objects.filter(conversion__in=conversions))
        match = Q(delivery_id__in=deliveries)
        number = _number(term)
        if number is not None:
            match |= Q(delivery_id=number)
        return queryset.filter(match), False

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, obj: DeliveryAttempt) -> str:
        return f"{obj.duration_ms} ms"

    @admin.display(description="Response excerpt")
    def excerpt(self, obj: DeliveryAttempt) -> SafeString | str:
        return _excerpt(obj.response_excerpt)
