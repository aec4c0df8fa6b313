"""API-wide plumbing shared by the three apps: the id bound, the schema's error answers and the
exception handler that keeps every error a clear JSON answer. How a view reads its body and its
page is in config/api_input.py (DRF loads those classes from settings while its views import)."""

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# The largest value of the bigint columns that hold ids: anything above is refused as input
# rather than reaching the database.
MAX_ID = 2**63 - 1

# ------------------------------------------------------------------------------
# Schema
# ------------------------------------------------------------------------------

_ERROR_DESCRIPTIONS = {
    400: "Invalid input: an object of field name -> list of messages "
    "(`non_field_errors` or `detail` for the body as a whole).",
    401: "No token, or an unknown one (`Authorization: Token <key>`).",
    403: "The token's scope does not allow this.",
    404: "No such object.",
    409: "The change does not apply to the object as it is now: `detail` says why, `code` "
    "names the case.",
    413: "The body is larger than the endpoint accepts.",
    415: "The body is not JSON (send Content-Type: application/json).",
    429: "This token posted more conversions this minute than INGEST_RATE_LIMIT allows; "
    "`Retry-After` says when to send again.",
    503: "The database is unavailable; nothing was stored. Retry.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error answers of a view (always 401, 403 and 503)."""
    wanted = sorted({*codes, 401, 403, 503})
    return {code: OpenApiResponse(description=_ERROR_DESCRIPTIONS[code]) for code in wanted}


# ------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus Django's ValidationError as 400, a value the database cannot hold as
    400, and a lost database, only that, as 503."""
    if isinstance(exc, DjangoValidationError):
        detail: Any = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, DataError):
        # Validation bounds every field; reaching here means one bound is missing. Say what the
        # client can do, and log it so the missing bound gets added.
        logger.exception("a value reached the database that it cannot hold")
        exc = exceptions.ValidationError(
            {"detail": ["A value in the request is out of range or malformed; nothing was stored."]}
        )
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.exception("database unavailable while serving the API")
        return Response(
            {"detail": "The database is unavailable; nothing was stored. Retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    elif isinstance(exc, DatabaseError):
        return None  # a defect, not the client's fault nor an outage: DRF lets it surface as 500
    return drf_exception_handler(exc, context)
