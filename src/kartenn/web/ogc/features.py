"""OGC API – Features (Parts 1, 2 and 3, GeoJSON): /ogc/conformance, /items and /items/{fid}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.domain import Dataset
from kartenn.errors import InvalidInput, NotFound
from kartenn.filter_check import FilterLimits
from kartenn.formats import gml
from kartenn.formats.edr import CONFORMANCE as EDR_CONFORMANCE
from kartenn.services import features
from kartenn.services.exports import geojson_features
from kartenn.services.features import ItemQuery
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.ogc.downloads import download_format, download_response
from kartenn.web.ogc.html import render, wants_html
from kartenn.web.ogc.params import crs_header, item_query, read_bool, read_crs, read_properties
from kartenn.web.ogc.records import CONFORMANCE as RECORDS_CONFORMANCE
from kartenn.web.ogc.tiles import CONFORMANCE as TILES_CONFORMANCE
from kartenn.web.responses import JSONResponse

router = APIRouter(prefix="/ogc", tags=["ogc"])
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
]


@router.get("/conformance")
def conformance(request: Request) -> Any:
    if wants_html(request):
        return render(request, "conformance", heading_key="ogc.conformance",
                      conforms=CONFORMANCE + TILES_CONFORMANCE + RECORDS_CONFORMANCE + EDR_CONFORMANCE)
    return {"conformsTo": CONFORMANCE + TILES_CONFORMANCE + RECORDS_CONFORMANCE + EDR_CONFORMANCE}


def _feature_dataset(site: Site, collection_id: str) -> Dataset:
    dataset = site.catalog.get_dataset(collection_id)
    if dataset.kind != "vector":
        raise NotFound(f"collection {collection_id!r} has no features (it is a {dataset.kind})")
    return dataset


def _check_format(value: str | None) -> None:
    if value not in (None, "json", "geojson", "html"):
        raise InvalidInput(f"unsupported format f={value!r}; use json, or csv, gpkg, shp, fgb for downloads",
                           locator="f")


def _feature(row: dict[str, Any], href: str | None = None) -> dict[str, Any]:
    feature = geojson_features([row])[0]
    if href:
        feature["links"] = [{"rel": "self", "href": href, "type": GEOJSON}]
    return feature


JSON_SCHEMA_TYPES = {
    "integer": {"type": "integer", "format": "int64"},
    "number": {"type": "number", "format": "double"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "string": {"type": "string"},
}
GEOMETRY_FORMATS = {"Point": "geometry-point", "MultiPoint": "geometry-multipoint",
                    "MultiLineString": "geometry-multilinestring", "MultiPolygon": "geometry-multipolygon"}


def _json_schema(dataset: Dataset, url: str, *, with_geometry: bool) -> JSONResponse:
    properties: dict[str, Any] = {f.name: {"title": f.name, **JSON_SCHEMA_TYPES[f.type]} for f in dataset.fields}
    if with_geometry:
        kind = GEOMETRY_FORMATS.get(dataset.geometry_type or "", "geometry-any")
        properties["geometry"] = {"title": "geometry", "format": kind, "x-ogc-role": "primary-geometry"}
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url, "type": "object",
            "title": dataset.title, "properties": properties}
    return JSONResponse(body, media_type="application/schema+json")


@router.get("/collections/{collection_id}/queryables")
def queryables(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> JSONResponse:
    """What ``filter`` and property parameters may name (OGC API – Features Part 3)."""
    url = f"{base_url(request)}/ogc/collections/{collection_id}/queryables"
    return _json_schema(_feature_dataset(site, collection_id), url, with_geometry=True)


@router.get("/collections/{collection_id}/schema")
def schema(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    """The features' JSON Schema (OGC API – Features Part 5), or with ``f=xml`` their GML application schema
    (as GDAL reads it): clients type their fields from it."""
    dataset = _feature_dataset(site, collection_id)
    fmt = request.query_params.get("f")
    if fmt == "xml":
        fields = [(f.name, f.name, f.type) for f in dataset.fields]
        body = gml.schema("2.0.0", [(gml.xml_name(dataset.id), dataset.geometry_type, fields)])
        return Response(body, media_type="text/xml")
    if fmt not in (None, "json"):
        raise InvalidInput(f"unsupported format f={fmt!r}; use json or xml", locator="f")
    url = f"{base_url(request)}/ogc/collections/{collection_id}/schema"
    return _json_schema(dataset, url, with_geometry=True)


@router.get("/collections/{collection_id}/items")
async def items(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    return await _items(collection_id, request, site, request.query_params)


@router.post("/collections/{collection_id}/items")
async def items_by_post(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    """A CQL2 JSON filter in the body (as OWSLib and pygeoapi send it), the other parameters in the query."""
    body = await request.body()
    if len(body) > 1_000_000:
        raise InvalidInput("the filter is too large", locator="filter")
    params = {k: v for k, v in request.query_params.items() if k not in ("filter", "filter-lang")}
    params.update({"filter": body.decode("utf-8", "replace"), "filter-lang": "cql2-json"})
    return await _items(collection_id, request, site, params)


async def _items(collection_id: str, request: Request, site: Site, params: Any) -> Response:
    dataset = _feature_dataset(site, collection_id)
    if params.get("f") in ("csv", "gpkg", "shp", "fgb") and request.method == "GET":
        return await download_response(site, dataset, request, download_format(request))
    _check_format(params.get("f"))
    query = item_query(dataset, params, site.settings.items_max_limit, limits=FilterLimits.of(site.settings))
    html = wants_html(request)
    query.geojson = not html
    page = await run_in_threadpool(features.page, site, dataset, query)
    base = f"{base_url(request)}/ogc/collections/{collection_id}"
    kept = {k: v for k, v in params.items() if k not in ("offset", "after")}
    offset, limit = query.offset, query.limit or 0

    def link(rel: str, at: int, after: int | None = None) -> dict[str, str]:
        extra = {"after": after} if after is not None else {}
        return {"rel": rel, "type": "text/html" if html else GEOJSON,
                "href": f"{base}/items?{urlencode({**kept, 'offset': at, **extra})}"}

    links = [link("self", offset, query.after), {"rel": "collection", "type": "application/json", "href": base}]
    if page.matched is not None and offset + len(page.rows) < page.matched and page.rows:
        # Unsorted pages go on from the last id: a deep page costs what the first one does.
        links.append(link("next", offset + limit, None if query.sortby else page.rows[-1]["fid"]))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit)))
    if html:
        columns = query.properties or [f.name for f in dataset.fields]
        href = {link["rel"]: link["href"] for link in links}
        return render(request, "items", collection=dataset, features=page.rows, matched=page.matched,
                      columns=columns, prev_href=href.get("prev"), next_href=href.get("next"),
                      heading=dataset.title)
    links.append({"rel": "alternate", "type": "text/html", "href": f"{base}/items?{urlencode({**kept, 'f': 'html'})}"})
    body = {
        "type": "FeatureCollection",
        "features": geojson_features(page.rows),
        "numberMatched": page.matched,
        "numberReturned": len(page.rows),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "links": links,
    }
    return JSONResponse(body, media_type=GEOJSON, headers={"Content-Crs": crs_header(params.get("crs"))})


@router.get("/collections/{collection_id}/items/{fid}")
async def item(collection_id: str, fid: str, request: Request,
               site: Annotated[Site, Depends(get_site)]) -> Response:
    dataset = _feature_dataset(site, collection_id)
    params = request.query_params
    _check_format(params.get("f"))
    unknown = [k for k in params if k not in ("f", "lang", "crs", "properties", "skipGeometry")]
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r}", locator=unknown[0])
    if not fid.isdigit():
        raise NotFound(f"no feature {fid!r} in {collection_id!r}")
    query = ItemQuery(fid=int(fid), limit=1, count=False, crs=read_crs(dataset, params.get("crs"), "crs"),
                      properties=read_properties(dataset, params.get("properties")),
                      skip_geometry=read_bool(params.get("skipGeometry"), "skipGeometry"))
    page = await run_in_threadpool(features.page, site, dataset, query)
    if not page.rows:
        raise NotFound(f"no feature {fid!r} in {collection_id!r}")
    if wants_html(request):
        return render(request, "item", collection=dataset, feature=page.rows[0],
                      **{"heading": f"{dataset.title} — {fid}"})
    href = f"{base_url(request)}/ogc/collections/{collection_id}/items/{fid}"
    feature = _feature(page.rows[0], href)
    feature["links"].append({"rel": "collection", "type": "application/json",
                             "href": f"{base_url(request)}/ogc/collections/{collection_id}"})
    return JSONResponse(feature, media_type=GEOJSON, headers={"Content-Crs": crs_header(params.get("crs"))})
