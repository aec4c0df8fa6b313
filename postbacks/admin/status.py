"""Approving, rejecting and reversing conversions from the admin: who may, the page that asks for
the reason, and what the manager is told. The change itself is postbacks.conversion_status's."""

from collections import Counter
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from config.access import managed_queryset
from config.admin_tools import admin_page_context, ids_of
from postbacks import conversion_status, lifecycle
from postbacks.conversion_status import StatusOutcome, StatusRefused, StatusRequest
from postbacks.models import Conversion

STATUS_PERMISSION = "postbacks.change_conversion_status"
# One action is one batch of the status service, as for the API.
ACTION_MAX_CONVERSIONS = 1000
# The confirmation page lists this many of the selected conversions, then counts the rest.
LISTED = 50
VERBS = {
    lifecycle.APPROVED: "Approve",
    lifecycle.REJECTED: "Reject",
    lifecycle.REVERSED: "Reverse",
}


class StatusReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        help_text="Kept with each change, and shown to the affiliate's tracker where it asks.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
    )


def _plural(count: int, noun: str = "conversion") -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def status_report(*, target: str, results: list[StatusOutcome | StatusRefused]) -> list[str]:
    """What the manager reads after an action: how many changed, how many already had the status,
    and how many were refused, grouped by why."""
    changed = sum(1 for r in results if isinstance(r, StatusOutcome) and r.changed)
    unchanged = sum(1 for r in results if isinstance(r, StatusOutcome) and not r.changed)
    refused = Counter(r.current_status for r in results if isinstance(r, StatusRefused))
    lines = [f"{_plural(changed)} {target}."]
    if unchanged:
        lines.append(f"{_plural(unchanged)} already {target}: nothing changed.")
    if refused:
        why = ", ".join(f"{count} {status or 'gone'}" for status, count in sorted(refused.items()))
        lines.append(f"{sum(refused.values())} refused ({why}): they cannot become {target}.")
    return lines


class ChangesStatuses:
    """Status actions (permissions=["change_status"]) for a conversions admin.

    Account managers change their own affiliates' conversions only; unattributed ones, which they
    may see, are refused (they are nobody's yet). The queryset Django hands an action is already
    limited to the rows the user sees."""

    def has_change_status_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(STATUS_PERMISSION))

    def status_action(
        self, request: HttpRequest, queryset: QuerySet[Conversion], *, status: str
    ) -> TemplateResponse | None:
        model_admin: Any = self
        count = queryset.count()
        if count > ACTION_MAX_CONVERSIONS:
            model_admin.message_user(
                request,
                f"Select at most {ACTION_MAX_CONVERSIONS} conversions at a time "
                f"({count} selected); filter the list to fewer.",
                messages.ERROR,
            )
            return None
        form = StatusReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._apply(request, queryset, status=status, reason=form.cleaned_data["reason"])
            return None
        verb = VERBS[status]
        context = {
            **admin_page_context(
                model_admin, request, original=None, title=f"{verb} {_plural(count)}"
            ),
            "form": form,
            "verb": verb,
            "target": status,
            "count": count,
            "listed": queryset.select_related("event_type", "affiliate")[:LISTED],
            "more": max(count - LISTED, 0),
            "action": request.POST.get("action", ""),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/postbacks/conversion/change_status.html", context)

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Conversion], *, status: str, reason: str
    ) -> None:
        model_admin: Any = self
        selected = ids_of(queryset.order_by("pk"))
        mine = set(
            ids_of(
                managed_queryset(
                    queryset, user=request.user, manager_path="affiliate__account_manager"
                )
            )
        )
        results = conversion_status.conversion_statuses_change(
            requests=[StatusRequest(pk, status, reason) for pk in selected if pk in mine],
            changed_by=request.user,  # type: ignore[arg-type]
            source=conversion_status.Source.ADMIN,
        )
        lines = status_report(target=status, results=results)
        not_mine = len(selected) - len(mine)
        if not_mine:
            lines.append(
                f"{_plural(not_mine)} left alone: not of an affiliate you manage (unattributed "
                "conversions are changed by a network admin)."
            )
        changed = any(isinstance(r, StatusOutcome) and r.changed for r in results)
        trouble = not_mine or any(isinstance(r, StatusRefused) for r in results)
        level = messages.WARNING if trouble else messages.SUCCESS
        model_admin.message_user(
            request, " ".join(lines), level if changed or trouble else messages.INFO
        )
