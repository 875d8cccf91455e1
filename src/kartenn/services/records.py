"""Catalogue records: import ISO / Dublin Core documents (file, folder, zip, GeoNetwork MEF), search, export.

>>> report = import_paths(site, [Path("records/")])   # doctest: +SKIP
>>> report.imported
33
>>> search_records(site, RecordQuery(q="cadastre bretagne")).matched   # doctest: +SKIP
1
"""

from __future__ import annotations

import mimetypes
import weakref
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from kartenn.domain import Record
from kartenn.domain.security import Sharing
from kartenn.errors import Conflict, Forbidden, InvalidInput, KartennError, NotFound
from kartenn.formats.dublin_core import render_csw_record
from kartenn.formats.iso19115_3 import render_iso19115_3
from kartenn.formats.iso19139 import render_iso19139
from kartenn.formats.records import read_records
from kartenn.services.access import SiteView
from kartenn.services.archives import check_zip
from kartenn.services.harvest.readonly import refuse_harvested
from kartenn.services.working_copies import owner, save_edits
from kartenn.site import Site
from kartenn.stores import record_files, record_index, record_versions
from kartenn.stores.record_index import RecordQuery, SearchResult
from kartenn.xml import to_bytes

__all__ = ["ImportReport", "RecordQuery", "SearchResult", "import_bytes", "import_records", "attach_record",
           "import_paths", "search_records", "get_record", "record_file", "export_record", "domain_values",
           "catalogue_extent"]

XML_SUFFIXES = {".xml"}
ZIP_SUFFIXES = {".zip", ".mef"}
MEF_SKIPPED = {"info.xml"}  # MEF bookkeeping, not metadata


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: int = 0  # documents refused for want of the right to write one of their records

    def as_dict(self) -> dict[str, object]:
        return {"imported": self.imported, "errors": self.errors}


BATCH = 500  # records written per transaction by a bulk import
ANALYZE_AFTER = 1000  # records imported at once after which the planner's statistics are refreshed


def import_bytes(site: SiteView, data: bytes, *, source: str = "request", sharing: Sharing | None = None,
                 draft: bool = False) -> list[Record]:
    """Import every record of one XML document, all or nothing. Raises InvalidInput, Forbidden.
    New records get ``sharing`` (default: public); ``draft`` ones wait for review. A record already stored is
    changed as an edit through PUT is, if the caller may edit it (services/working_copies.py)."""
    return import_records(site, read_records(data), source=source, sharing=sharing, draft=draft)


def import_records(site: SiteView, found: list[Record], *, source: str = "request", sharing: Sharing | None = None,
                   draft: bool = False) -> list[Record]:
    """Import records already read (``read_records``), as ``import_bytes`` does."""
    stored = _replaced(site, found)
    with site.catalog.begin() as conn:
        _save(site, conn, found, stored, sharing, draft, source)
    return found


def attach_record(site: SiteView, rec: Record, dataset_id: str, *, source: str = "request") -> Record:
    """Make ``rec`` the record of dataset ``dataset_id``, in place of the one it had (removed): one dataset, one
    record. The record then follows the dataset's rights; the caller must be allowed to publish the dataset."""
    dataset = site.catalog.get_dataset(dataset_id)
    site.require("publish", "dataset", dataset_id)
    previous = site.catalog.get_record(dataset.record_id)
    rec = replace(rec, dataset_id=dataset_id, state=previous.state)
    with site.catalog.begin() as conn:
        if rec.id != previous.id:
            site.accounts.forget(conn, "record", rec.id)  # a record of its own until now: the dataset's from now
        site.catalog.put_record(conn, rec)
        if rec.id != previous.id:
            site.catalog.set_dataset_record(conn, dataset_id, rec.id)
            site.catalog.delete_record(conn, previous.id)
        record_versions.save_many(conn, [rec], site.identity.name, "update", comment=f"import from {source}")
        site.accounts.log_many(conn, site.identity.name, [("record.attach", f"record:{rec.id}", {
            "dataset": dataset_id, "replaced": previous.id, "source": source})])
    return site.catalog.get_record(rec.id)


def _replaced(site: SiteView, found: list[Record]) -> dict[str, Record]:
    """The stored records that ``found`` would replace, each checked as an edit through the workflow's rights.
    Forbidden, with the same answer whether the caller may see the record or not, when it may not edit one."""
    if not isinstance(site, SiteView):
        raise TypeError("records are imported by a caller: pass site.seen_by(identity)")
    with site.catalog.engine.connect() as conn:
        ids = list(site.catalog.record_origins(conn, [r.id for r in found]))
    stored = {}
    for record_id in ids:
        try:
            rec = site.catalog.get_record(record_id)  # NotFound for a record the caller may not see
            allowed = site.identity.scope == "write" and site.may("edit", *owner(rec))
        except NotFound:
            allowed = False
        if not allowed:
            site.accounts.log(site.identity.name, "access.denied", f"record:{record_id}", action="import")
            raise Forbidden(f"you may not import a record with identifier {record_id!r}")
        stored[record_id] = rec
    refuse_harvested(site, list(stored))
    return stored


def _save(site: SiteView, conn: Any, found: list[Record], stored: dict[str, Record], sharing: Sharing | None,
          draft: bool, source: str) -> None:
    """Write records as if one after the other (the last of those sharing an id wins). A stored record (checked by
    ``_replaced``) is changed as an edit through PUT is (services/working_copies.py); new records get an owner
    and, when public, a public view grant. Each record written gets a version and an audit line."""
    if set(site.catalog.record_origins(conn, [r.id for r in found])) - set(stored):
        raise Conflict("a record of the document was created meanwhile: import it again")
    last = list({rec.id: rec for rec in found}.values())
    new = [rec for rec in last if rec.id not in stored]
    for rec in new:
        if draft:
            rec.state = "draft"
    site.catalog.put_records(conn, new)
    sharing = sharing or Sharing()
    ids = [rec.id for rec in new]
    site.accounts.set_owners(conn, "record", ids, sharing.org, sharing.user)
    if sharing.public:
        site.accounts.grant_many(conn, "record", ids, "public", "", "view")
    record_versions.save_many(conn, new, site.identity.name, "insert",
                              comment=f"import from {source}")
    site.accounts.log_many(conn, site.identity.name, [
        ("record.insert", f"record:{rec.id}", {"state": rec.state, "source": source}) for rec in new])
    save_edits(site, conn, [rec for rec in last if rec.id in stored], stored, comment=f"import from {source}",
               detail={"source": source})


def import_paths(site: SiteView, paths: Iterable[Path], sharing: Sharing | None = None) -> ImportReport:
    """Import files, folders (recursively), zips and MEF archives; one bad document does not stop the rest.
    Documents are parsed first and written BATCH records per transaction."""
    report = ImportReport()
    batch: list[tuple[str, list[Record], list[record_files.RecordFile]]] = []

    def checked() -> list[tuple[str, list[Record], dict[str, Record], list[record_files.RecordFile]]]:
        ready = []
        for name, found, files in batch:
            try:
                ready.append((name, found, _replaced(site, found), files))
            except KartennError as exc:
                report.errors.append(f"{name}: {exc.message}")
                report.refused += isinstance(exc, Forbidden)
        return ready

    def keep_files(conn: Any, found: list[Record], files: list[record_files.RecordFile]) -> None:
        if files and len(found) == 1:  # a MEF record's thumbnails and attachments
            record_files.replace(conn, found[0].id, files)

    def flush() -> None:
        ready = checked()
        try:
            with site.catalog.begin() as conn:
                _save(site, conn, [rec for _, found, _, _ in ready for rec in found],
                      {k: v for _, _, stored, _ in ready for k, v in stored.items()}, sharing, False, "import")
                for _, found, _, files in ready:
                    keep_files(conn, found, files)
            report.imported += [rec.id for _, found, _, _ in ready for rec in found]
        except KartennError:  # again one document at a time, so the report names the one that failed
            for name, found, stored, files in ready:
                try:
                    with site.catalog.begin() as conn:
                        _save(site, conn, found, stored, sharing, False, name)
                        keep_files(conn, found, files)
                    report.imported += [rec.id for rec in found]
                except KartennError as exc:
                    report.errors.append(f"{name}: {exc.message}")
        batch.clear()

    size = 0
    for path in paths:
        for name, data, files in _documents(site, path, report):
            try:
                found = read_records(data)
            except KartennError as exc:
                report.errors.append(f"{name}: {exc.message}")
                continue
            batch.append((name, found, files))
            size += len(found)
            if size >= BATCH:
                flush()
                size = 0
    if batch:
        flush()
    if len(report.imported) >= ANALYZE_AFTER:
        site.catalog.analyze()  # searches are planned from statistics that knew a much smaller catalogue
    return report


def _documents(site: Site, path: Path, report: ImportReport) -> Iterable[tuple[str, bytes,
                                                                             list[record_files.RecordFile]]]:
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() in XML_SUFFIXES | ZIP_SUFFIXES:
                yield from _documents(site, child, report)
        return
    if not path.exists():
        report.errors.append(f"{path}: no such file")
        return
    if path.suffix.lower() in ZIP_SUFFIXES or zipfile.is_zipfile(path):
        try:
            yield from _zip_documents(site, path)
        except KartennError as exc:
            report.errors.append(f"{path.name}: {exc.message}")
        return
    yield path.name, path.read_bytes(), []


def _zip_documents(site: Site, path: Path) -> Iterable[tuple[str, bytes, list[record_files.RecordFile]]]:
    """The metadata documents of a zip, each with its files when the zip is a MEF (public/, private/)."""
    s = site.settings
    members = check_zip(path, max_bytes=s.archive_max_bytes, max_ratio=s.archive_max_ratio,
                        max_members=s.archive_max_members)
    xml_members = [m for m in members if PurePosixPath(m.filename).suffix.lower() == ".xml"
                   and PurePosixPath(m.filename).name.lower() not in MEF_SKIPPED]
    # A MEF 2 folder may carry the same record in several schemas: take metadata.xml, the original.
    mef = [m for m in xml_members if PurePosixPath(m.filename).parent.name == "metadata"]
    chosen = [m for m in mef if PurePosixPath(m.filename).name == "metadata.xml"] or mef or xml_members
    if not chosen:
        raise InvalidInput("the archive holds no XML metadata document")
    names = {m.filename for m in members}
    with zipfile.ZipFile(path) as archive:
        for info in chosen:
            folder = PurePosixPath(info.filename).parent
            folder = folder.parent if folder.name == "metadata" else folder
            prefix = "" if str(folder) == "." else f"{folder}/"
            files = mef_files(archive, prefix) if f"{prefix}info.xml" in names else []
            yield f"{path.name}:{info.filename}", archive.read(info), files


def mef_files(archive: zipfile.ZipFile, prefix: str) -> list[record_files.RecordFile]:
    """The files of the MEF record in folder ``prefix`` (``""`` in MEF 1, ``"<uuid>/"`` in MEF 2): those of
    ``public/`` (thumbnails, documents) and ``private/`` (data), with their media types guessed from their names."""
    found = []
    for folder in ("public", "private"):
        for member in sorted(n for n in archive.namelist() if n.startswith(f"{prefix}{folder}/") and
                             not n.endswith("/") and "/" not in n[len(prefix) + len(folder) + 1:]):
            name = PurePosixPath(member).name
            media = mimetypes.guess_type(name)[0] or "application/octet-stream"
            found.append(record_files.RecordFile(folder, name, media, archive.read(member)))
    return found


WORKFLOW_STATES = ("draft", "submitted", "published", "retired")


def get_record(site: Site, record_id: str) -> Record:
    """A record the caller may see: published ones, and the drafts its organisation's workflow shows it."""
    rec = site.catalog.get_record(record_id)
    if rec.state != "published" and getattr(site, "records_visibility", None) is None:
        raise NotFound(f"no record {record_id!r}")
    return rec


def record_file(site: Site, record_id: str, name: str) -> record_files.RecordFile:
    """A file of a record the caller may view (a private one: whose data it may download); NotFound otherwise, the
    same whether the record or the file is missing or hidden."""
    rec = get_record(site, record_id)
    with site.catalog.engine.connect() as conn:
        found = record_files.get(conn, rec.id, name)
    if found is None or (found.folder != "public" and not site.may("download", *owner(rec))):
        raise NotFound(f"record {record_id!r} has no file {name!r}")
    return found


def search_records(site: Site, query: RecordQuery) -> SearchResult:
    """Only what the caller may view is searched, counted and faceted (a SiteView carries the caller):
    published records it may view, and the drafts and submitted records of its organisations."""
    query = replace(query)  # the caller's query stays as it was
    visibility = getattr(site, "records_visibility", None)
    if visibility is not None and query.visible is None:
        query.visible = visibility()
        if query.states == ("published",):
            query.states = WORKFLOW_STATES
    with site.engine.connect() as conn:
        if query.visible is not None:
            _simplify_visibility(site, conn, query)
        return record_index.search(conn, query)


# Per process and engine: visibility condition -> (catalogue change counter, what the condition amounts to).
_extents: weakref.WeakKeyDictionary[Any, dict[tuple[str, tuple], tuple[int, str, frozenset[str]]]] = \
    weakref.WeakKeyDictionary()


def _simplify_visibility(site: Site, conn: Any, query: RecordQuery) -> None:
    """Drop the visibility condition of ``query`` when, on the records stored now, it holds for all of them
    or for exactly the published ones (anonymous callers of a public catalogue): testing it costs a grants
    probe per candidate. What it amounts to is kept until the catalogue change counter moves."""
    compiled = query.visible.compile(dialect=conn.dialect)
    key = (str(compiled), tuple(sorted((k, repr(v)) for k, v in compiled.params.items())))
    counter = record_index.changes(conn)
    extents = _extents.setdefault(site.engine, {})
    known = extents.get(key)
    if known is not None and known[0] == counter:
        extent, states = known[1], known[2]
    else:
        extent, states = record_index.visibility_extent(conn, query.visible)
        if len(extents) > 1000:
            extents.clear()
        extents[key] = (counter, extent, states)
    if extent == "all":
        query.visible = None
        query.every_record = states <= set(query.states)
    elif extent == "published":
        query.visible = None
        query.states = tuple(s for s in query.states if s == "published")


def domain_values(site: Site, name: str) -> list[tuple[str, int]]:
    visibility = getattr(site, "records_visibility", None)
    with site.engine.connect() as conn:
        return record_index.values(conn, name, visible=visibility() if visibility else None)


def catalogue_extent(site: Site) -> tuple[float, float, float, float] | None:
    """The box around every record the caller may view."""
    visibility = getattr(site, "records_visibility", None)
    with site.engine.connect() as conn:
        return record_index.extent(conn, visible=visibility() if visibility else None)


EXPORTS = {"iso19139", "dc", "iso19115-3"}


def export_record(rec: Record, schema: str) -> bytes:
    """The record as a document: ``iso19139`` (the original for imported ISO 19139), ``iso19115-3`` (the
    original for imported ISO 19115-3, else written in mdb 2.0), ``dc`` (csw:Record)."""
    if schema == "iso19139":
        if rec.schema == "iso19115-3":
            raise InvalidInput("records imported as ISO 19115-3 are exported in ISO 19115-3 only")
        return render_iso19139(rec)
    if schema == "iso19115-3":
        return render_iso19115_3(rec)
    if schema == "dc":
        return to_bytes(render_csw_record(rec, "full"))
    raise InvalidInput(f"unknown export format {schema!r}; use one of {', '.join(sorted(EXPORTS))}")
