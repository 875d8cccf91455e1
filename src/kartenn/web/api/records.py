"""Catalogue records in the JSON API: import (XML body or multipart files), read, export, search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from kartenn.domain import Record
from kartenn.errors import Forbidden, InvalidInput, NotFound, TooLarge
from kartenn.formats.exportable import each_record
from kartenn.services import harvest, workflow, working_copies
from kartenn.services import records as service
from kartenn.services.record_exports import catalogue_dcat, record_document
from kartenn.services.service_links import with_service_links
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site

router = APIRouter(tags=["records"])
MAX_XML = 50 * 1024**2
MEDIA = {"iso19139": "application/vnd.iso.19139+xml", "iso19115-3": "application/vnd.iso.19115-3+xml",
         "dc": "application/xml"}
LINKED_DATA = ("dcat.rdf", "dcat.jsonld", "schemaorg.jsonld")


def record_json(rec: Record, base: str) -> dict[str, Any]:
    return {
        "id": rec.id, "title": rec.title, "abstract": rec.abstract, "type": rec.type, "schema": rec.schema,
        "state": rec.state, "language": rec.language, "keywords": rec.keywords, "keyword_sets": rec.keyword_sets,
        "contacts": rec.contacts, "organisation": rec.organisation, "extent_wgs84": rec.extent_wgs84,
        "time_begin": rec.time_begin, "time_end": rec.time_end, "dates": rec.dates, "modified": rec.modified,
        "formats": rec.formats, "links": rec.links, "constraints": rec.constraints, "themes": rec.themes,
        "topics": rec.topics, "lineage": rec.lineage, "crs": rec.crs, "parent_id": rec.parent_id,
        "dataset_id": rec.dataset_id, "working_copy": rec.working_copy,
        "export": {**{k: f"{base}/api/v1/records/{rec.id}/{k}.xml" for k in MEDIA},
                   **{k: f"{base}/api/v1/records/{rec.id}/{k}" for k in LINKED_DATA}},
    }


@router.post("/records", status_code=201)
async def import_records(request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    """Import records: an XML document as the body, or multipart files (XML, zip, MEF). Editors only;
    new records belong to the editor's organisation (``?org=`` when several) and are public (``?draft=true``:
    drafts). A record already stored is a new version of it, in its state, for those who may edit it."""
    sharing = site.publishing(request.query_params.get("org"), True)
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        form = await request.form()
        uploads = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        if not uploads:
            raise InvalidInput("no file in the form")
        with site.staging.area("records-import") as work:
            paths = []
            for i, upload in enumerate(uploads):
                name = Path(upload.filename or f"upload-{i}.xml").name
                target = work / f"{i}-{name}"
                target.write_bytes(await upload.read())
                paths.append(target)
            report = service.import_paths(site, paths, sharing)
        if report.errors and not report.imported:
            raise (Forbidden if report.refused == len(report.errors) else InvalidInput)("; ".join(report.errors))
        return report.as_dict()
    body = await request.body()
    if len(body) > MAX_XML:
        raise TooLarge(f"XML body above {MAX_XML} bytes; upload a zip instead")
    draft = request.query_params.get("draft", "").lower() in ("1", "true", "yes")
    found = service.import_bytes(site, body, sharing=sharing, draft=draft)
    return {"imported": [r.id for r in found], "errors": []}


@router.get("/records")
def search(request: Request, site: Annotated[Site, Depends(get_site)], q: str | None = None,
           bbox: str | None = None, datetime: str | None = None, type: str | None = None,
           sortby: str | None = None, limit: Annotated[int, Query(ge=0, le=1000)] = 10,
           offset: Annotated[int, Query(ge=0)] = 0, state: str | None = None,
           lang: str | None = None) -> dict[str, Any]:
    from kartenn.web.params import parse_bbox, parse_datetime, parse_sortby

    start, end = parse_datetime(datetime)
    result = service.search_records(site, service.RecordQuery(
        q=q, bbox=parse_bbox(bbox), start=start, end=end, types=[type] if type else [],
        sort=parse_sortby(sortby), limit=limit, offset=offset, facets=True,
        **({"states": (_state(state),)} if state else {})))
    base = base_url(request)
    facets = {k: [{"value": v, "count": n} for v, n in vs] for k, vs in result.facets.items()}
    if facets.get("theme"):  # INSPIRE themes in the request's language, with their URIs
        from kartenn.services.thesauri import theme_labels
        from kartenn.web.api.thesauri import request_language

        labels = theme_labels(site, [f["value"] for f in facets["theme"]], request_language(request, lang))
        for f in facets["theme"]:
            f.update(labels.get(f["value"], {}))
    return {"matched": result.matched,
            "records": each_record(result.records, lambda r: record_json(with_service_links(site, r, base), base)),
            "facets": facets}


def _versioned(rec: Record, response: Response) -> Record:
    """``rec``, with its entity tag on ``response``: sent back as ``If-Match``, it makes a change conditional."""
    response.headers["ETag"] = workflow.etag(rec)
    response.headers["Cache-Control"] = "private, no-cache"
    return rec


def _if_match(request: Request) -> str | None:
    """The ``If-Match`` header, if any (RFC 9110: the write happens only if the record is still that version)."""
    value = request.headers.get("if-match")
    return value if value is not None and value.strip() else None


@router.get("/records/{record_id}")
def get_record(record_id: str, request: Request, response: Response,
               site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    """The record; to those who may edit or review it, its working copy if it has one (``"working_copy": true``)."""
    base = base_url(request)
    rec = working_copies.seen(site, service.get_record(site, record_id))
    return {**record_json(with_service_links(site, _versioned(rec, response), base), base),
            "harvest": harvest.origin(site, rec.id)}


def _state(value: str) -> str:
    if value not in service.WORKFLOW_STATES:
        raise InvalidInput(f"state must be one of {', '.join(service.WORKFLOW_STATES)}")
    return value


@router.put("/records/{record_id}")
async def edit_record(record_id: str, request: Request, response: Response,
                      site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    """A new version: JSON ``{"title": …, "abstract": …, "comment": …}`` or the whole record as XML.

    With ``If-Match`` (the ETag of a GET), only if the record has not changed since: else 412."""
    body = await request.body()
    if len(body) > MAX_XML:
        raise TooLarge(f"body above {MAX_XML} bytes")
    if request.headers.get("content-type", "").split(";")[0].strip().endswith("json"):
        try:
            fields = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidInput("malformed JSON body") from None
        if not isinstance(fields, dict):
            raise InvalidInput("send a JSON object of fields")
        comment = str(fields.pop("comment", "") or "")
        rec = workflow.edit(site, record_id, fields=fields, comment=comment, if_match=_if_match(request))
    else:
        rec = workflow.edit(site, record_id, xml=body, comment=request.query_params.get("comment", ""),
                            if_match=_if_match(request))
    return record_json(_versioned(rec, response), base_url(request))


async def _comment(request: Request) -> str:
    body = await request.body()
    if not body.strip():
        return ""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("send {\"comment\": \"…\"} as JSON") from None
    return str(data.get("comment") or "") if isinstance(data, dict) else ""


@router.post("/records/{record_id}/submit")
def submit_record(record_id: str, request: Request, response: Response,
                  site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    rec = workflow.submit(site, record_id, if_match=_if_match(request))
    return record_json(_versioned(rec, response), base_url(request))


@router.post("/records/{record_id}/approve")
async def approve_record(record_id: str, request: Request, response: Response,
                         site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    rec = workflow.approve(site, record_id, await _comment(request), if_match=_if_match(request))
    return record_json(_versioned(rec, response), base_url(request))


@router.post("/records/{record_id}/reject")
async def reject_record(record_id: str, request: Request, response: Response,
                        site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    rec = workflow.reject(site, record_id, await _comment(request), if_match=_if_match(request))
    return record_json(_versioned(rec, response), base_url(request))


@router.get("/records/{record_id}/versions")
def record_versions(record_id: str, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    return {"versions": workflow.versions(site, record_id)}


@router.get("/records/{record_id}/validation")
def validation(record_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    """XML Schema errors and INSPIRE warnings of a record (with its dataset's services), for its editors."""
    from kartenn.services.validation import validate

    rec = site.catalog.get_record(record_id)  # 404 for those who may not see it
    site.require("edit", *working_copies.owner(rec))
    return validate(with_service_links(site, working_copies.current(site, rec), base_url(request)))


@router.get("/records/{record_id}/files/{name}")
def record_file(record_id: str, name: str, site: Annotated[Site, Depends(get_site)]) -> Response:
    """A file kept with the record (a thumbnail, an attachment): public ones to whoever may view the record,
    private ones to whoever may download its data."""
    found = service.record_file(site, record_id, name)
    return Response(found.data, media_type=found.media_type,
                    headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"})


@router.get("/records/{record_id}/{schema}.xml")
def export(record_id: str, schema: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    """ISO 19139, ISO 19115-3 or Dublin Core; a dataset's record lists its services as online resources."""
    if schema not in MEDIA:
        raise InvalidInput(f"unknown export format {schema!r}; use one of {', '.join(sorted(MEDIA))}")
    data, media = record_document(site, service.get_record(site, record_id), base_url(request), schema)
    return Response(data, media_type=media)


@router.get("/records/{record_id}/dcat.rdf")
@router.get("/records/{record_id}/dcat.jsonld")
@router.get("/records/{record_id}/schemaorg.jsonld")
def export_linked_data(record_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    """``dcat.rdf`` (DCAT-AP RDF/XML), ``dcat.jsonld`` (DCAT-AP JSON-LD) or ``schemaorg.jsonld``."""
    encoding = request.url.path.rsplit("/", 1)[-1]
    data, media = record_document(site, service.get_record(site, record_id), base_url(request), encoding)
    return Response(data, media_type=media)


@router.get("/catalog/dcat.{fmt}")
def catalogue(fmt: str, request: Request, site: Annotated[Site, Depends(get_site)],
              limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
              offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The catalogue as a DCAT-AP dcat:Catalog (``rdf``: RDF/XML, ``jsonld``: JSON-LD), a page at a time
    (Hydra links to the next ones), for data.gouv.fr, data.europa.eu and other DCAT harvesters."""
    if fmt not in ("rdf", "jsonld"):
        raise NotFound(f"no catalogue export dcat.{fmt}; use dcat.rdf or dcat.jsonld")
    data, following = catalogue_dcat(site, base_url(request), limit=limit, offset=offset, fmt=fmt)
    headers = {"Link": f'<{following}>; rel="next"'} if following else None
    return Response(data, media_type="application/rdf+xml" if fmt == "rdf" else "application/ld+json",
                    headers=headers)
