"""Admin for event types, endpoints and the delivery records (SPEC §2, §4, §6).

Conversions, deliveries and attempts are records: viewable, never edited here. Their tables grow
without bound, so their changelists never count a whole table and search only indexed columns.
"""

from collections.abc import Iterable
from functools import cached_property
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ALL_VAR, PAGE_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from affiliates.models import Affiliate
from config.access import managed_queryset, user_sees_all
from config.admin_tools import ManagedRowsAdmin, object_for_change
from config.history_admin import HistoryAdmin
from offers.models import Offer
from postbacks import dashboard, exports, probes, services
from postbacks.endpoints import endpoint_can_go_live, endpoint_set_live
from postbacks.forms import (
    EndpointPreviewForm,
    PostbackEndpointAdminForm,
    PostbackEndpointInlineFormSet,
)
from postbacks.macros import available_macros
from postbacks.models import Conversion, Delivery, DeliveryAttempt, EventType, PostbackEndpoint
from postbacks.preview import Preview, endpoint_preview, template_preview

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


class ExportableRecordAdmin(RecordAdmin):
    """A record admin whose changelist has an "Export CSV" button: it streams the rows the list
    shows now, with its filters, search and date drill-down, every page (postbacks/exports.py)."""

    export: Any = None  # exports.conversions_export or exports.deliveries_export

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        wrap = self.admin_site.admin_view
        return [
            path(
                "export/",
                wrap(self.export_view),
                name=f"{opts.app_label}_{opts.model_name}_export",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # The changelist's own parsing of the query string, without its paging.
        params: QueryDict = request.GET.copy()
        for var in (PAGE_VAR, ALL_VAR):
            params.pop(var, None)
        request.GET = params  # type: ignore[assignment]
        changelist = self.get_changelist_instance(request)
        return self.export(queryset=changelist.queryset)


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
    admin_.message_user(request, text, level)


def _affiliates_of(request: HttpRequest) -> QuerySet[Affiliate]:
    """The affiliates this user may attach endpoints to (config/access.py)."""
    return managed_queryset(
        Affiliate.objects.all(), user=request.user, manager_path="account_manager"
    )


def _error(message: str) -> SafeString:
    return format_html('<span class="errornote errornote-inline">{}</span>', message)


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


def _preview_html(preview: Preview) -> SafeString:
    """The live preview's first render; static/postbacks/endpoint_preview.js keeps it current."""
    if preview.error:
        body = _error(f"Cannot render a sample: {preview.error}")
    else:
        rows = format_html_join(
            "",
            "<li><strong>{}</strong> ({}): <code>{}</code></li>",
            ((u.event, u.event_name, u.url) for u in preview.urls),
        )
        body = format_html(
            '<ul class="postback-preview-urls">{}</ul><small>{}</small>', rows, preview.source
        )
    return body


def _macros_rows(macros: dict[str, str]) -> SafeString:
    return format_html_join("", "<tr><td><code>{{{}}}</code></td><td>{}</td></tr>", macros.items())


def _result_cell(attempt: DeliveryAttempt | None, delivery: Delivery) -> SafeString:
    code = attempt.status_code if attempt and attempt.status_code is not None else "-"
    state = "succeeded" if delivery.state == Delivery.State.SUCCEEDED else delivery.state
    return format_html('<strong class="test-{}">{}</strong><br>{}', state, code, state)


def _test_rows(deliveries: list[Delivery]) -> SafeString:
    rows = []
    for delivery in deliveries:
        attempts: list[DeliveryAttempt | None] = [*delivery.attempt_log.all()] or [None]
        for attempt in attempts:
            rows.append(
                format_html(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{} {}</code></td>"
                    "<td>{}</td><td>{}</td></tr>",
                    timezone.localtime(
                        attempt.started_at if attempt else delivery.created_at
                    ).strftime("%Y-%m-%d %H:%M:%S"),
                    _result_cell(attempt, delivery),
                    f"{attempt.duration_ms} ms" if attempt else "-",
                    delivery.method,
                    delivery.url,
                    (attempt.error if attempt else "") or delivery.last_error or "-",
                    _excerpt(attempt.response_excerpt if attempt else ""),
                )
            )
    return format_html_join("", "{}", ((row,) for row in rows))


@admin.register(PostbackEndpoint)
class PostbackEndpointAdmin(ManagedRowsAdmin, HistoryAdmin):
    form = PostbackEndpointAdminForm
    manager_path = "affiliate__account_manager"
    change_form_template = "admin/postbacks/postbackendpoint/change_form.html"
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
    readonly_fields = (
        "available_macros_display",
        "sample_url",
        "test_history",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("affiliate", "offer", "event_types", "status", "disabled_reason")}),
        (
            "Postback",
            {"fields": ("url_template", "method", "available_macros_display", "test_link")},
        ),
        ("Preview", {"fields": ("sample_url",)}),
        (None, {"fields": (("created_at", "updated_at"),)}),
    )
    test_fieldset: Any = (
        "Test postbacks",
        {
            "fields": ("test_history",),
            "description": "Test postbacks fire the saved endpoint at its receiver now, with the "
            "tracker values of its test link. Newest first; the last "
            f"{probes.TEST_HISTORY_LIMIT}.",
        },
    )

    class Media:
        js = ("postbacks/endpoint_preview.js",)
        css = {"all": ("postbacks/endpoint_admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostbackEndpoint]:
        return super().get_queryset(request).prefetch_related("event_types")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "affiliate":
            kwargs["queryset"] = _affiliates_of(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and obj.pk is not None:
            fieldsets.insert(-1, self.test_fieldset)
        return fieldsets

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        name = f"{opts.app_label}_{opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name=f"{name}_preview"),
            path("<path:object_id>/test/", wrap(self.test_view), name=f"{name}_test"),
            path("<path:object_id>/set-live/", wrap(self.set_live_view), name=f"{name}_set_live"),
            path("<path:object_id>/health/", wrap(self.health_view), name=f"{name}_health"),
            path(
                "<path:object_id>/health/replay/",
                wrap(self.health_replay_view),
                name=f"{name}_health_replay",
            ),
            *super().get_urls(),
        ]

    # --- Views: parse, call one service, shape the answer ------------------------------------
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is not None:
            can_change = self.has_change_permission(request, endpoint)
            context.update(
                can_test_postback=can_change,
                can_go_live=can_change and endpoint_can_go_live(endpoint=endpoint),
                endpoint_is_live=endpoint.status == PostbackEndpoint.Status.LIVE,
                test_postback_url=self._url("test", endpoint.pk),
                set_live_url=self._url("set_live", endpoint.pk),
                health_url=self._url("health", endpoint.pk),
            )
        return super().change_view(request, object_id, form_url, context)

    def _url(self, view: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}",
            args=args,
            current_app=self.admin_site.name,
        )

    def test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        endpoint: PostbackEndpoint = object_for_change(self, request, object_id)
        try:
            result = probes.endpoint_test_fire(endpoint=endpoint, user=request.user)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        else:
            if result.succeeded:
                text = f"Test postback answered {result.status_code} in {result.duration_ms} ms."
            elif result.status_code is not None:
                text = f"Test postback failed: the receiver answered {result.status_code}."
            else:
                text = f"Test postback failed: {result.error}."
            self.message_user(
                request, text, messages.SUCCESS if result.succeeded else messages.ERROR
            )
        return redirect(self._url("change", endpoint.pk) + "#test-postbacks")

    def set_live_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        endpoint: PostbackEndpoint = object_for_change(self, request, object_id)
        try:
            endpoint_set_live(endpoint=endpoint, user=request.user)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        else:
            self.log_change(request, endpoint, "Set live after a successful test postback.")
            self.message_user(request, f"Endpoint #{endpoint.pk} is live.", messages.SUCCESS)
        return redirect(self._url("change", endpoint.pk))

    def health_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Recent attempts, latency, last error, deliveries by state, and the replay button."""
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is None:
            raise Http404("No such postback endpoint.")
        if not self.has_view_permission(request, endpoint):
            raise PermissionDenied
        health = dashboard.endpoint_health(endpoint=endpoint)
        chart = [
            {
                "t": timezone.localtime(a.started_at).strftime("%m-%d %H:%M:%S"),
                "ms": a.duration_ms,
                "ok": a.status_code is not None and 200 <= a.status_code < 300,
            }
            for a in reversed(health.attempts)
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Health of endpoint #{endpoint.pk}",
            "subtitle": str(endpoint),
            "original": endpoint,
            "health": health,
            "chart": {"points": chart},
            "state_rows": [
                (label, health.states.get(value, 0), value)
                for value, label in Delivery.State.choices
            ],
            "can_replay": request.user.has_perm("postbacks.change_delivery"),
            "replay_url": self._url("health_replay", endpoint.pk),
            "change_url": self._url("change", endpoint.pk),
            "deliveries_url": reverse("admin:postbacks_delivery_changelist"),
            "endpoint_disabled": endpoint.status != PostbackEndpoint.Status.LIVE,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/postbacks/postbackendpoint/health.html", context)

    def health_replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Replay the endpoint's failed and dead deliveries (POST, from the health page)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is None:
            raise Http404("No such postback endpoint.")
        if not request.user.has_perm("postbacks.change_delivery"):
            raise PermissionDenied
        _replay(self, request, dashboard.endpoint_replayable_ids(endpoint=endpoint))
        if endpoint.status != PostbackEndpoint.Status.LIVE:
            self.message_user(
                request,
                f"Endpoint #{endpoint.pk} is {endpoint.get_status_display().lower()}: its "
                "deliveries are sent once it is live again.",
                messages.WARNING,
            )
        return redirect(self._url("health", endpoint.pk))

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """JSON for the live preview: per-event URLs of the template as typed, or why not."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        form = EndpointPreviewForm(request.POST)
        form.fields["affiliate"].queryset = _affiliates_of(request)  # type: ignore[attr-defined]
        if not form.is_valid():
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        data = form.cleaned_data
        preview = template_preview(
            affiliate=data["affiliate"],
            url_template=data["url_template"],
            test_link=data["test_link"],
            offer=data["offer"],
            event_types=data["event_types"],
        )
        return JsonResponse(
            {
                "error": preview.error,
                "source": preview.source,
                "urls": [
                    {"event": u.event, "event_name": u.event_name, "url": u.url}
                    for u in preview.urls
                ],
                "macros": [
                    {"name": name, "description": description}
                    for name, description in preview.macros.items()
                ],
            }
        )

    # --- Display -------------------------------------------------------------------------------
    @admin.display(description="Offer")
    def offer_display(self, obj: PostbackEndpoint) -> str:
        return str(obj.offer) if obj.offer else "All offers"

    @admin.display(description="Events")
    def events_display(self, obj: PostbackEndpoint) -> str:
        return ", ".join(sorted(event.code for event in obj.event_types.all())) or "-"

    @admin.display(description="Available macros")
    def available_macros_display(self, obj: PostbackEndpoint | None) -> SafeString:
        params = (obj.affiliate.tracker_params or []) if obj and obj.affiliate_id else []
        note = "" if obj and obj.affiliate_id else "Choose the affiliate to see its tracker macros."
        return format_html(
            '<table id="postback-macros"><tbody>{}</tbody></table>'
            '<small id="postback-macros-note">{}</small>',
            _macros_rows(available_macros(params)),
            note,
        )

    @admin.display(description="Postback URL per event (sample conversion)")
    def sample_url(self, obj: PostbackEndpoint | None) -> SafeString:
        if obj is not None and obj.pk is not None:
            body = _preview_html(endpoint_preview(endpoint=obj))
        else:
            body = format_html("<small>{}</small>", "Type the template to see it rendered.")
        return format_html(
            '<div id="postback-preview" data-preview-url="{}" aria-live="polite">{}</div>',
            self._url("preview"),
            body,
        )

    @admin.display(description="Test postbacks")
    def test_history(self, obj: PostbackEndpoint | None) -> SafeString:
        deliveries = probes.endpoint_tests(endpoint=obj) if obj and obj.pk else []
        if not deliveries:
            return format_html(
                '<div id="test-postbacks"><small>{}</small></div>',
                "No test postback yet: press “Send test postback” above.",
            )
        return format_html(
            '<div id="test-postbacks"><table class="test-postbacks"><thead><tr>'
            "<th>Sent</th><th>Status</th><th>Latency</th><th>URL</th><th>Error</th>"
            "<th>Answer (first KiB)</th></tr></thead><tbody>{}</tbody></table></div>",
            _test_rows(deliveries),
        )


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


class ReplaysDeliveries:
    """Replay actions are for those who may change deliveries (records stay read-only)."""

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postbacks.change_delivery")


@admin.register(Conversion)
class ConversionAdmin(ReplaysDeliveries, ManagedRowsAdmin, ExportableRecordAdmin):
    export = staticmethod(exports.conversions_export)
    # Unattributed conversions are nobody's yet: every manager may pick them up (SPEC §3).
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
    return format_html('<pre class="response-excerpt">{}</pre>', shown)


@admin.register(Delivery)
class DeliveryAdmin(ReplaysDeliveries, ManagedRowsAdmin, ExportableRecordAdmin):
    export = staticmethod(exports.deliveries_export)
    manager_path = "endpoint__affiliate__account_manager"
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
class DeliveryAttemptAdmin(ManagedRowsAdmin, RecordAdmin):
    manager_path = "delivery__endpoint__affiliate__account_manager"
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


# ------------------------------------------------------------------------------
# The dashboard: the admin's front page (issue 7)
# ------------------------------------------------------------------------------
MANAGER_VAR = "manager"


def _manager_id(request: HttpRequest) -> int | None:
    value = request.GET.get(MANAGER_VAR, "")
    return int(value) if value.isdigit() and len(value) <= 18 else None


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """What templates/admin/index.html shows above the app list; empty for users who may not
    see deliveries."""
    if not request.user.has_perm("postbacks.view_delivery"):
        return {}
    sees_all = user_sees_all(request.user)
    # An account manager's front page shows their own affiliates, whatever the query string says.
    manager_id = _manager_id(request) if sees_all else request.user.pk
    numbers = dashboard.dashboard_get(manager_id=manager_id)
    return {
        "dashboard": numbers,
        "dashboard_charts": {
            "hourly": numbers.hourly.as_chart(),
            "daily": numbers.daily.as_chart(),
        },
        "unattributed_url": reverse("admin:postbacks_conversion_changelist")
        + "?"
        + urlencode(
            {
                "attribution__exact": Conversion.Attribution.UNATTRIBUTED,
                "received_at__gte": numbers.unattributed_since.isoformat(timespec="seconds"),
            }
        ),
        "queue": dashboard.queue_state(),
        "managers": dashboard.account_managers() if sees_all else [],
        "manager_id": manager_id,
        "manager_var": MANAGER_VAR,
    }


def _dashboard_index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
    return AdminSite.index(
        admin.site, request, {**dashboard_context(request), **(extra_context or {})}
    )


# The project runs Django's default admin site; its index view gets the dashboard's numbers here
# (a custom AdminSite class would have to replace "django.contrib.admin" in INSTALLED_APPS).
admin.site.index = _dashboard_index  # type: ignore[method-assign]


# ------------------------------------------------------------------------------
# API tokens: seen and revoked here, made by `manage.py create_api_token`
# ------------------------------------------------------------------------------
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(TokenAdmin):
    """The database holds only a digest of each token (config/permissions.py), so this page
    shows whose token it is and since when, and deletes it to revoke it; it never shows a key,
    and cannot make a token (the key would be unknown to everyone)."""

    list_display = ("user", "created")
    fields = ("user", "created")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
