"""A selection of features as a file: GeoJSON, CSV, GeoPackage, zipped Shapefile, FlatGeobuf.

Text formats are produced as they are read (a generator of bytes); GDAL formats are written batch by
batch through Arrow into a temporary file, so memory stays bounded whatever the selection's size.

>>> chunks = geojson_chunks(site.features, dataset, ItemQuery(limit=None))   # doctest: +SKIP
>>> path = write_file(site.features, dataset, ItemQuery(limit=None), "gpkg", tmp_dir)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import shapely
from pyproj import CRS

from kartenn.domain import Dataset
from kartenn.formats.output import FEATURE_FORMATS
from kartenn.stores.base import FeatureStore
from kartenn.stores.items import ItemQuery, iter_items

# f= value → (media type, file extension, GDAL driver or None for text formats)
FORMATS = {f.name: (f.media_type, f.extension, f.driver) for f in FEATURE_FORMATS}
ARROW_TYPES = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(), "date": pa.date32(),
               "datetime": pa.timestamp("ms", tz="UTC"), "string": pa.string(), "time": pa.string()}


def _fields(dataset: Dataset, query: ItemQuery) -> list[Any]:
    return [f for f in dataset.fields if query.properties is None or f.name in query.properties]


def geojson_features(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GeoJSON features for orjson; GEOS writes the geometries' JSON for all rows at once."""
    if rows and "geometry_json" in rows[0]:
        geometries = [r["geometry_json"] for r in rows]
    else:
        geometries = shapely.to_geojson(np.array([r["geometry"] for r in rows], dtype=object))
    return [{"type": "Feature", "id": r["fid"], "properties": r["properties"],
             "geometry": orjson.Fragment(g) if g is not None else None}
            for r, g in zip(rows, geometries, strict=True)]


def geojson_chunks(store: FeatureStore, dataset: Dataset, query: ItemQuery) -> Iterator[bytes]:
    yield b'{"type":"FeatureCollection","name":' + orjson.dumps(dataset.id) + b',"features":['
    first = True
    for rows in iter_items(store, dataset, query):
        parts = [orjson.dumps(f) for f in geojson_features(rows)]
        if parts:
            yield (b"" if first else b",") + b",\n".join(parts)
            first = False
    yield b"]}\n"


def csv_chunks(store: FeatureStore, dataset: Dataset, query: ItemQuery) -> Iterator[bytes]:
    """One row per feature: its id, its properties, and its geometry as WKT (as GDAL's CSV driver reads it)."""
    names = [f.name for f in _fields(dataset, query)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["fid", *(_csv_value(n) for n in names), *([] if query.skip_geometry else ["WKT"])])
    for rows in iter_items(store, dataset, query):
        for r in rows:
            geometry = [] if query.skip_geometry else [r["geometry"].wkt if r["geometry"] is not None else ""]
            writer.writerow([r["fid"], *(_csv_value(r["properties"][n]) for n in names), *geometry])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


# A text cell a spreadsheet would run as a formula (OWASP CSV injection), unless it is a plain number.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _csv_value(value: Any) -> Any:
    """A cell: text a spreadsheet would take for a formula gets a leading ``'``; numbers stay as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_file(store: FeatureStore, dataset: Dataset, query: ItemQuery, fmt: str, folder: Path) -> Path:
    """The selection written by GDAL into ``folder``; a Shapefile comes back zipped."""
    import pyogrio

    _, extension, driver = FORMATS[fmt]
    fields = _fields(dataset, query)
    schema = pa.schema([pa.field("fid", pa.int64()), *(pa.field(f.name, ARROW_TYPES.get(f.type, pa.string()))
                                                       for f in fields),
                        pa.field("geometry", pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"})])

    def batches() -> Iterator[pa.RecordBatch]:
        for rows in iter_items(store, dataset, query):
            columns = [[r["fid"] for r in rows]]
            for f in fields:
                columns.append([_arrow_value(r["properties"][f.name], f.type) for r in rows])
            columns.append([shapely.to_wkb(r["geometry"]) if r["geometry"] is not None else None for r in rows])
            yield pa.RecordBatch.from_arrays([pa.array(c, type=t.type) for c, t in zip(columns, schema, strict=True)],
                                             schema=schema)

    name = dataset.id
    target = folder / (f"{name}.shp" if fmt == "shp" else f"{name}.{extension}")
    crs = query.crs or CRS.from_user_input("OGC:CRS84")
    options = {"SPATIAL_INDEX": "YES"} if fmt in ("gpkg", "fgb") else {}
    if fmt == "shp":
        options = {"ENCODING": "UTF-8"}
    pyogrio.write_arrow(pa.RecordBatchReader.from_batches(schema, batches()), target, layer=name, driver=driver,
                        geometry_name="geometry", geometry_type=_geometry_type(dataset), crs=crs.to_wkt(),
                        layer_options=options)
    if fmt != "shp":
        return target
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for part in sorted(folder.glob(f"{name}.*")):
            if part != archive:
                z.write(part, part.name)
    return archive


def _geometry_type(dataset: Dataset) -> str:
    return dataset.geometry_type or "Unknown"


def _arrow_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value[:10])
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
