"""Record ids asked of the catalogue's table itself, whoever may see the records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from kartenn.stores.catalog import records


def exists(conn: Connection, record_id: str) -> bool:
    return conn.execute(select(records.c.id).where(records.c.id == record_id)).first() is not None


def standalone(conn: Connection) -> set[str]:
    """The ids of the records that describe no dataset of the site."""
    return set(conn.execute(select(records.c.id).where(records.c.dataset_id.is_(None))).scalars())
