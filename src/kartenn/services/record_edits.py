"""Writing the catalogue: insert, replace, change a few properties of, and delete records, all or nothing.

Used by CSW-T; rights come from the caller's SiteView (editors only; updates and deletes need the right to
edit each record, or its dataset's). Every change is audited.

>>> result = transact(view, Transaction(inserts=[rec]))   # doctest: +SKIP
>>> result.inserted[0].id, result.updated, result.deleted  # doctest: +SKIP
('urn:uuid:…', 0, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from kartenn.domain import Record
from kartenn.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from kartenn.formats.records import record_from_element
from kartenn.services import working_copies
from kartenn.services.harvest.readonly import refuse_harvested
from kartenn.services.records import search_records
from kartenn.stores import record_ids, record_versions
from kartenn.stores.record_filter import queryable
from kartenn.stores.record_index import RecordQuery
from kartenn.xml import parse_xml

__all__ = ["Transaction", "TransactionResult", "Update", "transact", "require_editor", "EDITABLE_PROPERTIES"]

ALL_STATES = ("draft", "submitted", "published", "retired")
MAX_MATCHED = 10_000
# Where a property sits in each encoding (the original document is changed, then read again).
_CITATION = "{*}identificationInfo/*/{*}citation/{*}CI_Citation"
EDITABLE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "title": (f"{_CITATION}/{{*}}title/{{*}}CharacterString", "{http://purl.org/dc/elements/1.1/}title"),
    "abstract": ("{*}identificationInfo/*/{*}abstract/{*}CharacterString", "{http://purl.org/dc/terms/}abstract",
                 "{http://purl.org/dc/elements/1.1/}description"),
}


@dataclass
class Update:
    """A whole new version of a record (``record``), or ``properties`` to set on the records ``where`` matches."""

    record: Record | None = None
    properties: dict[str, str] = field(default_factory=dict)
    where: Any = None


@dataclass
class Transaction:
    inserts: list[Record] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    deletes: list[Any] = field(default_factory=list)  # pygeofilter ASTs


@dataclass
class TransactionResult:
    inserted: list[Record] = field(default_factory=list)
    updated: int = 0
    deleted: int = 0


def require_editor(site: Any) -> None:
    """Unauthorized for anonymous callers, Forbidden for read-only tokens and for those who edit nowhere."""
    me = site.identity
    if me.user is None:
        raise Unauthorized("log in as an editor to change the catalogue")
    if me.scope != "write":
        raise Forbidden("this token is read-only")
    if not me.admin and not any(r in ("editor", "admin") for r in me.roles.values()):
        site.accounts.log(me.name, "access.denied", "catalogue", action="edit")
        raise Forbidden("only editors may change the catalogue")


def _require_edit(site: Any, rec: Record) -> None:
    site.require("edit", *working_copies.owner(rec))
    refuse_harvested(site, [rec.id])


def _matching(site: Any, where: Any) -> list[Record]:
    if where is None:
        raise InvalidInput("an update or a delete needs a constraint", locator="Constraint")
    found = search_records(site, RecordQuery(where=where, limit=MAX_MATCHED, states=ALL_STATES))
    if found.matched > MAX_MATCHED:
        raise InvalidInput(f"the constraint matches {found.matched} records; at most {MAX_MATCHED} at once")
    return found.records


def _check_properties(properties: dict[str, str]) -> None:
    for name in properties:
        if queryable(name) not in EDITABLE_PROPERTIES:
            raise InvalidInput(f"property {name!r} cannot be updated; use one of {', '.join(EDITABLE_PROPERTIES)} "
                               "or send the whole record", locator="RecordProperty")


def set_properties(rec: Record, properties: dict[str, str]) -> Record:
    """The record with some properties changed, in its original document too (which is then read again)."""
    _check_properties(properties)
    if not rec.xml:
        for name, value in properties.items():
            setattr(rec, queryable(name), value)
        return rec
    root = parse_xml(rec.xml)
    for name, value in properties.items():
        paths = EDITABLE_PROPERTIES[queryable(name)]
        node = next((n for p in paths for n in root.iterfind(p)), None)
        if node is None:
            raise InvalidInput(f"record {rec.id!r} has no {queryable(name)} to update", locator="RecordProperty")
        node.text = value
    changed = record_from_element(root)
    if changed is None or changed.id != rec.id:
        raise InvalidInput(f"record {rec.id!r} could not be updated")
    changed.dataset_id, changed.state = rec.dataset_id, rec.state
    return changed


def transact(site: Any, tx: Transaction) -> TransactionResult:
    """Apply every action of ``tx`` in one database transaction, or none (any error rolls everything back)."""
    require_editor(site)
    result = TransactionResult()
    sharing = site.publishing(None, True) if tx.inserts else None
    # Decide everything before writing: what each update and delete touches, and whether the caller may.
    # Updates build on each other: a record changed twice in one transaction keeps both changes.
    # Changes are written as PUT writes them: a published record's may wait as its working copy.
    pending: dict[str, Record] = {}
    stored: dict[str, Record] = {}
    updates = 0
    for update in tx.updates:
        if update.record is not None:
            try:
                previous = site.catalog.get_record(update.record.id)
            except NotFound:
                raise InvalidInput(f"no record {update.record.id!r} to update", locator="Update") from None
            _require_edit(site, previous)
            stored[previous.id] = previous
            pending[update.record.id] = update.record
            updates += 1
        else:
            if not update.properties:
                raise InvalidInput("an update needs a record or a csw:RecordProperty", locator="Update")
            _check_properties(update.properties)
            for rec in _matching(site, update.where):
                _require_edit(site, rec)
                if rec.id not in stored:
                    stored[rec.id] = site.catalog.get_record(rec.id)
                current = pending.get(rec.id) or working_copies.current(site, stored[rec.id])
                pending[rec.id] = set_properties(current, update.properties)
                updates += 1
    removed: list[Record] = []
    for where in tx.deletes:
        for rec in _matching(site, where):
            _require_edit(site, rec)
            if rec.dataset_id:
                raise InvalidInput(f"record {rec.id!r} describes dataset {rec.dataset_id!r}: delete the dataset",
                                   locator="Delete")
            removed.append(rec)
    seen: set[str] = set()
    for rec in tx.inserts:
        if rec.id in seen:
            raise _not_inserted(rec)
        seen.add(rec.id)
    with site.catalog.begin() as conn:
        for rec in tx.inserts:
            if record_ids.exists(conn, rec.id):  # a record the caller may not see exists all the same
                raise _not_inserted(rec)
            site.catalog.put_record(conn, rec)
            site.accounts.set_owner(conn, "record", rec.id, sharing.org, sharing.user)
            if sharing.public:
                site.accounts.grant(conn, "record", rec.id, "public", "", "view")
            record_versions.save(conn, rec, site.identity.name, "insert")
            result.inserted.append(rec)
        working_copies.save_edits(site, conn, list(pending.values()), stored)
        result.updated = updates
        for rec in {r.id: r for r in removed}.values():
            site.catalog.delete_record(conn, rec.id)
            site.accounts.forget(conn, "record", rec.id)
            result.deleted += 1
    who = site.identity.name
    for rec in result.inserted:
        site.accounts.log(who, "record.insert", f"record:{rec.id}")
    for rec in removed:
        site.accounts.log(who, "record.delete", f"record:{rec.id}")
    return result


def _not_inserted(rec: Record) -> InvalidInput:
    """One answer for an identifier already taken (by a record the caller may not see, too) or used twice."""
    return InvalidInput(f"record {rec.id!r} cannot be inserted: its identifier is not free", locator="Insert")


def records_of(element: etree._Element) -> list[Record]:
    """The records a csw:Insert or csw:Update holds; an element in no known schema is an error."""
    out = []
    for child in element.iterchildren():
        if not isinstance(child.tag, str) or etree.QName(child).localname in ("Constraint", "RecordProperty"):
            continue
        rec = record_from_element(child)
        if rec is None:
            raise InvalidInput(f"<{etree.QName(child).localname}> in {{{etree.QName(child).namespace}}} is not a "
                               "record schema offered here (gmd:MD_Metadata, mdb:MD_Metadata, csw:Record)",
                               locator=etree.QName(element).localname)
        out.append(rec)
    return out
