"""OGC API – EDR documents of station datasets: collection metadata, and series as CoverageJSON, CSV or GeoJSON.

Series come as numpy arrays and leave as JSON or CSV without a Python object per value: orjson writes numpy
arrays itself (times as RFC 3339 in UTC, NaN as null), the CSV is written by Arrow from columns.

>>> covjson_media("covjson")
'application/prs.coverage+json'
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

COVJSON = "application/prs.coverage+json"
GEOJSON = "application/geo+json"
CSV = "text/csv; charset=utf-8"
FORMATS = {"covjson": COVJSON, "coveragejson": COVJSON, "csv": CSV, "geojson": GEOJSON}
OUTPUT_FORMATS = ["CoverageJSON", "CSV", "GeoJSON"]
QUERIES = ("position", "area", "radius", "locations", "items")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84_WKT = ('GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
             'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AXIS["Longitude",EAST],AXIS["Latitude",NORTH]]')
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [f"http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/{c}"
               for c in ("core", "collections", "json", "geojson", "covjson", "queries")]


def covjson_media(name: str) -> str:
    return FORMATS[name]


@dataclass
class StationSeries:
    """The series read at one station: its position (longitude, latitude) and {parameter: (times, values)}."""

    id: str
    name: str | None
    lon: float
    lat: float
    series: dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class GridValues:
    """Values of a grid: cell centres ``xs`` and ``ys`` in ``crs`` (a URI), ``times``, and per parameter an array
    (time, y, x) with NaN where there is no value."""

    xs: np.ndarray
    ys: np.ndarray
    times: np.ndarray
    values: dict[str, np.ndarray]
    crs: str = CRS84


def collection_metadata(info: dict[str, Any], href: str, queries_offered: tuple[str, ...] = QUERIES
                        ) -> dict[str, Any]:
    """What an EDR collection adds to an OGC API collection: its queries, parameters and time extent."""
    variables = {"output_formats": OUTPUT_FORMATS, "default_output_format": "CoverageJSON",
                 "crs_details": [{"crs": "CRS84", "wkt": CRS84_WKT}]}
    queries = {}
    for query in queries_offered:
        extra: dict[str, Any] = {"query_type": query}
        if query == "radius":
            extra["within_units"] = ["km", "m", "mi"]
        media = GEOJSON if query in ("locations", "items") else COVJSON
        queries[query] = {"link": {"href": f"{href}/{query}", "rel": "data", "type": media, "title": query,
                                   "variables": {**variables, **extra}}}
    return {
        "data_queries": queries,
        "parameter_names": {p["name"]: parameter(p) for p in info["parameters"]},
        "output_formats": OUTPUT_FORMATS,
        "temporal": {"interval": [[info["begin"], info["end"]]], "trs": GREGORIAN},
        "links": [{"rel": "data", "href": f"{href}/{q}", "type": GEOJSON if q in ("locations", "items") else COVJSON,
                   "title": q} for q in queries_offered],
    }


def parameter(p: dict[str, Any]) -> dict[str, Any]:
    """A parameter as EDR collection metadata and CoverageJSON both describe it."""
    described: dict[str, Any] = {"type": "Parameter", "description": {"en": p["name"]},
                                 "observedProperty": {"id": p["name"], "label": {"en": p["name"]}}}
    if p.get("unit"):
        described["unit"] = {"label": {"en": p["unit"]}, "symbol": p["unit"]}
    described["extent"] = {"temporal": {"interval": [[p["begin"], p["end"]]], "trs": GREGORIAN}}
    return described


JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def _iso(times: np.ndarray) -> list[str]:
    return [t + "Z" for t in np.datetime_as_string(times, unit="s").tolist()]


def _iso_column(times: np.ndarray) -> pa.Array:
    """Times as RFC 3339 text ("2024-05-01T12:00:00Z") in an Arrow column, made as one block of bytes."""
    n = len(times)
    chars = np.empty((n, 20), np.uint8)
    chars[:, :19] = np.datetime_as_string(times, unit="s").astype("S19").view(np.uint8).reshape(n, 19)
    chars[:, 19] = ord("Z")
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(20), n, [None, pa.py_buffer(chars.tobytes())])
    return fixed.cast(pa.binary()).cast(pa.string())


def _shared_axis(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One time axis for a station's parameters (the union of their times), each parameter's values on it."""
    axis = np.unique(np.concatenate([t for t, _ in series.values()])) if series else np.array([], "datetime64[ms]")
    placed = {}
    for name, (times, values) in series.items():
        if len(times) == len(axis):
            placed[name] = values
            continue
        row = np.full(len(axis), np.nan)
        row[np.searchsorted(axis, times)] = values
        placed[name] = row
    return axis, placed


def coverage(station: StationSeries) -> dict[str, Any]:
    axis, values = _shared_axis(station.series)
    return {
        "type": "Coverage",
        "id": station.id,
        "domain": {"type": "Domain", "domainType": "PointSeries",
                   "axes": {"x": {"values": [station.lon]}, "y": {"values": [station.lat]},
                            "t": {"values": axis.astype("datetime64[s]")}}},
        "ranges": {name: {"type": "NdArray", "dataType": "float", "axisNames": ["t"], "shape": [len(axis)],
                          "values": np.ascontiguousarray(row, dtype=np.float64)} for name, row in values.items()},
    }


def _referencing(crs: str = CRS84) -> list[dict[str, Any]]:
    kind = "GeographicCRS" if crs in (CRS84, "http://www.opengis.net/def/crs/EPSG/0/4326") else "ProjectedCRS"
    return [{"coordinates": ["x", "y"], "system": {"type": kind, "id": crs}},
            {"coordinates": ["t"], "system": {"type": "TemporalRS", "calendar": "Gregorian"}}]


def covjson(stations: list[StationSeries], parameters: list[dict[str, Any]]) -> bytes:
    """A CoverageJSON Coverage (one station) or CoverageCollection (any other number) of PointSeries."""
    described = {p["name"]: parameter(p) for p in parameters}
    if len(stations) == 1:
        doc = coverage(stations[0])
        doc["parameters"] = {k: v for k, v in described.items() if k in doc["ranges"]}
        doc["domain"]["referencing"] = _referencing()
    else:
        doc = {"type": "CoverageCollection", "domainType": "PointSeries", "parameters": described,
               "referencing": _referencing(), "coverages": [coverage(s) for s in stations]}
    return orjson.dumps(doc, option=JSON_OPTIONS)


def csv(stations: list[StationSeries], units: dict[str, str | None]) -> bytes:
    """One row per measurement: station, x, y, parameter, unit, time, value."""
    columns = ("station", "x", "y", "parameter", "unit", "time", "value")
    parts = []
    for s in stations:
        for name, (times, values) in s.series.items():
            n = len(times)
            parts.append(pa.table({
                "station": pa.repeat(pa.scalar(s.id, pa.string()), n),
                "x": pa.repeat(pa.scalar(s.lon, pa.float64()), n), "y": pa.repeat(pa.scalar(s.lat, pa.float64()), n),
                "parameter": pa.repeat(pa.scalar(name, pa.string()), n),
                "unit": pa.repeat(pa.scalar(units.get(name), pa.string()), n),
                "time": _iso_column(times),
                "value": pa.array(values, pa.float64(), from_pandas=True)}))  # NaN → empty cell
    table = pa.concat_tables(parts) if parts else pa.table({k: pa.array([], pa.string()) for k in columns})
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="needed"))
    return out.getvalue()


def geojson(stations: list[StationSeries], units: dict[str, str | None]) -> bytes:
    """One Point feature per measurement, with its station, parameter, unit, datetime and value."""
    features = []
    for s in stations:
        geometry = {"type": "Point", "coordinates": [s.lon, s.lat]}
        for name, (times, values) in s.series.items():
            unit = units.get(name)
            for when, value in zip(_iso(times), values.tolist(), strict=True):
                features.append({"type": "Feature", "geometry": geometry,
                                 "properties": {"station": s.id, "parameter-name": name, "unit": unit,
                                                "datetime": when, "value": value}})
    return orjson.dumps({"type": "FeatureCollection", "features": features})


def locations(stations: list[dict[str, Any]], href: str) -> bytes:
    """The stations of a collection as GeoJSON, each with its link to its data."""
    features = [{"type": "Feature", "id": s["id"], "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                 "properties": {"name": s["name"] or s["id"], "parameter-name": s["parameters"],
                                "datetime": s["datetime"]},
                 "links": [{"rel": "data", "href": f"{href}/locations/{quote(s['id'], safe='')}",
                            "type": COVJSON}]}
                for s in stations]
    return orjson.dumps({"type": "FeatureCollection", "features": features,
                         "links": [{"rel": "self", "href": f"{href}/locations", "type": GEOJSON}]})


# grids ---------------------------------------------------------------------------------------------------


def grid_covjson(grid: GridValues, parameters: list[dict[str, Any]]) -> bytes:
    """A CoverageJSON Coverage with a Grid domain (x, y, t); ranges are (t, y, x) arrays, null where no value."""
    described = {p["name"]: parameter(p) for p in parameters if p["name"] in grid.values}
    shape = [len(grid.times), len(grid.ys), len(grid.xs)]
    doc = {
        "type": "Coverage",
        "domain": {"type": "Domain", "domainType": "Grid",
                   "axes": {"x": {"values": grid.xs}, "y": {"values": grid.ys},
                            "t": {"values": grid.times.astype("datetime64[s]")}},
                   "referencing": _referencing(grid.crs)},
        "parameters": described,
        "ranges": {name: {"type": "NdArray", "dataType": "float", "axisNames": ["t", "y", "x"], "shape": shape,
                          "values": np.ascontiguousarray(cube, dtype=np.float64).reshape(-1)}
                   for name, cube in grid.values.items()},
    }
    return orjson.dumps(doc, option=JSON_OPTIONS)


def _grid_cells(grid: GridValues) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Each (time, y, x) cell with a value of some parameter: its time, x, y and every parameter's value."""
    t, y, x = np.meshgrid(np.arange(len(grid.times)), np.arange(len(grid.ys)), np.arange(len(grid.xs)),
                          indexing="ij")
    keep = np.zeros(t.shape, bool)
    for cube in grid.values.values():
        keep |= ~np.isnan(cube)
    return (grid.times[t[keep]], grid.xs[x[keep]], grid.ys[y[keep]],
            {name: cube[keep] for name, cube in grid.values.items()})


def grid_csv(grid: GridValues, units: dict[str, str | None]) -> bytes:
    """One row per cell, time and parameter with a value: x, y, parameter, unit, time, value."""
    times, xs, ys, values = _grid_cells(grid)
    parts = []
    for name, column in values.items():
        has = ~np.isnan(column)
        n = int(has.sum())
        parts.append(pa.table({"x": pa.array(xs[has], pa.float64()), "y": pa.array(ys[has], pa.float64()),
                               "parameter": pa.repeat(pa.scalar(name, pa.string()), n),
                               "unit": pa.repeat(pa.scalar(units.get(name), pa.string()), n),
                               "time": _iso_column(times[has]), "value": pa.array(column[has], pa.float64())}))
    columns = ("x", "y", "parameter", "unit", "time", "value")
    table = pa.concat_tables(parts) if parts else pa.table({k: pa.array([], pa.string()) for k in columns})
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="needed"))
    return out.getvalue()


def grid_geojson(grid: GridValues, units: dict[str, str | None]) -> bytes:
    """One Point feature per cell and time with a value, its parameters' values as properties."""
    times, xs, ys, values = _grid_cells(grid)
    names = list(values)
    stamps = _iso(times)
    columns = [values[n].tolist() for n in names]
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                 "properties": {"datetime": when, **{n: col[i] for n, col in zip(names, columns, strict=True)}}}
                for i, (when, x, y) in enumerate(zip(stamps, xs.tolist(), ys.tolist(), strict=True))]
    return orjson.dumps({"type": "FeatureCollection", "features": features,
                         "parameters": {n: {"unit": units.get(n)} for n in names}})
