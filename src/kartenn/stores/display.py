"""Display copies of a line or polygon dataset's geometries: generalised levels drawn in place of the originals
at small scales, and (PostGIS) the geometries in Web Mercator for the usual tiles.

A level holds every feature with its geometry simplified at a tolerance, in the dataset's CRS (Douglas–Peucker:
GEOS through shapely, PostGIS's ST_Simplify; a part smaller than the tolerance goes). The first tolerance is half
the median segment length of a sample of the features; each next one is four times the one before, up to
``MAX_LEVELS``. A level is kept only when it leaves at least ``GAIN`` times fewer vertices than the one before it
(the originals for the first), so data already generalised get fewer levels.

A map uses the coarsest level whose tolerance is at most half its pixel; a vector tile the coarsest one within a
quarter of its grid unit (the MVT encoder simplifies again by half a unit). What is drawn then differs from the
originals by less than a pixel, from far fewer vertices: GeoServer's pregeneralised features, made at publication.

- PostGIS: stored generated columns ``geom_1``… (and ``geom_3857``) of the dataset's table, the tolerance in the
  column's comment. PostgreSQL computes them on every insert and update, whatever writes.
- GeoPackage: feature tables ``features_1``… in the same file, with their R-tree, the tolerance in
  ``gpkg_contents.description``. Edits (stores/edits.py) update them with the features.

>>> choose(shapely.buffer(shapely.points([0, 10], [0, 0]), 1, quad_segs=64))  # doctest: +ELLIPSIS
[0.0122..., 0.0490...]
>>> level_for((0.01, 0.04), 0.05), level_for((0.01, 0.04), 0.1), level_for((0.01, 0.04), 0.001)
(1, 2, 0)
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Engine

from kartenn.stores.base import GEOMETRY_COLUMN

MAX_LEVELS = 3
GAIN = 1.5  # a level must leave this many times fewer vertices than the one before it
SAMPLE = 5000  # features the tolerances are chosen from
WEB_MERCATOR = 3857
# Web Mercator's latitude limit: geographic data is clipped there before it is projected.
MERCATOR_LAT = 85.0511287798066
WEB_MERCATOR_COLUMN = f"{GEOMETRY_COLUMN}_{WEB_MERCATOR}"
COLUMN_NAMES = re.compile(rf"{GEOMETRY_COLUMN}_\d+")  # the copies' PostGIS columns: no attribute may take them


@dataclass(frozen=True)
class Levels:
    tolerances: tuple[float, ...] = ()  # level k (1-based) is tolerances[k - 1], in the dataset's CRS units
    web_mercator: bool = False  # PostGIS: a WEB_MERCATOR_COLUMN


def column(level: int) -> str:
    """The PostGIS column of a level (0: the originals)."""
    return GEOMETRY_COLUMN if level == 0 else f"{GEOMETRY_COLUMN}_{level}"


def table(layer: str, level: int) -> str:
    """The GeoPackage feature table of a level (0: the features themselves)."""
    return layer if level == 0 else f"{layer}_{level}"


def applies(geometry_type: str) -> bool:
    return "LineString" in geometry_type or "Polygon" in geometry_type


def choose(geoms: Any) -> list[float]:
    """The level tolerances for data like ``geoms`` (a sample); [] when generalising would not pay."""
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms)]
    geoms = shapely.force_2d(geoms[~shapely.is_empty(geoms)][:SAMPLE])
    if not len(geoms):
        return []
    parts = shapely.get_parts(geoms)
    kinds = shapely.get_type_id(parts)
    lines = np.concatenate([shapely.get_rings(parts[kinds == shapely.GeometryType.POLYGON]),
                            parts[np.isin(kinds, [shapely.GeometryType.LINESTRING, shapely.GeometryType.LINEARRING])]])
    if not len(lines):
        return []
    coords, index = shapely.get_coordinates(lines, return_index=True)
    same_line = index[1:] == index[:-1]
    segments = np.hypot(*np.diff(coords, axis=0)[same_line].T)
    segments = segments[segments > 0]
    if not len(segments):
        return []
    tolerance, before = float(np.median(segments)) / 2, int(shapely.get_num_coordinates(geoms).sum())
    chosen: list[float] = []
    for _ in range(MAX_LEVELS):
        left = int(shapely.get_num_coordinates(simplified(geoms, tolerance)).sum())
        if left * GAIN <= before:
            chosen.append(tolerance)
            before = left
        tolerance *= 4
    return chosen


def level_for(tolerances: tuple[float, ...], pixel: float) -> int:
    """The coarsest level (0: the originals) whose tolerance is at most half of ``pixel`` (CRS units)."""
    level = 0
    for k, tolerance in enumerate(tolerances, start=1):
        if tolerance <= pixel / 2:
            level = k
    return level


_MULTI = {"MultiPolygon": (shapely.GeometryType.POLYGON, shapely.MultiPolygon),
          "MultiLineString": (shapely.GeometryType.LINESTRING, shapely.MultiLineString)}


def simplified(geoms: Any, tolerance: float, geometry_type: str = "") -> Any:
    """Plain Douglas–Peucker, several times faster than keeping topology: GEOS repairs the polygons it simplifies
    (PostGIS's ST_Simplify may leave a ring touching itself, which the renderers fill alike and ST_AsMVTGeom
    repairs). A multi-part layer's geometries stay multi-part."""
    out = shapely.simplify(shapely.force_2d(geoms), tolerance, preserve_topology=False)
    out = np.where(shapely.is_empty(out), None, out)
    if geometry_type in _MULTI:
        single, multi = _MULTI[geometry_type]
        for i in np.flatnonzero(shapely.get_type_id(out) == single):
            out[i] = multi([out[i]])
    return out


# PostGIS ----------------------------------------------------------------------------------------------------


def postgis_columns(schema: str, srid: int, geographic: bool, tolerances: list[float]) -> list[Any]:
    """Column definitions (psycopg ``sql``) of the display copies, for CREATE TABLE."""
    source = sql.Identifier(GEOMETRY_COLUMN)
    columns = [sql.SQL("{} geometry GENERATED ALWAYS AS (ST_Force2D(ST_Simplify({}, {}))) STORED")
               .format(sql.Identifier(column(k)), source, sql.Literal(t)) for k, t in enumerate(tolerances, 1)]
    if srid and srid != WEB_MERCATOR:
        columns.append(sql.SQL("{} geometry GENERATED ALWAYS AS ({}.web_mercator({}, {})) STORED").format(
            sql.Identifier(WEB_MERCATOR_COLUMN), sql.Identifier(schema), source, sql.Literal(geographic)))
    return columns


def postgis_comments(table: Any, tolerances: list[float]) -> list[Any]:
    return [sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(table, sql.Identifier(column(k)),
                                                            sql.Literal(f"tolerance {t!r}"))
            for k, t in enumerate(tolerances, 1)]


# Geographic data is clipped at Mercator's latitude limit first. What ST_Transform still cannot take has no copy
# (NULL) rather than failing the publication.
# Its own search_path: a restore (pg_restore runs with an empty one) computes the column again. An EXCEPTION block
# makes a function parallel unsafe; it only runs when rows are written.
WEB_MERCATOR_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {{schema}}.web_mercator(g geometry, geographic boolean) RETURNS geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL UNSAFE SET search_path = {{postgis}}, pg_catalog AS $$
BEGIN
  IF geographic THEN
    g := ST_ClipByBox2D(g, ST_MakeEnvelope(-180, {-MERCATOR_LAT}, 180, {MERCATOR_LAT}));
  END IF;
  RETURN ST_Transform(g, 3857);
EXCEPTION WHEN OTHERS THEN
  RETURN NULL;
END $$"""


@lru_cache(maxsize=1024)
def postgis_levels(engine: Engine, schema: str, storage: str) -> Levels:
    """What display copies a table has (read once per table: they are made with it)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT attname, col_description(attrelid, attnum) FROM pg_attribute WHERE attrelid = to_regclass(:name) "
            "AND attname LIKE 'geom\\_%' AND attgenerated = 's' AND NOT attisdropped"),
            {"name": f'"{schema}"."{storage}"'}).all()
    found = {name: comment for name, comment in rows}
    tolerances = []
    while column(len(tolerances) + 1) in found:
        tolerances.append(float((found[column(len(tolerances) + 1)] or "").removeprefix("tolerance ")))
    return Levels(tuple(tolerances), WEB_MERCATOR_COLUMN in found)


# GeoPackage -------------------------------------------------------------------------------------------------


def geopackage_levels_in(conn: sqlite3.Connection, layer: str) -> Levels:
    """The levels of the GeoPackage open on ``conn``."""
    found = dict(conn.execute("SELECT table_name, description FROM gpkg_contents").fetchall())
    tolerances = []
    while table(layer, len(tolerances) + 1) in found:
        tolerances.append(float(found[table(layer, len(tolerances) + 1)]))
    return Levels(tuple(tolerances))


@lru_cache(maxsize=1024)
def _geopackage_levels(path: Path, layer: str) -> Levels:
    with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)) as conn:
        return geopackage_levels_in(conn, layer)


def geopackage_levels(path: Path, layer: str) -> Levels:
    """The levels of a GeoPackage file (read once per file: they are made with it)."""
    try:
        return _geopackage_levels(path, layer)
    except (sqlite3.Error, ValueError):
        return Levels()
