"""Admin for the delivery records: conversions, deliveries and their attempts.

They are records: viewable, never edited here. Their tables grow without bound, so their
changelists never count a whole table and search only indexed columns (config/admin_tools.py).
"""

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.safestring import SafeString

from affiliates.models import Affiliate
from config.admin_tools import (
    ExportableRecordAdmin,
    ManagedRowsAdmin,
    ReadOnlyInline,
    RecordAdmin,
    ids_of,
)
from config.history_admin import HistoryAdmin
from offers.models import Offer
from postbacks import exports, lifecycle
from postbacks.admin.attribution import AttributesConversions
from postbacks.admin.replay import ReplaysDeliveries, replay_and_report
from postbacks.admin.status import ChangesStatuses
from postbacks.models import (
    Conversion,
    ConversionStatusChange,
    Delivery,
    DeliveryAttempt,
    PostbackEndpoint,
)

EXCERPT_PREVIEW = 200
# An attempt's columns on the attempts list and in the list of a delivery's attempts.
ATTEMPT_COLUMNS = ("number", "started_at", "duration", "status_code", "error", "trigger")


def response_excerpt(text: str, *, limit: int | None = None) -> SafeString:
    """Receivers' answers are hostile text: always escaped, never marked safe as they are."""
    shown = text if limit is None or len(text) <= limit else text[:limit] + "…"
    return render_to_string("admin/postbacks/_response_excerpt.html", {"text": shown})


class AttemptColumns:
    """An attempt's duration and its receiver's answer, on the attempt page and in the delivery
    page's list of attempts (which cuts the answer at `excerpt_limit` characters)."""

    excerpt_limit: int | None = None

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, obj: DeliveryAttempt) -> str:
        return f"{obj.duration_ms} ms"

    @admin.display(description="Response excerpt")
    def excerpt(self, obj: DeliveryAttempt) -> SafeString:
        return response_excerpt(obj.response_excerpt, limit=self.excerpt_limit)


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = (
        "endpoint",
        "status",
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


class StatusChangeInline(ReadOnlyInline):
    """The conversion's status history, oldest first: a record, shown as it was written."""

    model = ConversionStatusChange
    verbose_name = "status change"
    fields = ("changed_at", "from_status", "to_status", "reason", "changed_by", "source")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConversionStatusChange]:
        return super().get_queryset(request).select_related("changed_by").order_by("id")


@admin.register(Conversion)
class ConversionAdmin(
    ChangesStatuses,
    ReplaysDeliveries,
    AttributesConversions,
    ManagedRowsAdmin,
    ExportableRecordAdmin,
    HistoryAdmin,
):
    export = staticmethod(exports.conversions_export)
    change_form_template = "admin/postbacks/conversion/change_form.html"
    # Unattributed conversions are nobody's yet: every manager may pick them up (docs/spec.md §3).
    manager_path = "affiliate__account_manager"
    unowned_path = "affiliate"
    list_display = (
        "transaction_id",
        "event_type",
        "offer",
        "affiliate",
        "amount",
        "currency",
        "attribution",
        "status",
        "occurred_at",
        "received_at",
    )
    list_filter = (
        "status",
        "attribution",
        "event_type",
        "offer__kind",
        "affiliate__account_manager",
    )
    list_select_related = ("event_type", "offer", "affiliate")
    date_hierarchy = "received_at"
    ordering = ("-received_at",)
    search_fields = ("transaction_id", "affiliate__network_id", "offer__network_offer_id")
    search_help_text = "Transaction id, affiliate network id or offer id (all exact)."
    autocomplete_fields = ("event_type", "offer", "affiliate")
    inlines = (StatusChangeInline, DeliveryInline)
    actions = (
        "replay_failed_deliveries",
        "approve_selected",
        "reject_selected",
        "reverse_selected",
    )
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
        ("Status", {"fields": ("status", "status_reason", "status_changed_at")}),
        (
            "Attribution",
            {"fields": ("attribution", "attribution_error", "tracker_raw", "tracker_values_table")},
        ),
    )
    readonly_fields = ("tracker_values_table",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def search_match(self, term: str, number: int | None) -> Q:
        match = Q(transaction_id=term)
        if number is not None:
            match |= Q(pk=number)
            match |= Q(affiliate_id__in=ids_of(Affiliate.objects.filter(network_id=number)))
            match |= Q(offer_id__in=ids_of(Offer.objects.filter(network_offer_id=number)))
        return match

    @admin.display(description="Tracker values")
    def tracker_values_table(self, obj: Conversion) -> SafeString | str:
        values = obj.tracker_values or {}
        if not values:
            return "-"
        order = list(obj.affiliate.tracker_params or []) if obj.affiliate else []
        names = [name for name in order if name in values]
        names += sorted(name for name in values if name not in order)
        return render_to_string(
            "admin/postbacks/conversion/_tracker_values.html",
            {"values": [(name, values[name]) for name in names]},
        )

    @admin.action(description="Replay failed and dead deliveries", permissions=["replay"])
    def replay_failed_deliveries(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> None:
        deliveries = Delivery.objects.filter(
            conversion__in=queryset.values("pk"),
            state__in=[Delivery.State.FAILED, Delivery.State.DEAD],
        )
        replay_and_report(self, request, ids_of(deliveries))

    @admin.action(description="Approve the selected conversions…", permissions=["change_status"])
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> TemplateResponse | None:
        return self.status_action(request, queryset, status=lifecycle.APPROVED)

    @admin.action(description="Reject the selected conversions…", permissions=["change_status"])
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> TemplateResponse | None:
        return self.status_action(request, queryset, status=lifecycle.REJECTED)

    @admin.action(description="Reverse the selected conversions…", permissions=["change_status"])
    def reverse_selected(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> TemplateResponse | None:
        return self.status_action(request, queryset, status=lifecycle.REVERSED)


class DeliveryAttemptInline(AttemptColumns, ReadOnlyInline):
    model = DeliveryAttempt
    fields = (*ATTEMPT_COLUMNS, "sent_to", "excerpt")
    readonly_fields = fields
    show_change_link = True
    excerpt_limit = EXCERPT_PREVIEW

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeliveryAttempt]:
        return super().get_queryset(request).select_related("delivery").order_by("number")

    @admin.display(description="Sent to")
    def sent_to(self, obj: DeliveryAttempt) -> str:
        # Only a URL that differs from the delivery's (a replay with the current URL) is spelt
        # out: the same long URL on every row would hide the one that matters.
        if not obj.url or obj.url == obj.delivery.url:
            return "the URL above"
        return obj.url


@admin.register(Delivery)
class DeliveryAdmin(ReplaysDeliveries, ManagedRowsAdmin, ExportableRecordAdmin):
    export = staticmethod(exports.deliveries_export)
    manager_path = "endpoint__affiliate__account_manager"
    list_display = (
        "id",
        "conversion",
        "endpoint",
        "status",
        "state",
        "attempts",
        "last_status_code",
        "is_test",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("state", "status", "is_test", "method", "endpoint__affiliate__account_manager")
    list_select_related = ("conversion__event_type", "endpoint__affiliate", "endpoint__offer")
    ordering = ("-created_at",)
    search_fields = ("id", "conversion__transaction_id", "endpoint__url_template")
    search_help_text = (
        "Delivery id, transaction id or affiliate network id (exact), or part of the endpoint URL."
    )
    autocomplete_fields = ("conversion", "endpoint")
    inlines = (DeliveryAttemptInline,)
    actions = ("replay_selected", "replay_with_current_url")
    fieldsets = (
        (None, {"fields": (("conversion", "endpoint"), ("status", "method", "is_test"), "url")}),
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

    def search_match(self, term: str, number: int | None) -> Q:
        conversions = Conversion.objects.filter(transaction_id=term)
        endpoints = PostbackEndpoint.objects.filter(url_template__icontains=term)
        match = Q(conversion_id__in=ids_of(conversions))
        if number is not None:
            match |= Q(pk=number)
            endpoints = endpoints | PostbackEndpoint.objects.filter(affiliate__network_id=number)
        return match | Q(endpoint_id__in=ids_of(endpoints))

    @admin.action(description="Replay selected deliveries", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        replay_and_report(self, request, ids_of(queryset))

    @admin.action(description="Replay with the current URL", permissions=["replay"])
    def replay_with_current_url(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        """For a fixed endpoint: the URL is rendered again from its template as it is now; the
        attempts made before keep the URL they sent."""
        replay_and_report(self, request, ids_of(queryset), rerender=True)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(AttemptColumns, ManagedRowsAdmin, RecordAdmin):
    manager_path = "delivery__endpoint__affiliate__account_manager"
    list_display = ("id", "delivery", *ATTEMPT_COLUMNS)
    list_filter = ("trigger",)
    list_select_related = ("delivery",)
    ordering = ("-started_at",)
    search_fields = ("delivery__id", "delivery__conversion__transaction_id")
    search_help_text = "Delivery id or transaction id (exact)."
    autocomplete_fields = ("delivery",)
    fields = (
        "delivery",
        ("number", "trigger"),
        "url",
        ("started_at", "duration"),
        "status_code",
        "error",
        "excerpt",
    )
    readonly_fields = ("duration", "excerpt")

    def search_match(self, term: str, number: int | None) -> Q:
        conversions = Conversion.objects.filter(transaction_id=term)
        match = Q(delivery_id__in=ids_of(Delivery.objects.filter(conversion__in=conversions)))
        if number is not None:
            match |= Q(delivery_id=number)
        return match
