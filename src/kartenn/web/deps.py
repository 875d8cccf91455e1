"""Shared request dependencies: the site as the caller sees it, the caller, the job runner.

Credentials: ``Authorization: Bearer kt_…`` (API token), or HTTP Basic with an API token or the local
password as the password (what QGIS and other OWS clients send). Wrong credentials are a 401, never a
silent fall back to anonymous.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from kartenn.domain.security import ANONYMOUS, Identity
from kartenn.errors import Unauthorized
from kartenn.services.access import SiteView
from kartenn.services.identity import PREFIX, authenticate_password, authenticate_token
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


def _identity(request: Request) -> Identity:
    site: Site = request.app.state.site
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        return ANONYMOUS
    if scheme.lower() == "bearer" and value.strip().startswith(PREFIX):
        return authenticate_token(site, value.strip())
    if scheme.lower() == "bearer" and site.settings.oidc_issuer:
        return authenticate_jwt(value.strip(), site.settings.oidc_issuer, site.settings.oidc_audience)
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
        return authenticate_password(site, user, password)
    raise Unauthorized(f"unsupported authorization scheme {scheme!r}; use Bearer or Basic")


def get_site(request: Request) -> SiteView:
    site: Site = request.app.state.site
    return site.seen_by(get_identity(request))


def get_jobs(request: Request) -> JobRunner:
    return request.app.state.jobs  # type: ignore[no-any-return]


def base_url(request: Request) -> str:
    configured = request.app.state.site.settings.base_url
    return (configured or str(request.base_url)).rstrip("/")
