"""Model instances from the rows of a hand-written statement, for the few hot reads that are
built once instead of compiled by the ORM on every request (the ingest path)."""

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


def table(model: Any) -> str:
    """A model's table, quoted for a hand-built statement."""
    return str(connection.ops.quote_name(model._meta.db_table))


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
