"""The organisation that owns a dataset, as the point of contact of the dataset's record.

Written into the record (so the Organisation facet counts it) when the dataset is published, replaced or given
to another organisation; contacts it writes carry ``"source": "owner"`` and are replaced, never duplicated.
A dataset without an owning organisation names the site's publisher (``publisher_name`` in kartenn.toml), if any.

>>> owner_contacts(site, conn, "lacs")[0]["organisation"]   # doctest: +SKIP
'IUEM'
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from kartenn.domain import Record
from kartenn.errors import NotFound

SOURCE = "owner"


def owner_contacts(site: Any, conn: Connection, dataset_id: str) -> list[dict[str, Any]]:
    """The resource and metadata points of contact for the owner of ``dataset_id`` (empty: nobody to name)."""
    name = site.accounts.owner_name(conn, "dataset", dataset_id)
    s = site.settings
    if name is not None:
        party = {"organisation": name}
    elif s.publisher_name:
        party = {"organisation": s.publisher_name, "email": s.publisher_email, "url": s.publisher_url}
    else:
        return []
    party = {k: v for k, v in party.items() if v}
    return [{**party, "role": "pointOfContact", "scope": scope, "source": SOURCE} for scope in ("resource", "metadata")]


def with_owner_contacts(site: Any, conn: Connection, rec: Record) -> Record:
    """A copy of the record of a dataset whose owner contacts come first and are those of today's owner."""
    if not rec.dataset_id:
        return rec
    own = [c for c in rec.contacts if c.get("source") != SOURCE]
    return replace(rec, contacts=owner_contacts(site, conn, rec.dataset_id) + own)


def sync_owner(site: Any, conn: Connection, dataset_id: str) -> bool:
    """Rewrite the record of ``dataset_id`` when its owner contacts changed (after a change of owner); True if
    it did."""
    try:
        rec = site.catalog.get_record(site.catalog.get_dataset(dataset_id, conn).record_id, conn)
    except NotFound:
        return False
    fresh = with_owner_contacts(site, conn, rec)
    if fresh.contacts == rec.contacts:
        return False
    site.catalog.put_record(conn, fresh)
    return True
