"""WFS 2.0.0 and 1.1.0 (KVP and XML POST) at /wfs and /ows?service=WFS, over every vector dataset: reads a
request (``wfs_request``), hands it to its operation and writes failures as exception reports.

Queries go through the same store layer as OGC API Features (``stores.items``): FES filters become the
same AST as CQL2. Axis order (``kartenn.crs``): a CRS written as a URN or an http URI
(urn:ogc:def:crs:EPSG::4326) follows the EPSG axis order (latitude first for 4326); the short form
EPSG:4326 is longitude first, as GeoServer and most clients read it; GeoJSON is always longitude first.
GetFeature streams its members (``wfs_features``).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.errors import KartennError
from kartenn.site import Site
from kartenn.web.caching import has_credentials
from kartenn.web.deps import base_url, get_site
from kartenn.web.errors import challenge
from kartenn.web.ows.common import WFS_11, WFS_20, OWSError, kvp, report_response
from kartenn.web.ows.registry import register
from kartenn.web.ows.wfs_capabilities import (
    OPERATIONS,
    capabilities,
    describe_feature_type,
    describe_stored_queries,
    list_stored_queries,
)
from kartenn.web.ows.wfs_features import get_feature, get_property_value
from kartenn.web.ows.wfs_request import WFSRequest, read_kvp, read_xml, request_version
from kartenn.web.ows.wfs_transaction import transaction, transaction_version
from kartenn.web.ows.wfs_types import dataset_named
from kartenn.xml import parse_xml

log = logging.getLogger("kartenn.wfs")
router = APIRouter(tags=["ows"])


@router.api_route("/wfs", methods=["GET", "POST"], include_in_schema=False)
async def wfs_endpoint(request: Request) -> Response:
    return await handle(request)


async def handle(request: Request) -> Response:
    version = "2.0.0"
    try:
        if request.method == "POST":
            body = await request.body()
            try:
                root = parse_xml(body)
            except KartennError as exc:  # not XML, or XML refused: the request itself cannot be read
                raise OWSError("OperationParsingFailed", exc.message) from None
            version = request_version(root.get("version"))  # for the report, should reading fail below
            if etree.QName(root).localname == "Transaction":
                site_: Site = get_site(request)  # type: ignore[assignment]
                version = transaction_version(root)
                return await run_in_threadpool(transaction, site_, root, version, lambda n: dataset_named(site_, n))
            req = read_xml(root)
        else:
            params = kvp(request.query_params.items())
            version = request_version(params.get("version"), params.get("acceptversions"))
            req = read_kvp(params)
        version = req.version
        site: Site = get_site(request)  # type: ignore[assignment]
        online = f"{base_url(request)}{request.url.path}"
        response = await run_in_threadpool(dispatch, site, req, online)
        if req.operation.lower() == "getcapabilities":
            # What is offered (Transaction) depends on the caller: clients such as QGIS, which keep capabilities,
            # must ask again rather than reuse an anonymous caller's for an editor.
            response.headers["Cache-Control"] = "private, no-cache" if has_credentials(request.headers) else "no-cache"
        return response
    except OWSError as exc:
        return exception_report(exc, version)
    except KartennError as exc:
        code = exc.code if exc.status in (401, 403) else "InvalidParameterValue"
        status = exc.status if exc.status in (401, 403, 404) else 400
        return exception_report(OWSError(code, exc.message, exc.locator, status), version, challenge(exc))
    except Exception:
        log.exception("WFS request failed")
        return exception_report(OWSError("NoApplicableCode", "internal error; the server log has the details",
                                         status=500), version)


register("WFS", handle)


def exception_report(exc: OWSError, version: str, headers: dict[str, str] | None = None) -> Response:
    return report_response(exc, WFS_20 if version == "2.0.0" else WFS_11, headers)


def dispatch(site: Site, req: WFSRequest, online: str) -> Response:
    op = req.operation.lower()
    if op == "getcapabilities":
        return Response(capabilities(site, req.version, online), media_type="text/xml")
    if op not in {o.lower() for o in OPERATIONS["2.0.0"]}:
        raise OWSError("OperationNotSupported", f"unknown or unsupported request {req.operation!r}", "request")
    if op == "describefeaturetype":
        return describe_feature_type(site, req)
    if op == "liststoredqueries":
        return Response(list_stored_queries(site), media_type="text/xml")
    if op == "describestoredqueries":
        return Response(describe_stored_queries(), media_type="text/xml")
    if op == "getpropertyvalue":
        return get_property_value(site, req, online)
    return get_feature(site, req, online)
