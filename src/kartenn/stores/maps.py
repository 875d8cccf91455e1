"""Saved maps ("map templates"): a viewer's layers, styles, extent and time, kept under an id others can open.

>>> maps = Maps(engine)                                                  # doctest: +SKIP
>>> maps.add("rade-de-brest", "Rade de Brest", "anne", {"layers": []})   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, DateTime, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from kartenn.errors import NotFound
from kartenn.stores.catalog import _aware, _now, metadata

maps = Table(
    "maps", metadata,
    Column("id", String(80), primary_key=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("body", JSON, nullable=False),  # layers, extent, basemap, time: what the viewer restores
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)


def _row(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["created"], data["updated"] = _aware(data["created"]).isoformat(), _aware(data["updated"]).isoformat()
    return data


class Maps:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, conn: Connection, map_id: str, title: str, abstract: str, created_by: str,
            body: dict[str, Any]) -> None:
        now = _now()
        conn.execute(insert(maps).values(id=map_id, title=title, abstract=abstract, created_by=created_by, body=body,
                                         created=now, updated=now))

    def get(self, map_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(maps).where(maps.c.id == map_id)).first()
        if row is None:
            raise NotFound(f"no map {map_id!r}")
        return _row(row)

    def list(self, visible: Any, *, limit: int, offset: int) -> list[dict[str, Any]]:
        """Maps whose id is in ``visible`` (a SELECT of ids, or None for all), newest first."""
        query = select(maps.c.id, maps.c.title, maps.c.abstract, maps.c.created_by, maps.c.created, maps.c.updated)
        if visible is not None:
            query = query.where(maps.c.id.in_(visible))
        query = query.order_by(maps.c.updated.desc(), maps.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def update(self, conn: Connection, map_id: str, **values: Any) -> None:
        conn.execute(update(maps).where(maps.c.id == map_id).values(**values, updated=_now()))

    def delete(self, conn: Connection, map_id: str) -> None:
        conn.execute(delete(maps).where(maps.c.id == map_id))
