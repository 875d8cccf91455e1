"""OGC web services: /ows dispatches by ``service=`` to WMS, WFS, CSW…; each also has its own path (/wms …).

A service module defines a ``router`` (its own path) and calls ``registry.register(name, handler)``;
adding one is a line in SERVICES below.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from lxml import etree
from starlette.responses import Response

from kartenn.errors import KartennError
from kartenn.web.ows import csw, registry, wcs, wfs, wms, wmts
from kartenn.web.ows.common import kvp
from kartenn.xml import parse_xml

SERVICES = [wms, wfs, csw, wmts, wcs]

router = APIRouter(tags=["ows"])
for _module in SERVICES:
    router.include_router(_module.router)

@router.api_route("/ows", methods=["GET", "POST"], include_in_schema=False)
async def ows(request: Request) -> Response:
    params = kvp(request.query_params.items())
    service = params.get("service", "")
    if not service and request.method == "POST":
        # An XML request names its service on the root element.
        try:
            service = parse_xml(await request.body()).get("service", "")
        except (etree.XMLSyntaxError, KartennError):
            service = ""
    if not service and "request" in params:
        service = "WMS"  # WMS 1.1.1 clients may leave SERVICE out of GetMap
    handler = registry.HANDLERS.get(service.upper())
    if handler is None:
        known = ", ".join(sorted(registry.HANDLERS))
        return registry.exception_report(
            "InvalidParameterValue", f"unknown or missing service {service!r}; this server offers {known}", "service")
    return await handler(request)
