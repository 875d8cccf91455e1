"""Browser sessions: a random cookie whose SHA-256 finds a row (so a stolen database holds no live cookie),
an absolute and an idle lifetime, a CSRF token per session; and the login rate limits per client address and per
account and client address.

>>> cookie = open_session(site, "anne")                    # doctest: +SKIP
>>> session_identity(site, cookie)[0].user                 # doctest: +SKIP
'anne'
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from kartenn.domain.security import ROLES, Identity
from kartenn.errors import NotFound, TooManyRequests

COOKIE = "kartenn_session"
FLOW_COOKIE = "kartenn_login"  # binds an OpenID Connect login under way to the browser that started it
RATE_WINDOW = timedelta(minutes=15)
TOUCH_EVERY = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(site: Any, user_id: str, *, identity: Identity | None = None, id_token: str | None = None) -> str:
    """A new session for ``user_id``; returns the cookie value. ``identity`` carries what the OpenID provider
    granted at login (organisations, roles, admin), on top of the local memberships."""
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    claims = {"roles": identity.roles, "admin": identity.admin} if identity else {}
    site.accounts.add_session({
        "id": _digest(secret), "user_id": user_id, "csrf": secrets.token_urlsafe(32), "claims": claims,
        "id_token": id_token, "created": now, "seen": now,
        "expires": now + timedelta(hours=site.settings.session_hours)})
    return secret


def session_of(site: Any, cookie: str | None) -> dict[str, Any] | None:
    """The live session a cookie stands for, or None (unknown, expired, idle too long, account disabled)."""
    if not cookie or len(cookie) > 100:
        return None
    row = site.accounts.get_session(_digest(cookie))
    now = datetime.now(UTC)
    if row is None:
        return None
    idle = timedelta(minutes=site.settings.session_idle_minutes)
    if row["expires"] < now or row["seen"] + idle < now:
        site.accounts.end_session(row["id"])
        return None
    if now - row["seen"] > TOUCH_EVERY:
        site.accounts.touch_session(row["id"], now)
    return row


def session_identity(site: Any, row: dict[str, Any]) -> Identity | None:
    try:
        user = site.accounts.get_user(row["user_id"])
    except NotFound:
        return None
    if not user["active"]:
        return None
    local = site.accounts.identity(row["user_id"])
    roles = dict(local.roles)
    for org, role in (row["claims"].get("roles") or {}).items():
        if role in ROLES and ROLES.index(role) >= ROLES.index(roles.get(org, "member")):
            roles[org] = role
    return Identity(user=local.user, admin=local.admin or bool(row["claims"].get("admin")), roles=roles)


def csrf_ok(row: dict[str, Any], sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(row["csrf"], sent or "")


def close_session(site: Any, cookie: str | None) -> dict[str, Any] | None:
    row = site.accounts.get_session(_digest(cookie)) if cookie and len(cookie) <= 100 else None
    if row is not None:
        site.accounts.end_session(row["id"])
    return row


# Rate limit ------------------------------------------------------------------------------------------------

def check_rate(site: Any, ip: str, account: str | None = None) -> None:
    """TooManyRequests once ``login_rate_limit`` logins from ``ip`` failed in the last fifteen minutes, or
    ``login_account_limit`` of them for ``account``: the address that fails is slowed, never the account, whose
    owner still logs in from elsewhere."""
    now, ip = datetime.now(UTC), throttled_address(ip)
    count, oldest = site.accounts.login_failures_since(ip, now - RATE_WINDOW)
    if count >= site.settings.login_rate_limit:
        raise TooManyRequests("too many failed logins from your address; try again later",
                              retry_after=_wait(oldest, now))
    if account:
        count, oldest = site.accounts.login_failures_since(ip, now - RATE_WINDOW, account)
        if count >= site.settings.login_account_limit:
            raise TooManyRequests("too many failed logins for this account from your address; try again later",
                                  retry_after=_wait(oldest, now))


def _wait(oldest: datetime | None, now: datetime) -> int:
    return max(int(((oldest or now) + RATE_WINDOW - now).total_seconds()) + 1, 1)


def note_failure(site: Any, ip: str, account: str | None = None) -> None:
    site.accounts.add_login_failure(throttled_address(ip), account)


def throttled_address(ip: str) -> str:
    """The address the limits count: an IPv6 caller's /64 (one subscriber's network holds 2^64 addresses).

    >>> throttled_address("2001:db8:1:2:aaaa::1"), throttled_address("203.0.113.5")
    ('2001:db8:1:2::/64', '203.0.113.5')
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
