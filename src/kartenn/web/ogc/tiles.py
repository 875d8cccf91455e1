"""OGC API – Tiles (tile matrix sets, vector and raster tiles per collection, TileJSON) and OGC API – Maps."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.errors import InvalidInput, NotFound
from kartenn.services import render, stacks, styles, tiles, timedim
from kartenn.site import Site
from kartenn.web.caching import tile_headers
from kartenn.web.deps import base_url, get_site, site_for

router = APIRouter(prefix="/ogc", tags=["ogc"])
MVT = "application/vnd.mapbox-vector-tile"
_TILES, _MAPS = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf", "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf"
CONFORMANCE = [f"{_TILES}/{c}" for c in ("core", "tileset", "tilesets-list", "geodata-tilesets", "dataset-tilesets",
                                         "png", "mvt")] + [f"{_MAPS}/{c}" for c in ("core", "png", "jpeg")]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"


def _tms_summary(tms_id: str, base: str) -> dict[str, Any]:
    tms = tiles.tile_matrix_set(tms_id)
    return {"id": tms_id, "title": tms.title or tms_id, "uri": tms.uri,
            "links": [{"rel": "self", "href": f"{base}/ogc/tileMatrixSets/{tms_id}", "type": "application/json"}]}


@router.get("/tileMatrixSets")
def tile_matrix_sets(request: Request) -> dict[str, Any]:
    base = base_url(request)
    return {"tileMatrixSets": [_tms_summary(t, base) for t in tiles.TILE_MATRIX_SETS]}


@router.get("/tileMatrixSets/{tms_id}")
def tile_matrix_set(tms_id: str, version: Annotated[str, Query(pattern="^(1.0|2.0)$")] = "2.0") -> Response:
    """The tile matrix set in OGC TMS 2.0, or with ``version=1.0`` in its former encoding (OGC 17-083r2), the only
    one GDAL before 3.7 reads."""
    tms = tiles.tile_matrix_set(tms_id)
    body = tms.model_dump_json(exclude_none=True, by_alias=True)
    if version == "1.0":
        data = orjson.loads(body)
        body = orjson.dumps({
            "type": "TileMatrixSetType", "title": data.get("title", tms_id), "identifier": tms_id,
            "supportedCRS": data["crs"], "wellKnownScaleSet": data.get("wellKnownScaleSet"),
            "tileMatrix": [{"type": "TileMatrixType", "identifier": m["id"], "scaleDenominator": m["scaleDenominator"],
                            "topLeftCorner": m["pointOfOrigin"], "tileWidth": m["tileWidth"],
                            "tileHeight": m["tileHeight"], "matrixWidth": m["matrixWidth"],
                            "matrixHeight": m["matrixHeight"]} for m in data["tileMatrices"]]})
    return Response(body, media_type="application/json")


def _scheme_links(base: str, tms_id: str) -> list[dict[str, Any]]:
    """The tiling scheme in TMS 2.0, then in TMS 1.0: clients take the first, GDAL before 3.7 the last."""
    href = f"{base}/ogc/tileMatrixSets/{tms_id}"
    return [{"rel": f"{OGC_REL}tiling-scheme", "href": href, "type": "application/json"},
            {"rel": f"{OGC_REL}tiling-scheme", "href": f"{href}?version=1.0", "type": "application/json",
             "title": "TMS 1.0 encoding"}]


def _tileset(site: Site, collection_id: str, tms_id: str, base: str) -> dict[str, Any]:
    ds = site.catalog.get_dataset(collection_id)
    tms = tiles.tile_matrix_set(tms_id)
    vector = ds.kind == "vector"
    href = f"{base}/ogc/collections/{ds.id}/tiles/{tms_id}"
    kinds = [("mvt", MVT)] if vector else [("png", "image/png"), ("webp", "image/webp")]
    links = [{"rel": "self", "href": href, "type": "application/json"}, _scheme_links(base, tms_id)[0],
             {"rel": "alternate", "href": f"{href}/tilejson", "type": "application/json", "title": "TileJSON"}]
    links += [{"rel": "item", "href": f"{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}?f={f}", "type": media,
               "templated": True} for f, media in kinds]
    links.append(_scheme_links(base, tms_id)[1])
    data: dict[str, Any] = {"title": ds.title, "tileMatrixSetURI": tms.uri, "crs": str(tms.crs.root),
                            "dataType": "vector" if vector else "map", "links": links,
                            "tileMatrixSetLimits": _limits(tms)}
    if ds.extent_wgs84:
        data["boundingBox"] = {"lowerLeft": list(ds.extent_wgs84[:2]), "upperRight": list(ds.extent_wgs84[2:]),
                               "crs": CRS84}
    if vector:
        data["layers"] = [{"id": ds.id, "dataType": "vector", "geometryDimension": _dimension(ds.geometry_type),
                           "propertiesSchema": {"type": "object", "properties": {
                               f.name: {"type": f.type} for f in ds.fields}}}]
    return data


def _limits(tms: Any) -> list[dict[str, Any]]:
    """Limits that span each whole matrix: GDAL before 3.7 reads raster tiles only when limits are given, and
    misplaces the rows of limits narrower than their matrix."""
    return [{"tileMatrix": m.id, "minTileRow": 0, "maxTileRow": m.matrixHeight - 1, "minTileCol": 0,
             "maxTileCol": m.matrixWidth - 1} for m in (tms.matrix(z) for z in range(tms.minzoom, tms.maxzoom + 1))]


def _dimension(geometry_type: str | None) -> int | None:
    kind = (geometry_type or "").lower()
    return 2 if "polygon" in kind else 1 if "line" in kind else 0 if "point" in kind else None


@router.get("/collections/{collection_id}/tiles")
def tilesets(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    base = base_url(request)
    return {"tilesets": [_tileset(site, collection_id, t, base) for t in tiles.TILE_MATRIX_SETS]}


@router.get("/collections/{collection_id}/tiles/{tms_id}")
def tileset(collection_id: str, tms_id: str, request: Request,
            site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    return _tileset(site, collection_id, tms_id, base_url(request))


@router.get("/collections/{collection_id}/tiles/{tms_id}/tilejson")
def tilejson(collection_id: str, tms_id: str, request: Request,
             site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    ds = site.catalog.get_dataset(collection_id)
    tms = tiles.tile_matrix_set(tms_id)
    fmt = "mvt" if ds.kind == "vector" else "png"
    url = f"{base_url(request)}/ogc/collections/{ds.id}/tiles/{tms_id}/{{z}}/{{y}}/{{x}}?f={fmt}"
    data: dict[str, Any] = {"tilejson": "3.0.0", "name": ds.title, "tiles": [url], "scheme": "xyz",
                            "minzoom": tms.minzoom, "maxzoom": tms.maxzoom}
    if ds.extent_wgs84:
        data["bounds"] = list(ds.extent_wgs84)
        west, south, east, north = ds.extent_wgs84
        data["center"] = [(west + east) / 2, (south + north) / 2, min(tms.maxzoom, 6)]
    if ds.kind == "vector":
        data["vector_layers"] = [{"id": ds.id, "fields": {f.name: f.type for f in ds.fields}}]
    return data


# The two tile routes are plain Starlette routes, not FastAPI ones: they answer most requests, and FastAPI's
# parameter machinery would cost more than making a small tile. They read their parameters with _tile_address.
TILE_FORMATS = ("mvt", "pbf", "png", "webp")


def _tile_address(request: Request) -> tuple[str, int, int, int]:
    """The tile matrix set and the zoom, row and column of a tile route."""
    p = request.path_params
    try:
        return p["tms_id"], int(p["z"]), int(p["row"]), int(p["col"])
    except ValueError:
        raise InvalidInput("the zoom, row and column of a tile are whole numbers") from None


async def tile(request: Request) -> Response:
    """GET /ogc/collections/{collection_id}/tiles/{tms_id}/{z}/{row}/{col}[?f=mvt|pbf|png|webp][&datetime=…]"""
    collection_id = request.path_params["collection_id"]
    tms_id, z, row, col = _tile_address(request)
    f, datetime = request.query_params.get("f"), request.query_params.get("datetime")
    nearest = request.query_params.get("nearest")
    if f is not None and f not in TILE_FORMATS:
        raise InvalidInput(f"f: one of {', '.join(TILE_FORMATS)}", locator="f")
    site = await site_for(request)

    def work() -> Response:
        ds = site.catalog.get_dataset(collection_id)
        step = stacks.step_at(ds, datetime, nearest=stacks.nearest_wanted(site.settings, nearest))
        ds = step.dataset if step else ds  # a raster time stack at that time (the latest by default)
        when = timedim.time_filter(ds, datetime) if datetime and ds.kind == "vector" else None
        fmt = f or ("mvt" if ds.kind == "vector" else "png")
        if (fmt in ("mvt", "pbf")) != (ds.kind == "vector"):
            raise InvalidInput(f"{ds.id} is {ds.kind} data: f={fmt} does not apply")
        style = None if ds.kind == "vector" else styles.style_for(site, ds, None)  # the default named style
        tag = tiles.etag(ds, style, tms_id, z, row, col, fmt, when.key if when else "")
        headers = {"ETag": tag, **tile_headers(request.headers)}
        if tag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if ds.kind == "vector":
            body, hit = tiles.cached(site, [ds], tms_id, z, row, col, "mvt", (when.key if when else "",),
                                     lambda: tiles.vector_tile(site, ds, tms_id, z, row, col, when))
            headers["X-Cache"] = "hit" if hit else "miss"
            if not body:
                return Response(status_code=204, headers=headers)
            return Response(body, media_type=MVT, headers=headers)
        assert style is not None
        tiles.check_tile(tiles.tile_matrix_set(tms_id), z, row, col)

        def make() -> bytes:
            try:
                return tiles.raster_tile(site, ds, style, tms_id, z, row, col, fmt)
            except NotFound:
                return b""  # outside the raster: kept as empty, answered 204

        body, hit = tiles.cached(site, [ds], tms_id, z, row, col, fmt, (style.digest(),), make)
        headers["X-Cache"] = "hit" if hit else "miss"
        if not body:
            return Response(status_code=204, headers=headers)
        return Response(body, media_type=f"image/{fmt}", headers=headers)

    return await run_in_threadpool(work)


# dataset tiles: one MVT, one layer per collection ------------------------------------------------------------


def _vector_collections(site: Site, collections: str | None) -> list[Any]:
    """The vector datasets named in ``collections`` (all visible vector datasets when absent)."""
    if not collections:
        return [d for d in site.catalog.list_datasets() if d.kind == "vector"]
    found = []
    for name in dict.fromkeys(n.strip() for n in collections.split(",") if n.strip()):
        ds = site.catalog.get_dataset(name)
        if ds.kind != "vector":
            raise InvalidInput(f"{ds.id} is raster data: dataset vector tiles take vector collections",
                               locator="collections")
        found.append(ds)
    return found


def _dataset_tileset(site: Site, tms_id: str, base: str) -> dict[str, Any]:
    tms = tiles.tile_matrix_set(tms_id)
    href = f"{base}/ogc/tiles/{tms_id}"
    datasets = _vector_collections(site, None)
    boxes = [d.extent_wgs84 for d in datasets if d.extent_wgs84]
    data: dict[str, Any] = {
        "title": f"{site.settings.title}: all vector collections", "tileMatrixSetURI": tms.uri,
        "crs": str(tms.crs.root), "dataType": "vector",
        "links": [{"rel": "self", "href": href, "type": "application/json"}, _scheme_links(base, tms_id)[0],
                  {"rel": "alternate", "href": f"{href}/tilejson", "type": "application/json", "title": "TileJSON"},
                  {"rel": "item", "href": f"{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}", "type": MVT,
                   "templated": True}, _scheme_links(base, tms_id)[1]],
        "layers": [{"id": d.id, "title": d.title, "dataType": "vector",
                    "geometryDimension": _dimension(d.geometry_type)} for d in datasets]}
    if boxes:
        data["boundingBox"] = {"lowerLeft": [min(b[0] for b in boxes), min(b[1] for b in boxes)],
                               "upperRight": [max(b[2] for b in boxes), max(b[3] for b in boxes)], "crs": CRS84}
    return data


@router.get("/tiles")
def dataset_tilesets(request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    base = base_url(request)
    return {"tilesets": [_dataset_tileset(site, t, base) for t in tiles.TILE_MATRIX_SETS]}


@router.get("/tiles/{tms_id}")
def dataset_tileset(tms_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    return _dataset_tileset(site, tms_id, base_url(request))


@router.get("/tiles/{tms_id}/tilejson")
def dataset_tilejson(tms_id: str, request: Request, site: Annotated[Site, Depends(get_site)],
                     collections: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    tms = tiles.tile_matrix_set(tms_id)
    datasets = _vector_collections(site, collections)
    query = f"?collections={','.join(d.id for d in datasets)}" if collections else ""
    data: dict[str, Any] = {"tilejson": "3.0.0", "name": site.settings.title, "scheme": "xyz",
                            "tiles": [f"{base_url(request)}/ogc/tiles/{tms_id}/{{z}}/{{y}}/{{x}}{query}"],
                            "minzoom": tms.minzoom, "maxzoom": tms.maxzoom,
                            "vector_layers": [{"id": d.id, "fields": {f.name: f.type for f in d.fields}}
                                              for d in datasets]}
    boxes = [d.extent_wgs84 for d in datasets if d.extent_wgs84]
    if boxes:
        data["bounds"] = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                          max(b[3] for b in boxes)]
    return data


async def dataset_tile(request: Request) -> Response:
    """GET /ogc/tiles/{tms_id}/{z}/{row}/{col}[?collections=…]: one MVT with a layer per collection the caller may
    view (Mapbox Vector Tiles concatenate as layers)."""
    tms_id, z, row, col = _tile_address(request)
    collections = request.query_params.get("collections")
    site = await site_for(request)

    def work() -> Response:
        datasets = _vector_collections(site, collections)
        tiles.check_tile(tiles.tile_matrix_set(tms_id), z, row, col)
        headers = tile_headers(request.headers)
        if not datasets:
            return Response(status_code=204, headers=headers)
        headers["ETag"] = tag = tiles.etag(datasets[0], None, *(tiles.etag(d, None) for d in datasets[1:]),
                                           tms_id, z, row, col)
        if tag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body, hit = tiles.cached(site, datasets, tms_id, z, row, col, "mvt", (), lambda: b"".join(
            tiles.vector_tile(site, ds, tms_id, z, row, col) for ds in datasets))
        headers["X-Cache"] = "hit" if hit else "miss"
        return Response(body, media_type=MVT, headers=headers) if body else Response(status_code=204,
                                                                                        headers=headers)

    return await run_in_threadpool(work)


router.add_route("/ogc/collections/{collection_id}/tiles/{tms_id}/{z}/{row}/{col}", tile, methods=["GET"])
router.add_route("/ogc/tiles/{tms_id}/{z}/{row}/{col}", dataset_tile, methods=["GET"])


@router.get("/collections/{collection_id}/map")
async def collection_map(collection_id: str, site: Annotated[Site, Depends(site_for)],
                         bbox: Annotated[str | None, Query()] = None,
                         width: Annotated[int, Query(ge=1)] = 512, height: Annotated[int, Query(ge=1)] = 512,
                         crs: Annotated[str, Query()] = "CRS:84",
                         f: Annotated[str, Query(pattern="^(png|jpeg|webp)$")] = "png",
                         transparent: bool = True, style: str | None = None,
                         datetime: Annotated[str | None, Query()] = None, nearest: str | None = None) -> Response:
    """OGC API – Maps: ``bbox`` in ``crs`` (x/y order; CRS84 by default), the whole extent when absent;
    ``style`` names one of the collection's styles (the default one when absent); ``datetime`` filters a
    time-enabled collection, or picks a time of a raster time stack (its latest by default; the nearest one
    with ``nearest=true``)."""
    def work() -> Response:
        ds = site.catalog.get_dataset(collection_id)
        step = stacks.step_at(ds, datetime, nearest=stacks.nearest_wanted(site.settings, nearest))
        headers = {"Warning": warning} if (warning := stacks.warning([step] if step else [])) else {}
        ds = step.dataset if step else ds
        cap = site.settings.map_max_size
        if width > cap or height > cap:
            raise InvalidInput(f"width and height are at most {cap}")
        code = "CRS:84" if crs in ("CRS:84", CRS84) else crs.replace("http://www.opengis.net/def/crs/EPSG/0/",
                                                                      "EPSG:")
        if render.parse_crs(code) is None:
            raise InvalidInput(f"unknown crs {crs!r}")
        if bbox:
            try:
                box = tuple(float(v) for v in bbox.split(","))
            except ValueError:
                box = ()
            if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3]:
                raise InvalidInput("bbox must be minx,miny,maxx,maxy with min < max")
        elif code == "CRS:84" and ds.extent_wgs84:
            box = ds.extent_wgs84
        else:
            raise InvalidInput("give a bbox")
        when = timedim.time_filter(ds, datetime) if datetime and step is None else None
        image = render.render_map(site, [render.MapLayer(ds, styles.style_for(site, ds, style), when)], code,
                                  box, width, height, f, transparent=transparent)  # type: ignore[arg-type]
        return Response(image, media_type=render.MEDIA_TYPES[f], headers=headers)

    return await run_in_threadpool(work)
