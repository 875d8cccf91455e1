"""Which handler answers each OWS ``service=`` at /ows. Each service module registers itself on import.

>>> register("WMS", handle_wms)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]
HANDLERS: dict[str, Handler] = {}


def register(service: str, handler: Handler) -> None:
    HANDLERS[service.upper()] = handler


def exception_report(code: str, message: str, locator: str | None = None, status: int = 400) -> Response:
    """An OWS 1.1 ExceptionReport, for requests no service could take."""
    from lxml import etree

    ns = "http://www.opengis.net/ows/1.1"
    root = etree.Element(f"{{{ns}}}ExceptionReport", nsmap={"ows": ns}, version="2.0.0")
    exc = etree.SubElement(root, f"{{{ns}}}Exception", exceptionCode=code)
    if locator:
        exc.set("locator", locator)
    etree.SubElement(exc, f"{{{ns}}}ExceptionText").text = message
    return Response(etree.tostring(root, xml_declaration=True, encoding="utf-8"), status_code=status,
                    media_type="application/xml")
