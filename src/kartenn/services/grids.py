"""Reading raster time stacks for OGC API – EDR: the values of each time step at a position, or in an area or a
radius given in longitude/latitude. Rights are the dataset's: one the caller may not view does not exist here.

A position answers with the cell holding the point (a grid has a value everywhere it covers: no tolerance, no
interpolation); an area or a radius with the cells whose centres fall in it, on the raster's own grid.

>>> grid = Grid.of(site, "coads-sst")                                       # doctest: +SKIP
>>> series = grid.position(-4.5, 48.4, ["SST"], None, None)                 # doctest: +SKIP
>>> series.series["SST"][1][:3]                                             # doctest: +SKIP
array([12.1, 11.6, 11.4])
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer

from kartenn.domain import Dataset
from kartenn.errors import InvalidInput, NotFound
from kartenn.formats.edr import GridValues, StationSeries
from kartenn.services import boxes, stacks
from kartenn.services.coverages import native_crs
from kartenn.services.series import asked_parameters

MAX_VALUES = 20_000_000  # as for station series: about 160 MB of float64 before encoding
OPEN_PER_THREAD = 64  # time steps kept open by each worker thread (with GDAL's cache of their blocks)
_GEOD = Geod(ellps="WGS84")
_open = threading.local()


def _step(site: Any, name: str) -> Any:
    """The time step file ``name`` open for reading, kept open for this thread: a step's file never changes (a
    replaced stack writes new ones), and a query reads every step, so opening them is most of its work."""
    import rasterio

    kept: OrderedDict[str, Any] = getattr(_open, "steps", None) or OrderedDict()
    _open.steps = kept
    path = str(site.files.path(name))
    src = kept.pop(path, None)
    if src is None or src.closed:
        src = rasterio.open(path)
        if len(kept) >= OPEN_PER_THREAD:
            kept.popitem(last=False)[1].close()
    kept[path] = src
    return src


@dataclass
class Grid:
    """A raster time stack as the caller sees it, with its parameters (one per band) and time steps."""

    site: Any
    dataset: Dataset

    @classmethod
    def of(cls, site: Any, dataset_id: str) -> Grid:
        dataset = site.catalog.get_dataset(dataset_id)  # NotFound for a dataset the caller may not view
        if not is_grid(dataset):
            raise NotFound(f"collection {dataset_id!r} has no EDR queries (neither stations nor a raster over time)")
        return cls(site, dataset)

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return parameters(self.dataset)

    @property
    def units(self) -> dict[str, str | None]:
        return {p["name"]: p.get("unit") for p in self.parameters}

    def parameter_names(self, value: str | None) -> list[str]:
        return asked_parameters(self.parameters, value)

    def _steps(self, start: datetime | None, end: datetime | None) -> tuple[np.ndarray, list[str]]:
        found = stacks.steps_between(self.dataset, start, end)
        times = stacks.times(self.dataset)
        files = self.dataset.raster["steps"]
        when = np.array([times[k].rstrip("Z") for k in found], dtype="datetime64[ms]")
        return when, [files[k] for k in found]

    def _bands(self, names: list[str]) -> list[int]:
        known = [p["name"] for p in self.parameters]
        return [known.index(n) + 1 for n in names]

    def position(self, lon: float, lat: float, names: list[str], start: datetime | None,
                 end: datetime | None) -> StationSeries | None:
        """The values of ``names`` in the cell holding (lon, lat) at each step between ``start`` and ``end``; None
        where the raster does not cover the point."""
        from rasterio.windows import Window

        when, files = self._steps(start, end)
        x, y = self._to_native().transform(lon, lat)
        bands = self._bands(names)
        rows: list[np.ndarray] = []
        for name in files:
            src = _step(self.site, name)
            row, col = src.index(x, y)
            if not (0 <= row < src.height and 0 <= col < src.width) or not math.isfinite(x + y):
                return None
            data = src.read(bands, window=Window(col, row, 1, 1), masked=True)
            rows.append(np.ma.filled(data.astype(np.float64), np.nan).reshape(len(bands)))
        values = np.array(rows, dtype=np.float64).reshape(len(files), len(bands))
        return StationSeries(f"{lon:g},{lat:g}", None, lon, lat,
                             {n: (when, values[:, k]) for k, n in enumerate(names)})

    def area(self, area: shapely.Geometry, names: list[str], start: datetime | None,
             end: datetime | None, radius: tuple[float, float, float] | None = None) -> GridValues:
        """The cells whose centres fall in ``area`` (longitude/latitude), at each step between ``start`` and
        ``end``; cells of the box around it but outside it are NaN. With ``radius`` (lon, lat, metres), the cells
        within that geodesic distance instead."""
        from rasterio.windows import Window, from_bounds
        from rasterio.windows import transform as window_transform

        when, files = self._steps(start, end)
        bands = self._bands(names)
        native = native_crs(self.dataset)
        left, bottom, right, top = self._to_native().transform_bounds(*area.bounds, densify_pts=21)
        if not all(math.isfinite(v) for v in (left, bottom, right, top)):
            raise InvalidInput("coords cannot be brought into the raster's coordinate system", locator="coords")
        cube: list[np.ndarray] = []
        first = _step(self.site, files[0]) if files else None
        if first is None:
            return GridValues(np.array([]), np.array([]), when, {n: np.empty((0, 0, 0)) for n in names},
                              crs_uri(native))
        win = from_bounds(left, bottom, right, top, transform=first.transform)
        col0, row0 = max(math.floor(win.col_off), 0), max(math.floor(win.row_off), 0)
        col1 = min(math.ceil(win.col_off + win.width), first.width)
        row1 = min(math.ceil(win.row_off + win.height), first.height)
        window = Window(col0, row0, max(col1 - col0, 0), max(row1 - row0, 0))
        size = int(window.width * window.height) * len(bands) * len(files)
        if size > MAX_VALUES:
            raise InvalidInput(f"this query would return {size:,} values, more than the {MAX_VALUES:,} allowed; ask "
                               "for a smaller area, fewer parameters or a shorter datetime", locator="coords")
        t = window_transform(window, first.transform)
        xs = t.c + t.a * (np.arange(int(window.width)) + 0.5)
        ys = t.f + t.e * (np.arange(int(window.height)) + 0.5)
        inside = _cells_in(area, radius, xs, ys, native)
        if inside.any():  # the steps share the first one's grid (a stack is published so)
            for name in files:
                data = _step(self.site, name).read(bands, window=window, masked=True).astype(np.float64)
                cube.append(np.ma.filled(data, np.nan))
        if not cube or not inside.any():
            return GridValues(xs[:0], ys[:0], when[:0], {n: np.empty((0, 0, 0)) for n in names}, crs_uri(native))
        values = np.stack(cube)  # (t, band, y, x)
        values[:, :, ~inside] = np.nan
        return GridValues(xs, ys, when, {n: values[:, k] for k, n in enumerate(names)}, crs_uri(native))

    def _to_native(self) -> Transformer:
        return boxes.transformer("EPSG:4326", _crs_text(self.dataset))


def is_grid(dataset: Dataset) -> bool:
    """Whether EDR reads ``dataset`` as a grid: a raster with a time axis."""
    return dataset.kind == "raster" and bool(stacks.times(dataset))


def parameters(dataset: Dataset) -> list[dict[str, Any]]:
    """One parameter per band: the NetCDF variable's name and units (``bandN`` for the bands of GeoTIFFs), the
    stack's time extent and its number of steps."""
    info = dataset.raster
    count = int(info.get("bands") or 1)
    variable = info.get("variable") if count == 1 else None
    times = stacks.times(dataset)
    return [{"name": variable or f"band{k}", "unit": info.get("units") if variable else None,
             "begin": times[0], "end": times[-1], "count": len(times)} for k in range(1, count + 1)]


def _crs_text(dataset: Dataset) -> str:
    return f"EPSG:{dataset.srid}" if dataset.srid else dataset.crs


def crs_uri(crs: CRS) -> str:
    """The CRS of a grid's x and y as CoverageJSON names it."""
    code = crs.to_epsg()
    if code == 4326 or crs.is_geographic and code is None:
        return "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}" if code else crs.to_wkt()


def _cells_in(area: shapely.Geometry, radius: tuple[float, float, float] | None, xs: np.ndarray, ys: np.ndarray,
              native: CRS) -> np.ndarray:
    """Which cell centres (a grid of xs × ys in ``native``) lie in ``area``, or within ``radius``."""
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = boxes.transformer(native.to_wkt(), "EPSG:4326").transform(gx, gy)
    if radius is not None:
        cx, cy, metres = radius
        _, _, distance = _GEOD.inv(np.full(lon.shape, cx), np.full(lat.shape, cy), lon, lat)
        return np.asarray(distance) <= metres
    return shapely.contains_xy(area, lon, lat) | shapely.intersects_xy(area.boundary, lon, lat)
