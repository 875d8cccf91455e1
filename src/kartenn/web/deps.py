"""Shared request dependencies: the site as the caller sees it, the caller, the job runner.

Credentials: ``Authorization: Bearer kt_…`` (API token) or a JWT from the OpenID provider, HTTP Basic with an
API token or the local password as the password (what QGIS and other OWS clients send), or the browser's
session cookie. Wrong credentials are a 401, never a silent fall back to anonymous. A request that changes
something on the strength of the session cookie must carry the session's CSRF token (``X-CSRF-Token``) and,
when the browser sends one, an Origin of this site.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from kartenn.domain.security import ANONYMOUS, Identity
from kartenn.errors import Unauthorized
from kartenn.services import logins, sessions
from kartenn.services.access import SiteView
from kartenn.services.identity import PREFIX, authenticate_token
from kartenn.services.jobs import JobRunner
from kartenn.services.oidc import authenticate_jwt
from kartenn.site import Site


def get_identity(request: Request) -> Identity:
    cached = getattr(request.state, "identity", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    identity = _identity(request)
    request.state.identity = identity
    return identity


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _identity(request: Request) -> Identity:
    site: Site = request.app.state.site
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        return _session_identity(request, site)
    if scheme.lower() == "bearer" and value.strip().startswith(PREFIX):
        return authenticate_token(site, value.strip())
    if scheme.lower() == "bearer" and site.settings.oidc_issuer:
        return authenticate_jwt(value.strip(), site.settings)
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials") from None
        if password.startswith(PREFIX):
            identity = authenticate_token(site, password)
            if user and user != identity.user:
                raise Unauthorized("this token belongs to another user")
            return identity
        return logins.check_password(site, user, password, client_ip(request))
    raise Unauthorized(f"unsupported authorization scheme {scheme!r}; use Bearer or Basic")


def _session_identity(request: Request, site: Site) -> Identity:
    row = sessions.session_of(site, request.cookies.get(sessions.COOKIE))
    identity = sessions.session_identity(site, row) if row else None
    if row is None or identity is None:
        return ANONYMOUS
    request.state.session = row
    if request.method not in SAFE_METHODS and not request.url.path.startswith("/auth/"):
        origin = request.headers.get("origin")
        logins.check_session_write(site, identity, row, request.url.path,
                                   foreign=bool(origin) and origin.rstrip("/") != _origin(request),
                                   csrf=request.headers.get("x-csrf-token"))
    return identity


def _origin(request: Request) -> str:
    parts = base_url(request).split("/")
    return "/".join(parts[:3])


def client_ip(request: Request) -> str:
    """The caller's address: the connection's, or what a proxy of ``forwarded_allow_ips`` forwarded (the server
    resolves X-Forwarded-For from those proxies only, see serving.uvicorn_options)."""
    return request.client.host if request.client else "unknown"


def get_site(request: Request) -> SiteView:
    site: Site = request.app.state.site
    return site.seen_by(get_identity(request))


async def site_for(request: Request) -> SiteView:
    """``get_site`` as an async dependency for hot read paths (tiles, maps): a caller with no credentials and no
    session cookie is anonymous without any I/O, so it is answered here rather than through a worker thread."""
    if "authorization" not in request.headers and sessions.COOKIE not in request.cookies:
        return get_site(request)
    return await run_in_threadpool(get_site, request)


def get_jobs(request: Request) -> JobRunner:
    return request.app.state.jobs  # type: ignore[no-any-return]


def base_url(request: Request) -> str:
    configured = request.app.state.site.settings.base_url
    return (configured or str(request.base_url)).rstrip("/")
