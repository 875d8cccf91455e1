"""The embedded feature store: one GeoPackage file per dataset, written by GDAL through pyogrio's Arrow API."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyogrio
from sqlalchemy.engine import Connection

from kartenn.stores.base import GEOMETRY_COLUMN, LayerSpec
from kartenn.stores.files import StagingArea

LAYER = "features"


class GeoPackageStore:
    def __init__(self, root: Path, staging: StagingArea) -> None:
        self.root = root
        self.staging = staging
        root.mkdir(parents=True, exist_ok=True)

    def path(self, storage: str) -> Path:
        return self.root / f"{storage}.gpkg"

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
            reader = pa.RecordBatchReader.from_batches(first.schema, _chain(first, iterator))
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
            os.replace(tmp, self.path(spec.storage))

    @staticmethod
    def _write(reader: pa.RecordBatchReader, tmp: Path, spec: LayerSpec) -> None:
        pyogrio.write_arrow(
            reader,
            tmp,
            layer=LAYER,
            driver="GPKG",
            geometry_name=GEOMETRY_COLUMN,
            geometry_type=spec.geometry_type + (" Z" if spec.has_z else ""),
            crs=f"EPSG:{spec.srid}" if spec.srid else spec.crs_wkt,
            layer_options={"SPATIAL_INDEX": "YES", "FID": "fid"},
            dataset_options={"VERSION": "1.4"},
        )

    def discard(self, storage: str) -> None:
        self.path(storage).unlink(missing_ok=True)

    def drop(self, storage: str) -> None:
        self.discard(storage)

    def reconcile(self, known: set[str]) -> list[str]:
        removed = []
        for path in sorted(self.root.glob("*.gpkg")):
            if path.stem not in known and not self.staging.is_active(path.stem):
                path.unlink()
                removed.append(path.stem)
        return removed


def _remember_failure(batches: Iterator[pa.RecordBatch], failures: list[BaseException]) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    except BaseException as exc:
        failures.append(exc)
        raise


def _chain(first: pa.RecordBatch, rest: Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
    yield first
    yield from rest

