"""The dashboard on the admin's front page (issue 7).

The project runs Django's default admin site; its index view gets the dashboard's numbers here
(a custom AdminSite class would have to replace "django.contrib.admin" in INSTALLED_APPS).
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from config.access import user_sees_all
from config.admin_tools import as_id
from postbacks import dashboard
from postbacks.models import Conversion

MANAGER_VAR = "manager"


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """What templates/admin/index.html shows above the app list; empty for users who may not
    see deliveries."""
    if not request.user.has_perm("postbacks.view_delivery"):
        return {}
    sees_all = user_sees_all(request.user)
    # An account manager's front page shows their own affiliates, whatever the query string says.
    manager_id = as_id(request.GET.get(MANAGER_VAR, "")) if sees_all else request.user.pk
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


admin.site.index = _dashboard_index  # type: ignore[method-assign]
