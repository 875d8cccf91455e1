"""A site as one caller sees it: datasets and records it may not view do not exist for it.

Every router gets its site through ``site.seen_by(identity)``, so lists, capabilities, searches, tiles,
maps and downloads all go through the policy without each having to remember it.

>>> view = SiteView(site, Identity(user="anne", roles={"iuem": "member"}))  # doctest: +SKIP
>>> [d.id for d in view.catalog.list_datasets()]                          # doctest: +SKIP
['regions', 'iuem-private']
"""

from __future__ import annotations

from typing import Any

from kartenn.domain import Dataset, Record
from kartenn.domain.security import Identity, Sharing
from kartenn.errors import Forbidden, NotFound, Unauthorized
from kartenn.services import policy
from kartenn.stores.catalog import Catalog

# What the catalogue offers a caller besides its filtered reads, each free of identity: transactions and the
# writes that services make once they have checked the caller's rights; jobs (filtered by may_see_job); named
# styles and series (of a dataset already got through get_dataset); ids and origins that callers compare, never show.
CATALOG_SHARED = frozenset({
    "begin", "engine", "analyze",
    "add_dataset", "update_dataset", "set_dataset_record", "delete_dataset", "dataset_ids",
    "put_record", "put_records", "delete_record", "record_origins",
    "add_job", "save_job", "get_job", "list_jobs",
    "named_styles", "named_styles_of", "put_named_style", "delete_named_style", "former_dataset_name",
    "former_names",
    "put_series", "series_of",
})
# What a site offers a caller as is: settings, and the stores the services read and write after their checks.
SITE_SHARED = frozenset({"settings", "accounts", "features", "maps", "files", "staging", "engine", "close"})


class PolicyCatalog:
    """The catalogue's reading methods, filtered by what the identity may view, and the identity-free methods
    of CATALOG_SHARED; nothing else (AttributeError)."""

    def __init__(self, catalog: Catalog, identity: Identity, site: Any) -> None:
        self._catalog, self._identity, self._site = catalog, identity, site

    def __getattr__(self, name: str) -> Any:
        if name in CATALOG_SHARED:
            return getattr(self._catalog, name)
        raise AttributeError(f"the catalogue seen by a caller offers no {name!r}")

    def _visible_ids(self, kind: str) -> set[str] | None:
        ids = policy.permitted(self._identity, "view", kind, self._site.accounts)
        if ids is None:
            return None
        return self._catalog.ids_in(ids)

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
            seen = ids is None or self._site.accounts.among(ids, key)
        if not seen:
            raise NotFound(f"no record {record_id!r}")
        return record


class SiteView:
    """A site seen by one identity: ``catalog`` filtered, ``identity`` at hand, the parts of SITE_SHARED as they
    are; nothing else (AttributeError)."""

    def __init__(self, site: Any, identity: Identity) -> None:
        self._site = site
        self.identity = identity
        self.catalog = PolicyCatalog(site.catalog, identity, site)

    def __getattr__(self, name: str) -> Any:
        if name in SITE_SHARED:
            return getattr(self._site, name)
        raise AttributeError(f"a site seen by a caller offers no {name!r}")

    def records_visibility(self) -> Any:
        """A SQL condition on the records table: the records this identity may view, published or not
        (None: all)."""
        datasets = policy.permitted(self.identity, "view", "dataset", self._site.accounts)
        standalone = policy.permitted(self.identity, "view", "record", self._site.accounts)
        draft_datasets = policy.unpublished_permitted(self.identity, "dataset")
        draft_records = policy.unpublished_permitted(self.identity, "record")
        if datasets is None and standalone is None and draft_datasets is None and draft_records is None:
            return None
        return Catalog.records_among(datasets, standalone, draft_datasets, draft_records)

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

