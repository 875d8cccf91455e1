"""WMTS 1.0.0 at /wmts and /ows?service=WMTS: KVP GetCapabilities, GetTile, GetFeatureInfo, and the RESTful
``/wmts/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{col}.{ext}`` tiles and ``/wmts/1.0.0/WMTSCapabilities.xml``.

The tile matrix sets are those of OGC API Tiles (morecantile); tiles come from the same services and cache.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import morecantile
import orjson
from fastapi import APIRouter, Request
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.domain import Dataset
from kartenn.errors import KartennError, NotFound
from kartenn.services import boxes, datasets, render, stacks, styles, tiles
from kartenn.services.featureinfo import feature_info
from kartenn.services.timedim import TimeFilter, time_extent, time_filter
from kartenn.site import Site
from kartenn.web.caching import tile_headers
from kartenn.web.deps import base_url, get_site
from kartenn.web.errors import challenge
from kartenn.web.ows.common import WMTS as WMTS_REPORT
from kartenn.web.ows.common import OWSError, integer, kvp, report_response, required
from kartenn.web.ows.registry import register

log = logging.getLogger("kartenn.wmts")
router = APIRouter(tags=["ows"])

WMTS = "http://www.opengis.net/wmts/1.0"
OWS = "http://www.opengis.net/ows/1.1"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
GML = "http://www.opengis.net/gml"
MVT = "application/vnd.mapbox-vector-tile"
FORMATS = {"image/png": "png", "image/jpeg": "jpeg", MVT: "mvt"}
EXTENSIONS = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "mvt": MVT, "pbf": MVT}
INFO_FORMATS = ["application/json", "text/plain"]
INFO_EXTENSIONS = {"json": "application/json", "txt": "text/plain"}
WELL_KNOWN = {"WebMercatorQuad": "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"}


def exception_report(exc: OWSError, headers: dict[str, str] | None = None) -> Response:
    return report_response(exc, WMTS_REPORT, headers)


# entry points ---------------------------------------------------------------------------------------------


@router.get("/wmts", include_in_schema=False)
async def wmts_endpoint(request: Request) -> Response:
    return await handle(request)


async def handle(request: Request) -> Response:
    params = kvp(request.query_params.items())
    return await _answer(request, lambda site, base: dispatch(site, params, base, request.headers))


@router.get("/wmts/1.0.0/WMTSCapabilities.xml", include_in_schema=False)
async def rest_capabilities(request: Request) -> Response:
    return await _answer(request, lambda site, base: Response(capabilities(site, base), media_type="text/xml"))


@router.get("/wmts/1.0.0/{layer}/{style}/{tms_id}/{z}/{row}/{tile}", include_in_schema=False)
async def rest_tile(layer: str, style: str, tms_id: str, z: str, row: str, tile: str, request: Request) -> Response:
    col, _, ext = tile.partition(".")
    params = {"layer": layer, "style": style, "tilematrixset": tms_id, "tilematrix": z, "tilerow": row,
              "tilecol": col, "format": EXTENSIONS.get(ext.lower(), ext)}
    params.update({k: v for k, v in kvp(request.query_params.items()).items() if k in ("time", "nearest")})
    return await _answer(request, lambda site, base: get_tile(site, params, request.headers))


@router.get("/wmts/1.0.0/{layer}/{style}/{time}/{tms_id}/{z}/{row}/{tile}", include_in_schema=False)
async def rest_tile_at(layer: str, style: str, time: str, tms_id: str, z: str, row: str, tile: str,
                       request: Request) -> Response:
    """A tile of a raster time stack at one of its times (the ``{Time}`` of its ResourceURL template)."""
    col, _, ext = tile.partition(".")
    params = {"layer": layer, "style": style, "tilematrixset": tms_id, "tilematrix": z, "tilerow": row,
              "tilecol": col, "format": EXTENSIONS.get(ext.lower(), ext), "time": time}
    params.update({k: v for k, v in kvp(request.query_params.items()).items() if k == "nearest"})
    return await _answer(request, lambda site, base: get_tile(site, params, request.headers))


@router.get("/wmts/1.0.0/{layer}/{style}/{tms_id}/{z}/{row}/{col}/{j}/{point}", include_in_schema=False)
async def rest_feature_info(layer: str, style: str, tms_id: str, z: str, row: str, col: str, j: str, point: str,
                            request: Request) -> Response:
    i, _, ext = point.partition(".")
    params = {"layer": layer, "style": style, "tilematrixset": tms_id, "tilematrix": z, "tilerow": row,
              "tilecol": col, "i": i, "j": j, "infoformat": INFO_EXTENSIONS.get(ext.lower(), ext)}
    params.update({k: v for k, v in kvp(request.query_params.items()).items() if k in ("time", "nearest")})
    return await _answer(request, lambda site, base: get_feature_info(site, params))


@router.get("/wmts/1.0.0/{layer}/{style}/{time}/{tms_id}/{z}/{row}/{col}/{j}/{point}", include_in_schema=False)
async def rest_feature_info_at(layer: str, style: str, time: str, tms_id: str, z: str, row: str, col: str, j: str,
                               point: str, request: Request) -> Response:
    """Feature info of a raster time stack at one of its times."""
    i, _, ext = point.partition(".")
    params = {"layer": layer, "style": style, "tilematrixset": tms_id, "tilematrix": z, "tilerow": row,
              "tilecol": col, "i": i, "j": j, "infoformat": INFO_EXTENSIONS.get(ext.lower(), ext), "time": time}
    params.update({k: v for k, v in kvp(request.query_params.items()).items() if k == "nearest"})
    return await _answer(request, lambda site, base: get_feature_info(site, params))


async def _answer(request: Request, work: Any) -> Response:
    try:
        site: Site = get_site(request)  # type: ignore[assignment]
    except KartennError as exc:
        return exception_report(OWSError(exc.code, exc.message, status=exc.status), challenge(exc))
    try:
        return await run_in_threadpool(work, site, base_url(request))
    except OWSError as exc:
        return exception_report(exc)
    except KartennError as exc:
        if exc.status >= 500:  # a tile that took too long to draw
            return exception_report(OWSError(exc.code, exc.message, exc.locator, exc.status))
        code = "InvalidParameterValue"
        return exception_report(OWSError(code, exc.message, exc.locator, 404 if isinstance(exc, NotFound) else 400))
    except Exception:
        log.exception("WMTS request failed: %s", request.url.path)
        return exception_report(OWSError("NoApplicableCode", "internal error; the server log has the details",
                                          status=500))


register("WMTS", handle)


def dispatch(site: Site, params: dict[str, str], base: str, headers: Any) -> Response:
    operation = params.get("request", "")
    if not operation:
        raise OWSError("MissingParameterValue", "the REQUEST parameter is missing", "request")
    if operation.lower() == "getcapabilities":
        return Response(capabilities(site, base), media_type="text/xml")
    if params.get("version", "1.0.0") != "1.0.0":
        raise OWSError("InvalidParameterValue", "this server speaks WMTS 1.0.0", "version")
    if operation.lower() == "gettile":
        return get_tile(site, params, headers)
    if operation.lower() == "getfeatureinfo":
        return get_feature_info(site, params)
    raise OWSError("OperationNotSupported", f"unknown request {operation!r}", "request", 501)


# parameters -----------------------------------------------------------------------------------------------


def _layer(site: Site, params: dict[str, str]) -> Dataset:
    name = required(params, "layer")
    try:
        return datasets.named(site, name)
    except NotFound:
        raise OWSError("LayerNotDefined", f"no layer {name!r}", "layer", 404) from None


def _tile_address(params: dict[str, str]) -> tuple[morecantile.TileMatrixSet, int, int, int]:
    tms_id = required(params, "tilematrixset")
    tms = tiles.TILE_MATRIX_SETS.get(tms_id)
    if tms is None:
        raise OWSError("InvalidParameterValue", f"no tile matrix set {tms_id!r}; known: "
                        f"{', '.join(tiles.TILE_MATRIX_SETS)}", "tilematrixset")
    raw = required(params, "tilematrix")
    try:
        z = int(raw)
    except ValueError:
        z = -1
    if not tms.minzoom <= z <= tms.maxzoom:
        raise OWSError("InvalidParameterValue", f"no tile matrix {raw!r} in {tms_id}", "tilematrix")
    row, col = integer(params, "tilerow"), integer(params, "tilecol")
    matrix = tms.matrix(z)
    if not 0 <= row < matrix.matrixHeight:
        raise OWSError("TileOutOfRange", f"TILEROW {row} is outside 0–{matrix.matrixHeight - 1}", "tilerow")
    if not 0 <= col < matrix.matrixWidth:
        raise OWSError("TileOutOfRange", f"TILECOL {col} is outside 0–{matrix.matrixWidth - 1}", "tilecol")
    return tms, z, row, col


def _style(site: Site, ds: Dataset, params: dict[str, str]) -> Any:
    try:
        return styles.style_for(site, ds, required(params, "style"))
    except NotFound as exc:
        raise OWSError("InvalidParameterValue", exc.message, "style") from None


def _format(ds: Dataset, params: dict[str, str]) -> str:
    raw = required(params, "format")
    fmt = FORMATS.get(raw.lower())
    if fmt is None or (fmt == "mvt" and ds.kind != "vector"):
        raise OWSError("InvalidParameterValue", f"layer {ds.id!r} has no format {raw!r}", "format")
    return fmt


def _step(site: Site, ds: Dataset, params: dict[str, str]) -> tuple[Dataset, stacks.Step | None]:
    """A raster time stack as it was at the TIME asked (the latest by default); other layers as they are."""
    try:
        step = stacks.step_at(ds, params.get("time"), nearest=stacks.nearest_wanted(site.settings,
                                                                                     params.get("nearest")))
    except KartennError as exc:
        raise OWSError("InvalidDimensionValue", exc.message, "time") from None
    return (step.dataset, step) if step else (ds, None)


def _time(ds: Dataset, params: dict[str, str]) -> TimeFilter | None:
    try:
        return time_filter(ds, params.get("time"))
    except KartennError as exc:
        raise OWSError("InvalidParameterValue", exc.message, "time") from None


# GetTile --------------------------------------------------------------------------------------------------


def get_tile(site: Site, params: dict[str, str], headers: Any) -> Response:
    ds = _layer(site, params)
    style = _style(site, ds, params)
    fmt = _format(ds, params)
    tms, z, row, col = _tile_address(params)
    ds, step = _step(site, ds, params)
    when = _time(ds, params) if step is None else None
    extra = ("mvt" if fmt == "mvt" else style.digest(), when.key if when else "")
    tag = tiles.etag(ds, None if fmt == "mvt" else style, tms.id, z, row, col, fmt, *extra)
    head = {"ETag": tag, **tile_headers(headers)}
    if tag in headers.get("if-none-match", ""):
        return Response(status_code=304, headers=head)

    def make() -> bytes:
        if fmt == "mvt":
            return tiles.vector_tile(site, ds, tms.id, z, row, col, when)
        return tiles.map_tile(site, ds, style, tms.id, z, row, col, fmt, time=when)

    body, hit = tiles.cached(site, [ds], tms.id, z, row, col, fmt, extra, make)
    head["X-Cache"] = "hit" if hit else "miss"
    if warning := stacks.warning([step] if step else []):
        head["Warning"] = warning
    media = MVT if fmt == "mvt" else render.MEDIA_TYPES[fmt]
    return Response(body, media_type=media, headers=head)


# GetFeatureInfo -------------------------------------------------------------------------------------------


def get_feature_info(site: Site, params: dict[str, str]) -> Response:
    ds = _layer(site, params)
    _style(site, ds, params)
    tms, z, row, col = _tile_address(params)
    i, j = integer(params, "i"), integer(params, "j")
    matrix = tms.matrix(z)
    if not (0 <= i < matrix.tileWidth and 0 <= j < matrix.tileHeight):
        raise OWSError("PointIJOutOfRange", f"pixel ({i}, {j}) is outside the tile", "i")
    info_format = required(params, "infoformat")
    if info_format not in INFO_FORMATS:
        raise OWSError("InvalidParameterValue", f"INFOFORMAT must be one of {', '.join(INFO_FORMATS)}",
                        "infoformat")
    ds, step = _step(site, ds, params)
    when = _time(ds, params) if step is None else None
    b = tms.xy_bounds(morecantile.Tile(col, row, z))
    features = feature_info(site, ds, tiles.tms_crs_code(tms), (b.left, b.bottom, b.right, b.top),
                            matrix.tileWidth, matrix.tileHeight, i, j, count=10,
                            tolerance=site.settings.map_pixel_tolerance)
    if when:
        features = [f for f in features if when.contains(f["properties"].get(when.field))]
    if step:
        features = [{**f, "properties": {**f["properties"], "time": step.time}} for f in features]
    if info_format == "text/plain":
        lines = [f"{f['layer']} {f['id']}: " + ", ".join(f"{k}={v}" for k, v in f["properties"].items())
                 for f in features]
        return Response("\n".join(lines) + "\n", media_type="text/plain")
    return Response(orjson.dumps({"type": "FeatureCollection", "features": features}), media_type=info_format)


# GetCapabilities ------------------------------------------------------------------------------------------


def _supported_crs(tms: morecantile.TileMatrixSet) -> str:
    epsg = tms.crs._pyproj_crs.to_epsg()
    return f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else "urn:ogc:def:crs:OGC:1.3:CRS84"


def _limits(tms: morecantile.TileMatrixSet, ds: Dataset) -> list[tuple[int, int, int, int, int]] | None:
    """(zoom, min row, max row, min col, max col) of the tiles over the dataset; None when it lies outside."""
    if not ds.extent_wgs84:
        return None
    west, south, east, north = ds.extent_wgs84
    if west > east:  # across the antimeridian: every column may hold some of it
        west, east = -180.0, 180.0
    to_tms = boxes.transformer("OGC:CRS84", tms.crs._pyproj_crs.to_string())
    if tms.id == "WebMercatorQuad":
        south, north = max(south, -85.05), min(north, 85.05)
    try:
        box = to_tms.transform_bounds(west, south, east, north, densify_pts=21)
    except Exception:
        return None
    left, bottom, right, top = tms.xy_bbox
    box = (max(box[0], left), max(box[1], bottom), min(box[2], right), min(box[3], top))
    if not all(math.isfinite(v) for v in box) or box[0] >= box[2] or box[1] >= box[3]:
        return None
    out = []
    for z in range(tms.minzoom, tms.maxzoom + 1):
        m = tms.matrix(z)
        size_x, size_y = m.cellSize * m.tileWidth, m.cellSize * m.tileHeight
        x0, y0 = tms._matrix_origin(m)
        cols = [min(max(int((x - x0) // size_x), 0), m.matrixWidth - 1) for x in (box[0], box[2])]
        rows = [min(max(int((y0 - y) // size_y), 0), m.matrixHeight - 1) for y in (box[3], box[1])]
        out.append((z, rows[0], rows[1], cols[0], cols[1]))
    return out


def _formats(ds: Dataset) -> list[str]:
    return ["image/png", "image/jpeg", MVT] if ds.kind == "vector" else ["image/png", "image/jpeg"]


def capabilities(site: Site, base: str) -> bytes:
    online = f"{base}/wmts"
    datasets = site.catalog.list_datasets()

    def ows(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        el = etree.SubElement(parent, f"{{{OWS}}}{tag}", **attrs)
        if text is not None:
            el.text = text
        return el

    def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        el = etree.SubElement(parent, f"{{{WMTS}}}{tag}", **attrs)
        if text is not None:
            el.text = text
        return el

    root = etree.Element(f"{{{WMTS}}}Capabilities", nsmap={None: WMTS, "ows": OWS, "xlink": XLINK, "xsi": XSI,
                                                            "gml": GML}, version="1.0.0")
    root.set(f"{{{XSI}}}schemaLocation", f"{WMTS} http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd")
    ident = ows(root, "ServiceIdentification")
    ows(ident, "Title", site.settings.title)
    ows(ident, "Abstract", f"Tiles of the datasets published on {site.settings.title}")
    ows(ident, "ServiceType", "OGC WMTS")
    ows(ident, "ServiceTypeVersion", "1.0.0")
    ows(ident, "Fees", "none")
    ows(ident, "AccessConstraints", "none")
    provider = ows(root, "ServiceProvider")
    ows(provider, "ProviderName", site.settings.title)
    ows(provider, "ServiceContact")
    meta = ows(root, "OperationsMetadata")
    for name in ("GetCapabilities", "GetTile", "GetFeatureInfo"):
        http = ows(ows(ows(meta, "Operation", name=name), "DCP"), "HTTP")
        encodings = [("KVP", online + "?")]
        if name == "GetCapabilities":
            encodings.append(("RESTful", f"{online}/1.0.0/WMTSCapabilities.xml"))
        else:
            encodings.append(("RESTful", f"{online}/1.0.0/"))
        for encoding, href in encodings:
            get = ows(http, "Get", **{f"{{{XLINK}}}href": href})
            allowed = ows(ows(get, "Constraint", name="GetEncoding"), "AllowedValues")
            ows(allowed, "Value", encoding)

    contents = sub(root, "Contents")
    used: set[str] = set()
    named = styles.styles_of_many(site, datasets)
    for ds in datasets:
        layer_styles = named.get(ds.id)
        if layer_styles is None:
            continue
        links = {t: _limits(tms, ds) for t, tms in tiles.TILE_MATRIX_SETS.items()}
        links = {t: lim for t, lim in links.items() if lim}
        if not links:
            continue
        layer = sub(contents, "Layer")
        ows(layer, "Title", ds.title)
        west, south, east, north = ds.extent_wgs84  # type: ignore[misc]
        box = ows(layer, "WGS84BoundingBox", crs="urn:ogc:def:crs:OGC:2:84")
        ows(box, "LowerCorner", f"{_n(west)} {_n(south)}")
        ows(box, "UpperCorner", f"{_n(east)} {_n(north)}")
        ows(layer, "Identifier", ds.id)
        for k, style in enumerate(layer_styles.values()):
            el = sub(layer, "Style", isDefault="true" if k == 0 else "false")
            ows(el, "Title", style.title or style.name)
            ows(el, "Identifier", style.name)
            legend = f"{base}/wms?service=WMS&version=1.3.0&request=GetLegendGraphic&format=image/png" \
                     f"&layer={ds.id}&style={style.name}"
            sub(el, "LegendURL", format="image/png", **{f"{{{XLINK}}}href": legend})
        for media in _formats(ds):
            sub(layer, "Format", media)
        for media in INFO_FORMATS:
            sub(layer, "InfoFormat", media)
        extent = time_extent(site, ds)
        if extent is not None:
            dim = sub(layer, "Dimension")
            ows(dim, "Identifier", "time")
            ows(dim, "UOM", "ISO8601")
            sub(dim, "Default", extent[1])
            for value in extent[0].split(","):
                sub(dim, "Value", value)
        for tms_id, limits in links.items():
            used.add(tms_id)
            link = sub(layer, "TileMatrixSetLink")
            sub(link, "TileMatrixSet", tms_id)
            el = sub(link, "TileMatrixSetLimits")
            for z, r0, r1, c0, c1 in limits:
                lim = sub(el, "TileMatrixLimits")
                sub(lim, "TileMatrix", str(z))
                for tag, value in (("MinTileRow", r0), ("MaxTileRow", r1), ("MinTileCol", c0), ("MaxTileCol", c1)):
                    sub(lim, tag, str(value))
        at = "{Time}/" if stacks.times(ds) else ""  # a raster time stack's tiles are addressed by time
        for media in _formats(ds):
            ext = FORMATS[media]
            sub(layer, "ResourceURL", format=media, resourceType="tile",
                template=f"{online}/1.0.0/{ds.id}/{{Style}}/{at}{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/"
                         f"{{TileCol}}.{ext}")
        for ext, media in INFO_EXTENSIONS.items():
            sub(layer, "ResourceURL", format=media, resourceType="FeatureInfo",
                template=f"{online}/1.0.0/{ds.id}/{{Style}}/{at}{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/"
                         f"{{TileCol}}/{{J}}/{{I}}.{ext}")
    for tms_id in tiles.TILE_MATRIX_SETS:
        if tms_id in used:
            _tile_matrix_set(contents, tiles.TILE_MATRIX_SETS[tms_id], ows, sub)
    etree.SubElement(root, f"{{{WMTS}}}ServiceMetadataURL", {f"{{{XLINK}}}href":
                                                              f"{online}/1.0.0/WMTSCapabilities.xml"})
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _tile_matrix_set(contents: etree._Element, tms: morecantile.TileMatrixSet, ows: Any, sub: Any) -> None:
    el = sub(contents, "TileMatrixSet")
    if tms.title:
        ows(el, "Title", tms.title)
    ows(el, "Identifier", tms.id)
    ows(el, "SupportedCRS", _supported_crs(tms))
    if tms.id in WELL_KNOWN:
        sub(el, "WellKnownScaleSet", WELL_KNOWN[tms.id])
    for m in tms.tileMatrices:
        tm = sub(el, "TileMatrix")
        ows(tm, "Identifier", m.id)
        sub(tm, "ScaleDenominator", repr(m.scaleDenominator))
        sub(tm, "TopLeftCorner", " ".join(repr(float(v)) for v in m.pointOfOrigin))
        sub(tm, "TileWidth", str(m.tileWidth))
        sub(tm, "TileHeight", str(m.tileHeight))
        sub(tm, "MatrixWidth", str(m.matrixWidth))
        sub(tm, "MatrixHeight", str(m.matrixHeight))


def _n(value: float) -> str:
    return f"{value:.10g}"
