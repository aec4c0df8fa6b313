"""Gatekeeping of API request bodies before anything reads them (docs/spec.md §5)."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

API_PREFIX = "/api/"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ApiBodyMiddleware:
    """Answer 413 for an API body over its limit (64 KiB; the batch endpoints their own), and 415
    for a body that does not say what it is, as JSON, without reading the body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX) and request.method in _BODY_METHODS:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> JsonResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"detail": "The Content-Length header is not a number."}, status=400
            )
        limit = (
            settings.INGEST_BATCH_MAX_BODY_BYTES
            if request.path_info
            in (reverse("conversion-batch"), reverse("conversion-status-batch"))
            else settings.INGEST_MAX_BODY_BYTES
        )
        if length > limit:
            return JsonResponse(
                {"detail": f"The body is {length} bytes; this endpoint takes at most {limit}."},
                status=413,
            )
        if length and not request.content_type:
            # DRF would read a body without a Content-Type as empty; say what went wrong instead.
            return JsonResponse(
                {"detail": "Send the body as JSON, with Content-Type: application/json."},
                status=415,
            )
        return None
