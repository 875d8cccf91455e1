"""Downloads of a collection or a filtered selection: /ogc/collections/{id}/download?f=gpkg&bbox=…

Every /items filter applies (bbox, CQL2, datetime, properties, crs…); without ``limit`` the whole
selection comes. GeoJSON and CSV are streamed as they are read; GeoPackage, Shapefile (zipped) and
FlatGeobuf are written batch by batch to a temporary file, then streamed. Files default to the
dataset's own CRS, in east/north order; GeoJSON to CRS84 (RFC 7946). A raster's download is its published Cloud
Optimized GeoTIFF as it is (``f=tiff``, the only format): the lossless copy ``kartenn sync`` takes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pyproj import CRS
from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import FileResponse, Response, StreamingResponse

from kartenn.domain import Dataset
from kartenn.errors import InvalidInput, NotFound
from kartenn.filter_check import FilterLimits
from kartenn.formats import output
from kartenn.services import features
from kartenn.services.exports import FORMATS
from kartenn.site import Site
from kartenn.web.deps import get_site
from kartenn.web.ogc.params import item_query

router = APIRouter(prefix="/ogc", tags=["ogc"])
MAX_DOWNLOAD = 2**62


def download_format(request: Request) -> str:
    name = request.query_params.get("f")
    if name is None:
        found = output.by_media_type(request.headers.get("accept", "")) or output.DOWNLOADS["geojson"]
    else:
        found = output.by_name(name)
    if found is None:
        raise InvalidInput(f"unknown download format f={name!r}; use one of {', '.join(FORMATS)}", locator="f")
    return found.name


@router.get("/collections/{collection_id}/download")
async def download(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    dataset = site.catalog.get_dataset(collection_id)
    if dataset.kind == "raster":
        return raster_download(site, dataset, request.query_params.get("f"))
    if dataset.kind != "vector":
        raise NotFound(f"collection {collection_id!r} has no features to download")
    return await download_response(site, dataset, request, download_format(request))


def raster_download(site: Site, dataset: Dataset, fmt: str | None) -> Response:
    site.require("download", "dataset", dataset.id)  # type: ignore[attr-defined]
    if fmt not in (None, "tiff", "geotiff"):
        raise InvalidInput(f"a raster downloads as f=tiff (its Cloud Optimized GeoTIFF), not f={fmt!r}", locator="f")
    return FileResponse(site.files.path(dataset.storage), media_type="image/tiff; application=geotiff",
                        filename=f"{dataset.id}.tif")


async def download_response(site: Site, dataset: Dataset, request: Request, fmt: str) -> Response:
    site.require("download", "dataset", dataset.id)  # type: ignore[attr-defined]
    query = item_query(dataset, request.query_params, MAX_DOWNLOAD, no_limit=True,
                       limits=FilterLimits.of(site.settings))
    media, extension, driver = FORMATS[fmt]
    filename = f"{dataset.id}.{extension}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if driver is None:
        chunks = features.download_chunks(site, dataset, query, fmt)
        return StreamingResponse(iterate_in_threadpool(chunks), media_type=media, headers=headers)
    if query.crs is None:
        query.crs = CRS.from_user_input(dataset.crs)
        query.xy = True
    scratch = site.settings.data_dir / "tmp"  # beside the data: /tmp may be small
    scratch.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="download-", dir=scratch))
    try:
        path = await run_in_threadpool(features.download_file, site, dataset, query, fmt, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(path, media_type=media, filename=filename,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
