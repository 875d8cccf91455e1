"""Catalogue records: import ISO / Dublin Core documents (file, folder, zip, GeoNetwork MEF), search, export.

>>> report = import_paths(site, [Path("records/")])   # doctest: +SKIP
>>> report.imported
33
>>> search_records(site, RecordQuery(q="cadastre bretagne")).matched   # doctest: +SKIP
1
"""

from __future__ import annotations

import weakref
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from kartenn.domain import Record
from kartenn.domain.security import Sharing
from kartenn.errors import InvalidInput, KartennError, NotFound
from kartenn.formats.dublin_core import render_csw_record
from kartenn.formats.iso19115_3 import render_iso19115_3
from kartenn.formats.iso19139 import render_iso19139
from kartenn.formats.records import read_records
from kartenn.services.archives import check_zip
from kartenn.site import Site
from kartenn.stores import record_index
from kartenn.stores.record_index import RecordQuery, SearchResult
from kartenn.xml import to_bytes

__all__ = ["ImportReport", "RecordQuery", "SearchResult", "import_bytes", "import_paths", "search_records",
           "get_record", "export_record", "domain_values",
           "catalogue_extent"]

XML_SUFFIXES = {".xml"}
ZIP_SUFFIXES = {".zip", ".mef"}
MEF_SKIPPED = {"info.xml"}  # MEF bookkeeping, not metadata


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"imported": self.imported, "errors": self.errors}


BATCH = 500  # records written per transaction by a bulk import
ANALYZE_AFTER = 1000  # records imported at once after which the planner's statistics are refreshed


def import_bytes(site: Site, data: bytes, *, source: str = "request", sharing: Sharing | None = None,
                 draft: bool = False) -> list[Record]:
    """Import every record of one XML document, all or nothing. Raises InvalidInput.
    New records without a dataset get ``sharing`` (default: public); ``draft`` ones wait for review."""
    found = read_records(data)
    with site.catalog.begin() as conn:
        _save(site, conn, found, sharing, draft)
    return found


def _save(site: Site, conn, found: list[Record], sharing: Sharing | None, draft: bool) -> None:  # type: ignore[no-untyped-def]
    """Write records as if one after the other: re-importing the record of a dataset must not detach it
    from its data; new records get an owner and, when public, a public view grant."""
    stored = {i: dataset_id for i, (_, dataset_id) in site.catalog.record_origins(conn, [r.id for r in found]).items()}
    new = []
    for rec in found:
        if rec.id in stored:
            rec.dataset_id = stored[rec.id]
        elif rec.dataset_id is None:
            new.append(rec.id)
            if draft:
                rec.state = "draft"
        stored.setdefault(rec.id, rec.dataset_id)
    site.catalog.put_records(conn, found)
    sharing = sharing or Sharing()
    site.accounts.set_owners(conn, "record", new, sharing.org, sharing.user)
    if sharing.public:
        site.accounts.grant_many(conn, "record", new, "public", "", "view")


def import_paths(site: Site, paths: Iterable[Path], sharing: Sharing | None = None) -> ImportReport:
    """Import files, folders (recursively), zips and MEF archives; one bad document does not stop the rest.
    Documents are parsed first and written BATCH records per transaction."""
    report = ImportReport()
    batch: list[tuple[str, list[Record]]] = []

    def flush() -> None:
        try:
            with site.catalog.begin() as conn:
                _save(site, conn, [rec for _, found in batch for rec in found], sharing, False)
            report.imported += [rec.id for _, found in batch for rec in found]
        except KartennError:  # again one document at a time, so the report names the one that failed
            for name, found in batch:
                try:
                    with site.catalog.begin() as conn:
                        _save(site, conn, found, sharing, False)
                    report.imported += [rec.id for rec in found]
                except KartennError as exc:
                    report.errors.append(f"{name}: {exc.message}")
        batch.clear()

    size = 0
    for path in paths:
        for name, data in _documents(site, path, report):
            try:
                found = read_records(data)
            except KartennError as exc:
                report.errors.append(f"{name}: {exc.message}")
                continue
            batch.append((name, found))
            size += len(found)
            if size >= BATCH:
                flush()
                size = 0
    if batch:
        flush()
    if len(report.imported) >= ANALYZE_AFTER:
        site.catalog.analyze()  # searches are planned from statistics that knew a much smaller catalogue
    return report


def _documents(site: Site, path: Path, report: ImportReport) -> Iterable[tuple[str, bytes]]:
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
    yield path.name, path.read_bytes()


def _zip_documents(site: Site, path: Path) -> Iterable[tuple[str, bytes]]:
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
    with zipfile.ZipFile(path) as archive:
        for info in chosen:
            yield f"{path.name}:{info.filename}", archive.read(info)


WORKFLOW_STATES = ("draft", "submitted", "published", "retired")


def get_record(site: Site, record_id: str) -> Record:
    """A record the caller may see: published ones, and the drafts its organisation's workflow shows it."""
    rec = site.catalog.get_record(record_id)
    if rec.state != "published" and getattr(site, "records_visibility", None) is None:
        raise NotFound(f"no record {record_id!r}")
    return rec


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
        return record_index.search(conn, query, is_postgres=site.catalog.is_postgres)


# Per process and engine: visibility condition -> (catalogue change counter, what the condition amounts to).
_extents: weakref.WeakKeyDictionary[Any, dict[tuple[str, tuple], tuple[int, str, frozenset[str]]]] = \
    weakref.WeakKeyDictionary()


def _simplify_visibility(site: Site, conn: Any, query: RecordQuery) -> None:
    """Drop the visibility condition of ``query`` when, on the records stored now, it holds for all of them
    or for exactly the published ones (anonymous callers of a public catalogue): testing it costs a grants
    probe per candidate. What it amounts to is kept until the catalogue change counter moves."""
    is_postgres = site.catalog.is_postgres
    compiled = query.visible.compile(dialect=conn.dialect)
    key = (str(compiled), tuple(sorted((k, repr(v)) for k, v in compiled.params.items())))
    counter = record_index.changes(conn, is_postgres=is_postgres)
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
        return record_index.values(conn, name, is_postgres=site.catalog.is_postgres,
                                   visible=visibility() if visibility else None)


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
