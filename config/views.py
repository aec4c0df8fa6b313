"""Project-level views that belong to no app."""

import hmac

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import DatabaseError, connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from config.redis_tools import REDIS_ERRORS, redis_client
from postbacks.metrics import metrics_render


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and Redis both answer, 503 naming the one that does not."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"unavailable: {exc.__class__.__name__}"
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except REDIS_ERRORS as exc:
        checks["redis"] = f"unavailable: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape: 404 while METRICS_TOKEN is unset (metrics off), 401 without a bearer
    token, 403 with a wrong one."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = HttpResponse("Bearer token required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return HttpResponse("Wrong token.\n", status=403, content_type="text/plain")
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_LATEST)


@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico on every site: the icon, from the static files (hashed name
    in production), instead of a 404 in every log."""
    return HttpResponsePermanentRedirect(staticfiles_storage.url("portal/favicon.ico"))
