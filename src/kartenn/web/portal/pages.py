"""The portal's pages: home, search, datasets, organisations, the map viewer, upload and administration.

Every page gets its site through ``web.deps.get_site``: what the caller may not view is absent or a 404.
"""

from __future__ import annotations

import importlib
import logging
import math
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pygeofilter import ast

from kartenn.domain import Dataset
from kartenn.errors import KartennError, NotFound
from kartenn.formats.exportable import each_record, exportable
from kartenn.services import grids, harvest, portal
from kartenn.services.access import SiteView
from kartenn.services.exports import FORMATS
from kartenn.services.records import RecordQuery, search_records
from kartenn.web.deps import base_url, get_site
from kartenn.web.portal.context import page, templates

__all__ = ["router", "templates"]
log = logging.getLogger("kartenn")
router = APIRouter(include_in_schema=False)
Site = Annotated[SiteView, Depends(get_site)]
PAGE_SIZE = 10
FILTER_FACETS = ("organisation", "keyword", "type", "format")  # facets that can narrow a search
DOWNLOAD_LABELS = {"gpkg": "GeoPackage", "shp": "Shapefile (zip)", "fgb": "FlatGeobuf", "geojson": "GeoJSON",
                   "csv": "CSV"}
# ISO 19115 MD_TopicCategoryCode, and the languages the upload wizard offers for a dataset (ISO 639-2/B)
TOPICS = ("farming", "biota", "boundaries", "climatologyMeteorologyAtmosphere", "economy", "elevation",
          "environment", "geoscientificInformation", "health", "imageryBaseMapsEarthCover", "intelligenceMilitary",
          "inlandWaters", "location", "oceans", "planningCadastre", "society", "structure", "transportation",
          "utilitiesCommunication")
DATA_LANGUAGES = ("fre", "eng", "bre", "ger", "spa", "ita")


def thumbnail(dataset: Dataset | None, extent: Any = None, width: int = 240, height: int = 160) -> str | None:
    """A WMS GetMap URL of the dataset over its extent, padded to the image's shape (lon/lat, WMS 1.1.1)."""
    box = (dataset.extent_wgs84 if dataset else None) or extent
    if dataset is None or not box:
        return None
    w, s, e, n = box
    dx, dy = max(e - w, 1e-4), max(n - s, 1e-4)
    cx, cy = (w + e) / 2, (s + n) / 2
    # Degrees of longitude shrink with latitude: widen by 1/cos to keep shapes right near the poles.
    aspect = width / height / max(math.cos(math.radians(max(min(cy, 80), -80))), 0.2)
    if dx / dy < aspect:
        dx = dy * aspect
    else:
        dy = dx / aspect
    dx, dy = dx * 1.1, dy * 1.1
    bbox = ",".join(f"{v:.6f}" for v in (cx - dx / 2, cy - dy / 2, cx + dx / 2, cy + dy / 2))
    return "/wms?" + urlencode({"service": "WMS", "version": "1.1.1", "request": "GetMap", "layers": dataset.id,
                                "styles": "", "srs": "EPSG:4326", "bbox": bbox, "width": width, "height": height,
                                "format": "image/png", "transparent": "true"})


@router.get("/", response_class=HTMLResponse)
def home(request: Request, site: Site) -> HTMLResponse:
    recent = portal.recent_datasets(site, limit=9)
    return page(request, site, "home.html", datasets=recent, total=portal.count_datasets(site),
                organisations=[o for o in portal.organisations(site) if o["datasets"]],
                thumbnail=thumbnail)


def _filters(request: Request) -> dict[str, list[str]]:
    return {name: request.query_params.getlist(name) for name in FILTER_FACETS if request.query_params.getlist(name)}


def _where(filters: dict[str, list[str]]) -> Any:
    node = None
    for name, values in filters.items():
        if name == "type":
            continue
        for value in values:
            test = ast.Equal(ast.Attribute(name), value)
            node = test if node is None else ast.And(node, test)
    return node


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    try:
        values = [float(v) for v in (raw or "").split(",")]
    except ValueError:
        return None
    if len(values) != 4 or values[0] >= values[2] or values[1] >= values[3]:
        return None
    w, s, e, n = values
    return max(w, -180.0), max(s, -90.0), min(e, 180.0), min(n, 90.0)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, site: Site, q: str | None = None, bbox: str | None = None,
           page_number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> HTMLResponse:
    filters = _filters(request)
    box = _bbox(bbox)
    query = RecordQuery(q=q, bbox=box, types=filters.get("type", []), where=_where(filters), limit=PAGE_SIZE,
                        offset=(page_number - 1) * PAGE_SIZE, facets=True)
    result = search_records(site, query)
    result = replace(result, records=each_record(result.records, lambda r: exportable(r).record))
    data = portal.datasets_by_id(site, [r.dataset_id for r in result.records if r.dataset_id])
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "lang")]

    def href(add: tuple[str, str] | None = None, drop: tuple[str, str] | None = None, to_page: int = 1) -> str:
        kept = [p for p in params if p != drop and p != add] + ([add] if add else [])
        if to_page > 1:
            kept.append(("page", str(to_page)))
        return "/search?" + urlencode(kept) if kept else "/search"

    pages = max(1, math.ceil(result.matched / PAGE_SIZE))
    facets = {name: result.facets.get(name, []) for name in FILTER_FACETS}
    return page(request, site, "search.html", q=q or "", bbox=bbox if box else "",
                result=result, data=data, facets=facets, filters=filters, href=href, page_number=page_number,
                pages=pages, thumbnail=thumbnail)


def _services(dataset: Dataset, base: str) -> list[tuple[str, str]]:
    """The addresses a GIS client needs; OGC web services only when this server has them."""
    from kartenn.web.ows.registry import HANDLERS

    found = [("OGC API", f"{base}/ogc/collections/{dataset.id}")]
    if dataset.kind == "vector":
        found.append(("TileJSON", f"{base}/ogc/collections/{dataset.id}/tiles/WebMercatorQuad/tilejson"))
    for name in ("WMS", "WFS", "WMTS", "WCS"):
        if name in HANDLERS and (name != "WFS" or dataset.kind == "vector") and (
                name != "WCS" or (dataset.kind == "raster" and dataset.srid)):
            found.append((name, f"{base}/{name.lower()}?service={name}&request=GetCapabilities"))
    if "CSW" in HANDLERS and dataset.record_id:
        found.append(("CSW", f"{base}/csw?service=CSW&version=2.0.2&request=GetRecordById&elementSetName=full"
                             f"&outputSchema=http://www.isotc211.org/2005/gmd&id={dataset.record_id}"))
    return found


def _json_ld(record: Any, dataset: Dataset, base: str) -> Any:
    """schema.org Dataset description, when the formats module for it is installed."""
    try:
        module = importlib.import_module("kartenn.formats.schema_org")
    except ImportError:
        return None
    try:
        return module.schema_org(record, dataset, base)
    except Exception:  # a description that fails must not take the page down
        log.exception("schema.org description of %s failed", dataset.id)
        return None


def _raster_downloads(dataset: Dataset) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """A raster's downloads through WCS GetCoverage (the whole raster; every time of a time stack as NetCDF) and
    what the subset form offers."""
    query = {"service": "WCS", "version": "2.0.1", "request": "GetCoverage", "coverageId": dataset.id}
    url = f"/wcs?{urlencode(query)}"
    times = dataset.raster.get("times") or []
    downloads = [("GeoTIFF" + (f" ({times[-1]})" if times else ""), f"{url}&format=image/tiff"),
                 ("NetCDF" + (f" ({times[-1]})" if times else ""), f"{url}&format=application/netcdf")]
    if times:
        downloads.append((f"NetCDF ({times[0]} … {times[-1]})",
                          f"{url}&format=application/netcdf&subset={quote('time(*,*)')}"))
    return downloads, {"extent": dataset.extent_wgs84, "times": times}


@router.get("/datasets/{dataset_id}/subset", include_in_schema=False)
def raster_subset(dataset_id: str, site: Site, west: float, south: float, east: float, north: float,
                  time: str | None = None, format: str = "image/tiff") -> RedirectResponse:
    """The subset form of a raster's page: to the WCS GetCoverage of that box (in longitude/latitude) and time."""
    dataset = site.catalog.get_dataset(dataset_id)
    query = [("service", "WCS"), ("version", "2.0.1"), ("request", "GetCoverage"), ("coverageId", dataset.id),
             ("format", format), ("subsettingCrs", "http://www.opengis.net/def/crs/EPSG/0/4326"),
             ("subset", f"x({west!r},{east!r})"), ("subset", f"y({south!r},{north!r})")]
    if time:
        query.append(("subset", f'time("{time}")'))
    return RedirectResponse(f"/wcs?{urlencode(query)}", status_code=303)


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(dataset_id: str, request: Request, site: Site) -> HTMLResponse:
    try:
        dataset = site.catalog.get_dataset(dataset_id)
    except NotFound:
        return page(request, site, "not_found.html", status_code=404, what=dataset_id)
    try:
        record = site.catalog.get_record(dataset.record_id) if dataset.record_id else None
    except KartennError:
        record = None
    base = base_url(request)
    downloads, subset = [], None
    if dataset.kind == "vector" and site.may("download", "dataset", dataset.id):
        downloads = [(DOWNLOAD_LABELS.get(f, f), f"/ogc/collections/{dataset.id}/download?f={f}") for f in FORMATS]
    elif dataset.kind == "raster" and dataset.srid and site.may("download", "dataset", dataset.id):
        downloads, subset = _raster_downloads(dataset)
    return page(request, site, "dataset.html", dataset=dataset, record=record,
                chart=_has_chart(site, dataset),
                organisation=portal.owner_organisation(site, dataset.id), downloads=downloads, subset=subset,
                services=_services(dataset, base), json_ld=_json_ld(record, dataset, base),
                thumbnail=thumbnail, editing=_editing(site, dataset, record, base))


@router.get("/datasets/{dataset_id}/chart", response_class=HTMLResponse)
def chart(dataset_id: str, request: Request, site: Site) -> HTMLResponse:
    """The chart of a station dataset (or of a raster time stack's pixel) alone, to embed in other sites' pages
    (web/security.py lets them frame it); the state is in the query, as on the dataset's page. The dataset's rights
    are EDR's: hidden is not found."""
    try:
        dataset = site.catalog.get_dataset(dataset_id)
    except NotFound:
        return page(request, site, "not_found.html", status_code=404, what=dataset_id)
    if not _has_chart(site, dataset):
        return page(request, site, "not_found.html", status_code=404, what=dataset_id)
    return page(request, site, "chart.html", dataset=dataset)


def _has_chart(site: SiteView, dataset: Dataset) -> bool:
    """Whether ``dataset`` has series to chart: a station dataset's, or a raster time stack's pixels'."""
    return grids.is_grid(dataset) or site.catalog.series_of([dataset.id]).get(dataset.id) is not None


def _editing(site: Site, dataset: Any, record: Any, base: str) -> dict[str, Any] | None:
    """What the dataset's editors see: the record's validation report and state (of its working copy, if it has
    one: the change of the published record waiting for review), and the dataset's grants."""
    if site.identity.user is None or not site.may("edit", "dataset", dataset.id):
        return None
    from kartenn.services import policy, workflow, working_copies
    from kartenn.services.service_links import with_service_links
    from kartenn.services.validation import validate

    record = working_copies.current(site, record) if record is not None else None
    report = validate(with_service_links(site, record, base)) if record is not None else None
    return {"report": report, "state": record.state if record is not None else None,
            "record_id": record.id if record is not None else None, "record": record,
            "working_copy": record is not None and record.working_copy,
            "etag": workflow.etag(record) if record is not None else "",  # the version shown: changes send it back
            "may_review": policy.may_review(site.identity, "dataset", dataset.id, site.accounts),
            "may_publish": site.may("publish", "dataset", dataset.id),
            "grants": site.accounts.grants_of("dataset", dataset.id) if site.may("publish", "dataset", dataset.id)
            else []}


@router.get("/organisations", response_class=HTMLResponse)
def organisations(request: Request, site: Site) -> HTMLResponse:
    return page(request, site, "organisations.html", organisations=portal.organisations(site))


@router.get("/organisations/{org_id}", response_class=HTMLResponse)
def organisation(org_id: str, request: Request, site: Site,
                 page_number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> HTMLResponse:
    try:
        org = portal.organisation(site, org_id)
    except NotFound:
        return page(request, site, "not_found.html", status_code=404, what=org_id)
    total, found = portal.organisation_datasets(site, org_id, limit=PAGE_SIZE * 2,
                                                offset=(page_number - 1) * PAGE_SIZE * 2)
    return page(request, site, "organisation.html", org=org, total=total, datasets=found, page_number=page_number,
                pages=max(1, math.ceil(total / (PAGE_SIZE * 2))), thumbnail=thumbnail)


@router.get("/map", response_class=HTMLResponse)
def viewer(request: Request, site: Site) -> HTMLResponse:
    from kartenn.services import policy

    saved = site.maps.list(policy.permitted(site.identity, "view", "map", site.accounts), limit=50, offset=0)
    return page(request, site, "map.html", basemap_url=site.settings.basemap_url or "",
                basemap_attribution=site.settings.basemap_attribution, saved_maps=saved,
                organisations=sorted(site.identity.roles))


@router.get("/upload", response_class=HTMLResponse)
def upload(request: Request, site: Site) -> HTMLResponse:
    return page(request, site, "upload.html", topics=TOPICS, data_languages=DATA_LANGUAGES)


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, site: Site) -> HTMLResponse:
    sources = harvest.overview(site) if site.identity.admin else []
    return page(request, site, "admin.html", status_code=200 if site.identity.admin else 403, harvests=sources)
