"""What the last ``kartenn sync`` copied of each dataset: from where, the source's revision then, and this site's
revision right after, so the next run tells a change at the source from a change made here.

>>> save(conn, "regions", "https://test.example.org", source_revision="a1…", local_revision="b2…")  # doctest: +SKIP
>>> last(conn, "regions")["source"]                                                               # doctest: +SKIP
'https://test.example.org'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, String, Table, Text, delete, insert, select
from sqlalchemy.engine import Connection

from kartenn.stores.catalog import metadata

sync_state = Table(
    "sync_state",
    metadata,
    Column("dataset_id", String(80), primary_key=True),
    Column("source", Text, nullable=False),  # the source site's URL
    Column("source_revision", String(64), nullable=False),  # "" forces the next run to copy again
    Column("local_revision", String(64), nullable=False),
    Column("synced", DateTime(timezone=True), nullable=False),
)


def last(conn: Connection, dataset_id: str) -> dict[str, Any] | None:
    """The last sync of a dataset, or None if it was never copied here."""
    row = conn.execute(select(sync_state).where(sync_state.c.dataset_id == dataset_id)).first()
    return dict(row._mapping) if row else None


def save(conn: Connection, dataset_id: str, source: str, *, source_revision: str, local_revision: str) -> None:
    conn.execute(delete(sync_state).where(sync_state.c.dataset_id == dataset_id))
    conn.execute(insert(sync_state).values(dataset_id=dataset_id, source=source, source_revision=source_revision,
                                           local_revision=local_revision, synced=datetime.now(UTC)))


def of_source(conn: Connection, source: str) -> list[str]:
    """The datasets last copied from ``source``."""
    return list(conn.execute(select(sync_state.c.dataset_id).where(sync_state.c.source == source)
                             .order_by(sync_state.c.dataset_id)).scalars())


def forget(conn: Connection, dataset_id: str) -> None:
    conn.execute(delete(sync_state).where(sync_state.c.dataset_id == dataset_id))
