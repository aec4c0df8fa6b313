"""The review queue of setup requests (docs/spec.md §7, issue 15): what an affiliate asked for,
next to its current settings, with the postback it would fire and what approving would do to its
existing endpoints; the tracker params and postback URL corrected by the account manager while
the request is new; then Approve or Reject."""

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from affiliates.approval_mail import approval_mail_send
from affiliates.forms import SetupRequestEditForm
from affiliates.models import SetupRequest
from affiliates.selectors import (
    SETUP_REQUEST_EDITABLE,
    portal_base_url,
    setup_preview_rows,
    setup_request_breaks,
    setup_request_comparison,
    setup_request_doubles,
    setup_request_edits,
    setup_request_reference,
    setup_requests_visible,
)
from affiliates.setup_request_edits import setup_request_edit
from affiliates.setup_requests import (
    SetupRequestReviewed,
    setup_event_codes,
    setup_request_approve,
    setup_request_reject,
)
from config.admin_tools import (
    ChangePageAdmin,
    ManagedRowsAdmin,
    admin_page_context,
    object_for_change,
    staff_user,
)
from config.history_admin import HistoryAdmin


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

    A request is read as sent and changes only through the review services: while it is new, its
    tracker params, separator, postback URL and test link can be corrected (setup_request_edit:
    the setup form's checks, the change in its history); Approve creates or updates the affiliate
    and an endpoint in `testing`; Reject gives a reason. Once reviewed, all of it is read-only.
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
    form = SetupRequestEditForm
    fieldsets = (
        (
            "Tracker and postback URL",
            {
                "fields": (
                    ("tracker_params", "tracker_separator"),
                    "tracker_param_descriptions",
                    ("url_template", "method"),
                    "test_link",
                ),
                "description": "While the request is new, its tracker params, separator, "
                "postback URL and test link can be corrected here: the preview and the endpoints "
                "they would break are worked out again on saving. What the affiliate sent stays "
                "in the History.",
            },
        ),
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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.status == SetupRequest.Status.NEW:
            return tuple(f for f in self.readonly_fields if f not in SETUP_REQUEST_EDITABLE)
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: SetupRequest, form: Any, change: bool) -> None:
        """Through the edit service, never obj.save(): a reviewed request refuses, and the
        history records the editor. A refusal is raised on to change_view, which says it."""
        data = form.cleaned_data
        changed = setup_request_edit(
            setup_request=obj,
            editor=staff_user(request),
            tracker_params=data.get("tracker_params", obj.tracker_params),
            tracker_separator=data.get("tracker_separator", obj.tracker_separator),
            url_template=data.get("url_template", obj.url_template),
            test_link=data.get("test_link", obj.test_link),
        )
        reference = setup_request_reference(setup_request=obj)
        if changed:
            names = ", ".join(SETUP_REQUEST_EDITABLE[field] for field in changed)
            text = (
                f"{reference}: {names} saved. The preview and the endpoints they would break "
                "are worked out again below; approve when they look right."
            )
        else:
            text = f"{reference}: nothing changed."
        self.message_user(request, text, messages.SUCCESS)

    def response_change(self, request: HttpRequest, obj: SetupRequest) -> HttpResponse:
        # Back to the review, whose message save_model gave (not the admin's "changed
        # successfully", nor the changelist): approving is the next step.
        return HttpResponseRedirect(self._change_url(obj))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().change_view(request, object_id, form_url, extra_context)
        except SetupRequestReviewed as exc:
            # Approved or rejected since the page was opened (the save rolled back): say so, and
            # show the request as it now is, read-only.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.path)

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
        can_review = obj.status == SetupRequest.Status.NEW and self.has_change_permission(
            request, obj
        )
        return {
            "reference": setup_request_reference(setup_request=obj),
            "comparison": setup_request_comparison(setup_request=obj),
            "edits": setup_request_edits(setup_request=obj),
            "preview": self._preview(obj),
            **self._warnings(obj),
            "can_review": can_review,
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

    @staticmethod
    def _seen_updated_at(request: HttpRequest) -> datetime | None:
        """The version of the request the review page showed (its approve form's hidden field)."""
        try:
            return parse_datetime(request.POST.get("seen_updated_at", ""))
        except ValueError:
            return None

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        setup_request: SetupRequest = object_for_change(self, request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(setup_request))
        try:
            endpoint = setup_request_approve(
                setup_request=setup_request,
                reviewer=staff_user(request),
                disable_broken=request.POST.get("disable_broken") == "1",
                replace_live=request.POST.get("replace_live") == "1",
                seen_updated_at=self._seen_updated_at(request),
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
                    reviewer=staff_user(request),
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
        reviewer = staff_user(request)
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
