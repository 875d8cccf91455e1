"""The history of a record: one row per change (insert, update, status change), with the document then.

>>> save(conn, rec, "anne", "update", comment="typo in the title")   # doctest: +SKIP
>>> [v["version"] for v in history(conn, rec.id)]                   # doctest: +SKIP
[2, 1]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, Text, and_, delete, func, insert, select
from sqlalchemy.engine import Connection

from kartenn.domain import Record
from kartenn.stores.catalog import _aware, metadata

record_versions = Table(
    "record_versions",
    metadata,
    Column("record_id", String(255), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(16), nullable=False),  # insert | update | submit | publish | reject | …
    Column("state", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("xml", Text),  # the document as it was (None for records made here without one)
    Column("fields", JSON, nullable=False),  # the edited fields of records without a document
)

FIELDS = ("title", "abstract", "lineage", "keywords", "topics", "language", "type")


def save(conn: Connection, rec: Record, actor: str, action: str, comment: str = "") -> int:
    """Add a version of ``rec`` as it is now; returns its number (1, 2, …)."""
    return save_many(conn, [rec], actor, action, comment)[rec.id]


def save_many(conn: Connection, recs: list[Record], actor: str, action: str, comment: str = "") -> dict[str, int]:
    """A version of each of ``recs`` (distinct ids), ``action`` the change (a bulk import's batch too).
    Returns the number of each new version."""
    last: dict[str, int] = {}
    ids = [rec.id for rec in recs]
    for i in range(0, len(ids), 500):
        query = (select(record_versions.c.record_id, func.max(record_versions.c.version))
                 .where(record_versions.c.record_id.in_(ids[i:i + 500])).group_by(record_versions.c.record_id))
        last.update({row[0]: int(row[1]) for row in conn.execute(query) if row[1] is not None})
    now = datetime.now(UTC)
    rows = [{"record_id": rec.id, "version": last.get(rec.id, 0) + 1, "at": now, "actor": actor,
             "action": action, "state": rec.state, "title": rec.title or "", "comment": comment,
             "xml": rec.xml.decode("utf-8") if isinstance(rec.xml, bytes) else rec.xml,
             "fields": {k: getattr(rec, k) for k in FIELDS}} for rec in recs]
    if rows:
        conn.execute(insert(record_versions), rows)
    return {row["record_id"]: row["version"] for row in rows}


def history(conn: Connection, record_id: str) -> list[dict[str, Any]]:
    """The versions of a record, newest first, without their documents."""
    cols = [c for c in record_versions.c if c.name != "xml"]
    rows = conn.execute(select(*cols).where(record_versions.c.record_id == record_id)
                        .order_by(record_versions.c.version.desc()))
    return [{**dict(r._mapping), "at": _aware(r.at).isoformat()} for r in rows]


def document(conn: Connection, record_id: str, version: int) -> str | None:
    row = conn.execute(select(record_versions.c.xml).where(and_(
        record_versions.c.record_id == record_id, record_versions.c.version == version))).first()
    return row[0] if row else None


def forget(conn: Connection, record_id: str) -> None:
    conn.execute(delete(record_versions).where(record_versions.c.record_id == record_id))
