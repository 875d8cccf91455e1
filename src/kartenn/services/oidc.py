"""Bearer access tokens from an OpenID Connect provider (Keycloak, or any that signs JWTs): the
signature is checked against the provider's JWKS (found through discovery), then iss, aud and exp;
``alg: none`` and HMAC algorithms are refused. Keycloak-shaped claims become an identity:

- ``preferred_username`` (else ``sub``) is the user;
- each group ``/ORG`` makes the user a member of ORG, ``/ORG/ROLE`` gives ROLE there;
- the realm role ``kartenn-admin`` (``realm_access.roles``) makes a platform admin.

>>> identity_from_claims({"preferred_username": "anne", "groups": ["/iuem/editor"]}).roles
{'iuem': 'editor'}
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import JoseError

from kartenn.domain.security import ROLES, Identity
from kartenn.errors import Unauthorized

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
ADMIN_ROLE = "kartenn-admin"
KEYS_SECONDS = 300
LEEWAY = 10  # seconds of clock difference tolerated on exp
_keys: dict[str, tuple[float, Any]] = {}


def _fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (the configured issuer's URL)
        return json.loads(response.read())  # type: ignore[no-any-return]


def _key_set(issuer: str, refresh: bool = False) -> Any:
    cached = _keys.get(issuer)
    if cached and not refresh and time.monotonic() - cached[0] < KEYS_SECONDS:
        return cached[1]
    discovery = _fetch(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
    keys = JsonWebKey.import_key_set(_fetch(discovery["jwks_uri"]))
    _keys[issuer] = (time.monotonic(), keys)
    return keys


def authenticate_jwt(token: str, issuer: str, audience: str) -> Identity:
    options = {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": audience},
               "exp": {"essential": True}}
    decoder = JsonWebToken(ALGORITHMS)
    for refresh in (False, True):  # a key the cache does not know yet: fetch the JWKS again, once
        try:
            claims = decoder.decode(token, _key_set(issuer, refresh), claims_options=options)
            claims.validate(leeway=LEEWAY)
            return identity_from_claims(dict(claims))
        except JoseError as exc:
            if refresh or "key" not in str(exc).lower():
                reason = exc.error if exc.error and " " not in exc.error else "malformed token"
                raise Unauthorized(f"access token refused: {reason}") from None
        except (OSError, ValueError, KeyError):
            raise Unauthorized("the OpenID provider cannot be reached to check this token") from None
    raise Unauthorized("access token refused")


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    user = claims.get("preferred_username") or claims.get("sub")
    if not user:
        raise Unauthorized("the access token names no user")
    roles: dict[str, str] = {}
    for group in claims.get("groups") or []:
        parts = [p for p in str(group).split("/") if p]
        if not parts:
            continue
        role = parts[1] if len(parts) > 1 and parts[1] in ROLES else "member"
        if ROLES.index(role) >= ROLES.index(roles.get(parts[0], "member")):
            roles[parts[0]] = role
    realm = (claims.get("realm_access") or {}).get("roles") or []
    return Identity(user=str(user), admin=ADMIN_ROLE in realm, roles=roles)
