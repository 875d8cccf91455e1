"""Measurements in, a station dataset out: the stations as points, their series beside them.

A file of measurements is in long form (one row per station, time, variable and value) or in wide form (one row
per station and time, one column per variable). Its columns are found by their usual names or named by the
``series`` option, e.g. ``station=stn_id,time=datetime`` ("auto": every column by its usual name).

>>> naming = parse_naming("station=code,time=date")
>>> naming["station"], naming["time"]
('code', 'date')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import shapely
from pyproj import CRS

from kartenn.errors import InvalidInput, MissingCRS, UnsupportedFormat
from kartenn.services.archives import extract_zip
from kartenn.services.readers import CSV_SUFFIXES, X_NAMES, Y_NAMES, Source, _detect_encoding, _fold
from kartenn.services.safe_open import check_crs_text, check_file, check_folder, offline
from kartenn.stores.base import GEOMETRY_COLUMN, MEASUREMENTS

ROLES = ("station", "time", "variable", "value", "unit", "x", "y")
USUAL_NAMES = {
    "station": ("station", "station_id", "stationid", "id_station", "code", "code_station", "id"),
    "time": ("time", "datetime", "date_time", "timestamp", "date", "heure", "datetime_utc", "time_utc"),
    "variable": ("variable", "parameter", "parametre", "param", "parameter_name", "property", "observed_property"),
    "value": ("value", "valeur", "result", "measurement", "mesure"),
    "unit": ("unit", "units", "unite", "uom"),
    "x": X_NAMES,
    "y": Y_NAMES,
}
NAME_FIELDS = ("name", "station_name", "nom", "nom_station", "label", "libelle")
DATA_SUFFIXES = CSV_SUFFIXES | {".geojson", ".json", ".gpkg"}
WITH_UNIT = re.compile(r"^(.*\S)\s*[(\[]([^)\]]+)[)\]]$")  # "temp (°C)", "GHI [W/m^2]"


def parse_naming(text: str) -> dict[str, str]:
    """The columns ``text`` names by role ("auto" or "": none, all found by their usual names)."""
    naming: dict[str, str] = {}
    if text.strip().lower() in ("", "auto"):
        return naming
    for part in text.split(","):
        role, sep, column = part.partition("=")
        role, column = role.strip().lower(), column.strip()
        if not sep or role not in ROLES or not column:
            raise InvalidInput(f"series option {part.strip()!r}: write role=COLUMN with roles among "
                               f"{', '.join(ROLES)}, e.g. station=code,time=date", locator="series")
        naming[role] = column
    return naming


@dataclass
class StationData:
    """What a file of measurements gives: the stations to publish as points and their measurements."""

    source: Source
    measurements: pa.Table  # MEASUREMENTS columns
    info: dict[str, Any]  # what the catalogue keeps (Catalog.put_series)


Layer = tuple[pa.Table, np.ndarray | None, CRS | None]  # attributes, geometries (or None), CRS (or None)


def read_measurements(path: Path, *, label: str, naming: str, crs: str | None = None, workdir: Path | None = None,
                      limits: dict[str, int] | None = None) -> StationData:
    """Read measurements from a CSV, GeoJSON or GeoPackage, with the stations' positions in each row, or from two
    layers joined by the station key (a GeoPackage with a point layer and a table, or a zip of two files): the
    smaller layer is then the stations. InvalidInput says what is missing or wrong."""
    roles = parse_naming(naming)
    layers = _read_layers(path, label, workdir, limits)
    if len(layers) > 2:
        raise InvalidInput(f"{label}: holds {len(layers)} layers; measurements come in one, or in two with the "
                           "stations in the second")
    layers.sort(key=lambda layer: -len(layer[0]))
    (table, geoms, file_crs), places = layers[0], (layers[1] if len(layers) == 2 else None)
    columns = _resolve(table, roles, label, with_xy=geoms is None and places is None)
    times = _times(table.column(columns["time"]), columns["time"], label)
    stations = table.column(columns["station"]).cast(pa.string())
    if stations.null_count:
        raise InvalidInput(f"{label}: {stations.null_count} rows have no station ({columns['station']})")
    measurements, units = _measurements(table, columns, stations, times, label)
    if places is None:
        keys = stations.to_numpy(zero_copy_only=False)
        names = _name_column(table, columns["station"])
        points = _points(keys, _positions(table, geoms, columns, label), names, columns["station"], label)
    else:
        points, file_crs = _joined_stations(places, columns["station"], roles, stations, label)
    source = Source(name=path.stem, kind="vector", path=path, label=label, crs=file_crs or _crs(crs, points, label),
                    geometry_type="Point", count_hint=len(points), read=lambda _size: iter([points]),
                    notes=[f"{len(measurements)} measurements of {len(units)} parameters at {len(points)} stations"])
    name = next((n for n in points.schema.names if n not in (points.schema.names[0], GEOMETRY_COLUMN)), None)
    return StationData(source, measurements, _info(measurements, units, points.schema.names[0], name))


def _positions(table: pa.Table, geoms: np.ndarray | None, columns: dict[str, str], label: str) -> np.ndarray:
    """Each row's point: its geometry, else its x/y columns."""
    if geoms is not None:
        return geoms
    if "x" not in columns or "y" not in columns:
        raise InvalidInput(f"{label}: the stations have no coordinates; add lon/lat (or x/y) columns, name them "
                           "with the series option (x=COL,y=COL), or send the stations as a second layer")
    xs = _numbers(table.column(columns["x"]), columns["x"], label)
    ys = _numbers(table.column(columns["y"]), columns["y"], label)
    points = shapely.points(xs, ys)
    points[np.isnan(xs) | np.isnan(ys)] = None
    return points


def _joined_stations(places: Layer, key: str, roles: dict[str, str], stations: pa.ChunkedArray,
                     label: str) -> tuple[pa.RecordBatch, CRS | None]:
    """The stations of a layer of their own, found by the measurements' station key."""
    table, geoms, crs = places
    folded = {_fold(n): n for n in reversed(table.column_names)}
    own = key if key in table.column_names else next((folded[n] for n in USUAL_NAMES["station"] if n in folded), None)
    if own is None:
        raise InvalidInput(f"{label}: the stations layer has no column {key!r} to join the measurements by")
    columns = {"station": own}
    for role in ("x", "y"):
        found = roles.get(role) if roles.get(role) in table.column_names else \
            next((folded[n] for n in USUAL_NAMES[role] if n in folded), None)
        if found:
            columns[role] = found
    keys = table.column(own).cast(pa.string()).to_numpy(zero_copy_only=False)
    measured = pc.unique(stations).to_numpy(zero_copy_only=False)
    unknown = np.setdiff1d(measured, keys.astype(object))
    if len(unknown):
        raise InvalidInput(f"{label}: station {str(unknown[0])!r} of the measurements is not in the stations layer "
                           f"({len(unknown)} such)")
    keep = np.isin(keys, measured)
    table = table.filter(pa.array(keep))
    positions = _positions(table, None if geoms is None else geoms[keep], columns, label)
    return _points(keys[keep], positions, _name_column(table, own), key, label), crs


def _name_column(table: pa.Table, key: str) -> tuple[str, np.ndarray] | None:
    folded = {_fold(n): n for n in table.column_names}
    name = next((folded[n] for n in NAME_FIELDS if n in folded and folded[n] != key), None)
    if name is None:
        return None
    return name, table.column(name).cast(pa.string()).to_numpy(zero_copy_only=False)


# reading ------------------------------------------------------------------------------------------------


def _read_layers(path: Path, label: str, workdir: Path | None, limits: dict[str, int] | None) -> list[Layer]:
    if not path.exists() or path.stat().st_size == 0:
        raise InvalidInput(f"{label}: no such file, or it is empty")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        if workdir is None:
            raise InvalidInput(f"{label}: a zip of measurements needs a work folder")
        folder = extract_zip(path, workdir / "unzipped", **(limits or {}))
        check_folder(folder, label)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
                       and not p.name.lower().startswith(("readme", "licen", "._")))
        if not files:
            raise InvalidInput(f"{label}: the archive holds no CSV, GeoJSON or GeoPackage")
        return [layer for p in files for layer in _read_layers(p, f"{label}/{p.name}", None, None)]
    if suffix in CSV_SUFFIXES:
        return [_read_csv(path, label)]
    return _read_ogr(path, label)


def _read_csv(path: Path, label: str) -> Layer:
    with open(path, "rb") as f:
        sample = f.read(1 << 20)
    encoding = _detect_encoding(sample)
    header = sample.decode(encoding, errors="replace").splitlines()[0]
    delimiter = max([",", ";", "\t", "|"], key=header.count)
    try:
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            # every column as text first: codes keep their zeros, times are parsed here, numbers below
            convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True,
                                                 column_types={c: pa.string() for c in _header(header, delimiter)}))
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{label}: {str(exc).strip().splitlines()[0][:200]}") from exc
    return table.rename_columns([c.strip() for c in table.column_names]), None, None


def _header(line: str, delimiter: str) -> list[str]:
    import csv

    return next(csv.reader([line], delimiter=delimiter))


def _as_numbers(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column as numbers when every value is one (CSV text or a numeric field), else None."""
    kind = column.type
    if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return column.cast(pa.float64())
    if not pa.types.is_string(kind) or column.null_count == len(column):
        return None
    try:
        return column.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _read_ogr(path: Path, label: str) -> list[Layer]:
    import pyogrio

    check_file(path, label)
    layers = []
    try:
        with offline():
            for name, _ in pyogrio.list_layers(path):
                meta, table = pyogrio.read_arrow(path, layer=name)
                layers.append(_layer(meta, table, label))
    except InvalidInput:
        raise
    except Exception as exc:
        raise UnsupportedFormat(f"{label}: not a format Kartenn can read ({str(exc).splitlines()[0][:200]})") from exc
    return layers


def _layer(meta: dict[str, Any], table: pa.Table, label: str) -> Layer:
    geom_name = meta.get("geometry_name") or "wkb_geometry"
    if geom_name not in table.column_names:
        return table, None, None
    check_crs_text(meta.get("crs") or "", label)
    geoms = shapely.from_wkb(table.column(geom_name).to_numpy(zero_copy_only=False))
    crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    return table.drop_columns([geom_name]), geoms, crs


# columns ------------------------------------------------------------------------------------------------


def _resolve(table: pa.Table, roles: dict[str, str], label: str, with_xy: bool) -> dict[str, str]:
    """Each role's column: named, else found by its usual name."""
    names = table.column_names
    folded = {_fold(n): n for n in reversed(names)}
    columns: dict[str, str] = {}
    for role, column in roles.items():
        if column not in names:
            raise InvalidInput(f"{label}: no column {column!r} (series option {role}={column}); the columns are "
                               f"{', '.join(names)}", locator="series")
        columns[role] = column
    for role in ROLES:
        if role in columns or (role in ("x", "y") and not with_xy):
            continue
        found = next((folded[n] for n in USUAL_NAMES[role] if n in folded and folded[n] not in columns.values()),
                     None)
        if found:
            columns[role] = found
    if "station" not in columns:
        raise InvalidInput(f"{label}: no station column; name it station, id or code, or say which with "
                           "station=COL in the series option", locator="series")
    if "time" not in columns:
        raise InvalidInput(f"{label}: no time column; name it time, date or datetime, or say which with "
                           "time=COL in the series option", locator="series")
    if "variable" in columns and "value" not in columns:
        raise InvalidInput(f"{label}: a variable column ({columns['variable']}) but no value column; say which "
                           "with value=COL in the series option", locator="series")
    return columns


def _times(column: pa.ChunkedArray, name: str, label: str) -> pa.Array:
    """Times in milliseconds, UTC: ISO 8601 text with or without an offset (none: UTC), dates, timestamps."""
    array = column.combine_chunks()
    if array.null_count:
        raise InvalidInput(f"{label}: {array.null_count} rows have no time ({name})")
    target = MEASUREMENTS.field("time").type
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        if pa.types.is_timestamp(array.type) and array.type.tz is None:
            return pc.assume_timezone(array.cast(pa.timestamp("ms")), "UTC")
        return array.cast(target) if pa.types.is_timestamp(array.type) else \
            pc.assume_timezone(array.cast(pa.timestamp("ms")), "UTC")
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        raise InvalidInput(f"{label}: column {name!r} holds no times (ISO 8601 dates or date-times)")
    text = pc.utf8_trim_whitespace(array.cast(pa.string()))
    zoned = pc.match_substring_regex(text, r"(Z|[+-]\d\d:?\d\d)$")
    try:
        if pc.all(zoned).as_py():
            return text.cast(target)
        if not pc.any(zoned).as_py():
            return pc.assume_timezone(text.cast(pa.timestamp("ms")), "UTC")
    except pa.ArrowInvalid as exc:
        bad = str(exc).split("'")[1] if "'" in str(exc) else ""
        raise InvalidInput(f"{label}: time {bad!r} in column {name!r} is not an ISO 8601 date or date-time "
                           "(e.g. 2024-05-01 or 2024-05-01T12:00:00Z)") from exc
    raise InvalidInput(f"{label}: column {name!r} mixes times with and without a UTC offset")


def _numbers(column: pa.ChunkedArray, name: str, label: str) -> np.ndarray:
    try:
        array = column.combine_chunks().cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(f"{label}: column {name!r} holds values that are not numbers") from exc
    return array.to_numpy(zero_copy_only=False)


def _measurements(table: pa.Table, columns: dict[str, str], stations: pa.ChunkedArray, times: pa.Array,
                  label: str) -> tuple[pa.Table, dict[str, str | None]]:
    """The long table of measurements, and each parameter's unit."""
    units: dict[str, str | None] = {}
    if "value" in columns:
        values = _numbers(table.column(columns["value"]), columns["value"], label)
        if "variable" in columns:
            variables = table.column(columns["variable"]).cast(pa.string())
            if variables.null_count:
                raise InvalidInput(f"{label}: {variables.null_count} rows have no variable ({columns['variable']})")
        else:
            variables = pa.chunked_array([pa.array([columns["value"]] * len(table), pa.string())])
        unit_of = table.column(columns["unit"]).cast(pa.string()) if "unit" in columns else None
        for name in pc.unique(variables).to_pylist():
            unit = None
            if unit_of is not None:
                found = pc.drop_null(pc.filter(unit_of, pc.equal(variables, name)))
                unit = found[0].as_py() if len(found) else None
            units[name] = unit
        long = pa.table({"station": stations, "parameter": variables, "time": times,
                         "value": pa.array(values, pa.float64())})
    else:
        skip = {columns[r] for r in ("station", "time", "x", "y") if r in columns}
        numeric = {n: found for n in table.column_names if n not in skip and n.lower() not in ("fid", "ogc_fid")
                   and (found := _as_numbers(table.column(n))) is not None}
        if not numeric:
            raise InvalidInput(f"{label}: no numeric column to take as a variable (wide form), and no value column "
                               "(long form: value=COL, variable=COL in the series option)", locator="series")
        parts = []
        for column, values in numeric.items():
            match = WITH_UNIT.match(column)
            name, unit = (match.group(1), match.group(2)) if match else (column, None)
            units[name] = unit
            parts.append(pa.table({"station": stations, "parameter": pa.array([name] * len(table), pa.string()),
                                   "time": times, "value": values}))
        long = pa.concat_tables(parts)
    long = long.cast(MEASUREMENTS)
    counts = long.group_by(["station", "parameter", "time"]).aggregate([([], "count_all")])
    twice = counts.filter(pc.greater(counts.column("count_all"), 1))
    if len(twice):
        row = twice.slice(0, 1).to_pylist()[0]
        raise InvalidInput(f"{label}: {len(twice)} measurements are given more than once, e.g. {row['parameter']} "
                           f"at station {row['station']} on {row['time'].isoformat()}")
    return long.sort_by([("station", "ascending"), ("parameter", "ascending"), ("time", "ascending")]), units


def _points(keys: np.ndarray, geoms: np.ndarray, names: tuple[str, np.ndarray] | None, key: str,
            label: str) -> pa.RecordBatch:
    """One point per station (its first row's), with its key and name."""
    unique, first = np.unique(keys.astype(str), return_index=True)
    points = geoms[first]
    missing = shapely.is_missing(points) | (shapely.get_type_id(points) != 0)
    if missing.any():
        raise InvalidInput(f"{label}: station {str(unique[np.flatnonzero(missing)[0]])!r} has no coordinates "
                           "(every station needs a point)")
    arrays = {key: pa.array(unique, pa.string())}
    if names:
        arrays[names[0]] = pa.array(names[1][first], pa.string())
    arrays[GEOMETRY_COLUMN] = pa.array(shapely.to_wkb(points), pa.binary())
    return pa.RecordBatch.from_pydict(arrays)


def _crs(crs: str | None, points: pa.RecordBatch, label: str) -> CRS:
    from kartenn.services.readers import parse_crs

    if crs:
        return parse_crs(crs)
    geoms = shapely.from_wkb(points.column(GEOMETRY_COLUMN).to_numpy(zero_copy_only=False))
    xs, ys = shapely.get_x(geoms), shapely.get_y(geoms)
    if (np.abs(xs) <= 180).all() and (np.abs(ys) <= 90).all():
        return CRS.from_epsg(4326)
    raise MissingCRS(f"{label}: the coordinates are not longitude/latitude and the file does not say its CRS; "
                     "give one with --crs EPSG:XXXX (or crs=EPSG:XXXX in the upload)")


def _info(measurements: pa.Table, units: dict[str, str | None], key: str, name: str | None) -> dict[str, Any]:
    """Parameters with units, counts and time extents, as the catalogue keeps them."""
    stats = measurements.group_by("parameter").aggregate([("time", "min"), ("time", "max"), ("value", "count")])
    parameters = []
    for row in sorted(stats.to_pylist(), key=lambda r: r["parameter"]):
        parameters.append({"name": row["parameter"], "unit": units.get(row["parameter"]),
                           "begin": row["time_min"].isoformat(), "end": row["time_max"].isoformat(),
                           "count": row["value_count"]})
    return {"station": key, "name": name, "parameters": parameters,
            "begin": min(p["begin"] for p in parameters), "end": max(p["end"] for p in parameters)}
