"""Harvest sources, their runs, and which record came from which source, in the catalogue database.

A source is claimed by one process at a time (``claim``: one conditional UPDATE, the same on both stores), so
of several processes running due harvests only one runs a given source.

>>> add_source(conn, HarvestSource("ifremer", "csw", "https://sextant.ifremer.fr/csw"))   # doctest: +SKIP
>>> claim(conn, "ifremer", "host:1234", timedelta(hours=1))                           # doctest: +SKIP
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from kartenn.stores.catalog import _aware, _now, metadata

harvest_sources = Table(
    "harvest_sources",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("org", String(80)),  # the organisation that owns its records
    Column("public", Boolean, nullable=False),  # its records are public, else seen by that organisation only
    Column("every_seconds", Integer),  # NULL: run by hand only
    Column("query", Text),  # a CQL text constraint (CSW), a set (OAI-PMH)
    Column("created", DateTime(timezone=True), nullable=False),
    Column("next_run", DateTime(timezone=True)),
    Column("claimed_by", String(120)),
    Column("claimed_until", DateTime(timezone=True)),
)

harvest_runs = Table(
    "harvest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(80), nullable=False, index=True),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("ended", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # succeeded | failed
    Column("added", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("details", JSON, nullable=False),  # {"failures": [...], "duplicates": [...]}
)

harvested_records = Table(
    "harvested_records",
    metadata,
    Column("record_id", String(255), primary_key=True),
    Column("source", String(80), nullable=False, index=True),
    Column("stamp", String(64), nullable=False),  # the record's date stamp at the source, else ""
    Column("hash", String(64), nullable=False),  # SHA-256 of the record as read
    Column("harvested_at", DateTime(timezone=True), nullable=False),
)


@dataclass
class HarvestSource:
    name: str
    type: str
    url: str
    org: str | None = None
    public: bool = True
    every_seconds: int | None = None
    query: str | None = None
    created: datetime | None = None
    next_run: datetime | None = None


@dataclass
class HarvestRun:
    source: str
    started: datetime
    ended: datetime
    status: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    failed: int = 0
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class Harvested:
    record_id: str
    source: str
    stamp: str
    hash: str
    harvested_at: datetime


def _when(value: datetime) -> datetime:
    found = _aware(value)
    assert found is not None  # noqa: S101 - NOT NULL columns
    return found


def _source(row: Any) -> HarvestSource:
    return HarvestSource(row.name, row.type, row.url, row.org, bool(row.public), row.every_seconds, row.query,
                         _aware(row.created), _aware(row.next_run))


def add_source(conn: Connection, src: HarvestSource) -> bool:
    """Add ``src``; False when a source of that name exists."""
    if conn.execute(select(harvest_sources.c.name).where(harvest_sources.c.name == src.name)).first():
        return False
    src.created = _now()
    conn.execute(insert(harvest_sources).values(
        name=src.name, type=src.type, url=src.url, org=src.org, public=src.public, every_seconds=src.every_seconds,
        query=src.query, created=src.created, next_run=src.next_run))
    return True


def get_source(conn: Connection, name: str) -> HarvestSource | None:
    row = conn.execute(select(harvest_sources).where(harvest_sources.c.name == name)).first()
    return _source(row) if row else None


def list_sources(conn: Connection) -> list[HarvestSource]:
    return [_source(row) for row in conn.execute(select(harvest_sources).order_by(harvest_sources.c.name))]


def remove_source(conn: Connection, name: str) -> None:
    """The source, its runs and what tells its records apart (the records themselves are the caller's)."""
    for table in (harvested_records, harvest_runs):
        conn.execute(delete(table).where(table.c.source == name))
    conn.execute(delete(harvest_sources).where(harvest_sources.c.name == name))


def due(conn: Connection, now: datetime) -> list[str]:
    """The scheduled sources whose next run is due and that no process holds."""
    c = harvest_sources.c
    query = select(c.name).where(c.every_seconds.is_not(None), or_(c.next_run.is_(None), c.next_run <= now),
                                 or_(c.claimed_until.is_(None), c.claimed_until < now)).order_by(c.next_run, c.name)
    return [row.name for row in conn.execute(query)]


def claim(conn: Connection, name: str, holder: str, hold: timedelta, *, due: bool = False) -> bool:
    """Take the source for ``hold`` unless another holder has it (and, with ``due``, only if its next run is due):
    True when taken. One conditional UPDATE: of processes claiming at once, the database lets one change the row,
    the others find it held."""
    now = _now()
    c = harvest_sources.c
    condition = [c.name == name, or_(c.claimed_until.is_(None), c.claimed_until < now)]
    if due:
        condition += [c.every_seconds.is_not(None), or_(c.next_run.is_(None), c.next_run <= now)]
    done = conn.execute(update(harvest_sources).where(*condition).values(claimed_by=holder,
                                                                           claimed_until=now + hold))
    return done.rowcount == 1


def holds(conn: Connection, name: str, holder: str) -> bool:
    """Whether ``holder`` has the source now."""
    c = harvest_sources.c
    return conn.execute(select(c.name).where(c.name == name, c.claimed_by == holder,
                                             c.claimed_until >= _now())).first() is not None


def release(conn: Connection, name: str, holder: str, next_run: datetime | None) -> None:
    """Give the source back, with the time of its next scheduled run."""
    c = harvest_sources.c
    conn.execute(update(harvest_sources).where(c.name == name, c.claimed_by == holder).values(
        claimed_by=None, claimed_until=None, next_run=next_run))


def add_run(conn: Connection, run: HarvestRun) -> None:
    done = conn.execute(insert(harvest_runs).values(
        source=run.source, started=run.started, ended=run.ended, status=run.status, added=run.added,
        updated=run.updated, removed=run.removed, failed=run.failed, message=run.message, details=run.details))
    run.id = done.inserted_primary_key[0] if done.inserted_primary_key else None


def runs(conn: Connection, source: str, limit: int = 50) -> list[HarvestRun]:
    c = harvest_runs.c
    query = select(harvest_runs).where(c.source == source).order_by(c.started.desc(), c.id.desc()).limit(limit)
    return [HarvestRun(row.source, _when(row.started), _when(row.ended), row.status, row.added, row.updated,
                       row.removed, row.failed, row.message, row.details or {}, row.id) for row in conn.execute(query)]


def of_source(conn: Connection, source: str) -> dict[str, Harvested]:
    """The records ``source`` brought, by id."""
    query = select(harvested_records).where(harvested_records.c.source == source)
    return {row.record_id: Harvested(row.record_id, row.source, row.stamp, row.hash, _when(row.harvested_at))
            for row in conn.execute(query)}


def origins(conn: Connection, ids: list[str]) -> dict[str, Harvested]:
    """Which of ``ids`` were harvested, and from where."""
    found = {}
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), 500):
        query = select(harvested_records).where(harvested_records.c.record_id.in_(unique[i:i + 500]))
        found.update({row.record_id: Harvested(row.record_id, row.source, row.stamp, row.hash,
                                               _when(row.harvested_at)) for row in conn.execute(query)})
    return found


def put_harvested(conn: Connection, source: str, record_id: str, stamp: str, digest: str, at: datetime) -> None:
    c = harvested_records.c
    if conn.execute(select(c.record_id).where(c.record_id == record_id)).first() is None:
        conn.execute(insert(harvested_records).values(record_id=record_id, source=source, stamp=stamp, hash=digest,
                                                      harvested_at=at))
    else:
        conn.execute(update(harvested_records).where(c.record_id == record_id).values(
            source=source, stamp=stamp, hash=digest, harvested_at=at))


def forget_harvested(conn: Connection, record_id: str) -> None:
    conn.execute(delete(harvested_records).where(harvested_records.c.record_id == record_id))
