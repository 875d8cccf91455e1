"""Credentials → identity: local passwords (argon2id; no lockout, services.sessions slows the addresses that fail),
personal API tokens (stored hashed, scoped, expiring). OpenID Connect tokens are checked in services.oidc.
Accounts migrated from GeoServer keep their ``digest1:`` hash until their first login, which replaces it with
an argon2id hash of the same password.

Token format: ``kt_<id>_<secret>``; the id finds the row, the SHA-256 of the secret is compared in
constant time.

>>> token = create_token(site, "anne", name="qgis", scope="read", days=90)   # doctest: +SKIP
>>> authenticate_token(site, token).user                                   # doctest: +SKIP
'anne'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kartenn.domain.security import Identity
from kartenn.errors import Conflict, InvalidInput, NotFound, Unauthorized

HASHER = PasswordHasher()  # argon2id with the library's current parameters
PREFIX = "kt_"


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise InvalidInput("a password needs at least 10 characters", locator="password")
    return HASHER.hash(password)


GEOSERVER_DIGEST = "digest1:"  # GeoServer's digest password encoder (Jasypt), kept by `kartenn migrate geoserver`
DIGEST_SALT, DIGEST_ROUNDS = 16, 100_000


def geoserver_digest_matches(stored: str, password: str) -> bool:
    """Whether ``password`` is the one of a GeoServer ``digest1:`` hash: base64 of a 16-byte salt and
    SHA-256(salt + password) hashed again until 100,000 rounds (Jasypt's StandardStringDigester).

    >>> geoserver_digest_matches("digest1:D9miJH/hVgfxZJscMafEtbtliG0ROxhLfsznyWfG38X2pda2JOSV4POi55PQI4tw",
    ...                          "geoserver")
    True
    """
    try:
        raw = base64.b64decode(stored.removeprefix(GEOSERVER_DIGEST), validate=True)
    except (binascii.Error, ValueError):
        return False
    salt, expected = raw[:DIGEST_SALT], raw[DIGEST_SALT:]
    if len(expected) != hashlib.sha256().digest_size:
        return False
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    for _ in range(DIGEST_ROUNDS - 1):
        digest = hashlib.sha256(digest).digest()
    return hmac.compare_digest(digest, expected)


def create_token(site: Any, user_id: str, *, name: str = "", scope: str = "write", days: int | None = 365) -> str:
    """A new API token for ``user_id``; the only time it is shown in clear."""
    if scope not in ("read", "write"):
        raise InvalidInput("scope must be read or write", locator="scope")
    site.accounts.get_user(user_id)
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    site.accounts.add_token(token_id, user_id, _digest(secret), name or "token", scope, expires)
    caller = getattr(site, "identity", None)  # the CLI's operator makes tokens for others
    site.accounts.log(caller.name if caller else user_id, "token.create", f"token:{token_id}", user=user_id,
                      scope=scope)
    return f"{PREFIX}{token_id}_{secret}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate_token(site: Any, token: str) -> Identity:
    body = token.removeprefix(PREFIX)
    token_id, _, secret = body.partition("_")
    row = site.accounts.get_token(token_id) if token.startswith(PREFIX) and secret else None
    if row is None or not hmac.compare_digest(row["digest"], _digest(secret)):
        raise Unauthorized("unknown or revoked token")
    if row["expires"] is not None and row["expires"] < datetime.now(UTC):
        raise Unauthorized("this token has expired")
    identity = _active(site, row["user_id"], row["scope"])
    return identity


def authenticate_password(site: Any, user_id: str, password: str) -> Identity:
    """Check a local password. No lockout: anyone could lock anyone out; callers rate limit the address."""
    try:
        user = site.accounts.get_user(user_id)
    except NotFound:
        HASHER.hash(password)  # same work as a real check: no user enumeration by timing
        site.accounts.log(user_id, "login.failed", f"user:{user_id}", reason="unknown user")
        raise Unauthorized("wrong user name or password") from None
    stored = user["password"] or ""
    if stored.startswith(GEOSERVER_DIGEST):
        ok = geoserver_digest_matches(stored, password)
        if ok:  # a password kept from a migration: hashed as Kartenn hashes its own from now on
            site.accounts.set_password(user_id, HASHER.hash(password))
    else:
        try:
            ok = bool(stored) and HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
    if not ok:
        site.accounts.log(user_id, "login.failed", f"user:{user_id}", reason="wrong password")
        raise Unauthorized("wrong user name or password")
    return _active(site, user_id, "write")


def _active(site: Any, user_id: str, scope: str) -> Identity:
    user = site.accounts.get_user(user_id)
    if not user["active"]:
        raise Unauthorized("this account is disabled")
    return site.accounts.identity(user_id, scope)


def approve_signup(site: Any, signup_id: str, actor: str, *, org: str | None = None, role: str = "member") -> dict:
    """Turn a sign-up request into an account, a member (or ``role``) of ``org`` or of the organisation asked."""
    if not site.accounts.has_signup(signup_id):
        raise NotFound(f"no sign-up request {signup_id!r}")
    if org and not site.accounts.has_organisation(org):
        raise InvalidInput(f"no organisation {org!r}", locator="org")
    try:
        site.accounts.get_user(signup_id)
        raise Conflict(f"a user {signup_id!r} exists already; reject the request")
    except NotFound:
        pass
    request = site.accounts.take_signup(signup_id)
    org = org or request["org"]
    if org and not site.accounts.has_organisation(org):
        org = None  # the organisation asked for has gone since: the account starts without one
    site.accounts.add_user(signup_id, name=request["name"], email=request["email"], password_hash=request["password"])
    if org:
        site.accounts.set_membership(signup_id, org, role)
    site.accounts.log(actor, "signup.approve", f"user:{signup_id}", org=org, role=role if org else None)
    return {"id": signup_id, "org": org, "role": role if org else None}


def reject_signup(site: Any, signup_id: str, actor: str) -> None:
    site.accounts.take_signup(signup_id)
    site.accounts.log(actor, "signup.reject", f"user:{signup_id}")
