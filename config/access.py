"""Who sees which affiliates (issue 6): account managers see and edit their own affiliates and
everything that hangs off them; superusers and the "Network admin" group see the whole network.

The two groups and their model permissions are created by affiliates/migrations (permission
groups); this module only decides rows, never model permissions.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

ACCOUNT_MANAGER_GROUP = "Account manager"
NETWORK_ADMIN_GROUP = "Network admin"

_SEES_ALL_ATTR = "_access_sees_all"


def user_sees_all(user: Any) -> bool:
    """True for superusers and network admins (remembered on the user object for the request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, _SEES_ALL_ATTR, None)
    if cached is None:
        cached = user.groups.filter(name=NETWORK_ADMIN_GROUP).exists()
        setattr(user, _SEES_ALL_ATTR, cached)
    return bool(cached)


def managed_filter(*, user: Any, manager_path: str, unowned_path: str | None = None) -> Q | None:
    """The rows `user` may see, as a filter on `manager_path` (a lookup ending at the affiliate's
    account manager); None when the user sees everything.

    `unowned_path` names a nullable affiliate lookup whose NULL rows every manager sees too:
    unattributed conversions are nobody's yet, and someone has to pick them up (docs/spec.md §3).
    (Setup requests have a rule of their own: affiliates.selectors.setup_requests_visible.)
    """
    if user_sees_all(user):
        return None
    mine = Q(**{manager_path: user.pk})
    if unowned_path is not None:
        mine |= Q(**{f"{unowned_path}__isnull": True})
    return mine


def managed_queryset(
    queryset: QuerySet[Any], *, user: Any, manager_path: str, unowned_path: str | None = None
) -> QuerySet[Any]:
    """`queryset` narrowed to what `user` may see (see managed_filter)."""
    rule = managed_filter(user=user, manager_path=manager_path, unowned_path=unowned_path)
    return queryset if rule is None else queryset.filter(rule)


def network_wide(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For pages that show or change every affiliate's work at once (the RQ dashboard: queues,
    jobs, workers): signed-in staff who do not see every affiliate get a 403; the page's own
    checks (staff only, a login for the anonymous) still apply to everyone else."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not user_sees_all(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded
