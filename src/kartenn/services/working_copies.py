"""Changes of stored records, written as the workflow gives them to the caller (GeoNetwork's working copies).

Someone who may edit a published record but may not publish it (not a reviewer of the owning organisation, not a
platform admin, no ``publish`` grant) does not change what everyone sees: the change becomes the record's working
copy (stores/working_copies.py), a draft its editors see, edit and submit, and that a reviewer's approval
publishes (services/workflow.py). Once a record has a working copy, every change goes to it. Other changes are
made to the record itself, which keeps its state. PUT, imports and CSW-T Update all write through ``save_edits``.

>>> [r.working_copy for r in save_edits(editor_view, conn, [change], {change.id: published})]  # doctest: +SKIP
[True]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from kartenn.domain import Record
from kartenn.services import policy
from kartenn.stores import record_versions, working_copies

__all__ = ["may_publish", "current", "seen", "save_edits"]


def owner(rec: Record) -> tuple[str, str]:
    """The resource whose rights a record follows: its dataset's, or its own."""
    return ("dataset", rec.dataset_id) if rec.dataset_id else ("record", rec.id)


def may_publish(site: Any, rec: Record) -> bool:
    """Whether the caller's changes of ``rec`` are published as they are made (see policy.publishes_changes)."""
    return policy.publishes_changes(site.identity, *owner(rec), site.accounts)


def current(site: Any, rec: Record, conn: Connection | None = None) -> Record:
    """The record's working copy, if it has one, else ``rec`` itself (no rights asked)."""
    if conn is not None:
        return working_copies.get(conn, rec.id) or rec
    with site.catalog.engine.connect() as c:
        return working_copies.get(c, rec.id) or rec


def seen(site: Any, rec: Record) -> Record:
    """``rec`` as the caller sees it: its working copy to those who may edit or review it, the record to others."""
    found = current(site, rec)
    if found is rec or site.identity.user is None:
        return rec
    kind, key = owner(rec)
    if site.may("edit", kind, key) or policy.may_review(site.identity, kind, key, site.accounts):
        return found
    return rec


def save_edits(site: Any, conn: Connection, changes: list[Record], stored: dict[str, Record], *,
               comment: str = "", detail: dict[str, Any] | None = None,
               expected: datetime | None = None) -> list[Record]:
    """Write ``changes`` of records stored as ``stored`` (by id; the caller checked the right to edit them), with
    a version and an audit line each: to the working copy when the record has one or when the caller may not
    publish a published record (a new copy, a draft), else to the record, in its state. The last of changes
    sharing an id wins. ``expected``: when the record (or its working copy) was last changed as the caller read
    it; PreconditionFailed if it changed since (one change only)."""
    changes = list({rec.id: rec for rec in changes}.values())
    if expected is not None and len(changes) != 1:
        raise ValueError("a conditional change is of one record")
    actor = site.identity.name
    copies = working_copies.of(conn, [rec.id for rec in changes])
    direct = []
    for rec in changes:
        before = stored[rec.id]
        rec.dataset_id = before.dataset_id
        copy = copies.get(rec.id)
        if copy is not None:
            rec.state = copy.state
            working_copies.put(conn, rec, actor, expected)
        elif before.state == "published" and not may_publish(site, before):
            rec.state = "draft"
            working_copies.put(conn, rec, actor, expected, new=True)
        else:
            rec.state, rec.working_copy = before.state, False
            direct.append(rec)
    if expected is not None:
        for rec in direct:
            site.catalog.put_record(conn, rec, expected=expected)
    elif direct:
        site.catalog.put_records(conn, direct)
    numbers = record_versions.save_many(conn, changes, actor, "update",
                                        comment=comment)
    site.accounts.log_many(conn, actor, [
        ("record.update", f"record:{rec.id}", {"state": rec.state, "version": numbers[rec.id],
                                               **({"working_copy": True} if rec.working_copy else {}),
                                               **({"comment": comment} if comment else {}), **(detail or {})})
        for rec in changes])
    return changes
