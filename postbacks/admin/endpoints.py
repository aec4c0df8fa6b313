"""Admin for event types and postback endpoints: the endpoint form with its live preview, test
postbacks, Set live, and the endpoint's health page with its replay button."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from affiliates.models import Affiliate
from config.access import managed_queryset
from config.admin_tools import (
    ChangePageAdmin,
    ManagedRowsAdmin,
    admin_page_context,
    object_for_change,
    object_or_404,
)
from config.history_admin import HistoryAdmin
from postbacks import dashboard, probes
from postbacks.admin.endpoint_changes import (
    EndpointInlineFormSet,
    form_change_values,
    revision_message,
)
from postbacks.admin.replay import may_replay, replay_and_report
from postbacks.endpoint_changes import EndpointChange, endpoint_change
from postbacks.endpoint_secrets import (
    ROTATION_OVERLAP,
    endpoint_has_secret,
    endpoint_secret_rotate,
)
from postbacks.endpoints import endpoint_can_go_live, endpoint_set_live
from postbacks.forms import EndpointPreviewForm, PostbackEndpointAdminForm
from postbacks.macros import available_macros
from postbacks.models import Delivery, DeliveryAttempt, EventType, PostbackEndpoint
from postbacks.plain_errors import plain_error
from postbacks.preview import endpoint_preview, template_preview
from postbacks.receivers import PRESETS, dedupe_warning

FIXED_EVENT_CODES = frozenset({"freereg", "trial", "signup", "rebill"})
TEMPLATES = "admin/postbacks/postbackendpoint"


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


def _affiliates_of(request: HttpRequest) -> QuerySet[Affiliate]:
    """The affiliates this user may attach endpoints to (config/access.py)."""
    return managed_queryset(
        Affiliate.objects.all(), user=request.user, manager_path="account_manager"
    )


class PostbackEndpointInline(admin.TabularInline):
    model = PostbackEndpoint
    form = PostbackEndpointAdminForm
    formset = EndpointInlineFormSet
    template = f"{TEMPLATES}/inline.html"
    fields = ("url_template", "offer", "event_types", "method", "status", "test_link")
    autocomplete_fields = ("offer", "event_types")
    extra = 0
    show_change_link = True

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"request": request})

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostbackEndpoint]:
        return (
            super()
            .get_queryset(request)
            .select_related("affiliate", "offer")
            .prefetch_related("event_types")
        )


def _test_rows(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    """One row an attempt of each test delivery; a delivery not tried yet is one row too."""
    rows = []
    for delivery in deliveries:
        attempts: list[DeliveryAttempt | None] = [*delivery.attempt_log.all()] or [None]
        for attempt in attempts:
            code = attempt.status_code if attempt and attempt.status_code is not None else "-"
            sent = attempt.started_at if attempt else delivery.created_at
            error = (attempt.error if attempt else "") or delivery.last_error
            status_code = attempt.status_code if attempt else delivery.last_status_code
            rows.append(
                {
                    "sent": timezone.localtime(sent).strftime("%Y-%m-%d %H:%M:%S"),
                    # A test is tried once: "dead" would read as if the endpoint were.
                    "state": "failed" if delivery.state == Delivery.State.DEAD else delivery.state,
                    "code": code,
                    "latency": f"{attempt.duration_ms} ms" if attempt else "-",
                    "method": delivery.method,
                    "url": delivery.url,
                    "error": error,
                    "problem": plain_error(error=error, status_code=status_code),
                    "excerpt": attempt.response_excerpt if attempt else "",
                }
            )
    return rows


@admin.register(PostbackEndpoint)
class PostbackEndpointAdmin(ChangePageAdmin, ManagedRowsAdmin, HistoryAdmin):
    form = PostbackEndpointAdminForm
    manager_path = "affiliate__account_manager"
    change_form_template = f"{TEMPLATES}/change_form.html"
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
        "receiver_preset_display",
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
            {
                "fields": (
                    "receiver_preset_display",
                    "url_template",
                    "method",
                    "available_macros_display",
                    "test_link",
                    "success_body",
                    "headers_text",
                    "clear_headers",
                )
            },
        ),
        ("Statuses", {"fields": ("fire_on", "status_values")}),
        ("Preview", {"fields": ("sample_url",)}),
        (None, {"fields": (("created_at", "updated_at"),)}),
    )
    test_fieldset: Any = (
        "Test postbacks",
        {
            "fields": ("test_history",),
            "description": "Test postbacks fire the saved endpoint at its receiver now, with the "
            "tracker values of its test link. Your receiver may record a test as a real "
            "conversion (with the amount the preview shows): use a test click in the test link, "
            "and tell tests apart by {is_test} (1 for a test) or their transaction id "
            "(test-...). Newest first; the last "
            f"{probes.TEST_HISTORY_LIMIT}.",
        },
    )

    class Media:
        js = ("postbacks/endpoint_preview.js", "postbacks/receiver_preset.js")
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

    # --- Every change goes through endpoint_change ----------------------------------------------
    # A live endpoint's change of what it fires becomes a new endpoint in testing; the live one is
    # left as it was, and keeps firing, until the new one is set live.
    CHANGE = "_endpoint_change"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        setattr(
            request,
            self.CHANGE,
            endpoint_change(endpoint=obj, values=form_change_values(form), user=request.user),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        done: EndpointChange | None = getattr(request, self.CHANGE, None)
        if done is None:
            super().save_related(request, form, formsets, change)
        elif done.revision is not None:
            return
        # endpoint_change wrote the event types too; this page has no inlines of its own.
        endpoint = form.instance
        warning = dedupe_warning(
            url_template=endpoint.url_template,
            event_codes=[event.code for event in endpoint.event_types.all()],
            fire_on=endpoint.fire_on or [],
        )
        if warning:
            self.message_user(request, warning, messages.WARNING)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        done: EndpointChange | None = getattr(request, self.CHANGE, None)
        if done is None or done.revision is None:
            return super().response_change(request, obj)
        self.message_user(request, revision_message(done), messages.WARNING)
        return redirect(self._url("change", done.revision.pk))

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        name = f"{opts.app_label}_{opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name=f"{name}_preview"),
            path("<path:object_id>/test/", wrap(self.test_view), name=f"{name}_test"),
            path("<path:object_id>/set-live/", wrap(self.set_live_view), name=f"{name}_set_live"),
            path("<path:object_id>/secret/", wrap(self.secret_view), name=f"{name}_secret"),
            path("<path:object_id>/health/", wrap(self.health_view), name=f"{name}_health"),
            path(
                "<path:object_id>/health/replay/",
                wrap(self.health_replay_view),
                name=f"{name}_health_replay",
            ),
            *super().get_urls(),
        ]

    def _url(self, view: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}",
            args=args,
            current_app=self.admin_site.name,
        )

    # --- Views: parse, call one service, shape the answer ------------------------------------
    def change_page_context(self, request: HttpRequest, obj: PostbackEndpoint) -> dict[str, Any]:
        can_change = self.has_change_permission(request, obj)
        return {
            "can_test_postback": can_change,
            "can_go_live": can_change and endpoint_can_go_live(endpoint=obj),
            "endpoint_is_live": obj.status == PostbackEndpoint.Status.LIVE,
            "test_postback_url": self._url("test", obj.pk),
            "set_live_url": self._url("set_live", obj.pk),
            "health_url": self._url("health", obj.pk),
            "secret_url": self._url("secret", obj.pk),
            "has_secret": endpoint_has_secret(endpoint=obj),
        }

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
            else:
                text = f"Test postback failed: {result.problem}."
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

    def secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Make (or rotate) the endpoint's signing secret and show it, this once (POST only; the
        page is not cached and the secret goes through no message, log or history)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        endpoint: PostbackEndpoint = object_for_change(self, request, object_id)
        rotated = endpoint_has_secret(endpoint=endpoint)
        secret = endpoint_secret_rotate(endpoint=endpoint)
        self.log_change(
            request, endpoint, "Signing secret rotated." if rotated else "Signing secret made."
        )
        context = {
            **admin_page_context(
                self, request, original=endpoint, title=f"Signing secret of endpoint #{endpoint.pk}"
            ),
            "secret": secret,
            "rotated": rotated,
            "overlap_hours": int(ROTATION_OVERLAP.total_seconds() // 3600),
            "change_url": self._url("change", endpoint.pk),
        }
        request.current_app = self.admin_site.name
        response = TemplateResponse(request, f"{TEMPLATES}/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def health_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Recent attempts, latency, last error, deliveries by state, and the replay button."""
        endpoint: PostbackEndpoint = object_or_404(self, request, object_id)
        if not self.has_view_permission(request, endpoint):
            raise PermissionDenied
        health = dashboard.endpoint_health(endpoint=endpoint)
        chart = [
            {
                "t": timezone.localtime(a.started_at).strftime("%m-%d %H:%M:%S"),
                # A connection that failed has no latency to draw: no point, a gap in the curve.
                "ms": a.duration_ms if a.status_code is not None else None,
                "ok": a.status_code is not None and 200 <= a.status_code < 300,
            }
            for a in reversed(health.attempts)
        ]
        context = {
            **admin_page_context(
                self, request, original=endpoint, title=f"Health of endpoint #{endpoint.pk}"
            ),
            "subtitle": str(endpoint),
            "health": health,
            "chart": {"points": chart},
            "state_rows": [
                (label, health.states.get(value, 0), value)
                for value, label in Delivery.State.choices
            ],
            "can_replay": may_replay(request.user),
            "replay_url": self._url("health_replay", endpoint.pk),
            "change_url": self._url("change", endpoint.pk),
            "deliveries_url": reverse("admin:postbacks_delivery_changelist"),
            "endpoint_disabled": endpoint.status != PostbackEndpoint.Status.LIVE,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"{TEMPLATES}/health.html", context)

    def health_replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Replay the endpoint's failed and dead deliveries (POST, from the health page)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        endpoint: PostbackEndpoint = object_or_404(self, request, object_id)
        if not may_replay(request.user):
            raise PermissionDenied
        replay_and_report(self, request, dashboard.endpoint_replayable_ids(endpoint=endpoint))
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
            fire_on=data["fire_on"],
            status_values=data["status_values"],
        )
        return JsonResponse(
            {
                "error": preview.error,
                "warning": preview.warning,
                "source": preview.source,
                "urls": [
                    {"event": u.event, "event_name": u.event_name, "status": u.status, "url": u.url}
                    for u in preview.urls
                ],
                "macros": [
                    {"name": name, "description": description}
                    for name, description in preview.macros.items()
                ],
            }
        )

    # --- Display -------------------------------------------------------------------------------
    @admin.display(description="Fill in from a tracker preset")
    def receiver_preset_display(self, obj: PostbackEndpoint | None) -> SafeString:
        params = list(obj.affiliate.tracker_params or []) if obj and obj.affiliate_id else []
        return render_to_string(
            f"{TEMPLATES}/_receiver_preset.html",
            {
                "presets": PRESETS,
                "preset_url": reverse("setup:receiver-preset"),
                "click_param": params[-1] if params else "clickId",
            },
        )

    @admin.display(description="Offer")
    def offer_display(self, obj: PostbackEndpoint) -> str:
        return str(obj.offer) if obj.offer else "All offers"

    @admin.display(description="Events")
    def events_display(self, obj: PostbackEndpoint) -> str:
        return ", ".join(sorted(event.code for event in obj.event_types.all())) or "-"

    @admin.display(description="Available macros")
    def available_macros_display(self, obj: PostbackEndpoint | None) -> SafeString:
        has_affiliate = bool(obj and obj.affiliate_id)
        params = (obj.affiliate.tracker_params or []) if obj and has_affiliate else []
        return render_to_string(
            f"{TEMPLATES}/_macros.html",
            {
                "macros": available_macros(params).items(),
                "note": "" if has_affiliate else "Choose the affiliate to see its tracker macros.",
            },
        )

    @admin.display(description="Postback URL per event (sample conversion)")
    def sample_url(self, obj: PostbackEndpoint | None) -> SafeString:
        saved = obj if obj is not None and obj.pk is not None else None
        return render_to_string(
            f"{TEMPLATES}/_preview.html",
            {
                "preview": endpoint_preview(endpoint=saved) if saved else None,
                "preview_url": self._url("preview"),
            },
        )

    @admin.display(description="Test postbacks")
    def test_history(self, obj: PostbackEndpoint | None) -> SafeString:
        deliveries = probes.endpoint_tests(endpoint=obj) if obj and obj.pk else []
        return render_to_string(f"{TEMPLATES}/_test_history.html", {"rows": _test_rows(deliveries)})
