"""Security headers on every response, and CORS open for public reads of the OGC services only.

A plain ASGI middleware, so streamed responses (downloads, GetFeature) stay streamed.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
OPEN_PATHS = ("/ogc", "/wms", "/wfs", "/wmts", "/ows", "/csw")  # read by web maps and catalogues from anywhere
FRAMED = re.compile(r"/datasets/[^/]+/chart")  # the embeddable chart: any site may frame it
PREFLIGHT = [(b"access-control-allow-origin", b"*"), (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
             (b"access-control-allow-headers", b"Accept, Accept-Language, Content-Type, Authorization"),
             (b"access-control-max-age", b"86400")]


def page_csp(scope: dict[str, Any]) -> bytes:
    """The CSP of a page: images may also come from the configured basemap's tile server."""
    site = getattr(getattr(scope.get("app"), "state", None), "site", None)
    url = getattr(getattr(site, "settings", None), "basemap_url", None)
    if not url:
        return CSP.encode()
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{re.sub(r'[{][^}]*[}]', '*', parts.netloc)}"  # {a-c}.tile.… → *.tile.…
    return CSP.replace("img-src 'self'", f"img-src 'self' {origin}").encode()


class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        cors = path.startswith(OPEN_PATHS) and method in ("GET", "HEAD", "OPTIONS")
        headers_in = {k.lower(): v for k, v in scope.get("headers", [])}
        if cors and method == "OPTIONS" and b"access-control-request-method" in headers_in:
            await send({"type": "http.response.start", "status": 204, "headers": PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"strict-origin-when-cross-origin")]
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html") and FRAMED.fullmatch(path):
                    csp = page_csp(scope).replace(b"frame-ancestors 'self'", b"frame-ancestors *")
                    extra.append((b"content-security-policy", csp))
                elif content_type.startswith(b"text/html") and not path.startswith("/api/v1/docs"):
                    extra += [(b"content-security-policy", page_csp(scope)), (b"x-frame-options", b"SAMEORIGIN")]
                if cors:
                    extra.append((b"access-control-allow-origin", b"*"))
                    extra.append((b"access-control-expose-headers", b"Content-Crs, Location, Link"))
                message["headers"] = headers + [(k, v) for k, v in extra if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)
