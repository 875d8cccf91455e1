"""What every feature store offers, whichever back end is behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa
from sqlalchemy.engine import Connection

from kartenn.domain import Field

GEOMETRY_COLUMN = "geom"
# PostgreSQL: the advisory lock held while a process creates or upgrades the schemas, one process at a time
SCHEMA_LOCK = 0x6B617274
# (field, start, end): the features whose date or date-time field lies in [start, end], either end open when None
TimeBounds = tuple[str, datetime | None, datetime | None]
Box = tuple[float, float, float, float]
Columns = tuple[list[int], dict[str, list[Any]], list[bytes | None]]  # (fids, {field: values}, WKB geometries)


@dataclass
class LayerSpec:
    """The shape of a table to create: attribute fields, one geometry column, a CRS."""

    storage: str  # table or file name, unique per dataset version
    fields: list[Field]
    geometry_type: str  # OGC name: Point, MultiPolygon, … or Geometry when mixed
    has_z: bool
    srid: int | None
    crs_wkt: str


# Measurements of a station dataset: one Arrow table with these columns, read back per (station, parameter).
MEASUREMENTS = pa.schema([("station", pa.string()), ("parameter", pa.string()),
                          ("time", pa.timestamp("ms", tz="UTC")), ("value", pa.float64())])


@dataclass
class Series:
    """The values of one parameter at one station, by increasing time (``times`` in datetime64[ms], UTC)."""

    station: str
    parameter: str
    times: Any  # numpy datetime64[ms] array
    values: Any  # numpy float64 array, NaN where the source had no value


class SeriesStore(Protocol):
    """Measurements beside a published point table (its stations), kept by (station, parameter, time)."""

    def load_series(self, conn: Connection, storage: str, measurements: pa.Table) -> None:
        """Store ``measurements`` (``MEASUREMENTS`` columns) beside the points of ``storage``, in the catalogue
        transaction ``conn``, after ``load``; ``discard`` and ``drop`` remove them with the points."""

    def read_series(self, storage: str, stations: list[str], parameters: list[str],
                    start: datetime | None, end: datetime | None) -> list[Series]:
        """The series of ``parameters`` at ``stations`` between ``start`` and ``end`` (either open when None),
        one query, the values coming back by column."""


class FeatureStore(SeriesStore, Protocol):
    """Vector tables, and the measurements of station datasets beside them (``SeriesStore``). ``load`` runs
    inside the catalogue transaction ``conn`` so publication is atomic."""

    name: str  # the back end, as told to people ("PostGIS")

    def create_schema(self) -> None:
        """Make what the store needs before its first table (schemas, functions); safe to run again."""

    def close(self) -> None:
        """Release the connections the store holds."""

    def load(self, conn: Connection, spec: LayerSpec, batches: Iterable[pa.RecordBatch]) -> None:
        """Create ``spec.storage`` and fill it with batches (attributes + WKB ``geom``), with a spatial index."""

    def discard(self, storage: str) -> None:
        """Undo what ``load`` left outside the transaction after it failed or was rolled back."""

    def drop(self, storage: str) -> None:
        """Remove a published table (after its catalogue entry is gone or replaced)."""

    def unreferenced(self, known: set[str]) -> list[str]:
        """The tables no catalogue entry knows and no live process is writing (``Site.reconcile`` decides)."""

    def map_datasource(self, storage: str, *, srid: int = 0, extent: str | None = None, level: int = 0,
                       time: TimeBounds | None = None) -> dict[str, Any]:
        """Mapnik datasource parameters for a published table, drawn from its generalised ``level``, restricted to
        the features of ``time``; ``extent`` is "minx,miny,maxx,maxy" in the native CRS."""

    def vector_tile(self, storage: str, fields: list[str], layer: str, tile_srid: int, tile_bounds: Box,
                    native_boxes: list[Box], extent: int, buffer: int, level: int = 0) -> bytes | None:
        """One MVT layer made by the database for a tile in ``tile_srid``; None when the store does not make
        tiles (they are then encoded from its rows)."""

    def features_in_box(self, storage: str, fields: list[str], bbox: Box, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` features whose bounding box meets ``bbox`` (native CRS): fid, properties, WKB geometry."""

    def columns_in_box(self, storage: str, fields: list[str], bbox: Box, limit: int, level: int = 0) -> Columns:
        """``features_in_box`` by column, with the geometries of a generalised ``level`` where the store keeps
        them beside the originals."""

    def levels(self, storage: str) -> Any:
        """The display copies a published table has (``display.Levels``)."""

    def distinct_values(self, storage: str, field: str, limit: int) -> list[Any]:
        """Up to ``limit`` distinct non-null values of ``field``, sorted (a time dimension's extent)."""

    def value_range(self, storage: str, field: str) -> tuple[Any, Any]:
        """(lowest, highest) non-null value of a date or date-time ``field``."""


def columns_of(rows: list[dict[str, Any]], fields: list[str]) -> Columns:
    """Features as read by ``features_in_box``, by column."""
    return ([r["fid"] for r in rows], {f: [r["properties"].get(f) for r in rows] for f in fields},
            [r["wkb"] for r in rows])

