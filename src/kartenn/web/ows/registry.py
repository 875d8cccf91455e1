"""Which handler answers each OWS ``service=`` at /ows. Each service module registers itself on import.

>>> register("WMS", handle_wms)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from kartenn.web.ows.common import OWS, OWSError, report_response

Handler = Callable[[Request], Awaitable[Response]]
HANDLERS: dict[str, Handler] = {}


def register(service: str, handler: Handler) -> None:
    HANDLERS[service.upper()] = handler


def exception_report(code: str, message: str, locator: str | None = None, status: int = 400) -> Response:
    """An OWS 1.1 ExceptionReport, for requests no service could take."""
    return report_response(OWSError(code, message, locator, status), OWS)
