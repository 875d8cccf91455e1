"""Limits on what one input may declare, checked from its headers before any work is done.

A small file can declare a huge raster or unpack to a huge archive; such a file is refused with a clear
TooLarge before it is unpacked, converted or loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kartenn.config import Settings
from kartenn.errors import TooLarge
from kartenn.services import safe_open
from kartenn.services.archives import check_zip
from kartenn.services.readers import RASTER_SUFFIXES, Source

ZIP_SUFFIXES = {".zip", ".kmz"}  # KMZ is read by GDAL straight from the zip


@dataclass(frozen=True)
class IngestLimits:
    raster_max_bytes: int
    raster_max_bands: int
    max_features: int
    archive_max_bytes: int
    archive_max_ratio: int
    archive_max_members: int

    @classmethod
    def of(cls, s: Settings) -> IngestLimits:
        return cls(raster_max_bytes=s.raster_max_bytes, raster_max_bands=s.raster_max_bands,
                   max_features=s.ingest_max_features, archive_max_bytes=s.archive_max_bytes,
                   archive_max_ratio=s.archive_max_ratio, archive_max_members=s.archive_max_members)

    @property
    def archive(self) -> dict[str, int]:
        return {"max_bytes": self.archive_max_bytes, "max_ratio": self.archive_max_ratio,
                "max_members": self.archive_max_members}


def check_file(path: Path, label: str, limits: IngestLimits) -> None:
    """Refuse an uploaded file whose archive directory or raster header declares more than the limits allow."""
    suffix = path.suffix.lower()
    if suffix in ZIP_SUFFIXES:
        check_zip(path, **limits.archive)
    elif suffix in RASTER_SUFFIXES:
        safe_open.check_file(path, label)  # not a pointer to other data, before GDAL reads it
        check_raster(str(path), label, limits)


def check_sources(sources: list[Source], limits: IngestLimits) -> None:
    """Refuse the datasets found in a file when their declared sizes are over the limits (headers only)."""
    total = 0
    for source in sources:
        if source.kind == "raster":
            rasters = {step.raster for step in source.steps if not step.raster.lower().startswith("netcdf:")}
            for raster in rasters or [source.layer or str(source.path)]:
                total += check_raster(raster, source.label, limits)
        elif source.count_hint and source.count_hint > limits.max_features:
            raise TooLarge(f"{source.label}: {source.name!r} declares {source.count_hint} features, "
                           f"more than the {limits.max_features} allowed")
    if total > limits.raster_max_bytes:
        raise TooLarge(f"{sources[0].label}: its rasters hold {total} bytes uncompressed, "
                       f"more than the {limits.raster_max_bytes} allowed")


def check_raster(path: str, label: str, limits: IngestLimits) -> int:
    """The raster's uncompressed size in bytes, from its header; TooLarge when over the limits."""
    import rasterio

    try:
        with safe_open.raster_env(), safe_open.open_raster(path) as src:
            subdatasets = list(src.subdatasets)
        shapes = []
        for sub in subdatasets or [path]:
            if subdatasets:
                safe_open.check_subdataset(sub, Path(path), label)
            with safe_open.raster_env(), safe_open.open_raster(sub) as src:
                shapes.append((src.width, src.height, src.count, src.dtypes))
    except rasterio.errors.RasterioIOError:
        return 0  # not a raster: the readers say what it is
    total = 0
    for width, height, bands, dtypes in shapes:
        if bands > limits.raster_max_bands:
            raise TooLarge(f"{label}: {bands} bands, more than the {limits.raster_max_bands} allowed")
        size = width * height * sum(_sample_bytes(t) for t in dtypes)
        if size > limits.raster_max_bytes:
            raise TooLarge(f"{label}: declares {width}×{height} pixels × {bands} band(s), {size} bytes "
                           f"uncompressed, more than the {limits.raster_max_bytes} allowed")
        total += size
    return total


def _sample_bytes(dtype: str) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        return 8  # GDAL-only types such as complex_int16
