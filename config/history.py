"""The audit trail (issue 6): every change of an affiliate, offer, postback endpoint or setup
request is kept by django-simple-history, with who, when and what changed.

A save records itself (the library's post_save and m2m_changed hooks; the user comes from
HistoryRequestMiddleware). A guarded UPDATE sends no signal: once it has changed the row, its
service calls `history_record_update`, which records the row as it now is through the very code
a save uses (same fields, many-to-many snapshot, user and reason)."""

from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords

_records: dict[type[models.Model], HistoricalRecords] = {}


class AuditedHistory(HistoricalRecords):
    """HistoricalRecords that remembers itself per model, for `history_record_update`."""

    def finalize(self, sender: type[models.Model], **kwargs: Any) -> None:
        super().finalize(sender, **kwargs)
        if sender is self.cls:
            _records[sender] = self


def history_record_update(*, instance: models.Model, user: Any, reason: str = "") -> None:
    """Reload `instance` after a guarded UPDATE changed its row and record that version, by
    `user` (None: nobody, e.g. the circuit breaker) with `reason`. Call it in the UPDATE's
    transaction, so the record and the change commit together."""
    instance.refresh_from_db()
    records = _records[type(instance)]
    # The library reads these two from the instance; they must not stick to a later save.
    instance._history_user = user  # type: ignore[attr-defined]
    instance._change_reason = reason  # type: ignore[attr-defined]
    try:
        records.create_historical_record(instance, "~")
    finally:
        del instance._history_user  # type: ignore[attr-defined]
        del instance._change_reason  # type: ignore[attr-defined]
