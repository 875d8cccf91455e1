"""What operators read: ``/readyz`` (the store answers), ``/metrics`` (Prometheus) and, per request, the metrics
and the access log, kept by a plain ASGI middleware (streamed responses stay streamed; it holds no lock).

/metrics answers callers from the networks of ``metrics_allow`` (loopback only by default) and administrators.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from kartenn import metrics
from kartenn.errors import Forbidden
from kartenn.logs import ACCESS
from kartenn.site import Site
from kartenn.web.deps import client_ip, get_identity
from kartenn.web.responses import JSONResponse

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: started, and the catalogue answers (a 503 takes the process out of a load balancer)."""
    if not request.app.state.ready:
        return JSONResponse({"status": "starting"}, status_code=503, headers=NO_STORE)
    site: Site = request.app.state.site
    if not site.catalog.answers():
        return JSONResponse({"status": "the store does not answer"}, status_code=503, headers=NO_STORE)
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@lru_cache(maxsize=8)
def networks(allow: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in allow.split(",") if part.strip())


def from_allowed_network(address: str, allow: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks(allow))


@router.get("/metrics")
def prometheus(request: Request) -> Response:
    site: Site = request.app.state.site
    if not from_allowed_network(client_ip(request), site.settings.metrics_allow) and not get_identity(request).admin:
        raise Forbidden("the metrics are for administrators and the monitoring network (metrics_allow)")
    return Response(metrics.exposition(site.catalog.count_jobs), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


class RequestMetrics:
    """Counts every answered request by service family and status class, with its duration to the last byte;
    writes one kartenn.access record per request when that logger is on (``log_format = "json"``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            seconds = time.perf_counter() - start
            metrics.observe(scope["path"], scope.get("query_string", b""), status, seconds)
            if ACCESS.isEnabledFor(logging.INFO):
                client = scope.get("client")
                ACCESS.info("%s %s %d", scope["method"], scope["path"], status,
                            extra={"method": scope["method"], "path": scope["path"], "status": status,
                                   "duration": round(seconds, 6), "client": client[0] if client else None})
