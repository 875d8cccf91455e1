"""Files kept with a catalogue record: its thumbnails and attachments (as a GeoNetwork MEF carries them).

A ``public`` file (a thumbnail, a document) is served to whoever may view the record; a ``private`` one to whoever
may download its data. The bytes live in the catalogue database, with the record.

>>> replace(conn, "955c3e47", [RecordFile("public", "cadastre_s.png", "image/png", png)])   # doctest: +SKIP
>>> [f.name for f in of(conn, "955c3e47")]                                                  # doctest: +SKIP
['cadastre_s.png']
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, LargeBinary, String, Table, and_, delete, insert, select
from sqlalchemy.engine import Connection

from kartenn.stores.catalog import metadata

record_files = Table(
    "record_files",
    metadata,
    Column("record_id", String(255), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("folder", String(8), nullable=False),  # public | private
    Column("media_type", String(100), nullable=False),
    Column("data", LargeBinary, nullable=False),
)


@dataclass
class RecordFile:
    folder: str  # public | private
    name: str
    media_type: str
    data: bytes = b""


def replace(conn: Connection, record_id: str, files: list[RecordFile]) -> None:
    """Make ``files`` the record's files (none: it has no more)."""
    conn.execute(delete(record_files).where(record_files.c.record_id == record_id))
    for f in files:
        conn.execute(insert(record_files).values(record_id=record_id, name=f.name, folder=f.folder,
                                                 media_type=f.media_type, data=f.data))


def of(conn: Connection, record_id: str) -> list[RecordFile]:
    """The record's files, without their bytes, by name."""
    query = select(record_files.c.folder, record_files.c.name, record_files.c.media_type).where(
        record_files.c.record_id == record_id).order_by(record_files.c.name)
    return [RecordFile(row.folder, row.name, row.media_type) for row in conn.execute(query)]


def get(conn: Connection, record_id: str, name: str) -> RecordFile | None:
    row = conn.execute(select(record_files).where(and_(record_files.c.record_id == record_id,
                                                       record_files.c.name == name))).first()
    return RecordFile(row.folder, row.name, row.media_type, bytes(row.data)) if row else None


def remove(conn: Connection, record_id: str) -> None:
    conn.execute(delete(record_files).where(record_files.c.record_id == record_id))
