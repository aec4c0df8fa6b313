"""CSV exports of conversions and deliveries for affiliates who reconcile (issue 7, item 4).

Rows are streamed: the queryset is read with a server-side cursor in chunks and each row is
written as it comes, so a million rows never sit in memory. Text that a spreadsheet would take
for a formula (starting with = + - @, tab or carriage return) gets a leading apostrophe.
"""

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from postbacks.models import Conversion, Delivery

CHUNK_SIZE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"

# (header, queryset path) per column.
CONVERSION_COLUMNS: Sequence[tuple[str, str]] = (
    ("id", "pk"),
    ("transaction_id", "transaction_id"),
    ("event", "event_type__code"),
    ("offer_id", "offer__network_offer_id"),
    ("offer_name", "offer__name"),
    ("affiliate_id", "affiliate__network_id"),
    ("affiliate_name", "affiliate__name"),
    ("tracker", "tracker_raw"),
    ("tracker_values", "tracker_values"),
    ("amount", "amount"),
    ("currency", "currency"),
    ("occurred_at", "occurred_at"),
    ("received_at", "received_at"),
    ("attribution", "attribution"),
    ("attribution_error", "attribution_error"),
)
DELIVERY_COLUMNS: Sequence[tuple[str, str]] = (
    ("id", "pk"),
    ("conversion_id", "conversion_id"),
    ("transaction_id", "conversion__transaction_id"),
    ("event", "conversion__event_type__code"),
    ("affiliate_id", "endpoint__affiliate__network_id"),
    ("endpoint_id", "endpoint_id"),
    ("method", "method"),
    ("url", "url"),
    ("state", "state"),
    ("attempts", "attempts"),
    ("last_status_code", "last_status_code"),
    ("last_error", "last_error"),
    ("is_test", "is_test"),
    ("created_at", "created_at"),
    ("completed_at", "completed_at"),
)


class _Echo:
    """A file-like object whose write() hands back what it was given (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str | int | Decimal:
    """One value as a CSV cell: datetimes in ISO 8601 UTC, JSON as JSON, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_lines(
    queryset: QuerySet[Any], columns: Sequence[tuple[str, str]], *, bom: bool = True
) -> Iterator[str]:
    """The header, then one line per row of `queryset`, read CHUNK_SIZE rows at a time."""
    writer = csv.writer(_Echo())
    if bom:
        yield BOM
    yield writer.writerow([header for header, _ in columns])
    rows: Iterable[tuple[Any, ...]] = queryset.values_list(*[path for _, path in columns]).iterator(
        chunk_size=CHUNK_SIZE
    )
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(lines: Iterator[str], *, name: str) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


def conversions_export(*, queryset: QuerySet[Conversion]) -> StreamingHttpResponse:
    return csv_response(csv_lines(queryset, CONVERSION_COLUMNS), name="conversions")


def deliveries_export(*, queryset: QuerySet[Delivery]) -> StreamingHttpResponse:
    return csv_response(csv_lines(queryset, DELIVERY_COLUMNS), name="deliveries")
