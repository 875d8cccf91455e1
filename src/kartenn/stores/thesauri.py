"""Thesauri (SKOS concept schemes) and their concepts' labels, for keyword pickers and facet labels.

>>> replace(conn, "inspire-theme", "INSPIRE themes", "http://inspire.ec.europa.eu/theme", found)  # doctest: +SKIP
>>> search(conn, "inspire-theme", "hydro", 20)                                                   # doctest: +SKIP
[{'uri': 'http://inspire.ec.europa.eu/theme/hy', 'labels': {'en': 'Hydrography', 'fr': 'Hydrographie'}}]
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index, String, Table, Text, and_, delete, func, insert, select
from sqlalchemy.engine import Connection

from kartenn.stores.catalog import metadata

thesauri = Table(
    "thesauri",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("title", Text, nullable=False),
    Column("uri", Text, nullable=False),
)
concepts = Table(
    "thesaurus_concepts",
    metadata,
    Column("thesaurus_id", String(80), primary_key=True),
    Column("uri", String(500), primary_key=True),
    Column("labels", JSON, nullable=False),  # {lang: preferred label}
    Column("search", Text, nullable=False),  # every label, folded, for q=
    Index("thesaurus_concepts_thesaurus", "thesaurus_id"),
)


def replace(conn: Connection, thesaurus_id: str, title: str, uri: str, found: list[dict[str, Any]]) -> None:
    """Store a thesaurus, replacing an earlier import of it. ``found``: [{uri, labels, search}]."""
    conn.execute(delete(concepts).where(concepts.c.thesaurus_id == thesaurus_id))
    conn.execute(delete(thesauri).where(thesauri.c.id == thesaurus_id))
    conn.execute(insert(thesauri).values(id=thesaurus_id, title=title, uri=uri))
    if found:
        conn.execute(insert(concepts), [{"thesaurus_id": thesaurus_id, **c} for c in found])


def listing(conn: Connection) -> list[dict[str, Any]]:
    counts = (select(concepts.c.thesaurus_id, func.count().label("n")).group_by(concepts.c.thesaurus_id)
              .subquery())
    rows = conn.execute(select(thesauri, counts.c.n).outerjoin(counts, counts.c.thesaurus_id == thesauri.c.id)
                        .order_by(thesauri.c.id))
    return [{"id": r.id, "title": r.title, "uri": r.uri, "concepts": int(r.n or 0)} for r in rows]


def exists(conn: Connection, thesaurus_id: str) -> bool:
    return conn.execute(select(thesauri.c.id).where(thesauri.c.id == thesaurus_id)).first() is not None


def search(conn: Connection, thesaurus_id: str, folded_q: str | None, limit: int) -> list[dict[str, Any]]:
    """Concepts whose labels contain ``folded_q`` (already folded), first by label."""
    query = select(concepts.c.uri, concepts.c.labels).where(concepts.c.thesaurus_id == thesaurus_id)
    if folded_q:
        escaped = folded_q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(concepts.c.search.like(f"%{escaped}%", escape="\\"))
    return [{"uri": r.uri, "labels": r.labels} for r in conn.execute(query.order_by(concepts.c.uri).limit(limit))]


def all_labels(conn: Connection, thesaurus_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(concepts.c.uri, concepts.c.labels).where(and_(concepts.c.thesaurus_id == thesaurus_id)))
    return [{"uri": r.uri, "labels": r.labels} for r in rows]
