"""The embedded feature store: one GeoPackage file per dataset, written by GDAL through pyogrio's Arrow API.

Beside the ``features`` table, the file holds the generalised levels of line and polygon data (stores/display.py).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

import pyarrow as pa
import shapely
from sqlalchemy.engine import Connection

from kartenn.stores import display, measurements
from kartenn.stores import geopackage_reads as reads
from kartenn.stores.base import GEOMETRY_COLUMN, Box, Columns, LayerSpec, Series, TimeBounds, columns_of
from kartenn.stores.dialect import SQLITE
from kartenn.stores.files import StagingArea

LAYER = reads.LAYER
LEVEL_CHUNK = 50_000  # features read and simplified at once while the levels are written


class GeoPackageStore:
    def __init__(self, root: Path, staging: StagingArea) -> None:
        self.root = root
        self.staging = staging
        root.mkdir(parents=True, exist_ok=True)

    name = "SQLite + GeoPackage"

    def path(self, storage: str) -> Path:
        return self.root / f"{storage}.gpkg"

    def create_schema(self) -> None:
        """Nothing to create: each dataset is its own file."""

    def close(self) -> None:
        """Nothing held open."""

    def map_datasource(self, storage: str, *, srid: int = 0, extent: str | None = None, level: int = 0,
                       time: TimeBounds | None = None) -> dict[str, Any]:
        # The ogr plugin reads GeoPackage geometry blobs; the sqlite plugin expects SpatiaLite/WKB and draws nothing.
        table = display.table(LAYER, level)
        if time:
            return {"type": "ogr", "file": str(self.path(storage)),
                    "layer_by_sql": f"SELECT * FROM {table} WHERE {SQLITE.time_condition(*time)}"}
        return {"type": "ogr", "file": str(self.path(storage)), "layer": table}

    def vector_tile(self, storage: str, fields: list[str], layer: str, tile_srid: int, tile_bounds: Box,
                    native_boxes: list[Box], extent: int, buffer: int, level: int = 0) -> bytes | None:
        """None: tiles of this store are encoded from its rows (formats/mvt.py)."""
        return None

    def features_in_box(self, storage: str, fields: list[str], bbox: Box, limit: int) -> list[dict[str, Any]]:
        return reads.features_in_box(self.path(storage), fields, bbox, limit)  # GDAL uses the R-tree

    def columns_in_box(self, storage: str, fields: list[str], bbox: Box, limit: int, level: int = 0) -> Columns:
        found = reads.columns_in_box(self.path(storage), fields, bbox, limit, display.table(LAYER, level))
        return found if found is not None else columns_of(self.features_in_box(storage, fields, bbox, limit), fields)

    def levels(self, storage: str) -> display.Levels:
        return display.geopackage_levels(self.path(storage), LAYER)

    def distinct_values(self, storage: str, field: str, limit: int) -> list[Any]:
        return reads.distinct_values(self.path(storage), field, limit)

    def value_range(self, storage: str, field: str) -> tuple[Any, Any]:
        return reads.value_range(self.path(storage), field)

    def load(self, conn: Connection, spec: LayerSpec, batches: Iterable[pa.RecordBatch]) -> None:
        # Written beside its final place under a staging name, then renamed: readers never see half a file.
        # The catalogue transaction ``conn`` commits after; a failure before then calls ``discard``.
        failures: list[BaseException] = []
        iterator = _remember_failure(iter(batches), failures)
        first = next(iterator, None)
        if first is None:
            schema = pa.schema([(f.name, pa.string()) for f in spec.fields] + [(GEOMETRY_COLUMN, pa.binary())])
            reader = pa.RecordBatchReader.from_batches(schema, iter(()))
        else:
            reader = pa.RecordBatchReader.from_batches(first.schema, chain([first], iterator))
        with self.staging.area(spec.storage) as work:
            tmp = work / "data.gpkg"
            try:
                self._write(reader, tmp, spec)
            except Exception:
                # GDAL reports an error raised while producing a batch as its own RuntimeError:
                # give back the original (e.g. an invalid input), which says what went wrong.
                if failures:
                    raise failures[0] from None
                raise
            self._write_levels(tmp, spec)
            os.replace(tmp, self.path(spec.storage))

    @staticmethod
    def _write(reader: pa.RecordBatchReader, tmp: Path, spec: LayerSpec) -> None:
        import pyogrio

        pyogrio.write_arrow(
            reader,
            tmp,
            layer=LAYER,
            driver="GPKG",
            geometry_name=GEOMETRY_COLUMN,
            geometry_type=spec.geometry_type + (" Z" if spec.has_z else ""),
            crs=_crs(spec),
            layer_options={"SPATIAL_INDEX": "YES", "FID": "fid"},
            dataset_options={"VERSION": "1.4"},
        )

    @staticmethod
    def _write_levels(tmp: Path, spec: LayerSpec) -> None:
        """The generalised levels, read back from the written features a chunk at a time; the tolerances are chosen
        from the first chunk, as PostGIS chooses them from the first batch."""
        import pyogrio

        if not display.applies(spec.geometry_type):
            return
        with closing(sqlite3.connect(tmp)) as conn:
            last = conn.execute(f"SELECT coalesce(max(fid), 0) FROM {LAYER}").fetchone()[0]  # noqa: S608
        tolerances: list[float] = []
        for start in range(0, last, LEVEL_CHUNK):
            _, chunk = pyogrio.read_arrow(tmp, layer=LAYER, where=f"fid > {start} AND fid <= {start + LEVEL_CHUNK}")
            geoms = shapely.from_wkb(chunk.column(GEOMETRY_COLUMN).to_numpy(zero_copy_only=False))
            if not start:
                tolerances = display.choose(geoms)
                if not tolerances:  # generalising would not pay: no level, and the file is not read again
                    return
            at = chunk.column_names.index(GEOMETRY_COLUMN)
            for level, tolerance in enumerate(tolerances, start=1):
                drawn = display.simplified(geoms, tolerance, spec.geometry_type)
                wkb = pa.array(shapely.to_wkb(drawn), type=pa.binary())
                options = {} if start else {"SPATIAL_INDEX": "YES", "FID": "fid", "DESCRIPTION": repr(tolerance)}
                pyogrio.write_arrow(chunk.set_column(at, GEOMETRY_COLUMN, wkb), tmp,
                                    layer=display.table(LAYER, level), driver="GPKG", geometry_name=GEOMETRY_COLUMN,
                                    geometry_type=spec.geometry_type,
                                    crs=_crs(spec), append=bool(start), layer_options=options)

    def load_series(self, conn: Connection, storage: str, table: pa.Table) -> None:
        # Into the stations' file, already in place: nobody reads it before the catalogue commits.
        measurements.geopackage_load(self.path(storage), table)

    def read_series(self, storage: str, stations: list[str], parameters: list[str], start: datetime | None,
                    end: datetime | None) -> list[Series]:
        return measurements.geopackage_read(self.path(storage), stations, parameters, start, end)

    def discard(self, storage: str) -> None:
        self.path(storage).unlink(missing_ok=True)

    def drop(self, storage: str) -> None:
        self.discard(storage)

    def unreferenced(self, known: set[str]) -> list[str]:
        return [path.stem for path in sorted(self.root.glob("*.gpkg"))
                if path.stem not in known and not self.staging.is_busy(path.stem)]


def _crs(spec: LayerSpec) -> str:
    return f"EPSG:{spec.srid}" if spec.srid else spec.crs_wkt


def _remember_failure(batches: Iterator[pa.RecordBatch], failures: list[BaseException]) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    except BaseException as exc:
        failures.append(exc)
        raise


