"""Structured logs: one JSON object per line, with the ids of what a line is about.

`LOG_FORMAT=json` (settings) selects `JsonFormatter`. Ids reach a line two ways:

- `logger.info("...", extra={"delivery_id": 7})` on the call itself;
- `with log_context(conversion_id=3):` around a block: every line logged inside it, by any
  logger, carries the id (`ContextFilter` copies it onto the record).
"""

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

# Ids that a line concerning a conversion, delivery or endpoint carries as top-level keys.
CONTEXT_IDS = ("conversion_id", "delivery_id", "endpoint_id", "affiliate_id", "request_id")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_context", default=None
)

# Attributes every LogRecord has; anything else on a record came from `extra` or a filter.
_STANDARD = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Add these ids to every log line written inside the block (nested blocks add up)."""
    token = _context.set({**(_context.get() or {}), **ids})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the ids of the enclosing `log_context` onto each record (an `extra` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """timestamp (UTC, ISO 8601), level, logger, message, the `extra` fields, and exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
