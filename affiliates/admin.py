"""Admin for affiliates and their setup requests: account managers' daily view (docs/spec.md §2,
§7)."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from affiliates.approval_mail import approval_mail_send
from affiliates.invites import invite_send, invite_token_make
from affiliates.models import Affiliate, SetupRequest
from affiliates.offer_links import offer_link_build
from affiliates.selectors import (
    offers_active,
    portal_base_url,
    setup_preview_rows,
    setup_request_breaks,
    setup_request_comparison,
    setup_request_doubles,
    setup_request_reference,
    setup_requests_visible,
)
from affiliates.setup_requests import (
    setup_event_codes,
    setup_request_approve,
    setup_request_reject,
)
from affiliates.validators import tracker_params_validate
from config.access import user_sees_all
from config.admin_tools import (
    ChangePageAdmin,
    ManagedRowsAdmin,
    admin_page_context,
    object_for_change,
)
from config.history_admin import HistoryAdmin
from postbacks.admin.endpoints import PostbackEndpointInline


def _staff_user(request: HttpRequest) -> User:
    """The logged-in account manager (admin views are behind admin_view, so never anonymous)."""
    assert isinstance(request.user, User)
    return request.user


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
            obj.account_manager = _staff_user(request)
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
                    sender=_staff_user(request),
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


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason, for the affiliate",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
    )


SUBMITTED_FIELDS = (
    "network_id",
    "affiliate_name",
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
)


@admin.register(SetupRequest)
class SetupRequestAdmin(ChangePageAdmin, ManagedRowsAdmin, HistoryAdmin):
    """The queue of what affiliates asked for through the setup form (docs/spec.md §7).

    A request is read as sent and changes only through the review services: Approve (creates or
    updates the affiliate and an endpoint in `testing`) and Reject (with a reason).
    """

    change_list_template = "admin/affiliates/setuprequest/change_list.html"
    change_form_template = "admin/affiliates/setuprequest/change_form.html"
    list_display = (
        "reference",
        "network_id",
        "affiliate",
        "contact_email",
        "events",
        "verified",
        "status",
        "created_at",
    )
    list_display_links = ("reference", "network_id")
    list_filter = ("status", "verified", "events")
    list_select_related = ("affiliate", "reviewed_by")
    ordering = ("-created_at", "-pk")
    search_fields = ("network_id__exact", "contact_email", "affiliate__name")
    search_help_text = "Network id (exact), contact e-mail or affiliate name."
    date_hierarchy = "created_at"
    actions = ("approve_selected",)
    fieldsets = (
        (
            "Review",
            {"fields": ("status", "affiliate", "rejection_reason", ("reviewed_by", "reviewed_at"))},
        ),
        (
            "Submitted",
            {
                "fields": (
                    ("network_id", "affiliate_name"),
                    "contact_email",
                    "offer_links",
                    ("events", "event_codes"),
                    ("url_template", "method"),
                    ("tracker_params", "tracker_separator"),
                    "tracker_param_descriptions",
                    "test_link",
                    "questions",
                    ("verified", "client_ip"),
                    ("created_at", "updated_at"),
                )
            },
        ),
    )
    readonly_fields = (
        "status",
        "affiliate",
        "rejection_reason",
        "reviewed_by",
        "reviewed_at",
        *SUBMITTED_FIELDS,
        "created_at",
        "updated_at",
    )

    manager_path = "affiliate__account_manager"

    def visible_rows(self, queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
        return setup_requests_visible(queryset, user=user)

    @admin.display(description="Reference", ordering="pk")
    def reference(self, obj: SetupRequest) -> str:
        return setup_request_reference(setup_request=obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Requests come from affiliates through the setup form (docs/spec.md §7), never from the
        # admin.
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/approve/",
                view(self.approve_view),
                name="affiliates_setuprequest_approve",
            ),
            path(
                "<path:object_id>/reject/",
                view(self.reject_view),
                name="affiliates_setuprequest_reject",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        new = self.get_queryset(request).filter(status=SetupRequest.Status.NEW)
        context = {**(extra_context or {}), "new_count": new.count()}
        return super().changelist_view(request, extra_context=context)

    def change_page_context(self, request: HttpRequest, obj: SetupRequest) -> dict[str, Any]:
        return {
            "reference": setup_request_reference(setup_request=obj),
            "comparison": setup_request_comparison(setup_request=obj),
            "preview": self._preview(obj),
            **self._warnings(obj),
            "can_review": obj.status == SetupRequest.Status.NEW
            and self.has_change_permission(request, obj),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }

    @staticmethod
    def _warnings(setup_request: SetupRequest) -> dict[str, list[Any]]:
        """What approving would do to existing endpoints: break some (disabled with it) and
        double others (replaced when the new one goes live); a broken one is not offered for
        replacement, since approving disables it."""
        if setup_request.status != SetupRequest.Status.NEW:
            return {"breaks": [], "doubles": []}
        breaks = setup_request_breaks(setup_request=setup_request)
        try:
            codes = setup_event_codes(
                events=setup_request.events, event_codes=setup_request.event_codes
            )
        except ValidationError:
            return {"breaks": breaks, "doubles": []}
        broken = {item.endpoint.pk for item in breaks}
        doubles = setup_request_doubles(network_id=setup_request.network_id, event_codes=codes)
        return {"breaks": breaks, "doubles": [d for d in doubles if d.endpoint.pk not in broken]}

    @staticmethod
    def _preview(setup_request: SetupRequest) -> list[Any]:
        try:
            codes = setup_event_codes(
                events=setup_request.events, event_codes=setup_request.event_codes
            )
        except ValidationError:
            return []
        return setup_preview_rows(
            network_id=setup_request.network_id,
            event_codes=codes,
            url_template=setup_request.url_template,
            tracker_params=list(setup_request.tracker_params),
            tracker_separator=setup_request.tracker_separator,
            test_link=setup_request.test_link,
        )

    def _change_url(self, setup_request: SetupRequest) -> str:
        return reverse("admin:affiliates_setuprequest_change", args=[setup_request.pk])

    @staticmethod
    def _partner_url(request: HttpRequest) -> str:
        """The affiliate's own page, for the approval mail."""
        return portal_base_url(request=request) + reverse("partner:sign-in")

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        setup_request: SetupRequest = object_for_change(self, request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(setup_request))
        try:
            endpoint = setup_request_approve(
                setup_request=setup_request,
                reviewer=_staff_user(request),
                disable_broken=request.POST.get("disable_broken") == "1",
                replace_live=request.POST.get("replace_live") == "1",
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(self._change_url(setup_request))
        approval_mail_send(setup_request=setup_request, partner_url=self._partner_url(request))
        reference = setup_request_reference(setup_request=setup_request)
        self.message_user(
            request,
            format_html(
                "{} approved: postback endpoint #{} is in testing. Fire a test postback from its "
                "page, then set it live.",
                reference,
                endpoint.pk,
            ),
            messages.SUCCESS,
        )
        return redirect("admin:postbacks_postbackendpoint_change", object_id=endpoint.pk)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        setup_request: SetupRequest = object_for_change(self, request, object_id)
        reference = setup_request_reference(setup_request=setup_request)
        form = RejectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                setup_request_reject(
                    setup_request=setup_request,
                    reviewer=_staff_user(request),
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return HttpResponseRedirect(self._change_url(setup_request))
            self.message_user(request, f"{reference} rejected.", messages.SUCCESS)
            return redirect("admin:affiliates_setuprequest_changelist")
        context = {
            **admin_page_context(
                self, request, original=setup_request, title=f"Reject {reference}"
            ),
            "form": form,
            "reference": reference,
        }
        return TemplateResponse(request, "admin/affiliates/setuprequest/reject.html", context)

    @admin.action(description="Approve the selected requests (endpoints in testing)")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[SetupRequest]) -> None:
        reviewer = _staff_user(request)
        approved = 0
        for setup_request in queryset.order_by("created_at"):
            try:
                setup_request_approve(setup_request=setup_request, reviewer=reviewer)
                approval_mail_send(
                    setup_request=setup_request, partner_url=self._partner_url(request)
                )
            except ValidationError as exc:
                reference = setup_request_reference(setup_request=setup_request)
                self.message_user(request, f"{reference}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                approved += 1
        if approved:
            self.message_user(
                request, f"{approved} request(s) approved; their endpoints are in testing."
            )
