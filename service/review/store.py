"""Idempotent batch insert of flagged items into the queue tables.

Every item is inserted with ``ON CONFLICT (dedupe_key) DO NOTHING``, so writing a batch twice (a retry after a
commit whose acknowledgement was lost, a spill-file replay after a crash) never queues an item twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Insert, insert
from sqlalchemy.dialects import postgresql, sqlite

from service.core.review_sink import FlaggedItem
from service.review.models import ItemLabel, ReviewItem
from service.review.records import item_row, label_rows


def _insert_ignoring_duplicates(engine: Engine, table: Any) -> Insert:
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"review queue supports SQLite and PostgreSQL, not {dialect}")


def write_items(engine: Engine, items: Sequence[FlaggedItem]) -> int:
    """Insert ``items`` in one transaction; returns how many were new. Raises on database errors."""
    if not items:
        return 0
    rows: dict[str, dict[str, Any]] = {}
    labels: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        row = item_row(item)
        rows.setdefault(row["dedupe_key"], row)
        labels.setdefault(row["dedupe_key"], label_rows(item))
    item_table = ReviewItem.__table__
    statement = _insert_ignoring_duplicates(engine, item_table).returning(
        item_table.c.id, item_table.c.dedupe_key
    )
    with engine.begin() as connection:
        inserted = connection.execute(statement, list(rows.values())).all()
        label_values = [
            {"item_pk": pk, **label_row} for pk, key in inserted for label_row in labels[key]
        ]
        if label_values:
            connection.execute(insert(ItemLabel), label_values)
    return len(inserted)
