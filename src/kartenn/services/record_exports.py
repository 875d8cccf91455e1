"""A record in every encoding we write (ISO 19139, ISO 19115-3, Dublin Core, DCAT-AP, schema.org), and the
whole catalogue as DCAT-AP for harvesters — each with the services of the record's dataset.

>>> data, media = record_document(site, rec, "https://geo.example.org", "dcat.rdf")   # doctest: +SKIP
>>> media
'application/rdf+xml'
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import orjson

from kartenn.domain import Record
from kartenn.errors import InvalidInput, NotFound
from kartenn.formats.dcat import dcat_graph, to_json_ld, to_rdf_xml
from kartenn.formats.exportable import each_record
from kartenn.formats.schema_org import schema_org
from kartenn.services.records import RecordQuery, export_record, search_records
from kartenn.services.service_links import with_service_links

log = logging.getLogger("kartenn.exports")
MEDIA = {"iso19139": "application/vnd.iso.19139+xml", "iso19115-3": "application/vnd.iso.19115-3+xml",
         "dc": "application/xml", "dcat.rdf": "application/rdf+xml", "dcat.jsonld": "application/ld+json",
         "schemaorg.jsonld": "application/ld+json"}


def record_document(site: Any, rec: Record, base: str, name: str) -> tuple[bytes, str]:
    """(document, media type) of a record in the encoding ``name`` (a key of MEDIA)."""
    if name not in MEDIA:
        raise InvalidInput(f"unknown export format {name!r}; use one of {', '.join(sorted(MEDIA))}")
    full = with_service_links(site, rec, base)
    if name == "dcat.rdf":
        return to_rdf_xml(dcat_graph([full], base)), MEDIA[name]
    if name == "dcat.jsonld":
        return to_json_ld(dcat_graph([full], base)), MEDIA[name]
    if name == "schemaorg.jsonld":
        dataset = None
        if rec.dataset_id:
            try:
                dataset = site.catalog.get_dataset(rec.dataset_id)
            except NotFound:
                dataset = None
        return orjson.dumps(schema_org(full, dataset, base)), MEDIA[name]
    return export_record(full, name), MEDIA[name]


def catalogue_dcat(site: Any, base: str, *, limit: int, offset: int, fmt: str = "rdf") -> tuple[bytes, str | None]:
    """One page of the catalogue the caller may view as a DCAT-AP dcat:Catalog, with Hydra paging links,
    and the URL of the next page (None on the last)."""
    result = search_records(site, RecordQuery(limit=limit, offset=offset, sort=[("id", True)]))
    records = [with_service_links(site, rec, base) for rec in result.records]
    here = f"{base}/api/v1/catalog/dcat.{'jsonld' if fmt == 'jsonld' else 'rdf'}"

    def at(start: int) -> str:
        return f"{here}?{urlencode({'limit': limit, 'offset': start})}"

    last = max(0, (result.matched - 1) // limit * limit) if limit else 0
    following = at(offset + limit) if offset + limit < result.matched else None
    page = {"self": at(offset), "first": at(0), "last": at(last), "total": result.matched, "limit": limit,
            "next": following,
            "prev": at(max(0, offset - limit)) if offset > 0 else None}
    write = to_json_ld if fmt == "jsonld" else to_rdf_xml
    try:
        return write(dcat_graph(records, base, title=site.settings.title, page=page)), following
    except Exception:  # one record's values fail the writer: find it and leave it out
        log.exception("a DCAT catalogue page failed to serialise; leaving out the records that fail it")
        def alone(rec: Record) -> Record:
            write(dcat_graph([rec], base))
            return rec

        kept = each_record(records, alone)
        return write(dcat_graph(kept, base, title=site.settings.title, page=page)), following
