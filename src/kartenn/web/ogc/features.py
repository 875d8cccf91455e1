"""OGC API – Features Part 1 (core, GeoJSON): /ogc/conformance, /items and /items/{fid}."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
import shapely
from fastapi import APIRouter, Depends, Request
from pygeofilter.parsers import cql2_json, cql2_text
from starlette.concurrency import run_in_threadpool

from kartenn.domain import Dataset
from kartenn.errors import InvalidInput, NotFound
from kartenn.site import Site
from kartenn.stores.items import ItemQuery, query_items
from kartenn.web.deps import base_url, get_site
from kartenn.web.responses import JSONResponse

router = APIRouter(prefix="/ogc", tags=["ogc"])
GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
]
RESERVED = {"limit", "offset", "bbox", "f", "filter", "filter-lang", "filter-crs"}


@router.get("/conformance")
def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


def _feature_dataset(site: Site, collection_id: str) -> Dataset:
    dataset = site.catalog.get_dataset(collection_id)
    if dataset.kind != "vector":
        raise NotFound(f"collection {collection_id!r} has no features (it is a {dataset.kind})")
    return dataset


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {value!r}", locator=name) from None
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}", locator=name)
    return number


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        raise InvalidInput(f"bbox must be 4 or 6 numbers separated by commas, not {value!r}",
                           locator="bbox") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput("bbox must be 4 or 6 numbers separated by commas", locator="bbox")
    minx, miny, maxx, maxy = numbers
    if miny > maxy or not (-90 <= miny <= 90 and -90 <= maxy <= 90):
        raise InvalidInput("bbox latitudes must be within -90..90, lower first", locator="bbox")
    return minx, miny, maxx, maxy


def _typed(dataset: Dataset, name: str, value: str) -> Any:
    kind = next(f.type for f in dataset.fields if f.name == name)
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            return {"true": True, "false": False}[value.lower()]
    except (ValueError, KeyError):
        raise InvalidInput(f"{name} is a {kind} field: {value!r} is not one", locator=name) from None
    return value


def _check_format(value: str | None) -> None:
    if value not in (None, "json", "geojson"):
        raise InvalidInput(f"unsupported format f={value!r}; this server answers f=json", locator="f")


def _feature(row: dict[str, Any], href: str | None = None) -> dict[str, Any]:
    geom = row["geometry"]
    feature = {"type": "Feature", "id": row["fid"],
               "geometry": shapely.geometry.mapping(geom) if geom is not None else None,
               "properties": row["properties"]}
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


def _filter(params: Any) -> Any:
    """The ``filter`` parameter as a pygeofilter AST (CQL2 text or JSON), or None."""
    text = params.get("filter")
    if text is None:
        return None
    lang = params.get("filter-lang", "cql2-text")
    crs = params.get("filter-crs", CRS84)
    if crs != CRS84:
        raise InvalidInput(f"filter-crs {crs!r} is not supported; use {CRS84}", locator="filter-crs")
    try:
        if lang == "cql2-text":
            return cql2_text.parse(text)
        if lang == "cql2-json":
            return cql2_json.parse(orjson.loads(text))
    except Exception as exc:  # the parsers raise many kinds (lark, JSON, value errors)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InvalidInput(f"malformed {lang} filter: {first}", locator="filter") from None
    raise InvalidInput(f"unknown filter-lang {lang!r}; use cql2-text or cql2-json", locator="filter-lang")


def _json_schema(dataset: Dataset, url: str, *, with_geometry: bool) -> JSONResponse:
    properties: dict[str, Any] = {f.name: {"title": f.name, **JSON_SCHEMA_TYPES[f.type]} for f in dataset.fields}
    if with_geometry:
        properties["geometry"] = {"format": GEOMETRY_FORMATS.get(dataset.geometry_type or "", "geometry-any"),
                                  "x-ogc-role": "primary-geometry"}
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url, "type": "object",
            "title": dataset.title, "properties": properties}
    return JSONResponse(body, media_type="application/schema+json")


@router.get("/collections/{collection_id}/queryables")
def queryables(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> JSONResponse:
    """What ``filter`` and property parameters may name (OGC API – Features Part 3)."""
    url = f"{base_url(request)}/ogc/collections/{collection_id}/queryables"
    return _json_schema(_feature_dataset(site, collection_id), url, with_geometry=False)


@router.get("/collections/{collection_id}/schema")
def schema(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> JSONResponse:
    """The features' JSON Schema (OGC API – Features Part 5): clients type their fields from it."""
    url = f"{base_url(request)}/ogc/collections/{collection_id}/schema"
    return _json_schema(_feature_dataset(site, collection_id), url, with_geometry=True)


@router.get("/collections/{collection_id}/items")
async def items(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> JSONResponse:
    dataset = _feature_dataset(site, collection_id)
    params = request.query_params
    _check_format(params.get("f"))
    limit = _int(params.get("limit"), "limit", 10, 1, site.settings.items_max_limit)
    offset = _int(params.get("offset"), "offset", 0, 0, 2**62)
    names = {f.name for f in dataset.fields}
    unknown = [k for k in params if k not in RESERVED and k not in names]
    if unknown:
        raise InvalidInput(f"unknown parameter or property {unknown[0]!r}", locator=unknown[0])
    query = ItemQuery(bbox=_bbox(params.get("bbox")), offset=offset, limit=limit, filter=_filter(params),
                      equals={k: _typed(dataset, k, v) for k, v in params.items() if k in names and k not in RESERVED})
    page = await run_in_threadpool(query_items, site.features, dataset, query)
    base = f"{base_url(request)}/ogc/collections/{collection_id}"
    kept = {k: v for k, v in params.items() if k != "offset"}

    def link(rel: str, at: int) -> dict[str, str]:
        return {"rel": rel, "type": GEOJSON, "href": f"{base}/items?{urlencode({**kept, 'offset': at})}"}

    links = [link("self", offset), {"rel": "collection", "type": "application/json", "href": base}]
    if offset + len(page.rows) < page.matched:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit)))
    body = {
        "type": "FeatureCollection",
        "features": [_feature(r) for r in page.rows],
        "numberMatched": page.matched,
        "numberReturned": len(page.rows),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "links": links,
    }
    return JSONResponse(body, media_type=GEOJSON, headers={"Content-Crs": f"<{CRS84}>"})


@router.get("/collections/{collection_id}/items/{fid}")
async def item(collection_id: str, fid: str, request: Request,
               site: Annotated[Site, Depends(get_site)]) -> JSONResponse:
    dataset = _feature_dataset(site, collection_id)
    _check_format(request.query_params.get("f"))
    if not fid.isdigit():
        raise NotFound(f"no feature {fid!r} in {collection_id!r}")
    page = await run_in_threadpool(query_items, site.features, dataset, ItemQuery(fid=int(fid), limit=1))
    if not page.rows:
        raise NotFound(f"no feature {fid!r} in {collection_id!r}")
    href = f"{base_url(request)}/ogc/collections/{collection_id}/items/{fid}"
    feature = _feature(page.rows[0], href)
    feature["links"].append({"rel": "collection", "type": "application/json",
                             "href": f"{base_url(request)}/ogc/collections/{collection_id}"})
    return JSONResponse(feature, media_type=GEOJSON, headers={"Content-Crs": f"<{CRS84}>"})
