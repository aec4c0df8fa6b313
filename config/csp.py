"""The Content-Security-Policy middleware (django-csp), with the one relaxation the portal needs.

Every page gets the strict policy of CONTENT_SECURITY_POLICY (config/settings/base.py). The RQ
dashboard under /admin/rq/ is django-rq's, whose templates carry inline scripts (its job lists'
select-all) and inline styles: on those URLs alone inline scripts and styles are allowed; the rest
of the policy (sources, frame-ancestors, form-action, object-src) stays.
"""

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

RQ_DASHBOARD_PREFIX = "/admin/rq/"
RQ_DASHBOARD_RELAXED = {"script-src": [UNSAFE_INLINE], "style-src": [UNSAFE_INLINE]}


class PortalCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(RQ_DASHBOARD_PREFIX) and parts.update is None:
            parts.update = RQ_DASHBOARD_RELAXED
        return parts
