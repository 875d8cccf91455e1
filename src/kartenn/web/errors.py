"""Errors as RFC 9457 problem documents (JSON API and OGC API); never a stack trace to the client."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from kartenn.errors import KartennError

log = logging.getLogger("kartenn.web")


def challenge(exc: KartennError) -> dict[str, str] | None:
    """A 401 says how to authenticate: QGIS and browsers then ask for credentials. A 429 says when to retry."""
    if exc.status == 429:
        return {"Retry-After": str(getattr(exc, "retry_after", 60))}
    return {"WWW-Authenticate": 'Basic realm="Kartenn", Bearer'} if exc.status == 401 else None


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json",
                    headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(KartennError)
    async def domain_error(_: Request, exc: KartennError) -> Response:
        return problem(exc.status, exc.code, exc.message, headers=challenge(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return problem(400, "InvalidParameterValue", "; ".join(parts) or "invalid request")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        return problem(exc.status_code, "HTTPError", str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "InternalError", "internal error; the server log has the details")
