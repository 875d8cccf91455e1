"""Logging in and out, requests for an account, and refused session writes: each checked here and written to
the audit log here (the routers only read the form and answer).

>>> password_login(site, "anne", "correct horse battery", "192.0.2.1").user   # doctest: +SKIP
'anne'
"""

from __future__ import annotations

from typing import Any

from kartenn.domain.security import Identity
from kartenn.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from kartenn.services import sessions
from kartenn.services.identity import authenticate_password, hash_password


def check_password(site: Any, user_id: str, password: str, ip: str) -> Identity:
    """The identity of a right password; else Unauthorized, and the failure counts against ``ip`` (an address
    that failed too often is refused first, TooManyRequests)."""
    sessions.check_rate(site, ip, user_id)
    try:
        return authenticate_password(site, user_id, password)
    except Unauthorized:
        sessions.note_failure(site, ip, user_id)
        raise


def password_login(site: Any, user_id: str, password: str, ip: str) -> Identity:
    """A login with a password (``check_password``), audited."""
    identity = check_password(site, user_id, password, ip)
    site.accounts.log(identity.name, "login", f"user:{identity.user}", method="password", ip=ip)
    return identity


def refuse_login(site: Any, reason: str, ip: str, user_id: str | None = None) -> None:
    """Note a refused OpenID Connect login (a wrong state, an error from the provider, a bad token)."""
    site.accounts.log(user_id or "anonymous", "login.failed", f"user:{user_id}" if user_id else "oidc",
                      reason=reason[:100], ip=ip)


def oidc_login(site: Any, identity: Identity, claims: dict[str, Any], ip: str) -> str:
    """The local account of a checked OpenID Connect identity, created at its first login. Forbidden for the name
    of a local account (never taken over from outside) and for a disabled account."""
    user_id = str(identity.user)
    try:
        user = site.accounts.get_user(user_id)
    except NotFound:  # first login: the account is created from the ID token
        site.accounts.add_user(user_id, name=str(claims.get("name") or user_id), email=str(claims.get("email") or ""))
        site.accounts.log(user_id, "user.create", f"user:{user_id}", source="oidc")
        user = site.accounts.get_user(user_id)
    if user["password"] is not None:
        refuse_login(site, "name of a local account", ip, user_id)
        raise Forbidden("a local account has this name")
    if not user["active"]:
        refuse_login(site, "disabled", ip, user_id)
        raise Forbidden("this account is disabled")
    site.accounts.log(user_id, "login", f"user:{user_id}", method="oidc", ip=ip)
    return user_id


def logout(site: Any, identity: Identity, cookie: str | None) -> None:
    sessions.close_session(site, cookie)
    site.accounts.log(identity.name, "logout", f"user:{identity.user}")


def request_account(site: Any, username: str, *, name: str, email: str, password: str, org: str | None,
                    message: str, ip: str) -> None:
    """Keep a request for an account, for an administrator to approve (see identity.approve_signup)."""
    if org and not site.accounts.has_organisation(org):
        raise InvalidInput(f"no organisation {org!r}", locator="org")
    site.accounts.add_signup({"id": username, "name": name or username, "email": email,
                              "password": hash_password(password), "org": org or None, "message": message})
    site.accounts.log(username, "signup.request", f"user:{username}", org=org or None, ip=ip)


def check_session_write(site: Any, identity: Identity, row: dict[str, Any], path: str, *, foreign: bool,
                        csrf: str | None) -> None:
    """A change made on the strength of a session cookie must come from this site with the session's CSRF token;
    Forbidden (and an audit line) if not."""
    if foreign:
        site.accounts.log(identity.name, "access.denied", path, reason="foreign origin")
        raise Forbidden("this request comes from another site")
    if not sessions.csrf_ok(row, csrf):
        site.accounts.log(identity.name, "access.denied", path, reason="csrf")
        raise Forbidden("missing or wrong X-CSRF-Token header (see /auth/me)")
