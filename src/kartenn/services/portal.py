"""What the portal's pages show, in a few queries each, filtered by what the caller may view.

Lists are bounded SQL queries (never "load every dataset, then filter"), so a page costs the same with
ten datasets or ten thousand (stores/portal.py).

>>> recent_datasets(site.seen_by(ANONYMOUS), limit=6)            # doctest: +SKIP
[Dataset(id='regions', ...), ...]
>>> organisations(site.seen_by(ANONYMOUS))                       # doctest: +SKIP
[{'id': 'iuem', 'name': 'IUEM', 'datasets': 3}]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kartenn.domain import Dataset
from kartenn.errors import NotFound
from kartenn.services import policy
from kartenn.stores import portal as store


def _visible(view: Any) -> Any:
    """A SELECT of the dataset ids the caller may view, or None for all."""
    return policy.permitted(view.identity, "view", "dataset", view.accounts)


def count_datasets(view: Any) -> int:
    return store.count_datasets(view.engine, _visible(view))


def recent_datasets(view: Any, limit: int = 12) -> list[Dataset]:
    """The latest published or updated datasets the caller may view."""
    return store.recent_datasets(view.engine, _visible(view), limit)


def datasets_by_id(view: Any, ids: Iterable[str]) -> dict[str, Dataset]:
    """The visible datasets among ``ids``, in one query (search results, saved maps)."""
    return store.datasets_by_id(view.engine, _visible(view), ids)


def organisations(view: Any) -> list[dict[str, Any]]:
    """Every organisation with the number of its datasets the caller may view."""
    return store.organisations(view.engine, _visible(view))


def organisation(view: Any, org_id: str) -> dict[str, Any]:
    found = store.organisation(view.engine, org_id)
    if found is None:
        raise NotFound(f"no organisation {org_id!r}")
    return found


def organisation_datasets(view: Any, org_id: str, *, limit: int = 20, offset: int = 0) -> tuple[int, list[Dataset]]:
    """(how many, one page) of the datasets an organisation owns that the caller may view."""
    return store.organisation_datasets(view.engine, _visible(view), org_id, limit, offset)


def owner_organisation(view: Any, dataset_id: str) -> dict[str, Any] | None:
    """The organisation that owns a dataset, with its name."""
    return store.owner_organisation(view.engine, dataset_id)
