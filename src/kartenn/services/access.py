"""A site as one caller sees it: datasets and records it may not view do not exist for it.

Every router gets its site through ``site.seen_by(identity)``, so lists, capabilities, searches, tiles,
maps and downloads all go through the policy without each having to remember it.

>>> view = SiteView(site, Identity(user="anne", roles={"iuem": "member"}))  # doctest: +SKIP
>>> [d.id for d in view.catalog.list_datasets()]                          # doctest: +SKIP
['regions', 'iuem-private']
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, literal, or_, select, true

from kartenn.domain import Dataset, Record
from kartenn.domain.security import Identity, Sharing
from kartenn.errors import Forbidden, NotFound, Unauthorized
from kartenn.services import policy
from kartenn.stores.catalog import Catalog, records


class PolicyCatalog:
    """The catalogue's reading methods, filtered by what the identity may view; the rest passes through."""

    def __init__(self, catalog: Catalog, identity: Identity, site: Any) -> None:
        self._catalog, self._identity, self._site = catalog, identity, site

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalog, name)

    def _visible_ids(self, kind: str) -> set[str] | None:
        ids = policy.permitted(self._identity, "view", kind, self._site.accounts)
        if ids is None:
            return None
        with self._catalog.engine.connect() as conn:
            return {row[0] for row in conn.execute(ids)}

    def get_dataset(self, dataset_id: str, conn: Any = None) -> Dataset:
        dataset = self._catalog.get_dataset(dataset_id, conn)
        if not policy.allowed(self._identity, "view", "dataset", dataset_id, self._site.accounts):
            raise NotFound(f"no dataset {dataset_id!r}")
        return dataset

    def list_datasets(self, *, limit: int | None = None, offset: int = 0) -> list[Dataset]:
        visible = self._visible_ids("dataset")
        if visible is None:
            return self._catalog.list_datasets(limit=limit, offset=offset)
        found = [d for d in self._catalog.list_datasets() if d.id in visible][offset:]
        return found[:limit] if limit is not None else found

    def get_record(self, record_id: str, conn: Any = None) -> Record:
        record = self._catalog.get_record(record_id, conn)
        kind, key = ("dataset", record.dataset_id) if record.dataset_id else ("record", record.id)
        if record.state == "published":
            seen = policy.allowed(self._identity, "view", kind, key, self._site.accounts)
        else:
            ids = policy.unpublished_permitted(self._identity, kind)
            seen = ids is None or key in self._ids(ids)
        if not seen:
            raise NotFound(f"no record {record_id!r}")
        return record

    def _ids(self, query: Any) -> set[str]:
        with self._catalog.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}


class SiteView:
    """A site seen by one identity: ``catalog`` filtered, ``identity`` at hand, the rest of the site as is."""

    def __init__(self, site: Any, identity: Identity) -> None:
        self._site = site
        self.identity = identity
        self.catalog = PolicyCatalog(site.catalog, identity, site)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._site, name)

    def records_visibility(self) -> Any:
        """A SQL condition on the records table: the records this identity may view, published or not
        (None: all)."""
        datasets = policy.permitted(self.identity, "view", "dataset", self._site.accounts)
        standalone = policy.permitted(self.identity, "view", "record", self._site.accounts)
        draft_datasets = policy.unpublished_permitted(self.identity, "dataset")
        draft_records = policy.unpublished_permitted(self.identity, "record")
        if datasets is None and standalone is None and draft_datasets is None and draft_records is None:
            return None

        def among(dataset_ids: Any, record_ids: Any) -> Any:
            return or_(and_(records.c.dataset_id.is_not(None), _member(records.c.dataset_id, dataset_ids)),
                       and_(records.c.dataset_id.is_(None), _member(records.c.id, record_ids)))

        published = records.c.state == "published"
        return or_(and_(published, among(datasets, standalone)),
                   and_(records.c.state != "published", among(draft_datasets, draft_records)))

    def may(self, action: str, kind: str, resource_id: str) -> bool:
        return policy.allowed(self.identity, action, kind, resource_id, self._site.accounts)

    def require(self, action: str, kind: str, resource_id: str) -> None:
        """Forbidden unless the caller may ``action`` the resource (which it must be able to see: else 404)."""
        if not self.may(action, kind, resource_id):
            self._site.accounts.log(self.identity.name, "access.denied", f"{kind}:{resource_id}", action=action)
            if action != "view" and not self._sees(kind, resource_id):
                raise NotFound(f"no {kind} {resource_id!r}")
            if self.identity.user is None:
                raise Unauthorized(f"log in to {action} {kind} {resource_id!r}")
            raise Forbidden(f"you may not {action} {kind} {resource_id!r}")

    def _sees(self, kind: str, resource_id: str) -> bool:
        if kind != "record":
            return self.may("view", kind, resource_id)
        try:
            self.catalog.get_record(resource_id)
        except NotFound:
            return False
        return True

    def publishing(self, org: str | None, public: bool) -> Sharing:
        """Who will own what this caller publishes. Editors publish in their organisations; new data stays
        private to the organisation unless ``public``. Platform admins may publish without one."""
        me = self.identity
        if me.user is None:
            raise Unauthorized("log in to publish")
        if me.scope != "write":
            raise Forbidden("this token is read-only")
        if org is None:
            mine = [o for o, r in me.roles.items() if r in ("editor", "admin")]
            if me.admin and not mine:
                return Sharing(org=None, user=me.user, public=True)
            if len(mine) != 1:
                raise Forbidden("say which organisation publishes (field 'org')" if mine else
                                "only editors of an organisation may publish")
            org = mine[0]
        if not me.admin and me.roles.get(org) not in ("editor", "admin"):
            self._site.accounts.log(me.name, "access.denied", f"org:{org}", action="publish")
            raise Forbidden(f"only editors of {org!r} may publish there")
        return Sharing(org=org, user=me.user, public=public)

    def may_see_job(self, params: dict[str, Any]) -> bool:
        me = self.identity
        return me.admin or (me.user is not None and params.get("created_by") == me.user)


def _member(column: Any, ids: Any) -> Any:
    """``column`` among ``ids`` (a SELECT of ids; None: every id)."""
    return true() if ids is None else _among(column, ids)


def _among(column: Any, ids: Any) -> Any:
    """``column`` is one of the ids the SELECT ``ids`` yields, as a correlated EXISTS: the database probes the
    grants index for each candidate record, where IN listed every permitted id again for each search."""
    sub = ids.subquery()
    return exists(select(literal(1)).select_from(sub).where(list(sub.c)[0] == column))
