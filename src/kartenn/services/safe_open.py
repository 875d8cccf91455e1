"""Reading an input without reaching outside it: no network connection, no file beyond the upload.

GDAL follows references found in what it reads: CRS links, schema locations, VRT sources, service
descriptors, ``/vsicurl/`` names. Readers open inputs only through these helpers:

- ``offline()`` and ``raster_env()`` point every HTTP request GDAL could make (its HTTP client, ``/vsicurl/``
  and the cloud ``/vsi`` handlers) at a SOCKS proxy on a Unix socket that cannot exist, so it fails at once
  without a DNS lookup or a connection (curl still honours NO_PROXY: a host listed there is not covered, which
  the checks below are for), and turn off the features that fetch, run or open other datasets;
- ``open_raster()`` opens with the raster drivers that read only their own file;
- ``check_file()`` refuses, before GDAL sees them, files whose format is a pointer to other data (GDAL's
  VRT and service descriptors, PDS4 labels, GDALG pipelines) and GeoJSON whose CRS is a link;
- ``check_crs_text()`` refuses CRSs that name PROJ init or grid files by path or URL;
- ``check_folder()`` refuses symbolic links among unpacked files;
- ``check_hdf5()`` refuses HDF5 files (netCDF-4 among them) whose data is read from other files: external
  links, external raw storage, virtual datasets (the HDF5 library follows them by path, absolute or not).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from kartenn.errors import InvalidInput, UnsafeArchive, UnsupportedFormat

if TYPE_CHECKING:
    import rasterio
    from rasterio.io import DatasetReader

DEAD_PROXY = "socks5h://localhost/dev/null/kartenn-offline"  # a socket path under a file: never there
OFFLINE = {
    "GDAL_HTTP_PROXY": DEAD_PROXY,
    "GDAL_HTTPS_PROXY": DEAD_PROXY,
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_NETRC": "NO",
    "AWS_NO_SIGN_REQUEST": "YES",  # no credential files, no instance metadata requests
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".kartenn-offline",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GML_DOWNLOAD_SCHEMA": "NO",
    "GML_SKIP_RESOLVE_ELEMS": "ALL",
    "LIBKML_RESOLVE_STYLE": "NO",
    "OGR_SQLITE_STATIC_VIRTUAL_OGR": "NO",  # SQLite tables "USING VirtualOGR('any path or URL')"
}
# Raster drivers that read only the file they are given ("HDF5Image" opens HDF5 subdatasets).
RASTER_DRIVERS = {"GTiff", "COG", "netCDF", "JP2OpenJPEG", "HFA", "AAIGrid", "HDF5", "HDF5Image", "GRIB"}

# GDAL recognises these by a marker anywhere in a file's first bytes, whatever its name: VRT and service
# descriptors, tile indexes, PDS4 labels, capabilities documents, GDALG pipelines.
POINTERS = re.compile(
    rb"<(?:[\w.-]+:)?(OGRVRTDataSource|VRTDataset|OGRWFSDataSource|OGRGMLASDataSource|GDALTileIndexDataset"
    rb"|GDAL_WMS|GDAL_WMTS|GDAL_WCS|WCS_GDAL|PAMDataset|WMS_Capabilities|WMT_MS_Capabilities|WFS_Capabilities"
    rb"|WCS_Capabilities|Capabilities)\b|(pds\.nasa\.gov/pds4)|(gdal_streamed_alg)", re.IGNORECASE)
CRS_LINK = re.compile(rb'"crs"\s*:\s*\{(?:[^{}]|\{[^{}]*\})*"type"\s*:\s*"link"')
# PROJ reads init files and grids by path or URL: in a CRS only the names of grids installed with it are used.
GRID_FILE = re.compile(r'PARAMETERFILE\[\s*"[^"]*"\s*,\s*"([^"]*)"|\b(?:init|file|\w*grids)\s*=\s*([^\s",\]]+)', re.I)
HEAD = 1 << 20  # GDAL drivers look at the first kilobytes; JSON crs members come early

_lock = threading.Lock()
_depth = 0
_saved: dict[str, object] = {}


@contextmanager
def offline() -> Iterator[None]:
    """GDAL of the vector reader offline while the block runs. Its options are process-wide: readers nest,
    the first in sets them and the last out restores what was there."""
    import pyogrio

    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = {key: pyogrio.get_gdal_config_option(key) for key in OFFLINE}
            pyogrio.set_gdal_config_options(OFFLINE)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                pyogrio.set_gdal_config_options(_saved)


def raster_env(**options: str) -> rasterio.Env:
    """rasterio's GDAL offline, for this thread, plus ``options``."""
    import rasterio

    return rasterio.Env(**OFFLINE, **options)


def open_raster(path: str | Path) -> DatasetReader:
    """Open an input raster (or subdataset) with only the drivers that read nothing but it; call in raster_env().
    rasterio.open takes one driver; its reader class passes a list on to GDAL as the allowed drivers."""
    from rasterio.io import DatasetReader

    return DatasetReader(str(path), driver=sorted(RASTER_DRIVERS))


def check_crs_text(text: str, label: str) -> None:
    """Refuse a CRS (user input, WKT or PROJ string) that names an init or grid file by path or URL."""
    for found in GRID_FILE.finditer(text):
        name = found.group(1) or found.group(2) or ""
        if "/" in name or "\\" in name:
            raise InvalidInput(f"{label}: the coordinate reference system names a file by path or URL; "
                               "only the grids installed with PROJ can be used")


def check_subdataset(name: str, path: Path, label: str) -> None:
    """A subdataset the file lists must be in that file: DRIVER:"path":name, quotes optional (the name comes
    from the file's content)."""
    rest = name.partition(":")[2].removeprefix('"')
    tail = rest.removeprefix(str(path)).removeprefix('"')
    if not rest.startswith(str(path)) or not tail.startswith(":") or any(c in tail[1:] for c in ':"'):
        raise UnsupportedFormat(f"{label}: a subdataset points outside the file")


def check_folder(folder: Path, label: str) -> None:
    for p in folder.rglob("*"):
        if p.is_symlink():
            raise UnsafeArchive(f"{label}: {p.relative_to(folder)} is a symbolic link")


def check_file(path: Path, label: str) -> None:
    """Refuse a file whose format points elsewhere. Reads its first megabyte."""
    with open(path, "rb") as f:
        head = f.read(HEAD)
    found = POINTERS.search(head)
    if found:
        what = (found.group(1) or b"").decode() or ("PDS4 label" if found.group(2) else "GDAL pipeline")
        raise UnsupportedFormat(f"{label}: {what} files are not accepted (they point to other files or servers)")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n\x1e").startswith((b"{", b"[")) and CRS_LINK.search(head):
        raise InvalidInput(f"{label}: its CRS is a link, which Kartenn does not follow; remove the crs "
                           "member and give the CRS with --crs EPSG:XXXX (or crs=EPSG:XXXX in the upload)")
    check_hdf5(path, label)


def check_hdf5(path: Path, label: str) -> None:
    """Refuse an HDF5 file (netCDF-4 too, whatever its user block) with data in other files. h5py lists its
    links without following them and reads each dataset's storage layout."""
    import h5py

    if not h5py.is_hdf5(str(path)):
        return
    elsewhere: list[str] = []

    def visit(name: str, link: object) -> bool | None:
        if isinstance(link, h5py.ExternalLink):
            elsewhere.append(name)
        elif isinstance(link, h5py.HardLink):
            found = f[name]
            if isinstance(found, h5py.Dataset) and (found.external or found.is_virtual):
                elsewhere.append(name)
        return True if elsewhere else None  # the first one is enough

    try:
        with h5py.File(path, "r") as f:
            f.visititems_links(visit)
    except OSError:
        return  # not readable by HDF5 after all: GDAL says what it makes of it
    if elsewhere:
        raise UnsupportedFormat(f"{label}: {elsewhere[0]} is read from another file (an external link, external "
                                "storage or a virtual dataset), which Kartenn does not follow")
