"""The admin's History pages for the audited models (config/history.py): who changed what, when.

The change form's History button opens simple-history's list, whose Changes column names each
field changed, old and new. Revert is off (SIMPLE_HISTORY_REVERT_DISABLED): a version page only
shows that version."""

from typing import Any

from django.contrib.admin.utils import unquote
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # simple-history saves a POSTed version page even with revert disabled, and finds the
        # version without get_queryset: read-only here, and only for rows this user may open.
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404(f"No such {self.opts.verbose_name}.")
        return super().history_form_view(request, object_id, version_id, extra_context)
