"""Many rows at once: a chunk of values per `IN (...)`, and one batched insert returning ids.

An import reads and writes a fixed number of times for a whole file; these keep each
statement well inside every backend's limit on parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

CHUNK = 500  # values per IN (...): well inside every backend's limit on parameters

T = TypeVar("T")
Row = TypeVar("Row", bound=SQLModel)


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rows_where_in(
    session: Session, model: type[Row], column: Any, values: Iterable[Any]
) -> list[Row]:
    """The rows of `model` whose `column` is one of `values`, a chunk of values per query."""
    found: list[Row] = []
    for chunk in chunks(sorted(set(values))):
        found.extend(session.exec(select(model).where(column.in_(chunk))))
    return found


def insert_rows(
    session: Session, model: type[SQLModel], values: Sequence[Mapping[str, object]]
) -> list[int]:
    """New rows in one batched insert (no model objects); their ids, in the order given."""
    if not values:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return list(session.connection().execute(statement, list(values)).scalars())
