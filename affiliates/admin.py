"""Admin for affiliates and their setup requests: account managers' daily view (SPEC §2, §7)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from affiliates.models import Affiliate, SetupRequest
from affiliates.services import tracker_params_validate
from postbacks.admin import PostbackEndpointInline


class TrackerParamsField(forms.CharField):
    """The tracker's param names as one comma-separated line, cleaned into an ordered list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        kwargs.setdefault(
            "help_text",
            "The names of the values in the affiliate's tracker, in order, separated by commas, "
            "e.g. affid, TransID, clickId. Each becomes a macro ({clickId}) and a positional "
            "macro ({p1}, {p2}, ...).",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(name) for name in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return tracker_params_validate(params=super().to_python(value))


class AffiliateAdminForm(forms.ModelForm):
    tracker_params = TrackerParamsField()

    class Meta:
        model = Affiliate
        fields = (
            "network_id",
            "name",
            "email",
            "status",
            "account_manager",
            "tracker_params",
            "tracker_separator",
            "tracker_prefix",
            "tracker_suffix",
            "notes",
        )


@admin.register(Affiliate)
class AffiliateAdmin(admin.ModelAdmin):
    form = AffiliateAdminForm
    list_display = (
        "network_id",
        "name",
        "email",
        "status",
        "account_manager",
        "tracker_params_display",
        "endpoint_count",
        "updated_at",
    )
    list_display_links = ("network_id", "name")
    list_filter = ("status", "account_manager")
    list_select_related = ("account_manager",)
    search_fields = ("network_id__exact", "name", "email")
    search_help_text = "Network id (exact), name or e-mail."
    autocomplete_fields = ("account_manager",)
    readonly_fields = ("created_at", "updated_at")
    inlines = (PostbackEndpointInline,)
    fieldsets = (
        (None, {"fields": ("network_id", "name", "email", "status", "account_manager")}),
        (
            "Tracker",
            {
                "fields": (
                    "tracker_params",
                    ("tracker_prefix", "tracker_separator", "tracker_suffix"),
                ),
                "description": "How the affiliate writes its tracker, e.g. "
                "trID_1234567_aff9-tx77-c0ffee_trID.",
            },
        ),
        (None, {"fields": ("notes", ("created_at", "updated_at"))}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Affiliate]:
        return super().get_queryset(request).annotate(endpoint_total=Count("endpoints"))

    @admin.display(description="Tracker params")
    def tracker_params_display(self, obj: Affiliate) -> str:
        return ", ".join(obj.tracker_params or []) or "-"

    @admin.display(description="Endpoints", ordering="endpoint_total")
    def endpoint_count(self, obj: Affiliate) -> int:
        return getattr(obj, "endpoint_total", 0)


@admin.register(SetupRequest)
class SetupRequestAdmin(admin.ModelAdmin):
    """What affiliates submitted through the setup form: read as sent, reviewed by a manager."""

    list_display = (
        "id",
        "network_id",
        "affiliate",
        "contact_email",
        "events",
        "verified",
        "status",
        "created_at",
    )
    list_filter = ("status", "verified", "events")
    list_select_related = ("affiliate", "reviewed_by")
    search_fields = ("network_id__exact", "contact_email", "affiliate__name")
    search_help_text = "Network id (exact), contact e-mail or affiliate name."
    autocomplete_fields = ("affiliate", "reviewed_by")
    date_hierarchy = "created_at"
    fieldsets = (
        ("Review", {"fields": ("status", "affiliate", "rejection_reason")}),
        (
            "Submitted",
            {
                "fields": (
                    "network_id",
                    "contact_email",
                    "offer_links",
                    ("events", "event_codes"),
                    ("url_template", "method"),
                    ("tracker_params", "tracker_separator"),
                    "tracker_param_descriptions",
                    "test_link",
                    "questions",
                    ("verified", "client_ip"),
                )
            },
        ),
        (None, {"fields": (("reviewed_by", "reviewed_at"), ("created_at", "updated_at"))}),
    )
    readonly_fields = (
        "network_id",
        "contact_email",
        "offer_links",
        "events",
        "event_codes",
        "url_template",
        "method",
        "tracker_params",
        "tracker_separator",
        "tracker_param_descriptions",
        "test_link",
        "questions",
        "verified",
        "client_ip",
        "reviewed_by",
        "reviewed_at",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Requests come from affiliates through the setup form (SPEC §7), never from the admin.
        return False

    def save_model(
        self, request: HttpRequest, obj: SetupRequest, form: forms.ModelForm, change: bool
    ) -> None:
        if "status" in form.changed_data:
            obj.reviewed_by = request.user  # type: ignore[assignment]
            obj.reviewed_at = timezone.now()
        super().save_model(request, obj, form, change)
