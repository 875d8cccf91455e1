"""OGC API – Environmental Data Retrieval 1.1 on station datasets (/position, /area, /radius, /locations) and on
raster time stacks (/position, /area, /radius).

``items`` is a station collection's OGC API Features /items. On stations a position query answers with the
station nearest to the point when it lies within 1 km of it (stations are not a continuous field: there is nothing
to interpolate), and with an empty collection otherwise; on a raster, with the cell holding the point
(services/grids.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.errors import InvalidInput
from kartenn.formats import edr
from kartenn.services import grids
from kartenn.services.grids import Grid
from kartenn.services.series import Station, Stations, aggregate, read_period, with_extremes
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site

router = APIRouter(prefix="/ogc", tags=["ogc"])
GRID_QUERIES = ("position", "area", "radius", "cube")
UNITS = {"km": 1000.0, "m": 1.0, "mi": 1609.344}
COMMON = {"datetime", "parameter-name", "f", "crs", "lang", "aggregate"}
ACCEPTED = [(edr.COVJSON, "covjson"), ("application/vnd.cov+json", "covjson"), ("text/csv", "csv"),
            (edr.GEOJSON, "geojson")]


def read_format(request: Request) -> str:
    """``f`` (covjson, csv, geojson), else the Accept header, else CoverageJSON."""
    value = request.query_params.get("f")
    if value is not None:
        if value.lower() not in edr.FORMATS:
            raise InvalidInput(f"unsupported format f={value!r}; use covjson, csv or geojson", locator="f")
        return "covjson" if value.lower() == "coveragejson" else value.lower()
    accept = request.headers.get("accept", "")
    return next((name for media, name in ACCEPTED if media in accept), "covjson")


def read_interval(value: str | None) -> tuple[datetime | None, datetime | None]:
    """``datetime``: an instant, or ``start/end`` with ``..`` (or nothing) for an open end; a date stands for its
    whole day. Times without an offset are UTC."""
    if value is None or not value.strip():
        return None, None
    parts = value.split("/")
    if len(parts) > 2:
        raise InvalidInput(f"datetime must be an instant or an interval start/end, not {value!r}", locator="datetime")
    if len(parts) == 1:
        return _instant(parts[0], end=False), _instant(parts[0], end=True)
    start, end = (None if p.strip() in ("..", "") else _instant(p, end=i == 1) for i, p in enumerate(parts))
    if start and end and start > end:
        raise InvalidInput(f"datetime {value!r} ends before it starts", locator="datetime")
    return start, end


def _instant(text: str, *, end: bool) -> datetime:
    text = text.strip()
    try:
        if "T" not in text.upper() and len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, UTC)
            return moment + timedelta(days=1, milliseconds=-1) if end else moment
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"datetime: {text!r} is not an RFC 3339 date or date-time", locator="datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_coords(value: str | None, kinds: tuple[str, ...]) -> shapely.Geometry:
    """``coords`` as WKT in longitude/latitude (CRS84), of one of ``kinds``."""
    if value is None or not value.strip():
        raise InvalidInput(f"coords is required: a WKT {' or '.join(kinds)} in longitude/latitude", locator="coords")
    try:
        geometry = shapely.from_wkt(value)
    except shapely.errors.GEOSException:
        raise InvalidInput(f"coords {value[:80]!r} is not valid WKT", locator="coords") from None
    if geometry is None or geometry.is_empty or geometry.geom_type.upper() not in kinds:
        raise InvalidInput(f"coords must be a {' or '.join(kinds)}", locator="coords")
    minx, miny, maxx, maxy = geometry.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InvalidInput("coords are longitude, latitude (CRS84): out of range", locator="coords")
    if geometry.geom_type in ("Polygon", "MultiPolygon") and not geometry.is_valid:
        raise InvalidInput("coords: the polygon is not valid (it crosses itself)", locator="coords")
    return geometry


def _check_params(request: Request, allowed: set[str]) -> None:
    unknown = [k for k in request.query_params if k not in COMMON | allowed]
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r}", locator=unknown[0])
    crs = request.query_params.get("crs")
    if crs not in (None, "CRS84", edr.CRS84):
        raise InvalidInput(f"crs {crs!r} is not offered; use CRS84", locator="crs")


async def _answer(request: Request, source: Stations | Grid, read: Callable[..., Any]) -> Response:
    """Read what a query selects (``read(parameters, start, end)``: station series, a grid cell's series or grid
    cells) with the request's ``parameter-name`` and ``datetime``, and encode it in the asked format."""
    params = request.query_params
    fmt = read_format(request)
    names = source.parameter_names(params.get("parameter-name"))
    start, end = read_interval(params.get("datetime"))
    period = read_period(params.get("aggregate"))
    found = await run_in_threadpool(read, names, start, end)
    described = [p for p in source.parameters if p["name"] in names]
    if isinstance(found, edr.GridValues):
        if period is not None:
            raise InvalidInput("aggregate applies to series (stations, a position), not to an area of grid cells",
                               locator="aggregate")
        encode = {"csv": lambda: edr.grid_csv(found, source.units),
                  "geojson": lambda: edr.grid_geojson(found, source.units)}
        body = encode.get(fmt, lambda: edr.grid_covjson(found, described))()
    else:
        series, units = [s for s in found if s is not None], source.units
        if period is not None:
            series = await run_in_threadpool(aggregate, series, period)
            described = with_extremes(described)
            units = {p["name"]: p.get("unit") for p in described}
        encode = {"csv": lambda: edr.csv(series, units), "geojson": lambda: edr.geojson(series, units)}
        body = encode.get(fmt, lambda: edr.covjson(series, described))()
    return Response(body, media_type=edr.FORMATS[fmt])


def _stations_read(stations: Stations, chosen: list[Station]) -> Callable[..., Any]:
    return lambda names, start, end: stations.read(chosen, names, start, end)


async def _stations(site: Site, collection_id: str) -> Stations:
    return await run_in_threadpool(Stations.of, site, collection_id)


async def _collection(site: Site, collection_id: str) -> Stations | Grid:
    """A station dataset or a raster time stack; NotFound for anything else (or what the caller may not view)."""
    def find() -> Stations | Grid:
        dataset = site.catalog.get_dataset(collection_id)
        return Grid(site, dataset) if grids.is_grid(dataset) else Stations.of(site, collection_id)

    return await run_in_threadpool(find)


@router.get("/collections/{collection_id}/position")
async def position(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    _check_params(request, {"coords", "z"})
    point = read_coords(request.query_params.get("coords"), ("POINT",))
    found = await _collection(site, collection_id)
    if isinstance(found, Grid):
        grid = found
        return await _answer(request, grid, lambda names, start, end: [grid.position(point.x, point.y, names, start,
                                                                                     end)])
    return await _answer(request, found, _stations_read(found, found.nearest(point.x, point.y)))


@router.get("/collections/{collection_id}/area")
async def area(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    _check_params(request, {"coords", "z"})
    polygon = read_coords(request.query_params.get("coords"), ("POLYGON", "MULTIPOLYGON"))
    found = await _collection(site, collection_id)
    if isinstance(found, Grid):
        return await _answer(request, found, partial(found.area, polygon))
    return await _answer(request, found, _stations_read(found, found.within(polygon)))


@router.get("/collections/{collection_id}/radius")
async def radius(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    _check_params(request, {"coords", "z", "within", "within-units"})
    point = read_coords(request.query_params.get("coords"), ("POINT",))
    metres = _distance(request.query_params.get("within"), request.query_params.get("within-units"))
    found = await _collection(site, collection_id)
    if isinstance(found, Grid):
        # the box around the circle, in degrees (wider near the poles), then the cells within the distance
        dy = metres / 111_000
        dx = min(180.0, dy / max(math.cos(math.radians(min(abs(point.y) + dy, 89.9))), 1e-6))
        box = shapely.box(max(point.x - dx, -180), max(point.y - dy, -90), min(point.x + dx, 180),
                          min(point.y + dy, 90))
        return await _answer(request, found, lambda names, start, end: found.area(box, names, start, end,
                                                                                  (point.x, point.y, metres)))
    return await _answer(request, found, _stations_read(found, found.within_radius(point.x, point.y, metres)))


def _distance(within: str | None, units: str | None) -> float:
    if within is None:
        raise InvalidInput("within is required: the radius, in within-units", locator="within")
    if units is None:
        raise InvalidInput(f"within-units is required: one of {', '.join(UNITS)}", locator="within-units")
    if units.lower() not in UNITS:
        raise InvalidInput(f"within-units {units!r} is not one of {', '.join(UNITS)}", locator="within-units")
    try:
        distance = float(within)
    except ValueError:
        raise InvalidInput(f"within {within!r} is not a number", locator="within") from None
    if not 0 <= distance <= 20_100_000 / UNITS[units.lower()]:
        raise InvalidInput(f"within {within!r} is out of range", locator="within")
    return distance * UNITS[units.lower()]


@router.get("/collections/{collection_id}/cube")
async def cube(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    """The cells of a raster time stack in ``bbox`` (minlon,minlat,maxlon,maxlat), each time."""
    _check_params(request, {"bbox", "z"})
    value = request.query_params.get("bbox")
    if not value:
        raise InvalidInput("bbox is required: minlon,minlat,maxlon,maxlat", locator="bbox")
    box = _bbox(value)
    found = await _collection(site, collection_id)
    if not isinstance(found, Grid):
        raise InvalidInput(f"collection {collection_id!r} has stations: ask for an area, not a cube", locator="bbox")
    return await _answer(request, found, partial(found.area, box))


@router.get("/collections/{collection_id}/locations")
async def locations(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    """The stations as GeoJSON; with ``bbox``, those within it."""
    _check_params(request, {"bbox"})
    fmt = request.query_params.get("f")
    if fmt not in (None, "json", "geojson"):
        raise InvalidInput(f"unsupported format f={fmt!r}; the locations are GeoJSON", locator="f")
    stations = await _stations(site, collection_id)
    chosen = stations.all
    if request.query_params.get("bbox"):
        chosen = stations.within(_bbox(request.query_params["bbox"]))
    names = [p["name"] for p in stations.parameters]
    period = f"{stations.info['begin']}/{stations.info['end']}"
    listed = [{"id": s.id, "name": s.name, "lon": s.lon, "lat": s.lat, "parameters": names, "datetime": period}
              for s in chosen]
    href = f"{base_url(request)}/ogc/collections/{collection_id}"
    return Response(edr.locations(listed, href), media_type=edr.GEOJSON)


def _bbox(value: str) -> shapely.Geometry:
    try:
        minx, miny, maxx, maxy = (float(v) for v in value.split(","))
    except ValueError:
        raise InvalidInput(f"bbox {value!r} must be minlon,minlat,maxlon,maxlat", locator="bbox") from None
    if minx > maxx or miny > maxy:
        raise InvalidInput(f"bbox {value!r} must be minlon,minlat,maxlon,maxlat", locator="bbox")
    return shapely.box(minx, miny, maxx, maxy)


@router.get("/collections/{collection_id}/locations/{location_id}")
async def location(collection_id: str, location_id: str, request: Request,
                   site: Annotated[Site, Depends(get_site)]) -> Response:
    """The series of one station (CoverageJSON by default): what a chart reads."""
    _check_params(request, set())
    stations = await _stations(site, collection_id)
    return await _answer(request, stations, _stations_read(stations, [stations.station(location_id)]))


def collection_extra(site: Site, datasets: list[Any], base: str) -> dict[str, dict[str, Any]]:
    """EDR metadata of the station datasets and raster time stacks among ``datasets``, by id."""
    found = {dataset_id: edr.collection_metadata(info, f"{base}/ogc/collections/{dataset_id}")
             for dataset_id, info in site.catalog.series_of([d.id for d in datasets]).items()}
    for d in datasets:
        if grids.is_grid(d):
            parameters = grids.parameters(d)
            info = {"parameters": parameters, "begin": parameters[0]["begin"], "end": parameters[0]["end"]}
            found[d.id] = edr.collection_metadata(info, f"{base}/ogc/collections/{d.id}", GRID_QUERIES)
    return found
