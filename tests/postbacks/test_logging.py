"""Structured logs (issue 7, item 3): one JSON object per line, with the ids of what it is about."""

import json
import logging

from django.conf import settings

from config.logging import ContextFilter, JsonFormatter, log_context


def formatted(record_logger: logging.Logger, emit) -> dict:
    stream: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stream.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    record_logger.addHandler(handler)
    try:
        emit()
    finally:
        record_logger.removeHandler(handler)
    (line,) = stream
    assert "\n" not in line
    return json.loads(line)


def test_a_line_is_json_with_timestamp_level_logger_message_and_extra_ids():
    log = logging.getLogger("tests.logging.extra")
    entry = formatted(
        log,
        lambda: log.warning("delivery %s failed", 7, extra={"delivery_id": 7, "endpoint_id": 3}),
    )
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.logging.extra"
    assert entry["message"] == "delivery 7 failed"
    assert entry["timestamp"].endswith("+00:00")
    assert (entry["delivery_id"], entry["endpoint_id"]) == (7, 3)


def test_ids_of_an_enclosing_context_reach_every_line_inside_it():
    log = logging.getLogger("tests.logging.context")
    with log_context(conversion_id=11):
        with log_context(delivery_id=12):
            entry = formatted(log, lambda: log.info("sending"))
        outer = formatted(log, lambda: log.info("stored", extra={"conversion_id": 99}))
    after = formatted(log, lambda: log.info("done"))
    assert (entry["conversion_id"], entry["delivery_id"]) == (11, 12)
    assert outer["conversion_id"] == 99  # an explicit extra wins
    assert "conversion_id" not in after


def test_exceptions_are_kept_in_the_line():
    log = logging.getLogger("tests.logging.exc")

    def emit() -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it broke", extra={"delivery_id": 5})

    entry = formatted(log, emit)
    assert "ValueError: boom" in entry["exc_info"]
    assert entry["delivery_id"] == 5


def test_unserialisable_extras_do_not_break_the_line():
    log = logging.getLogger("tests.logging.odd")
    entry = formatted(log, lambda: log.info("odd", extra={"thing": object()}))
    assert entry["thing"].startswith("<object object")


def test_log_format_setting_picks_the_console_formatter():
    assert settings.LOG_FORMAT in ("plain", "json")
    console = settings.LOGGING["handlers"]["console"]
    assert console["formatter"] == settings.LOG_FORMAT
    assert settings.LOGGING["formatters"]["json"]["()"] == "config.logging.JsonFormatter"
    assert "context" in console["filters"]
