"""Where migrated things came from: one row per object brought over from another system (a GeoServer layer, style,
layer group, user or role), with what it became here and a fingerprint of the source as it was read.

A migration run again compares fingerprints to know what changed at the source, and ``migrated_at`` with the
object's own time of change to know what was changed here since.

>>> put(conn, Source("geoserver", "dataset", "ne:countries", "countries", "3fa2…"))   # doctest: +SKIP
>>> of_system(conn, "geoserver")[("dataset", "ne:countries")].kartenn_id            # doctest: +SKIP
'countries'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, DateTime, String, Table, and_, delete, insert, select, update
from sqlalchemy.engine import Connection

from kartenn.stores.catalog import _aware, _now, metadata

migration_sources = Table(
    "migration_sources",
    metadata,
    Column("system", String(32), primary_key=True),  # geoserver, geonetwork…
    Column("kind", String(16), primary_key=True),  # dataset | style | map | user | org | grants
    Column("source", String(255), primary_key=True),  # its name there: ne:countries, style countries, user anne
    Column("kartenn_id", String(255), primary_key=True),  # what it became here
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of the source as read
    Column("migrated_at", DateTime(timezone=True), nullable=False),
)


@dataclass
class Source:
    system: str
    kind: str
    source: str
    kartenn_id: str
    fingerprint: str
    migrated_at: datetime | None = None


def of_system(conn: Connection, system: str) -> dict[tuple[str, str], list[Source]]:
    """The rows of ``system`` by (kind, source name); a source may have become several things (a style of
    several datasets)."""
    found: dict[tuple[str, str], list[Source]] = {}
    query = select(migration_sources).where(migration_sources.c.system == system)
    for row in conn.execute(query):
        found.setdefault((row.kind, row.source), []).append(
            Source(row.system, row.kind, row.source, row.kartenn_id, row.fingerprint, _aware(row.migrated_at)))
    return found


def put(conn: Connection, src: Source) -> None:
    """Insert or refresh the row of ``src``, migrated now."""
    key = and_(migration_sources.c.system == src.system, migration_sources.c.kind == src.kind,
               migration_sources.c.source == src.source, migration_sources.c.kartenn_id == src.kartenn_id)
    now = _now()
    if conn.execute(select(migration_sources.c.kind).where(key)).first() is None:
        conn.execute(insert(migration_sources).values(system=src.system, kind=src.kind, source=src.source,
                                                      kartenn_id=src.kartenn_id, fingerprint=src.fingerprint,
                                                      migrated_at=now))
    else:
        conn.execute(update(migration_sources).where(key).values(fingerprint=src.fingerprint, migrated_at=now))
    src.migrated_at = now


def dataset_of(conn: Connection, name: str) -> str | None:
    """The dataset a layer known elsewhere by ``name`` (``ne:countries``) became here, or None."""
    row = conn.execute(select(migration_sources.c.kartenn_id).where(and_(
        migration_sources.c.kind == "dataset", migration_sources.c.source == name)).limit(1)).first()
    return row.kartenn_id if row else None


def dataset_names(conn: Connection) -> dict[str, str]:
    """The name each migrated dataset had before (``ne:countries``), by its id here."""
    rows = conn.execute(select(migration_sources.c.kartenn_id, migration_sources.c.source).where(
        migration_sources.c.kind == "dataset").order_by(migration_sources.c.source))
    return {row.kartenn_id: row.source for row in rows}


def forget(conn: Connection, system: str, kind: str, source: str) -> None:
    """The rows of a source whose result is gone (deleted here since)."""
    conn.execute(delete(migration_sources).where(and_(
        migration_sources.c.system == system, migration_sources.c.kind == kind, migration_sources.c.source == source)))
