"""Dataset use cases that are not publishing: removal, by those who may publish the dataset."""

from __future__ import annotations

from typing import Any

from kartenn.domain import Dataset
from kartenn.errors import Forbidden, NotFound
from kartenn.services.publish import delete_dataset


def named(site: Any, name: str) -> Dataset:
    """The dataset called ``name`` by the caller: its id, or the name it had before a migration (``ne:countries``
    in GeoServer), so that clients configured against the old server go on working. NotFound as for an id."""
    try:
        return site.catalog.get_dataset(name)  # type: ignore[no-any-return]
    except NotFound:
        former = site.catalog.former_dataset_name(name)
        if former is None:
            raise
        return site.catalog.get_dataset(former)  # type: ignore[no-any-return]


def remove(site: Any, dataset_id: str) -> Dataset:
    """Delete a dataset and its data (its organisation's editors, admins), with an audit line."""
    site.catalog.get_dataset(dataset_id)
    site.require("publish", "dataset", dataset_id)
    if site.identity.scope != "write":
        raise Forbidden("this token is read-only")
    dataset = delete_dataset(site, dataset_id)
    site.accounts.log(site.identity.name, "delete", f"dataset:{dataset_id}")
    return dataset


def sync_owners(site: Any) -> int:
    """Name each dataset's owning organisation in its record (administrators); how many records changed."""
    from kartenn.services.accounts import require_admin
    from kartenn.services.record_owner import sync_owner

    require_admin(site)
    with site.catalog.begin() as conn:
        changed = sum(sync_owner(site, conn, dataset_id) for dataset_id in sorted(site.catalog.dataset_ids(conn)))
    site.accounts.log(site.identity.name, "record.contacts", "catalogue", changed=changed)
    return changed
