"""OWS services: /csw, and /ows which routes by the ``service`` parameter."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.ows import csw

router = APIRouter()
router.include_router(csw.router)


@router.get("/ows", include_in_schema=False)
def ows_get(request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    params = dict(request.query_params)
    service = next((v for k, v in params.items() if k.lower() == "service"), "")
    if service.upper() == "CSW":
        return csw._respond(csw.handle_kvp(site, params, f"{base_url(request)}/csw"))
    return csw._respond((400, csw.exception_report("InvalidParameterValue", f"unknown service {service!r}",
                                                   "service")))


@router.post("/ows", include_in_schema=False)
async def ows_post(request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    return csw._respond(csw.handle_xml(site, await request.body(), f"{base_url(request)}/csw"))
