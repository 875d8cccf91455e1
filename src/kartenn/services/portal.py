"""What the portal's pages show, in a few queries each, filtered by what the caller may view.

Lists are bounded SQL queries (never "load every dataset, then filter"), so a page costs the same with
ten datasets or ten thousand.

>>> recent_datasets(site.seen_by(ANONYMOUS), limit=6)            # doctest: +SKIP
[Dataset(id='regions', ...), ...]
>>> organisations(site.seen_by(ANONYMOUS))                       # doctest: +SKIP
[{'id': 'iuem', 'name': 'IUEM', 'datasets': 3}]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from kartenn.domain import Dataset
from kartenn.errors import NotFound
from kartenn.services import policy
from kartenn.stores.accounts import organisations as organisations_table
from kartenn.stores.accounts import owners
from kartenn.stores.catalog import Catalog, datasets


def _visible(view: Any) -> Any:
    """A SELECT of the dataset ids the caller may view, or None for all."""
    return policy.permitted(view.identity, "view", "dataset", view.accounts)


def _where_visible(view: Any) -> list[Any]:
    ids = _visible(view)
    return [] if ids is None else [datasets.c.id.in_(ids)]


def count_datasets(view: Any) -> int:
    with view.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(datasets).where(*_where_visible(view))).scalar_one())


def recent_datasets(view: Any, limit: int = 12) -> list[Dataset]:
    """The latest published or updated datasets the caller may view."""
    query = (select(datasets).where(*_where_visible(view))
             .order_by(datasets.c.updated.desc(), datasets.c.id).limit(limit))
    with view.engine.connect() as conn:
        return [Catalog._dataset(row) for row in conn.execute(query)]


def datasets_by_id(view: Any, ids: Iterable[str]) -> dict[str, Dataset]:
    """The visible datasets among ``ids``, in one query (search results, saved maps)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    query = select(datasets).where(datasets.c.id.in_(wanted), *_where_visible(view))
    with view.engine.connect() as conn:
        return {row.id: Catalog._dataset(row) for row in conn.execute(query)}


def organisations(view: Any) -> list[dict[str, Any]]:
    """Every organisation with the number of its datasets the caller may view."""
    counts = (select(owners.c.org_id, func.count().label("n"))
              .join(datasets, datasets.c.id == owners.c.resource_id)
              .where(owners.c.kind == "dataset", *_where_visible(view)).group_by(owners.c.org_id).subquery())
    query = (select(organisations_table.c.id, organisations_table.c.name, func.coalesce(counts.c.n, 0))
             .outerjoin(counts, counts.c.org_id == organisations_table.c.id).order_by(organisations_table.c.name))
    with view.engine.connect() as conn:
        return [{"id": i, "name": name, "datasets": int(n)} for i, name, n in conn.execute(query)]


def organisation(view: Any, org_id: str) -> dict[str, Any]:
    query = select(organisations_table.c.id, organisations_table.c.name).where(organisations_table.c.id == org_id)
    with view.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no organisation {org_id!r}")
    return {"id": row.id, "name": row.name}


def organisation_datasets(view: Any, org_id: str, *, limit: int = 20, offset: int = 0) -> tuple[int, list[Dataset]]:
    """(how many, one page) of the datasets an organisation owns that the caller may view."""
    owned = select(owners.c.resource_id).where(owners.c.kind == "dataset", owners.c.org_id == org_id)
    where = [datasets.c.id.in_(owned), *_where_visible(view)]
    with view.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(datasets).where(*where)).scalar_one()
        page = select(datasets).where(*where).order_by(func.lower(datasets.c.title), datasets.c.id)
        rows = conn.execute(page.limit(limit).offset(offset))
        return int(total), [Catalog._dataset(row) for row in rows]


def owner_organisation(view: Any, dataset_id: str) -> dict[str, Any] | None:
    """The organisation that owns a dataset, with its name."""
    query = (select(organisations_table.c.id, organisations_table.c.name)
             .join(owners, owners.c.org_id == organisations_table.c.id)
             .where(owners.c.kind == "dataset", owners.c.resource_id == dataset_id))
    with view.engine.connect() as conn:
        row = conn.execute(query).first()
    return {"id": row.id, "name": row.name} if row else None
