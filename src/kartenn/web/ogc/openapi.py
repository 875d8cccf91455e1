"""/ogc/api: the OpenAPI 3.0 definition of this OGC API, with a path per collection and its queryables.

Generic clients (and the OGC validators) read it to learn each collection's parameters.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from kartenn.domain import Dataset
from kartenn.services import grids
from kartenn.services.exports import FORMATS
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.ogc.features import JSON_SCHEMA_TYPES
from kartenn.web.ogc.params import crs_list
from kartenn.web.ogc.records import openapi_paths as records_paths
from kartenn.web.responses import JSONResponse

router = APIRouter(prefix="/ogc", tags=["ogc"])
MEDIA = "application/vnd.oai.openapi+json;version=3.0"


def _param(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema,
            "style": "form", "explode": False, **extra}


COMMON = {
    "f": _param("f", "Output format", {"type": "string", "enum": ["json", "html"]}),
    "offset": _param("offset", "Features to skip", {"type": "integer", "minimum": 0, "default": 0}),
    "bbox": _param("bbox", "Bounding box: min x, min y, max x, max y (in bbox-crs)",
                   {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
    "datetime": _param("datetime", "An instant or an interval start/end ('..' for an open end)",
                       {"type": "string"}),
    "filter": _param("filter", "A CQL2 filter", {"type": "string"}),
    "filter-lang": _param("filter-lang", "Language of the filter",
                          {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}),
    "sortby": _param("sortby", "Properties to sort by, '-' for descending", {"type": "array",
                                                                              "items": {"type": "string"}}),
    "properties": _param("properties", "Properties to return", {"type": "array", "items": {"type": "string"}}),
    "skipGeometry": _param("skipGeometry", "Leave geometries out", {"type": "boolean", "default": False}),
}


def _collection_paths(d: Dataset, max_limit: int) -> dict[str, Any]:
    path = f"/ogc/collections/{d.id}"
    crs = {"type": "string", "format": "uri", "enum": crs_list(d)}
    geojson = {"application/geo+json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}
    fields = [_param(f.name, f"Features whose {f.name} equals this value", JSON_SCHEMA_TYPES[f.type])
              for f in d.fields]
    limit = _param("limit", "Features per page", {"type": "integer", "minimum": 1, "maximum": max_limit,
                                                  "default": 10})
    item_params = [COMMON["f"], limit, *(COMMON[k] for k in ("offset", "bbox", "datetime", "filter", "filter-lang",
                                        "sortby", "properties", "skipGeometry"))]
    crs_params = [_param("crs", "CRS of the output", crs), _param("bbox-crs", "CRS of bbox", crs),
                  _param("filter-crs", "CRS of the filter's geometries", crs)]
    ok = {"description": "OK"}
    return {
        path: {"get": {"summary": f"{d.title}: description", "operationId": f"describe-{d.id}",
                       "tags": [d.id], "responses": {"200": ok}}},
        f"{path}/items": {"get": {
            "summary": f"{d.title}: features", "operationId": f"items-{d.id}", "tags": [d.id],
            "parameters": [*item_params, *crs_params, *fields],
            "responses": {"200": {"description": "A page of features", "content": geojson},
                          "400": {"description": "Bad request"}}}},
        f"{path}/items/{{featureId}}": {"get": {
            "summary": f"{d.title}: one feature", "operationId": f"item-{d.id}", "tags": [d.id],
            "parameters": [{"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}},
                           COMMON["f"], crs_params[0]],
            "responses": {"200": {"description": "The feature", "content": geojson},
                          "404": {"description": "No such feature"}}}},
        f"{path}/queryables": {"get": {
            "summary": f"{d.title}: queryables", "operationId": f"queryables-{d.id}", "tags": [d.id],
            "responses": {"200": {"description": "JSON Schema of the queryables",
                                  "content": {"application/schema+json": {"schema": {"type": "object"}}}}}}},
        f"{path}/download": {"get": {
            "summary": f"{d.title}: download", "operationId": f"download-{d.id}", "tags": [d.id],
            "parameters": [_param("f", "File format", {"type": "string", "enum": list(FORMATS)}),
                           *item_params[2:], *crs_params],
            "responses": {"200": {"description": "The file"}}}},
    }


def _edr_paths(d: Dataset, info: dict[str, Any], grid: bool = False) -> dict[str, Any]:
    """OGC API – EDR queries of a station dataset, or of a raster time stack (``grid``: no locations)."""
    path = f"/ogc/collections/{d.id}"
    names = [p["name"] for p in info["parameters"]]
    common = [_param("parameter-name", "Parameters, comma-separated (default: all)",
                     {"type": "array", "items": {"type": "string", "enum": names}}),
              COMMON["datetime"],
              _param("f", "Output format", {"type": "string", "enum": ["covjson", "csv", "geojson"]}),
              _param("aggregate", "Mean, minimum (name.min) and maximum (name.max) per UTC day or month",
                     {"type": "string", "enum": ["day", "month"]})]
    coords = {"name": "coords", "in": "query", "required": True, "schema": {"type": "string"},
              "description": "WKT in longitude/latitude (CRS84)"}
    content = {"application/prs.coverage+json": {"schema": {"type": "object"}},
               "text/csv": {"schema": {"type": "string"}}, "application/geo+json": {"schema": {"type": "object"}}}
    responses = {"200": {"description": "Series (CoverageJSON, CSV or GeoJSON)", "content": content},
                 "400": {"description": "Bad request"}, "404": {"description": "Not found"}}

    def query(name: str, summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        return {"get": {"summary": f"{d.title}: {summary}", "operationId": f"edr-{name}-{d.id}", "tags": [d.id],
                        "parameters": [*params, *common], "responses": responses}}

    radius = [coords, {"name": "within", "in": "query", "required": True, "schema": {"type": "number"}},
              {"name": "within-units", "in": "query", "required": True,
               "schema": {"type": "string", "enum": ["km", "m", "mi"]}}]
    location = {"name": "locId", "in": "path", "required": True, "schema": {"type": "string"}}
    if grid:
        return {f"{path}/position": query("position", "values at a point, each time", [coords]),
                f"{path}/area": query("area", "the cells in an area, each time", [coords]),
                f"{path}/radius": query("radius", "the cells within a distance, each time", radius),
                f"{path}/cube": query("cube", "the cells in a box, each time",
                                      [{"name": "bbox", "in": "query", "required": True, "style": "form",
                                        "explode": False, "schema": {"type": "array", "minItems": 4, "maxItems": 4,
                                                                     "items": {"type": "number"}},
                                        "description": "minlon,minlat,maxlon,maxlat (CRS84)"}])}
    return {
        f"{path}/position": query("position", "nearest station (within 1 km)", [coords]),
        f"{path}/area": query("area", "stations in an area", [coords]),
        f"{path}/radius": query("radius", "stations within a distance", radius),
        f"{path}/locations/{{locId}}": query("location", "one station's series", [location]),
        f"{path}/locations": {"get": {"summary": f"{d.title}: stations", "operationId": f"edr-locations-{d.id}",
                                      "tags": [d.id], "responses": {"200": {"description": "GeoJSON stations"}}}},
    }


@router.get("/api")
def openapi(request: Request, site: Annotated[Site, Depends(get_site)]) -> JSONResponse:
    ok = {"description": "OK"}
    paths: dict[str, Any] = {
        "/ogc": {"get": {"summary": "Landing page", "operationId": "landing", "responses": {"200": ok}}},
        "/ogc/conformance": {"get": {"summary": "Conformance classes", "operationId": "conformance",
                                     "responses": {"200": ok}}},
        "/ogc/collections": {"get": {"summary": "Collections", "operationId": "collections",
                                     "responses": {"200": ok}}},
    }
    datasets = site.catalog.list_datasets()
    series = site.catalog.series_of([d.id for d in datasets])
    for dataset in datasets:
        if dataset.kind == "vector":
            paths.update(_collection_paths(dataset, site.settings.items_max_limit))
        if dataset.id in series:
            paths.update(_edr_paths(dataset, series[dataset.id]))
        elif grids.is_grid(dataset):
            paths.update(_edr_paths(dataset, {"parameters": grids.parameters(dataset)}, grid=True))
    paths.update(records_paths())
    document = {
        "openapi": "3.0.3",
        "info": {"title": site.settings.title, "version": "1.0.0",
                 "description": "OGC API – Features (Parts 1, 2, 3), Records (Part 1) and EDR of this site"},
        "servers": [{"url": base_url(request)}],
        "paths": paths,
    }
    return JSONResponse(document, media_type=MEDIA)
