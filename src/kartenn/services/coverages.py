"""Coverages (WCS 2.0): a raster dataset's grid, axes and times, and the part of it a request cuts out.

>>> cut = Cut(x=(-10.0, 10.0), y=(40.0, 50.0), time=("2000-01-16T06:00:00Z",))
>>> body, media = get_coverage(site, dataset, cut, "image/tiff")     # doctest: +SKIP

Axes are named as the CRS names them (``Lat``/``Long`` for geographic CRSs, ``E``/``N`` for projected ones) and
ordered as it orders them; ``time`` is the axis of a raster time stack.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

from kartenn.crs import axis_north_first
from kartenn.domain import Dataset
from kartenn.errors import InvalidInput, TooLarge
from kartenn.services import stacks
from kartenn.site import Site

GEOTIFF, NETCDF = "image/tiff", "application/netcdf"
FORMATS = (GEOTIFF, NETCDF)
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"


class InvalidSubsetting(InvalidInput):
    code = "InvalidSubsetting"


class InvalidAxisLabel(InvalidInput):
    code = "InvalidAxisLabel"


@dataclass(frozen=True)
class Axis:
    label: str  # as the coverage names it: Lat, Long, E, N, time
    role: str  # x | y | time
    uom: str


def native_crs(dataset: Dataset) -> CRS:
    return CRS.from_user_input(f"EPSG:{dataset.srid}" if dataset.srid else dataset.crs)


def crs_uri(dataset: Dataset) -> str:
    return f"{EPSG_URI}{dataset.srid}" if dataset.srid else native_crs(dataset).to_wkt()


def axes(dataset: Dataset) -> list[Axis]:
    """The coverage's axes in CRS order, then time for a time stack."""
    crs = native_crs(dataset)
    if crs.is_geographic:
        x, y = Axis("Long", "x", "deg"), Axis("Lat", "y", "deg")
    else:
        unit = (crs.axis_info[0].unit_name if crs.axis_info else "") or "m"
        x, y = Axis("E", "x", "m" if unit == "metre" else unit), Axis("N", "y", "m" if unit == "metre" else unit)
    spatial = [y, x] if axis_north_first(crs) else [x, y]
    return spatial + ([Axis("time", "time", "s")] if stacks.times(dataset) else [])


ALIASES = {"x": "x", "lon": "x", "long": "x", "longitude": "x", "e": "x", "east": "x", "easting": "x",
           "y": "y", "lat": "y", "latitude": "y", "n": "y", "north": "y", "northing": "y",
           "time": "time", "t": "time", "ansi": "time", "date": "time"}


def axis_role(dataset: Dataset, label: str) -> str:
    """x, y or time for an axis label of a subset (the coverage's own, or a usual alias); InvalidAxisLabel else."""
    role = ALIASES.get(label.strip().lower())
    if role is None or (role == "time" and not stacks.times(dataset)):
        names = ", ".join(a.label for a in axes(dataset))
        raise InvalidAxisLabel(f"coverage {dataset.id!r} has no axis {label!r}; its axes are {names}",
                               locator=label)
    return role


@dataclass
class Cut:
    """What a GetCoverage keeps: a trim (low, high; None for an open end) or a slice (one value) per axis, in
    ``crs`` (the coverage's own when None); ``size`` (width, height) resamples."""

    x: tuple[float | None, ...] | None = None
    y: tuple[float | None, ...] | None = None
    time: tuple[str | None, ...] | None = None
    crs: CRS | None = None
    output_crs: CRS | None = None
    size: tuple[int | None, int | None] | None = None
    scale: float | None = None


def steps_of(dataset: Dataset, cut: Cut) -> list[stacks.Step | None]:
    """The time steps a cut keeps (the latest when it names no time); [None] for a raster without time."""
    stack = stacks.times(dataset)
    if not stack:
        return [None]
    if cut.time is None:
        return [stacks.at_index(dataset, len(stack) - 1)]
    start: datetime | None
    end: datetime | None
    try:
        if len(cut.time) == 1:
            start, end = stacks.period(cut.time[0] or "", "time")
        else:
            low, high = cut.time
            start = stacks.period(low, "time")[0] if low else None
            end = stacks.period(high, "time")[1] if high else None
    except InvalidInput as exc:
        raise InvalidSubsetting(exc.message, locator="time") from None
    if start and end and start > end:
        raise InvalidSubsetting("the time subset starts after it ends", locator="time")
    found = stacks.steps_between(dataset, start, end)
    if not found:
        raise InvalidSubsetting(f"coverage {dataset.id!r} has no time in the subset; its times run from "
                                f"{stack[0]} to {stack[-1]}", locator="time")
    return [stacks.at_index(dataset, k) for k in found]


def _window(src: Any, dataset: Dataset, cut: Cut) -> Any:
    """The pixel window of ``src`` the spatial subsets keep (whole pixels that touch them)."""
    from rasterio.windows import Window, from_bounds

    native = native_crs(dataset)
    left, bottom, right, top = src.bounds
    x, y = cut.x, cut.y
    if cut.crs is not None and not cut.crs.equals(native) and (x or y):
        to_crs = Transformer.from_crs(native, cut.crs, always_xy=True)
        box = to_crs.transform_bounds(left, bottom, right, top, densify_pts=21)
        lo_x, hi_x = (x[0], x[-1]) if x else (box[0], box[2])
        lo_y, hi_y = (y[0], y[-1]) if y else (box[1], box[3])
        lo_x, hi_x = box[0] if lo_x is None else lo_x, box[2] if hi_x is None else hi_x
        lo_y, hi_y = box[1] if lo_y is None else lo_y, box[3] if hi_y is None else hi_y
        back = Transformer.from_crs(cut.crs, native, always_xy=True)
        x_bounds = back.transform_bounds(lo_x, lo_y, hi_x, hi_y, densify_pts=21)
        if not all(math.isfinite(v) for v in x_bounds):
            raise InvalidSubsetting("the subset cannot be brought into the coverage's CRS", locator="subset")
        want = list(x_bounds)
    else:
        want = [left, bottom, right, top]
        if x:
            want[0] = x[0] if x[0] is not None else left
            want[2] = x[-1] if x[-1] is not None else right
        if y:
            want[1] = y[0] if y[0] is not None else bottom
            want[3] = y[-1] if y[-1] is not None else top
    if want[0] > want[2] or want[1] > want[3]:
        raise InvalidSubsetting("a subset's low is above its high", locator="subset")
    win = from_bounds(*want, transform=src.transform)
    # Whole pixels the subset touches; an edge within a millionth of a pixel of a pixel's edge is on it (clients
    # send back coordinates they computed from the grid, with rounding).
    tol = 1e-6
    col0, row0 = math.floor(win.col_off + tol), math.floor(win.row_off + tol)
    col1 = max(math.ceil(win.col_off + win.width - tol), col0 + 1)
    row1 = max(math.ceil(win.row_off + win.height - tol), row0 + 1)
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, src.width), min(row1, src.height)
    if col0 >= col1 or row0 >= row1:
        raise InvalidSubsetting(f"the subset is outside coverage {dataset.id!r}", locator="subset")
    return Window(col0, row0, col1 - col0, row1 - row0)


def get_coverage(site: Site, dataset: Dataset, cut: Cut, media_type: str) -> tuple[bytes, str]:
    """The coverage cut as GeoTIFF or NetCDF: (bytes, file name)."""
    import rasterio
    from rasterio.io import MemoryFile
    from rasterio.windows import transform as window_transform

    if dataset.kind != "raster":
        raise InvalidInput(f"dataset {dataset.id!r} is not a raster")
    steps = steps_of(dataset, cut)
    if media_type == GEOTIFF and len(steps) > 1:
        raise InvalidSubsetting(f"the time subset holds {len(steps)} times; image/tiff holds one: slice time, or "
                                "ask for application/netcdf", locator="time")
    arrays = []
    for step in steps:
        ds = step.dataset if step else dataset
        with rasterio.open(site.files.path(ds.storage)) as src:
            window = _window(src, dataset, cut)
            width, height = _out_size(cut, int(window.width), int(window.height))
            _check_size(site, width * height * src.count * len(steps) * np.dtype(src.dtypes[0]).itemsize)
            arrays.append(src.read(window=window, out_shape=(src.count, height, width)))
            transform = _scaled(window_transform(window, src.transform), window.width / width,
                                window.height / height)
            profile = {"count": src.count, "dtype": src.dtypes[0], "nodata": src.nodata, "crs": src.crs,
                       "width": width, "height": height, "transform": transform,
                       "descriptions": src.descriptions, "colorinterp": src.colorinterp}
    data = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    if cut.output_crs is not None and not cut.output_crs.equals(native_crs(dataset)):
        data, profile = _reproject(data, profile, cut.output_crs, len(steps))
    times = [s.time for s in steps if s is not None]
    name = f"{dataset.id}{'_' + times[0][:10] if len(times) == 1 else ''}"
    if media_type == GEOTIFF:
        with MemoryFile() as mem:
            with mem.open(driver="GTiff", count=profile["count"], dtype=profile["dtype"], nodata=profile["nodata"],
                          crs=profile["crs"], width=profile["width"], height=profile["height"],
                          transform=profile["transform"], COMPRESS="DEFLATE", TILED="YES") as dst:
                dst.write(data)
                if times:
                    dst.update_tags(TIFFTAG_DATETIME=times[0].replace("-", ":").replace("T", " ")[:19],
                                    time=times[0])
            return mem.read(), f"{name}.tif"
    return _netcdf(site, dataset, data, profile, times), f"{name}.nc"


def _scaled(transform: Any, sx: float, sy: float) -> Any:
    from affine import Affine

    return transform @ Affine.scale(sx, sy)


def _out_size(cut: Cut, width: int, height: int) -> tuple[int, int]:
    if cut.scale:
        return max(1, round(width / cut.scale)), max(1, round(height / cut.scale))
    if cut.size:
        w, h = cut.size
        if w and not h:
            h = max(1, round(height * w / width))
        if h and not w:
            w = max(1, round(width * h / height))
        return int(w or width), int(h or height)
    return width, height


def _check_size(site: Site, size: int) -> None:
    cap = site.settings.wcs_max_bytes
    if size > cap:
        raise TooLarge(f"the coverage asked for holds {size} bytes, more than the {cap} a request may have; "
                       "subset it (or scale it down)")


def _reproject(data: np.ndarray, profile: dict[str, Any], crs: CRS, steps: int) -> tuple[np.ndarray, dict[str, Any]]:
    import rasterio.crs
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    target = rasterio.crs.CRS.from_wkt(crs.to_wkt())
    bands, height, width = data.shape
    left, top = profile["transform"] * (0, 0)
    right, bottom = profile["transform"] * (width, height)
    transform, w, h = calculate_default_transform(profile["crs"], target, width, height,
                                                  left=min(left, right), bottom=min(top, bottom),
                                                  right=max(left, right), top=max(top, bottom))
    nodata = profile["nodata"]
    out = np.full((bands, h, w), nodata if nodata is not None else 0, dtype=data.dtype)
    reproject(data, out, src_transform=profile["transform"], src_crs=profile["crs"], dst_transform=transform,
              dst_crs=target, src_nodata=nodata, dst_nodata=nodata, resampling=Resampling.nearest)
    return out, {**profile, "crs": target, "transform": transform, "width": w, "height": h}


def _netcdf(site: Site, dataset: Dataset, data: np.ndarray, profile: dict[str, Any], times: list[str]) -> bytes:
    """NetCDF (CF): one variable, with a time axis when the coverage has times."""
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile

    count = data.shape[0]
    bands_per_step = count // max(len(times), 1)
    if times and bands_per_step != 1:
        raise InvalidInput("NetCDF output of a time stack of several bands is not offered; ask for image/tiff")
    variable = "".join(c if c.isalnum() else "_" for c in dataset.id)
    if not variable[:1].isalpha():
        variable = f"v_{variable}"
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", count=count, dtype=profile["dtype"], nodata=profile["nodata"],
                      crs=profile["crs"], width=profile["width"], height=profile["height"],
                      transform=profile["transform"]) as tmp:
            tmp.write(data)
            if times:
                seconds = [str(int(stacks.parse_time(t).timestamp())) for t in times]
                tmp.update_tags(NETCDF_DIM_EXTRA="{time}", NETCDF_DIM_time_DEF=f"{{{len(times)},6}}",
                                NETCDF_DIM_time_VALUES="{" + ",".join(seconds) + "}",
                                **{"time#units": "seconds since 1970-01-01 00:00:00", "time#calendar": "standard",
                                   "time#standard_name": "time", "time#axis": "T"})
                for band in range(1, count + 1):
                    tmp.update_tags(band, NETCDF_VARNAME=variable)
        with site.staging.area(f"wcs-{secrets.token_hex(8)}") as work, mem.open() as tmp:
            out = Path(work) / "coverage.nc"
            rasterio.shutil.copy(tmp, out, driver="netCDF", FORMAT="NC4", COMPRESS="DEFLATE")
            return out.read_bytes()
