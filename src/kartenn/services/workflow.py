"""The editing workflow of catalogue records: draft → submitted → published, with versions and an audit trail.

Editors of a record edit it (each edit is a new version) and submit it; a reviewer of the owning organisation
publishes it or sends it back to draft with a comment. Rights come from services/policy.py. The changes of a
published record by those who may not publish it wait in its working copy, which goes through the same steps
(services/working_copies.py); approving it replaces the published record.

>>> submit(view, "lacs").state            # doctest: +SKIP
'submitted'
>>> approve(reviewer_view, "lacs").state  # doctest: +SKIP
'published'

Every change is optimistic: it is written only if the record is still the version it was read as (one
conditional UPDATE, see Catalog.put_record). ``if_match`` is the entity tag the caller read (``etag(rec)``):
when the record changed since, PreconditionFailed (412) and nothing is written. Without it, a change that lost
the race is done again on the record as it is now, so an approval racing an edit neither undoes the edit nor is
undone by it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kartenn.domain import Record
from kartenn.errors import Conflict, Forbidden, InvalidInput, PreconditionFailed, Unauthorized
from kartenn.formats.records import read_records
from kartenn.services import policy, working_copies
from kartenn.services.harvest.readonly import refuse_harvested
from kartenn.services.record_edits import set_properties
from kartenn.stores import record_versions
from kartenn.stores import working_copies as working_copy_store

__all__ = ["submit", "approve", "reject", "edit", "versions", "etag", "EDITABLE_FIELDS"]

# fields a PUT may set directly; title and abstract also change the original document
EDITABLE_FIELDS = {"title": str, "abstract": str, "lineage": str, "keywords": list, "topics": list,
                   "language": str}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RETRIES = 5  # a change without If-Match that lost a race is done again on the newer version, this many times


def etag(rec: Record) -> str:
    """The record's entity tag (strong, quoted): it changes with every write of the record."""
    micros = (rec.updated - EPOCH) // timedelta(microseconds=1) if rec.updated else 0
    return f'"{rec.state[:1]}{micros:x}"'


def _matches(if_match: str, current: str) -> bool:
    tags = [t.strip() for t in if_match.split(",") if t.strip()]
    return "*" in tags or current in tags


def _load(site: Any, record_id: str) -> tuple[Record, Record | None]:
    """The record as the caller's view has it (404 for what it may not see) and its working copy, if any."""
    rec = site.catalog.get_record(record_id)
    copy = working_copies.current(site, rec)
    return rec, (copy if copy is not rec else None)


def _write(site: Any, conn: Any, rec: Record, action: str, comment: str = "", expected: Any = None) -> Record:
    """A step of the workflow on a record or on its working copy, with its version and audit line."""
    if rec.working_copy:
        working_copy_store.put(conn, rec, site.identity.name, expected)
    else:
        site.catalog.put_record(conn, rec, expected=expected)
    version = record_versions.save(conn, rec, site.identity.name, action, comment)
    site.accounts.log_many(conn, site.identity.name, [(f"record.{action}", f"record:{rec.id}", {
        "state": rec.state, "version": version, **({"working_copy": True} if rec.working_copy else {}),
        **({"comment": comment} if comment else {})})])
    return rec


def _require_edit(site: Any, rec: Record) -> None:
    if site.identity.user is None:
        raise Unauthorized(f"log in to edit record {rec.id!r}")
    site.require("edit", *working_copies.owner(rec))
    refuse_harvested(site, [rec.id])


Write = Callable[[Any, Any], Record]  # (connection, when what was read was last changed) → the record written


def _change(site: Any, record_id: str, if_match: str | None,
            change: Callable[[Record, Record | None], Write]) -> Record:
    """Read the record and its working copy, ``change`` them (rights and state: → how to write the change), check
    ``if_match`` against what the caller sees (the working copy, when there is one) and write, if nobody wrote
    it meanwhile; else 412 with ``if_match``, or once more on the newer version without."""
    for attempt in range(RETRIES):
        rec, copy = _load(site, record_id)
        read = copy or rec
        tag = etag(read)
        write = change(rec, copy)  # rights and state first: a refusal is not hidden behind a 412
        if if_match is not None and not _matches(if_match, tag):
            raise PreconditionFailed(f"record {record_id!r} was changed since you read it: read it again")
        try:
            with site.catalog.begin() as conn:
                return write(conn, read.updated)
        except PreconditionFailed:
            if if_match is not None or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _step(site: Any, rec: Record, action: str, comment: str = "") -> Write:
    return lambda conn, expected: _write(site, conn, rec, action, comment, expected)


def submit(site: Any, record_id: str, if_match: str | None = None) -> Record:
    """A draft (or the draft working copy of a published record) goes to review."""
    def change(rec: Record, copy: Record | None) -> Write:
        target = copy or rec
        _require_edit(site, target)
        if target.state != "draft":
            raise Conflict(f"record {record_id!r} is {target.state}: only drafts are submitted")
        target.state = "submitted"
        return _step(site, target, "submit")

    return _change(site, record_id, if_match, change)


def _require_review(site: Any, rec: Record) -> None:
    me = site.identity
    if me.user is None:
        raise Unauthorized(f"log in to review record {rec.id!r}")
    if not policy.may_review(me, *working_copies.owner(rec), site.accounts):
        site.accounts.log(me.name, "access.denied", f"record:{rec.id}", action="review")
        raise Forbidden(f"only reviewers of the record's organisation review {rec.id!r}")


def approve(site: Any, record_id: str, comment: str = "", if_match: str | None = None) -> Record:
    """A submitted record is published; a submitted working copy replaces the published record."""
    def change(rec: Record, copy: Record | None) -> Write:
        target = copy or rec
        _require_review(site, target)
        if target.state != "submitted":
            raise Conflict(f"record {record_id!r} is {target.state}: only submitted records are published")
        target.state = "published"
        if copy is None:
            return _step(site, rec, "publish", comment)

        def write(conn: Any, expected: Any) -> Record:
            working_copy_store.remove(conn, rec.id, expected)
            copy.working_copy, copy.dataset_id = False, rec.dataset_id
            return _write(site, conn, copy, "publish", comment, rec.updated)

        return write

    return _change(site, record_id, if_match, change)


def reject(site: Any, record_id: str, comment: str, if_match: str | None = None) -> Record:
    """A submitted record (or working copy) goes back to draft, with the reason; the published record stays."""
    def change(rec: Record, copy: Record | None) -> Write:
        target = copy or rec
        _require_review(site, target)
        if not comment.strip():
            raise InvalidInput("say why the record goes back to draft (comment)")
        if target.state != "submitted":
            raise Conflict(f"record {record_id!r} is {target.state}: only submitted records are rejected")
        target.state = "draft"
        return _step(site, target, "reject", comment)

    return _change(site, record_id, if_match, change)


def edit(site: Any, record_id: str, *, fields: dict[str, Any] | None = None, xml: bytes | None = None,
         comment: str = "", if_match: str | None = None) -> Record:
    """A new version of a record from a whole document (``xml``) and/or some ``fields``, made from what the caller
    sees (its working copy, if any) and written as services/working_copies.py says."""
    def change(rec: Record, copy: Record | None) -> Write:
        new = _edited(site, copy or rec, fields, xml)
        return lambda conn, expected: working_copies.save_edits(site, conn, [new], {rec.id: rec}, comment=comment,
                                                                expected=expected)[0]

    return _change(site, record_id, if_match, change)


def _edited(site: Any, rec: Record, fields: dict[str, Any] | None, xml: bytes | None) -> Record:
    _require_edit(site, rec)
    if site.identity.scope != "write":
        raise Forbidden("this token is read-only")
    if xml is not None:
        found = read_records(xml)
        if len(found) != 1 or found[0].id != rec.id:
            raise InvalidInput(f"the document must hold one record, with identifier {rec.id!r}")
        new = found[0]
        new.dataset_id, new.state = rec.dataset_id, rec.state
        rec = new
    for name, value in (fields or {}).items():
        kind = EDITABLE_FIELDS.get(name)
        if kind is None:
            raise InvalidInput(f"field {name!r} cannot be edited; use {', '.join(EDITABLE_FIELDS)} or send XML")
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            raise InvalidInput(f"field {name!r} must be {'a list of strings' if kind is list else 'a string'}")
    kept = sorted(k for k in (fields or {}) if k not in ("title", "abstract"))
    if rec.xml and kept:
        raise InvalidInput(f"record {rec.id!r} keeps its original document: send the XML to change {', '.join(kept)}")
    document_fields = {k: v for k, v in (fields or {}).items() if k in ("title", "abstract")}
    if document_fields and rec.xml:
        state, dataset_id = rec.state, rec.dataset_id
        rec = set_properties(rec, document_fields)
        rec.state, rec.dataset_id = state, dataset_id
    for name, value in (fields or {}).items():
        setattr(rec, name, value)
    if not (fields or xml):
        raise InvalidInput("send fields to change (JSON) or the whole record (XML)")
    return rec


def versions(site: Any, record_id: str) -> list[dict[str, Any]]:
    rec = site.catalog.get_record(record_id)
    _require_edit(site, rec)
    with site.engine.connect() as conn:
        return record_versions.history(conn, rec.id)
