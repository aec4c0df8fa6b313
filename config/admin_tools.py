"""The admin tools the apps share: lookups for custom admin views, rows owned by account managers,
extra context for change pages, and record admins for tables that grow without bound."""

from functools import cached_property
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ALL_VAR, PAGE_VAR
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.urls import URLPattern, path

from config.access import managed_queryset, user_sees_all


# ------------------------------------------------------------------------------
# Custom admin views
# ------------------------------------------------------------------------------
def object_or_404(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> Any:
    """The object a custom admin view shows, among the rows this user may see; 404 otherwise."""
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No such {model_admin.opts.verbose_name}.")
    return obj


def object_for_change(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> Any:
    """The object a custom admin view acts on: 404 when it does not exist, 403 when this user
    may not change it (the same rule as its change form)."""
    obj = object_or_404(model_admin, request, object_id)
    if not model_admin.has_change_permission(request, obj):
        raise PermissionDenied
    return obj


def admin_page_context(
    model_admin: admin.ModelAdmin, request: HttpRequest, *, original: Any, title: str
) -> dict[str, Any]:
    """What a custom page about one object needs to sit in the admin (header, breadcrumbs)."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": original,
        "title": title,
    }


def as_id(term: str) -> int | None:
    """The term as a positive id that fits a bigint column, or None."""
    if term.isdigit() and len(term) <= 18:
        return int(term)
    return None


def ids_of(queryset: QuerySet[Any]) -> list[int]:
    """The primary keys, fetched now: a short list the planner sees, not a subquery."""
    return list(queryset.values_list("pk", flat=True))


class ChangePageAdmin(admin.ModelAdmin):
    """An admin whose change page shows more than its form: `change_page_context` says what."""

    def change_page_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        return {}

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            context.update(self.change_page_context(request, obj))
        return super().change_view(request, object_id, form_url, context)


# ------------------------------------------------------------------------------
# Rows that belong to account managers
# ------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------
# Records: big tables, viewed, never edited
# ------------------------------------------------------------------------------
class ViewOnly:
    """For admins and inlines of rows the admin shows but never adds or changes."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


class RecordAdmin(ViewOnly, admin.ModelAdmin):
    """A record of what happened: viewable, never added or edited through the admin.

    Its table grows without bound, so the changelist never counts the whole table, and a search
    matches only indexed columns: `search_match` says what a term (and the term as an id, when it
    is one) finds; `search_fields` only shows the search box.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def search_match(self, term: str, number: int | None) -> Q:
        raise NotImplementedError(f"{type(self).__name__} searches without a search_match")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(self.search_match(term, as_id(term))), False


class ExportableRecordAdmin(RecordAdmin):
    """A record admin whose changelist has an "Export CSV" button: it streams the rows the list
    shows now, with its filters, search and date drill-down, every page."""

    change_list_template = "admin/export_change_list.html"
    export: Any = None  # a function of the queryset that answers with the CSV stream

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


class ReadOnlyInline(ViewOnly, admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def staff_user(request: HttpRequest) -> User:
    """The logged-in account manager (admin views are behind admin_view, so never anonymous)."""
    assert isinstance(request.user, User)
    return request.user
