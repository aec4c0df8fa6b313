"""Admin for affiliates and their setup requests: account managers' daily view (docs/spec.md §2,
§7). The setup requests' review pages are in affiliates/setup_request_admin.py."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from affiliates import setup_request_admin  # noqa: F401  (registers the setup requests' admin)
from affiliates.invites import invite_send, invite_token_make
from affiliates.models import Affiliate
from affiliates.offer_links import offer_link_build
from affiliates.selectors import offers_active, portal_base_url
from affiliates.validators import tracker_params_validate
from config.access import user_sees_all
from config.admin_tools import (
    ChangePageAdmin,
    ManagedRowsAdmin,
    admin_page_context,
    object_for_change,
    staff_user,
)
from config.history_admin import HistoryAdmin
from postbacks.admin.endpoints import PostbackEndpointInline


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
class AffiliateAdmin(ChangePageAdmin, ManagedRowsAdmin, HistoryAdmin):
    form = AffiliateAdminForm
    manager_path = "account_manager"
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
    change_form_template = "admin/affiliates/affiliate/change_form.html"
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
        # A GROUP BY query drops Meta.ordering; the autocomplete pages through this queryset.
        return (
            super()
            .get_queryset(request)
            .annotate(endpoint_total=Count("endpoints"))
            .order_by("network_id")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Handing an affiliate to another manager is a network admin's call.
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if user_sees_all(request.user) else (*fields, "account_manager")

    def save_model(self, request: HttpRequest, obj: Affiliate, form: Any, change: bool) -> None:
        if not change and not user_sees_all(request.user):
            obj.account_manager = staff_user(request)
        super().save_model(request, obj, form, change)

    @admin.display(description="Tracker params")
    def tracker_params_display(self, obj: Affiliate) -> str:
        return ", ".join(obj.tracker_params or []) or "-"

    @admin.display(description="Endpoints", ordering="endpoint_total")
    def endpoint_count(self, obj: Affiliate) -> int:
        return getattr(obj, "endpoint_total", 0)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/invite/",
                self.admin_site.admin_view(self.invite_view),
                name="affiliates_affiliate_invite",
            ),
            *super().get_urls(),
        ]

    def invite_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST (the change page's "Send invite"): e-mail the signed invite link to the affiliate,
        then show it. GET: the link to copy, and a button that e-mails it."""
        affiliate: Affiliate = object_for_change(self, request, object_id)
        token = invite_token_make(affiliate=affiliate)
        link = portal_base_url(request=request) + reverse("setup:invite", kwargs={"token": token})
        if request.method == "POST":
            try:
                sent_to = invite_send(
                    affiliate=affiliate,
                    link=link,
                    sender=staff_user(request),
                    partner_url=portal_base_url(request=request) + reverse("partner:home"),
                    language=request.POST.get("language") or settings.LANGUAGE_CODE,
                )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(
                    request, f"The invite link below was e-mailed to {sent_to}.", messages.SUCCESS
                )
                return redirect(
                    reverse("admin:affiliates_affiliate_invite", args=[affiliate.pk]) + "?sent=1"
                )
            return redirect("admin:affiliates_affiliate_invite", object_id=affiliate.pk)
        context = {
            **admin_page_context(
                self, request, original=affiliate, title=f"Invite {affiliate} to the setup form"
            ),
            "link": link,
            "sent_to": affiliate.email if request.GET.get("sent") else "",
            "max_age_days": settings.SETUP_INVITE_MAX_AGE // 86400,
            "languages": settings.LANGUAGES,
        }
        return TemplateResponse(request, "admin/affiliates/affiliate/invite.html", context)

    def change_page_context(self, request: HttpRequest, obj: Affiliate) -> dict[str, Any]:
        """The offer link for the offer chosen with ?offer=<pk> (docs/spec.md §1's shape)."""
        offers = list(offers_active())
        context: dict[str, Any] = {"builder_offers": offers, "builder_offer": None}
        chosen = request.GET.get("offer", "")
        if not chosen.isdigit():
            return context
        offer = next((o for o in offers if o.pk == int(chosen)), None)
        if offer is None:
            context["builder_error"] = "Choose an active offer."
            return context
        context["builder_offer"] = offer
        try:
            context["builder_link"] = offer_link_build(affiliate=obj, offer=offer)
        except ValidationError as exc:
            context["builder_error"] = " ".join(exc.messages)
        return context
