"""The portal's lists in a few bounded queries each: datasets and organisations, filtered by ``visible``, a SELECT of
the dataset ids the caller may view (None: all of them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from kartenn.domain import Dataset
from kartenn.stores.accounts import organisations as organisations_table
from kartenn.stores.accounts import owners
from kartenn.stores.catalog import Catalog, datasets


def _where(visible: Any) -> list[Any]:
    return [] if visible is None else [datasets.c.id.in_(visible)]


def count_datasets(engine: Engine, visible: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(datasets).where(*_where(visible))).scalar_one())


def recent_datasets(engine: Engine, visible: Any, limit: int) -> list[Dataset]:
    query = (select(datasets).where(*_where(visible))
             .order_by(datasets.c.updated.desc(), datasets.c.id).limit(limit))
    with engine.connect() as conn:
        return [Catalog._dataset(row) for row in conn.execute(query)]


def datasets_by_id(engine: Engine, visible: Any, ids: Iterable[str]) -> dict[str, Dataset]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    query = select(datasets).where(datasets.c.id.in_(wanted), *_where(visible))
    with engine.connect() as conn:
        return {row.id: Catalog._dataset(row) for row in conn.execute(query)}


def organisations(engine: Engine, visible: Any) -> list[dict[str, Any]]:
    counts = (select(owners.c.org_id, func.count().label("n"))
              .join(datasets, datasets.c.id == owners.c.resource_id)
              .where(owners.c.kind == "dataset", *_where(visible)).group_by(owners.c.org_id).subquery())
    query = (select(organisations_table.c.id, organisations_table.c.name, func.coalesce(counts.c.n, 0))
             .outerjoin(counts, counts.c.org_id == organisations_table.c.id).order_by(organisations_table.c.name))
    with engine.connect() as conn:
        return [{"id": i, "name": name, "datasets": int(n)} for i, name, n in conn.execute(query)]


def organisation(engine: Engine, org_id: str) -> dict[str, Any] | None:
    query = select(organisations_table.c.id, organisations_table.c.name).where(organisations_table.c.id == org_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return {"id": row.id, "name": row.name} if row else None


def organisation_datasets(engine: Engine, visible: Any, org_id: str, limit: int,
                          offset: int) -> tuple[int, list[Dataset]]:
    owned = select(owners.c.resource_id).where(owners.c.kind == "dataset", owners.c.org_id == org_id)
    where = [datasets.c.id.in_(owned), *_where(visible)]
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(datasets).where(*where)).scalar_one()
        page = select(datasets).where(*where).order_by(func.lower(datasets.c.title), datasets.c.id)
        rows = conn.execute(page.limit(limit).offset(offset))
        return int(total), [Catalog._dataset(row) for row in rows]


def owner_organisation(engine: Engine, dataset_id: str) -> dict[str, Any] | None:
    query = (select(organisations_table.c.id, organisations_table.c.name)
             .join(owners, owners.c.org_id == organisations_table.c.id)
             .where(owners.c.kind == "dataset", owners.c.resource_id == dataset_id))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return {"id": row.id, "name": row.name} if row else None
