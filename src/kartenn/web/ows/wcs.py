"""WCS 2.0.1 at /wcs and /ows?service=WCS, in KVP and in XML by POST: GetCapabilities, DescribeCoverage and
GetCoverage of rasters.

GetCoverage takes ``subset=`` trims and slices on the CRS axes (``Lat``/``Long``, ``E``/``N``, or ``x``/``y``) and
on ``time`` for raster time stacks, ``subsettingCrs``/``outputCrs`` (CRS extension), ``scaleSize``/``scaleFactor``
(scaling extension), and answers GeoTIFF or NetCDF. A coverage the caller may not see does not exist for it;
one it may not download is refused.

>>> parse_subset('Lat(40,50)'), parse_subset('time("2000-01-16T06:00:00Z")')
(('Lat', ('40', '50')), ('time', ('2000-01-16T06:00:00Z',)))
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Request
from lxml import etree
from pyproj import CRS
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.crs import to_crs
from kartenn.domain import Dataset
from kartenn.errors import Forbidden, InvalidInput, KartennError, NotFound, TooLarge
from kartenn.services import coverages, datasets
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.errors import challenge
from kartenn.web.ows.common import WCS_20, OWSError, kvp, negotiate, report_response, required, version_failed
from kartenn.web.ows.registry import register
from kartenn.web.ows.wcs_capabilities import OWS as OWS_NS
from kartenn.web.ows.wcs_capabilities import WCS as WCS_NS
from kartenn.web.ows.wcs_capabilities import capabilities, describe, served
from kartenn.xml import parse_xml

log = logging.getLogger("kartenn.wcs")
router = APIRouter(tags=["ows"])
SERVED = [("2.0", "2.0.1")]
MEDIA = {"image/tiff": coverages.GEOTIFF, "image/geotiff": coverages.GEOTIFF, "geotiff": coverages.GEOTIFF,
         "application/netcdf": coverages.NETCDF, "application/x-netcdf": coverages.NETCDF,
         "netcdf": coverages.NETCDF}
SUBSET = re.compile(r"^\s*([A-Za-z_][\w.:-]*)\s*(?:,\s*([^()]+?)\s*)?\(\s*(.*?)\s*\)\s*$")


@router.api_route("/wcs", methods=["GET", "POST"], include_in_schema=False)
async def wcs_endpoint(request: Request) -> Response:
    return await handle(request)


async def handle(request: Request) -> Response:
    params = kvp(request.query_params.items())
    # subset= repeats (one per axis); GDAL numbers them (subset0=…): every one is kept, in order.
    subsets = [v for k, v in request.query_params.multi_items() if re.fullmatch(r"subset\d*", k.lower())]
    online = f"{base_url(request)}{request.url.path}"
    if request.method == "POST":
        try:
            params, subsets = xml_request(await request.body())
        except OWSError as exc:
            return report_response(exc, WCS_20)
    try:
        site: Site = get_site(request)  # type: ignore[assignment]
    except KartennError as exc:
        return report_response(OWSError(exc.code, exc.message, status=exc.status), WCS_20, challenge(exc))
    try:
        return await run_in_threadpool(dispatch, site, params, subsets, online)
    except OWSError as exc:
        return report_response(exc, WCS_20)
    except Exception:
        log.exception("WCS request failed: %s", params.get("request"))
        return report_response(OWSError("NoApplicableCode", "internal error; the server log has the details",
                                        status=500), WCS_20)


register("WCS", handle)


def dispatch(site: Site, params: dict[str, str], subsets: list[str], online: str) -> Response:
    operation = params.get("request", "")
    if not operation:
        raise OWSError("MissingParameterValue", "the REQUEST parameter is missing", "request")
    try:
        if operation.lower() == "getcapabilities":
            accept = params.get("acceptversions")
            if accept and negotiate(accept, SERVED) is None:
                raise version_failed(accept, ["2.0.1"])
            return Response(capabilities(site, online), media_type="application/xml")
        version = required(params, "version")
        if negotiate(version, SERVED) is None:
            raise OWSError("InvalidParameterValue", f"this server speaks WCS 2.0.1, not {version}", "version")
        if operation.lower() == "describecoverage":
            ids = [i.strip() for i in required(params, "coverageid").split(",") if i.strip()]
            return Response(describe([_coverage(site, i) for i in ids]), media_type="application/xml")
        if operation.lower() == "getcoverage":
            return get_coverage(site, params, subsets)
    except OWSError:
        raise
    except (coverages.InvalidSubsetting, coverages.InvalidAxisLabel) as exc:
        raise OWSError(exc.code, exc.message, exc.locator, 404) from None
    except Forbidden as exc:
        raise OWSError("NoApplicableCode", exc.message, "coverageId", 403) from None
    except TooLarge as exc:
        raise OWSError("InvalidParameterValue", exc.message, "subset", 413) from None
    except KartennError as exc:
        if exc.status >= 500:
            raise OWSError(exc.code, exc.message, exc.locator, exc.status) from None
        raise OWSError("InvalidParameterValue", exc.message, exc.locator) from None
    raise OWSError("OperationNotSupported", f"unknown request {operation!r}", "request", 501)


def _coverage(site: Site, name: str) -> Dataset:
    try:
        dataset = datasets.named(site, name)
    except NotFound:
        dataset = None
    if dataset is None or not served([dataset]):
        raise OWSError("NoSuchCoverage", f"no coverage {name!r}", "coverageId", 404)
    return dataset


def get_coverage(site: Site, params: dict[str, str], subsets: list[str]) -> Response:
    dataset = _coverage(site, required(params, "coverageid"))
    site.require("download", "dataset", dataset.id)  # type: ignore[attr-defined]
    raw = params.get("format", coverages.GEOTIFF)
    media = MEDIA.get(raw.strip().lower())
    if media is None:
        raise OWSError("InvalidParameterValue", f"unsupported format {raw!r}; use {' or '.join(coverages.FORMATS)}",
                       "format")
    if params.get("rangesubset"):
        raise OWSError("InvalidParameterValue", "range subsetting is not offered: every band is returned",
                       "rangeSubset")
    cut = coverages.Cut(crs=_crs(params, "subsettingcrs", "SubsettingCrs-NotSupported"),
                        output_crs=_crs(params, "outputcrs", "OutputCrs-NotSupported"))
    given: dict[str, tuple[str, ...]] = {}
    for text in subsets:
        label, values = parse_subset(text)
        role = coverages.axis_role(dataset, label)
        if role in given:
            if given[role] == values:  # GDAL repeats the subsets of its connection string
                continue
            raise coverages.InvalidSubsetting(f"axis {label!r} is subset twice", locator=label)
        given[role] = values
        if role == "time":
            cut.time = tuple(None if v == "*" else v for v in values)
            continue
        try:
            numbers = tuple(None if v == "*" else float(v) for v in values)
        except ValueError:
            raise coverages.InvalidSubsetting(f"subset {text!r}: {label} takes numbers", locator=label) from None
        setattr(cut, role, numbers)
    _scaling(params, cut)
    body, name = coverages.get_coverage(site, dataset, cut, media)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def xml_request(body: bytes) -> tuple[dict[str, str], list[str]]:
    """A POSTed WCS 2.0.1 request (GetCapabilities, DescribeCoverage, GetCoverage) as its KVP parameters and
    subsets, through the safe parser."""
    try:
        root = parse_xml(body)
    except InvalidInput as exc:
        raise OWSError("InvalidParameterValue", exc.message, "request body") from None
    if etree.QName(root).namespace != WCS_NS:
        raise OWSError("InvalidParameterValue", "not a WCS 2.0 request (namespace http://www.opengis.net/wcs/2.0)",
                       "request body")
    operation = etree.QName(root).localname
    params = {"service": "WCS", "request": operation, "version": root.get("version", "")}
    if operation == "GetCapabilities":
        versions = root.findall(f"{{{OWS_NS}}}AcceptVersions/{{{OWS_NS}}}Version")
        if versions:
            params["acceptversions"] = ",".join(v.text or "" for v in versions)
    ids = [el.text.strip() for el in root.iter(f"{{{WCS_NS}}}CoverageId") if el.text]
    if ids:
        params["coverageid"] = ",".join(ids)
    for name in ("format", "mediaType"):
        value = root.findtext(f"{{{WCS_NS}}}{name}")
        if value:
            params[name.lower()] = value.strip()
    subsets = []
    for trim in root.iter(f"{{{WCS_NS}}}DimensionTrim"):
        low = trim.findtext(f"{{{WCS_NS}}}TrimLow") or "*"
        high = trim.findtext(f"{{{WCS_NS}}}TrimHigh") or "*"
        subsets.append(f"{trim.findtext(f'{{{WCS_NS}}}Dimension') or ''}({low.strip()},{high.strip()})")
    for cut in root.iter(f"{{{WCS_NS}}}DimensionSlice"):
        subsets.append(f"{cut.findtext(f'{{{WCS_NS}}}Dimension') or ''}"
                       f"({(cut.findtext(f'{{{WCS_NS}}}SlicePoint') or '').strip()})")
    return params, subsets


def parse_subset(text: str) -> tuple[str, tuple[str, ...]]:
    """(axis label, (low, high) or (point,)) of a ``subset`` value; quotes removed, ``*`` kept for an open end."""
    found = SUBSET.match(text)
    values = [v.strip().strip('"').strip("'").strip() for v in found.group(3).split(",")] if found else []
    if not found or len(values) not in (1, 2) or any(v == "" for v in values):
        raise coverages.InvalidSubsetting(f"subset {text!r} is not axis(low,high) or axis(point)", locator="subset")
    if len(values) == 1 and values[0] == "*":
        raise coverages.InvalidSubsetting(f"subset {text!r}: a slice needs a value", locator="subset")
    return found.group(1), tuple(values)


def _crs(params: dict[str, str], name: str, code: str) -> CRS | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return to_crs(value)
    except InvalidInput:
        raise OWSError(code, f"unknown or unsupported CRS {value!r}", name) from None


def _scaling(params: dict[str, str], cut: coverages.Cut) -> None:
    """scaleFactor=f, or scaleSize=i(w),j(h) (grid axes i/j, or the CRS axes' labels)."""
    if params.get("scalefactor"):
        try:
            cut.scale = float(params["scalefactor"])
        except ValueError:
            cut.scale = 0
        if not cut.scale or cut.scale <= 0:
            raise OWSError("InvalidScaleFactor", f"scaleFactor must be a positive number, not "
                           f"{params['scalefactor']!r}", "scaleFactor")
    if params.get("scalesize"):
        width = height = None
        for part in re.findall(r"([\w.:-]+)\s*\(\s*([^)]*)\)", params["scalesize"]):
            label, value = part[0].lower(), part[1]
            if not value.isdigit() or not 0 < int(value) <= 100_000:
                raise OWSError("InvalidExtent", f"scaleSize {part[0]}({value}) must be a positive size",
                               "scaleSize")
            role = "x" if label in ("i", "x", "long", "lon", "e") else "y" if label in ("j", "y", "lat", "n") else None
            if role is None:
                raise OWSError("ScaleAxisUndefined", f"no axis {part[0]!r} to scale", "scaleSize")
            width, height = (int(value), height) if role == "x" else (width, int(value))
        if width is None and height is None:
            raise OWSError("InvalidParameterValue", "scaleSize is axis(size),axis(size)", "scaleSize")
        cut.size = (width, height)
