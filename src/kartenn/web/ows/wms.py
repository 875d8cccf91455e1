"""WMS 1.3.0 and 1.1.1 (KVP) at /wms and /ows?service=WMS: capabilities, maps, feature info, legends. This module
hands each request to its operation (``wms_map``, ``wms_feature_info``, ``wms_styles``, ``wms_capabilities``);
``wms_errors`` writes the failures.

Rendering and store queries are CPU- and I/O-bound: each request runs in the thread pool.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kartenn.errors import KartennError, NotFound
from kartenn.services import render, stacks
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.errors import challenge
from kartenn.web.ows.common import OWSError, kvp
from kartenn.web.ows.registry import register
from kartenn.web.ows.wms_capabilities import capabilities
from kartenn.web.ows.wms_errors import error_response, exception_response
from kartenn.web.ows.wms_feature_info import get_feature_info
from kartenn.web.ows.wms_map import map_etag, map_request
from kartenn.web.ows.wms_styles import get_legend_graphic, get_styles

log = logging.getLogger("kartenn.wms")
router = APIRouter(tags=["ows"])


@router.get("/wms", include_in_schema=False)
async def wms_endpoint(request: Request) -> Response:
    return await handle(request)


async def handle(request: Request) -> Response:
    params = kvp(request.query_params.items())
    version = _version(params)
    online = f"{base_url(request)}{request.url.path}"
    try:
        site: Site = get_site(request)  # type: ignore[assignment]
    except KartennError as exc:
        return exception_response(OWSError(exc.code, exc.message, status=exc.status), version, challenge(exc))
    try:
        return await run_in_threadpool(dispatch, site, params, version, online,
                                       request.headers.get("if-none-match", ""))
    except OWSError as exc:
        return error_response(exc, params, version)
    except Exception:
        log.exception("WMS request failed: %s", params.get("request"))
        return exception_response(OWSError("NoApplicableCode", "internal error; the server log has the details",
                                           status=500), version)


register("WMS", handle)


def dispatch(site: Site, params: dict[str, str], version: str, online: str, if_none_match: str = "") -> Response:
    operation = params.get("request", "")
    try:
        if operation.lower() == "getcapabilities":
            return Response(capabilities(site, version, online), media_type=(
                "text/xml" if version == "1.3.0" else "application/vnd.ogc.wms_xml"))
        if operation.lower() in ("getmap", "map"):
            req = map_request(site, params, version)
            tag = map_etag(req, params)
            if tag in if_none_match:
                return Response(status_code=304, headers={"ETag": tag})
            image = render.render_map(site, req.layers, req.crs, req.bbox, req.width, req.height, req.fmt,
                                      transparent=req.transparent, bgcolor=req.bgcolor)
            headers = {"ETag": tag}
            if warning := stacks.warning(req.steps):
                headers["Warning"] = warning
            return Response(image, media_type=render.MEDIA_TYPES[req.fmt], headers=headers)
        if operation.lower() == "getfeatureinfo":
            return get_feature_info(site, params, version)
        if operation.lower() == "getlegendgraphic":
            return get_legend_graphic(site, params)
        if operation.lower() == "getstyles":
            return get_styles(site, params)
    except KartennError as exc:
        if exc.status >= 500:  # a map that took too long to draw
            raise OWSError(exc.code, exc.message, exc.locator, exc.status) from None
        code = "LayerNotDefined" if isinstance(exc, NotFound) else "InvalidParameterValue"
        raise OWSError(code, exc.message, exc.locator) from None
    if not operation:
        raise OWSError("MissingParameterValue", "the REQUEST parameter is missing", "request")
    raise OWSError("OperationNotSupported", f"unknown request {operation!r}", "request")


def _version(params: dict[str, str]) -> str:
    value = params.get("version") or params.get("wmtver") or "1.3.0"
    return "1.1.1" if value.startswith("1.1") else "1.3.0"
