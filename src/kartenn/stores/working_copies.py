"""Working copies: the pending change of a published record, made by someone who may not publish it.

The published record stays in ``records`` (what searches, CSW, OGC API Records and exports read); the change
waits here, one row per record, in its own workflow state (draft, submitted), until a reviewer publishes it (it
then replaces the record and its row goes) or sends it back to draft.

>>> put(conn, change, "edith")                      # doctest: +SKIP
>>> get(conn, change.id).working_copy               # doctest: +SKIP
True
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, String, Table, Text, and_, delete, insert, select, update
from sqlalchemy.engine import Connection

from kartenn.domain import Field, Record
from kartenn.errors import PreconditionFailed
from kartenn.stores.catalog import _aware, later, metadata, records

working_copies = Table(
    "record_working_copies",
    metadata,
    Column("record_id", String(255), primary_key=True),
    Column("state", String(16), nullable=False),  # draft | submitted
    Column("record", JSON, nullable=False),  # the record's fields, as written by _fields
    Column("xml", Text),  # its document, for records that keep one
    Column("actor", String(80), nullable=False),  # who last changed it
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)

_NOT_KEPT = ("xml", "state", "created", "updated", "working_copy")


def _fields(rec: Record) -> dict[str, Any]:
    data = asdict(rec)
    for name in _NOT_KEPT:
        data.pop(name)
    return data


def _record(row: Any) -> Record:
    data = dict(row.record)
    data["attributes"] = [Field(**f) for f in data.get("attributes") or []]
    data["extent_wgs84"] = tuple(data["extent_wgs84"]) if data.get("extent_wgs84") else None
    return Record(**data, state=row.state, xml=row.xml.encode("utf-8") if row.xml else None,
                  created=_aware(row.created), updated=_aware(row.updated), working_copy=True)


def get(conn: Connection, record_id: str) -> Record | None:
    row = conn.execute(select(working_copies).where(working_copies.c.record_id == record_id)).first()
    return _record(row) if row else None


def of(conn: Connection, ids: list[str]) -> dict[str, Record]:
    """The working copies of those of ``ids`` that have one."""
    found: dict[str, Record] = {}
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), 500):
        query = select(working_copies).where(working_copies.c.record_id.in_(unique[i:i + 500]))
        found.update({row.record_id: _record(row) for row in conn.execute(query)})
    return found


def put(conn: Connection, rec: Record, actor: str, expected: datetime | None = None, *,
        new: bool = False) -> None:
    """Write the working copy ``rec`` (its state: draft or submitted). ``new``: there must be none yet, and the
    published record must still be the one last changed at ``expected`` (if given); else the stored copy must
    still be the one changed at ``expected`` (if given). PreconditionFailed otherwise, nothing written."""
    xml = rec.xml.decode("utf-8") if isinstance(rec.xml, bytes) else rec.xml
    values = {"state": rec.state, "record": _fields(rec), "xml": xml, "actor": actor}
    if new:
        # the published record's row, locked until the transaction ends: nobody replaces it meanwhile
        where = [records.c.id == rec.id]
        if expected is not None:
            where.append(records.c.updated == _aware(expected))
        done = conn.execute(update(records).where(and_(*where)).values(updated=records.c.updated))
        if done.rowcount != 1:
            raise PreconditionFailed(f"record {rec.id!r} was changed meanwhile; read it again")
        if get(conn, rec.id) is not None:
            raise PreconditionFailed(f"record {rec.id!r} has a pending change since you read it; read it again")
        rec.created = rec.updated = later(expected)
        conn.execute(insert(working_copies).values(record_id=rec.id, created=rec.created, updated=rec.updated,
                                                   **values))
    else:
        rec.updated = later(expected)
        where = [working_copies.c.record_id == rec.id]
        if expected is not None:
            where.append(working_copies.c.updated == _aware(expected))
        done = conn.execute(update(working_copies).where(and_(*where)).values(updated=rec.updated, **values))
        if done.rowcount != 1:
            raise PreconditionFailed(f"the pending change of record {rec.id!r} was changed meanwhile; read it again")
    rec.working_copy = True


def remove(conn: Connection, record_id: str, expected: datetime | None = None) -> None:
    """Drop the working copy of a record; with ``expected``, only if it is still the one changed then."""
    where = [working_copies.c.record_id == record_id]
    if expected is not None:
        where.append(working_copies.c.updated == _aware(expected))
        if conn.execute(delete(working_copies).where(and_(*where))).rowcount != 1:
            raise PreconditionFailed(f"the pending change of record {record_id!r} was changed meanwhile")
        return
    conn.execute(delete(working_copies).where(and_(*where)))
