"""Model instances from the rows of a hand-written statement, for the few hot reads that are
built once instead of compiled by the ORM on every request (the ingest path)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from django.conf import settings
from django.db import connection
from django.db.backends.postgresql import base as postgresql
from django.db.backends.utils import CursorWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)


def table(model: Any) -> str:
    """A model's table, quoted for a hand-built statement."""
    return str(connection.ops.quote_name(model._meta.db_table))


def hot_cursor() -> CursorWrapper:
    """A cursor for the statements every ingest request runs, which are built once: on
    PostgreSQL they are bound by the server and prepared on first use (parsed and planned once
    per connection instead of once per request). Django's own cursors bind on the client, which
    cannot prepare. Elsewhere (SQLite, or DATABASE_PREPARED_STATEMENTS off, for a pooler that
    keeps no prepared statements), an ordinary cursor. Queries are logged and errors translated
    as for any Django cursor."""
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's preparation off; a threshold no statement reaches lets this
        # cursor ask for it, while the ORM's statements stay unprepared (bound on the client,
        # which never prepares).
        raw.prepare_threshold = _NEVER_BY_COUNT
    wrap: Any = connection  # _prepare_cursor: the wrapping every Django cursor gets
    return cast(CursorWrapper, wrap._prepare_cursor(_PreparedCursor(raw)))


_NEVER_BY_COUNT = 2**31 - 1


_ServerBindingCursor: Any = postgresql.ServerBindingCursor


class _PreparedCursor(_ServerBindingCursor):
    """Django's server-binding cursor, asking psycopg to prepare every statement it runs."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True)
        result = super().execute(query, params, **kwargs)
        if getattr(self, "_query", None) is None:
            # psycopg keeps no query text for a prepared run; Django's query log (and the test
            # tools that count statements) read it from here: the statement as written.
            self._query = _Logged(str(query).encode())
        return result


@dataclass
class _Logged:
    query: bytes


class RowReader(Generic[M]):
    """Reads a model's concrete fields, in `_meta.concrete_fields` order, from a slice of a row,
    with the conversions the ORM would apply (the PostgreSQL backend hands JSON back as text,
    for the field to decode)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        self.columns = [str(f.column) for f in fields]
        self.names = [f.attname for f in fields]
        self._converters: list[tuple[int, list[Callable[..., Any]]]] = []
        for index, field in enumerate(fields):
            # As the ORM's compiler finds them, for the field's column.
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self._converters.append((index, found))

    def __len__(self) -> int:
        return len(self.names)

    def select_list(self, alias: str) -> str:
        """The columns as a SELECT list, qualified by the table's `alias`."""
        quote = connection.ops.quote_name
        return ", ".join(f"{alias}.{quote(column)}" for column in self.columns)

    def read(self, values: Sequence[Any]) -> M:
        row = list(values)
        for index, converters in self._converters:
            for convert in converters:
                row[index] = convert(row[index], None, connection)
        return self.model.from_db(connection.alias, self.names, row)
