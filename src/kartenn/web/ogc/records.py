"""OGC API – Records (Part 1) over the catalogue: /ogc/collections/catalog, its queryables, items and item.

The catalogue is one searchable collection, ``catalog``, of item type ``record``; its items are the records
the caller may view, searched with the catalogue's bilingual full text (``q``), ``bbox``, ``datetime``
(the resources' temporal extent), ``type``, ``ids``, ``externalIds`` and CQL2 ``filter``.

>>> httpx.get(f"{url}/ogc/collections/catalog/items", params={"q": "lacs", "facets": "true"}).json()
... # doctest: +SKIP
{'type': 'FeatureCollection', 'numberMatched': 1, 'features': [...], 'facets': {...}, ...}
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.errors import InvalidInput, NotFound
from kartenn.filter_check import FilterLimits
from kartenn.formats.exportable import each_record, exportable
from kartenn.formats.ogc_record import record_feature
from kartenn.services import harvest
from kartenn.services import records as service
from kartenn.services.record_exports import record_document
from kartenn.services.record_search import FACETS, RecordQuery
from kartenn.services.service_links import with_service_links
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.ogc.html import wants_html
from kartenn.web.ogc.params import _instant, read_bbox, read_filter, read_int
from kartenn.web.ogc.records_html import render_records
from kartenn.web.responses import JSONResponse

router = APIRouter(prefix="/ogc/collections/catalog", tags=["records"])
CATALOG = "catalog"
GEOJSON = "application/geo+json"
MAX_LIMIT = 1000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-collection",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/searchable-catalog",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/filtering",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/html",
]
PARAMETERS = {"f", "lang", "q", "bbox", "datetime", "type", "ids", "externalIds", "filter", "filter-lang",
              "filter-crs", "sortby", "limit", "offset", "facets"}
# sortby names of OGC API Records → the catalogue's sort keys
SORT_KEYS = {"title": "title", "updated": "modified", "date": "modified", "modified": "modified",
             "created": "created", "relevance": "relevance", "id": "id", "type": "type"}
QUERYABLES: dict[str, dict[str, Any]] = {
    "id": {"title": "Identifier", "type": "string"},
    "title": {"title": "Title", "type": "string"},
    "description": {"title": "Description", "type": "string"},
    "keywords": {"title": "Keyword", "type": "string"},
    "type": {"title": "Resource type", "type": "string"},
    "format": {"title": "Format", "type": "string"},
    "organisation": {"title": "Responsible organisation", "type": "string"},
    "language": {"title": "Language (ISO 639-2)", "type": "string"},
    "updated": {"title": "Metadata date", "type": "string", "format": "date-time"},
    "time_begin": {"title": "Temporal extent begins", "type": "string", "format": "date-time"},
    "time_end": {"title": "Temporal extent ends", "type": "string", "format": "date-time"},
    "theme": {"title": "INSPIRE theme (equality only)", "type": "string"},
    "q": {"title": "Any text", "type": "string"},
    "geometry": {"title": "Footprint", "format": "geometry-polygon", "x-ogc-role": "primary-geometry"},
}


def catalog_json(site: Site, base: str) -> dict[str, Any]:
    """The catalogue as a collection: itemType record, links, the extent of every visible record."""
    href = f"{base}/ogc/collections/{CATALOG}"
    title = f"{site.settings.title} — catalogue"
    data: dict[str, Any] = {
        "id": CATALOG, "title": title, "itemType": "record", "type": "Catalog",
        "description": "The records of this site's datasets, services and documents.",
        "links": [
            {"rel": "self", "href": href, "type": "application/json", "title": title},
            {"rel": "alternate", "href": f"{href}?f=html", "type": "text/html", "title": title},
            {"rel": "items", "href": f"{href}/items", "type": GEOJSON, "title": "Records"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "href": f"{href}/queryables",
             "type": "application/schema+json", "title": "Queryables"},
            {"rel": "alternate", "href": f"{base}/api/v1/catalog/dcat.rdf", "type": "application/rdf+xml",
             "title": "DCAT-AP catalogue"},
        ],
    }
    bbox = service.catalogue_extent(site)
    if bbox:
        data["extent"] = {"spatial": {"bbox": [list(bbox)], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    return data


@router.get("")
def collection(request: Request, site: Annotated[Site, Depends(get_site)]) -> Any:
    if wants_html(request):
        return render_records(request, "catalog", collection=catalog_json(site, base_url(request)))
    return catalog_json(site, base_url(request))


@router.get("/queryables")
def queryables(request: Request) -> JSONResponse:
    """What ``filter`` may name: the record queryables, mapped onto the catalogue's search."""
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base_url(request)}/ogc/collections/{CATALOG}/queryables", "type": "object",
            "title": "Catalogue records", "properties": QUERYABLES}
    return JSONResponse(body, media_type="application/schema+json")


def _datetime(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    parts = value.split("/")
    if len(parts) > 2 or not all(parts):
        raise InvalidInput(f"datetime must be an instant or an interval start/end, not {value!r}",
                           locator="datetime")
    start, end = parts[0], parts[-1]
    return (None if start == ".." else _bound(start, last=False)), (None if end == ".." else _bound(end, last=True))


def _bound(text: str, *, last: bool) -> str:
    """An instant as the catalogue stores times (ISO 8601 text, UTC): a date ends at the end of its day, so
    that it compares well with stored date-times."""
    value = _instant(text)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    return f"{value.isoformat()}T23:59:59.999999Z" if last else value.isoformat()


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _sortby(value: str | None) -> list[tuple[str, bool]]:
    out = []
    for part in _list(value):
        name = part.lstrip("+-")
        if name.lower() not in SORT_KEYS:
            raise InvalidInput(f"cannot sort by {name!r}; use one of {', '.join(sorted(SORT_KEYS))}",
                               locator="sortby")
        out.append((SORT_KEYS[name.lower()], not part.startswith("-")))
    return out


def _facets(value: str | None) -> bool:
    if value in (None, "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise InvalidInput("facets must be true or false", locator="facets")


def record_query(params: Any, limits: FilterLimits | None = None) -> RecordQuery:
    """Every /items parameter checked and typed into a catalogue search."""
    unknown = [k for k in params if k not in PARAMETERS]
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r}", locator=unknown[0])
    if params.get("f") not in (None, "json", "geojson", "html"):
        raise InvalidInput(f"unsupported format f={params.get('f')!r}; use json or html", locator="f")
    start, end = _datetime(params.get("datetime"))
    return RecordQuery(
        q=params.get("q"), bbox=read_bbox(params.get("bbox"), geographic=True), start=start, end=end,
        types=_list(params.get("type")), ids=_list(params.get("ids")),
        external_ids=_list(params.get("externalIds")), where=read_filter(params, limits),
        sort=_sortby(params.get("sortby")), limit=read_int(params.get("limit"), "limit", 10, 0, MAX_LIMIT),
        offset=read_int(params.get("offset"), "offset", 0, 0, 10**9), facets=_facets(params.get("facets")))


def facets_json(facets: dict[str, list[tuple[str, int]]]) -> dict[str, Any]:
    """Facet counts as pycsw gives them: per facet, its terms with their counts."""
    return {name: {"type": "terms", "property": name,
                   "buckets": [{"value": v, "count": n} for v, n in facets.get(name, [])]} for name in FACETS}


# facet → the queryable that narrows a search to one of its values
FACET_QUERYABLES = {"keyword": "keywords", "format": "format", "organisation": "organisation", "theme": "theme"}


def facet_links(facets: dict[str, list[tuple[str, int]]], params: dict[str, str], href: str
                ) -> dict[str, list[tuple[str, int, str | None]]]:
    """Each facet value with its count and the search narrowed to it (None when it cannot be said simply)."""
    out: dict[str, list[tuple[str, int, str | None]]] = {}
    base = {k: v for k, v in params.items() if k != "offset"} | {"f": "html"}
    for name, values in facets.items():
        rows = []
        for value, count in values:
            narrowed: dict[str, str] | None = None
            if name == "type" and "type" not in params:
                narrowed = {"type": value}
            elif name in FACET_QUERYABLES and "filter" not in params and "'" not in value:
                narrowed = {"filter": f"{FACET_QUERYABLES[name]} = '{value}'", "filter-lang": "cql2-text"}
            rows.append((value, count, f"{href}?{urlencode(base | narrowed)}" if narrowed else None))
        out[name] = rows
    return out


@router.get("/items")
async def items(request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    return await _items(request, site, request.query_params)


@router.post("/items")
async def items_by_post(request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    """A CQL2 JSON filter in the body (as OWSLib sends ``cql=``), the other parameters in the query."""
    body = await request.body()
    if len(body) > 1_000_000:
        raise InvalidInput("the filter is too large", locator="filter")
    params = {k: v for k, v in request.query_params.items() if k not in ("filter", "filter-lang")}
    params.update({"filter": body.decode("utf-8", "replace"), "filter-lang": "cql2-json"})
    return await _items(request, site, params)


async def _items(request: Request, site: Site, params: Any) -> Response:
    query = record_query(params, FilterLimits.of(site.settings))
    html = wants_html(request)
    query.facets = query.facets or html  # people refine by facets
    result = await run_in_threadpool(service.search_records, site, query)
    base = base_url(request)
    found = each_record(result.records, lambda rec: exportable(with_service_links(site, rec, base)).record)
    kept = {k: v for k, v in params.items() if k != "offset"}
    href = f"{base}/ogc/collections/{CATALOG}/items"

    def link(rel: str, at: int, media: str) -> dict[str, str]:
        extra = {"f": "html"} if media == "text/html" else {}
        return {"rel": rel, "type": media, "href": f"{href}?{urlencode({**kept, **extra, 'offset': at})}"}

    media = "text/html" if html else GEOJSON
    links = [link("self", query.offset, media), link("alternate", query.offset, "text/html" if not html else GEOJSON),
             {"rel": "collection", "type": "application/json", "href": f"{base}/ogc/collections/{CATALOG}"}]
    if query.limit and query.offset + len(found) < result.matched:
        links.append(link("next", query.offset + query.limit, media))
    if query.offset > 0:
        links.append(link("prev", max(0, query.offset - (query.limit or 10)), media))
    if html:
        by_rel = {x["rel"]: x["href"] for x in links}
        return render_records(request, "records", records=found, matched=result.matched,
                              facets=facet_links(result.facets, kept, href), prev_href=by_rel.get("prev"),
                              next_href=by_rel.get("next"))
    features = each_record(found, lambda rec: record_feature(rec, base))
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": result.matched,
        "numberReturned": len(features),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "links": links,
    }
    if query.facets:
        body["facets"] = facets_json(result.facets)
    return JSONResponse(body, media_type=GEOJSON)


@router.get("/items/{record_id}")
def item(record_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    params = request.query_params
    unknown = [k for k in params if k not in ("f", "lang")]
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r}", locator=unknown[0])
    if params.get("f") not in (None, "json", "geojson", "html"):
        raise InvalidInput(f"unsupported format f={params.get('f')!r}; use json or html", locator="f")
    base = base_url(request)
    try:
        rec = with_service_links(site, service.get_record(site, record_id), base)
    except NotFound:
        raise NotFound(f"no record {record_id!r} in the catalogue") from None
    if wants_html(request):
        linked, _ = record_document(site, rec, base, "schemaorg.jsonld")
        return render_records(request, "record", record=exportable(rec).record, feature=record_feature(rec, base),
                              schema_org=orjson.loads(linked), harvest=harvest.origin(site, rec.id))
    return JSONResponse(record_feature(rec, base), media_type=GEOJSON)


def openapi_paths() -> dict[str, Any]:
    """The catalogue's paths for /ogc/api (OpenAPI 3.0)."""

    def param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema,
                "style": "form", "explode": False}

    text = {"type": "string"}
    listed = {"type": "array", "items": text}
    parameters = [
        param("f", "Output format", {"type": "string", "enum": ["json", "html"]}),
        param("q", "Words to find (French and English stems)", text),
        param("bbox", "Bounding box in CRS84: min lon, min lat, max lon, max lat",
              {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
        param("datetime", "An instant or an interval start/end of the resources' temporal extent", text),
        param("type", "Resource types (dataset, series, service…)", listed),
        param("ids", "Record identifiers", listed),
        param("externalIds", "Identifiers of the records or of their datasets", listed),
        param("filter", "A CQL2 filter over the queryables", text),
        param("filter-lang", "Language of the filter", {"type": "string", "enum": ["cql2-text", "cql2-json"]}),
        param("sortby", "title, updated, created or relevance; '-' for descending", listed),
        param("limit", "Records per page", {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": 10}),
        param("offset", "Records to skip", {"type": "integer", "minimum": 0, "default": 0}),
        param("facets", "Add the facet counts", {"type": "boolean", "default": False}),
    ]
    geojson = {GEOJSON: {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}
    path = f"/ogc/collections/{CATALOG}"
    return {
        path: {"get": {"summary": "Catalogue: description", "operationId": "describe-catalog", "tags": [CATALOG],
                       "responses": {"200": {"description": "OK"}}}},
        f"{path}/queryables": {"get": {
            "summary": "Catalogue: queryables", "operationId": "queryables-catalog", "tags": [CATALOG],
            "responses": {"200": {"description": "JSON Schema of the queryables",
                                  "content": {"application/schema+json": {"schema": {"type": "object"}}}}}}},
        f"{path}/items": {"get": {
            "summary": "Catalogue: search the records", "operationId": "records", "tags": [CATALOG],
            "parameters": parameters,
            "responses": {"200": {"description": "A page of records", "content": geojson},
                          "400": {"description": "Bad request"}}}},
        f"{path}/items/{{recordId}}": {"get": {
            "summary": "Catalogue: one record", "operationId": "record", "tags": [CATALOG],
            "parameters": [{"name": "recordId", "in": "path", "required": True, "schema": text}, parameters[0]],
            "responses": {"200": {"description": "The record", "content": geojson},
                          "404": {"description": "No such record"}}}},
    }
