"""OGC API – Environmental Data Retrieval 1.1 on station datasets: /position, /area, /radius, /locations.

``items`` is the collection's OGC API Features /items. A position query answers with the station nearest to the
point when it lies within 1 km of it (stations are not a continuous field: there is nothing to interpolate), and
with an empty collection otherwise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.errors import InvalidInput
from kartenn.formats import edr
from kartenn.services.series import Station, Stations, aggregate, read_period
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site

router = APIRouter(prefix="/ogc", tags=["ogc"])
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


async def _answer(request: Request, stations: Stations, chosen: list[Station]) -> Response:
    params = request.query_params
    fmt = read_format(request)
    names = stations.parameter_names(params.get("parameter-name"))
    start, end = read_interval(params.get("datetime"))
    period = read_period(params.get("aggregate"))
    found = await run_in_threadpool(stations.read, chosen, names, start, end)
    if period is not None:
        found = await run_in_threadpool(aggregate, found, period)
    described = stations.described(names, period)
    units = {p["name"]: p.get("unit") for p in described}
    if fmt == "csv":
        body = edr.csv(found, units)
    elif fmt == "geojson":
        body = edr.geojson(found, units)
    else:
        body = edr.covjson(found, described)
    return Response(body, media_type=edr.FORMATS[fmt])


async def _stations(site: Site, collection_id: str) -> Stations:
    return await run_in_threadpool(Stations.of, site, collection_id)


@router.get("/collections/{collection_id}/position")
async def position(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    _check_params(request, {"coords", "z"})
    point = read_coords(request.query_params.get("coords"), ("POINT",))
    stations = await _stations(site, collection_id)
    return await _answer(request, stations, stations.nearest(point.x, point.y))


@router.get("/collections/{collection_id}/area")
async def area(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    _check_params(request, {"coords", "z"})
    polygon = read_coords(request.query_params.get("coords"), ("POLYGON", "MULTIPOLYGON"))
    stations = await _stations(site, collection_id)
    return await _answer(request, stations, stations.within(polygon))


@router.get("/collections/{collection_id}/radius")
async def radius(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    _check_params(request, {"coords", "z", "within", "within-units"})
    point = read_coords(request.query_params.get("coords"), ("POINT",))
    metres = _distance(request.query_params.get("within"), request.query_params.get("within-units"))
    stations = await _stations(site, collection_id)
    return await _answer(request, stations, stations.within_radius(point.x, point.y, metres))


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
    return await _answer(request, stations, [stations.station(location_id)])


def collection_extra(site: Site, dataset_ids: list[str], base: str) -> dict[str, dict[str, Any]]:
    """EDR metadata of the station datasets among ``dataset_ids``, by id."""
    return {dataset_id: edr.collection_metadata(info, f"{base}/ogc/collections/{dataset_id}")
            for dataset_id, info in site.catalog.series_of(dataset_ids).items()}
