"""Who may keep an answer: one rule for Cache-Control and Vary.

Shared caches (proxies, CDNs) may keep an answer only when it is the same for everyone: the caller sent no
credentials, so it was given what anonymous callers may see. Any answer to a caller with credentials (an
``Authorization`` header or a session cookie) is ``private``. Every answer that could differ by caller carries
``Vary: Authorization, Cookie``, so that no cache hands one caller's answer to another. The few paths that answer
the same to everyone (static assets, tile matrix sets, conformance, schemas, the OpenAPI documents) keep their own
headers.

>>> cache_control(False, 300, stale=3600)
'public, max-age=300, stale-while-revalidate=3600'
>>> cache_control(True, 300, stale=3600)
'private, max-age=300'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import cookie_parser

from kartenn.services.sessions import COOKIE

VARY = "Authorization, Cookie"
SHARED_PATHS = ("/static/", "/ogc/tileMatrixSets", "/ogc/conformance", "/api/v1/styles/schema",
                "/api/v1/openapi.json", "/api/v1/docs", "/docs/oauth2-redirect", "/healthz")
PUBLIC = re.compile(rb"\bpublic\b")
TILE_MAX_AGE, TILE_STALE = 300, 3600  # seconds


def has_credentials(headers: Mapping[str, str]) -> bool:
    """Whether the request carries credentials: its answer may depend on who asks."""
    return "authorization" in headers or COOKIE in cookie_parser(headers.get("cookie", ""))


def cache_control(personal: bool, max_age: int, *, stale: int = 0) -> str:
    if personal:
        return f"private, max-age={max_age}"
    return f"public, max-age={max_age}" + (f", stale-while-revalidate={stale}" if stale else "")


def cache_headers(request_headers: Mapping[str, str], max_age: int, *, stale: int = 0) -> dict[str, str]:
    """Cache-Control and Vary of an answer that may be kept ``max_age`` seconds (tiles): public for anonymous
    callers, private for the others."""
    return {"Cache-Control": cache_control(has_credentials(request_headers), max_age, stale=stale), "Vary": VARY}


def tile_headers(request_headers: Mapping[str, str]) -> dict[str, str]:
    return cache_headers(request_headers, TILE_MAX_AGE, stale=TILE_STALE)


def shared_path(path: str) -> bool:
    return path.startswith(SHARED_PATHS)


def finish(headers: list[tuple[bytes, bytes]], personal: bool) -> list[tuple[bytes, bytes]]:
    """Response headers with ``Vary: Authorization, Cookie`` merged in and, for a caller with credentials,
    ``private`` (in place of ``public``, or alone when the answer said nothing)."""
    vary = [v.strip() for k, v in headers if k.lower() == b"vary" for v in v.split(b",") if v.strip()]
    known = {v.lower() for v in vary}
    vary += [v.encode() for v in VARY.split(", ") if v.lower().encode() not in known]
    out = [(k, v) for k, v in headers if k.lower() != b"vary"] + [(b"vary", b", ".join(vary))]
    if personal:
        control = [v for k, v in out if k.lower() == b"cache-control"]
        out = [(k, v) for k, v in out if k.lower() != b"cache-control"]
        out.append((b"cache-control", PUBLIC.sub(b"private", control[0]) if control else b"private"))
    return out


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    """The request's headers by lower-case name; several Cookie headers (HTTP/2) joined as one."""
    found: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        found[name] = f"{found[name]}; {text}" if name == "cookie" and name in found else text
    return found


class CachePolicy:
    """The rule above on every answer, whatever its route set: a plain ASGI middleware (streams stay streamed)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or shared_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        personal = has_credentials(_headers(scope))

        async def send_with_policy(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = finish(list(message.get("headers", [])), personal)
            await send(message)

        await self.app(scope, receive, send_with_policy)
