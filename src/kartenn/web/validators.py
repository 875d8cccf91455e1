"""Validators of service documents: capabilities (WMS, WMTS, WFS, CSW) and OGC API documents carry an ``ETag``, a
hash of the body as the caller gets it, and answer ``304 Not Modified`` to an ``If-None-Match`` that names it.

The body is what the caller may see, so the tag changes whenever a dataset is published, changed or withdrawn, or
the caller's rights change. Unless the route chose otherwise, the answer may be kept but must be revalidated
(``no-cache``); caching.CachePolicy, outside this middleware, makes it private for callers with credentials.

>>> document("/ogc/collections/regions", "")
True
>>> document("/wms", "SERVICE=WMS&REQUEST=GetCapabilities")
True
>>> document("/ogc/collections/regions/items", "")
False
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl

OGC_DOCUMENT = re.compile(r"^/ogc(?:/conformance|/api|/tileMatrixSets(?:/[^/]+)?|/tiles(?:/[^/]+(?:/tilejson)?)?"
                          r"|/collections(?:/[^/]+(?:/queryables|/schema|/styles"
                          r"|/tiles(?:/[^/]+(?:/tilejson)?)?)?)?)?/?$")
OWS_PATHS = ("/wms", "/wfs", "/wmts", "/csw", "/ows")
WMTS_REST = "/wmts/1.0.0/WMTSCapabilities.xml"
MAX_BODY = 16 * 1024 * 1024  # larger documents pass without a tag, as they came


def document(path: str, query: str) -> bool:
    """Whether a GET of ``path`` with ``query`` asks for a document that carries a validator."""
    if OGC_DOCUMENT.match(path) or path == WMTS_REST:
        return True
    if path.rstrip("/") in OWS_PATHS:
        params = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
        return params.get("request", "").lower() == "getcapabilities"
    return False


def etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str, tag: str) -> bool:
    """RFC 9110 weak comparison of ``tag`` with an If-None-Match header."""
    if if_none_match.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/") == tag for t in if_none_match.split(","))


class Validators:
    """The ASGI middleware: buffers the documents above (small), tags them, answers 304 on a match."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (scope["type"] != "http" or scope.get("method") != "GET"
                or not document(scope.get("path", ""), scope.get("query_string", b"").decode("latin-1"))):
            await self.app(scope, receive, send)
            return
        wanted = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"if-none-match"), "")
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False

        async def tagged(message: dict[str, Any]) -> None:
            nonlocal start, size, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    passing = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            assert start is not None
            if size > MAX_BODY:
                passing = True
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks),
                            "more_body": message.get("more_body", False)})
                return
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            tag = etag(body)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"etag"]
            headers.append((b"etag", tag.encode()))
            if not any(k.lower() == b"cache-control" for k, _ in headers):
                headers.append((b"cache-control", b"public, no-cache"))
            if matches(wanted, tag):
                kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
                await send({"type": "http.response.start", "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b""})
                return
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, tagged)
