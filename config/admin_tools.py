"""Helpers for the admin's custom views, shared by the apps."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from config.access import managed_queryset, user_sees_all


def object_for_change(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> Any:
    """The object a custom admin view acts on: 404 when it does not exist, 403 when this user
    may not change it (the same rule as its change form)."""
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No such {model_admin.opts.verbose_name}.")
    if not model_admin.has_change_permission(request, obj):
        raise PermissionDenied
    return obj


class ManagedRowsAdmin(admin.ModelAdmin):
    """An admin whose rows belong to an affiliate's account manager (config/access.py).

    `manager_path` is the lookup from the row to that manager; its changelist filter is only
    offered to those who see every manager's rows. An admin with another rule overrides
    `visible_rows`.
    """

    manager_path: str = ""
    unowned_path: str | None = None

    def visible_rows(self, queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
        return managed_queryset(
            queryset, user=user, manager_path=self.manager_path, unowned_path=self.unowned_path
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.visible_rows(super().get_queryset(request), request.user)

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        if user_sees_all(request.user):
            return filters
        return [f for f in filters if f != self.manager_path]

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        # A history page falls back to old snapshots when the row is not in get_queryset (a
        # deleted row): only those who see every row may read those.
        if not user_sees_all(request.user) and self.get_object(request, unquote(object_id)) is None:
            raise Http404(f"No such {self.opts.verbose_name}.")
        return super().history_view(request, object_id, extra_context)
