"""OpenID Connect: bearer access tokens from the provider (Keycloak, or any that signs JWTs) and the browser
login (authorization code with PKCE, state and nonce; the ID token checked against the provider's JWKS).

Tokens: the signature is checked against the JWKS found through discovery, then iss, aud and exp;
``alg: none`` and HMAC algorithms are refused. Keycloak-shaped claims become an identity (configurable):

- ``preferred_username`` (else ``sub``) is the user;
- each group ``/ORG`` (under ``oidc_group_prefix``) makes the user a member of ORG, ``/ORG/ROLE`` gives ROLE;
- the realm or client role ``oidc_admin_role`` makes a platform admin; ``oidc_role_map`` maps other realm or
  client roles to ``admin``, ``ORG`` or ``ORG/ROLE``.

>>> identity_from_claims({"preferred_username": "anne", "groups": ["/iuem/editor"]}).roles
{'iuem': 'editor'}
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from kartenn.domain.security import ROLES, Identity
from kartenn.errors import InvalidInput, Unauthorized

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import OAuth2Client

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
ADMIN_ROLE = "kartenn-admin"
KEYS_SECONDS = 300
LEEWAY = 10  # seconds of clock difference tolerated on exp
_keys: dict[str, tuple[float, Any]] = {}
_discovery: dict[str, tuple[float, dict[str, Any]]] = {}


def _fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (the configured issuer's URL)
        return json.loads(response.read())  # type: ignore[no-any-return]


def discovery(issuer: str) -> dict[str, Any]:
    """The provider's metadata (endpoints, JWKS address), kept five minutes."""
    cached = _discovery.get(issuer)
    if cached and time.monotonic() - cached[0] < KEYS_SECONDS:
        return cached[1]
    data = _fetch(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
    if data.get("issuer") != issuer:
        raise ValueError("the provider's metadata names another issuer")
    _discovery[issuer] = (time.monotonic(), data)
    return data


def _key_set(issuer: str, refresh: bool = False) -> Any:
    cached = _keys.get(issuer)
    if cached and not refresh and time.monotonic() - cached[0] < KEYS_SECONDS:
        return cached[1]
    keys = KeySet.import_key_set(_fetch(discovery(issuer)["jwks_uri"]))
    _keys[issuer] = (time.monotonic(), keys)
    return keys


def authenticate_jwt(token: str, settings: Any) -> Identity:
    """The identity an access token from the configured provider stands for, or Unauthorized."""
    issuer = settings.oidc_issuer
    rules = {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": settings.oidc_audience},
             "exp": {"essential": True}}
    claims = _verified(token, issuer, rules, "access token")
    return identity_from_claims(claims, settings)


def _verified(token: str, issuer: str, rules: dict[str, Any], what: str, keys: KeySet | None = None) -> dict[str, Any]:
    """The claims of a JWT signed by one of the provider's keys (asymmetric algorithms only) that meet ``rules``."""
    for refresh in (False, True) if keys is None else (False,):
        try:
            decoded = jwt.decode(token, keys if keys is not None else _key_set(issuer, refresh), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(leeway=LEEWAY, **rules).validate(decoded.claims)
            return dict(decoded.claims)
        except InvalidKeyIdError:
            if keys is not None or refresh:  # a key the cache does not know yet: the JWKS is fetched once more
                raise Unauthorized(f"{what} refused: unknown signing key") from None
        except JoseError as exc:
            reason = "malformed token" if not exc.error or exc.error == "decode_error" else exc.error
            raise Unauthorized(f"{what} refused: {reason}") from None
        except (OSError, KeyError):
            raise Unauthorized("the OpenID provider cannot be reached to check this token") from None
        except ValueError:
            raise Unauthorized(f"{what} refused: malformed token") from None
    raise Unauthorized(f"{what} refused")


def identity_from_claims(claims: dict[str, Any], settings: Any = None) -> Identity:
    user = claims.get("preferred_username") or claims.get("sub")
    if not user:
        raise Unauthorized("the token names no user")
    groups_claim = getattr(settings, "oidc_groups_claim", "groups")
    prefix = [p for p in getattr(settings, "oidc_group_prefix", "").split("/") if p]
    admin_role = getattr(settings, "oidc_admin_role", ADMIN_ROLE)
    role_map: dict[str, str] = getattr(settings, "oidc_role_map", {}) or {}
    roles: dict[str, str] = {}
    admin = False

    def grant(path: str) -> None:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return
        role = parts[1] if len(parts) > 1 and parts[1] in ROLES else "member"
        if ROLES.index(role) >= ROLES.index(roles.get(parts[0], "member")):
            roles[parts[0]] = role

    for group in claims.get(groups_claim) or []:
        parts = [p for p in str(group).split("/") if p]
        if parts[:len(prefix)] == prefix and len(parts) > len(prefix):
            grant("/".join(parts[len(prefix):]))
    client = getattr(settings, "oidc_client_id", None) or getattr(settings, "oidc_audience", None)
    named = list((claims.get("realm_access") or {}).get("roles") or [])
    named += ((claims.get("resource_access") or {}).get(client) or {}).get("roles") or [] if client else []
    for role in named:
        target = "admin" if role == admin_role else role_map.get(role)
        if target == "admin":
            admin = True
        elif target:
            grant(target)
    return Identity(user=str(user), admin=admin, roles=roles)


# Browser login: authorization code with PKCE ------------------------------------------------------------------

def _client(settings: Any, redirect_uri: str) -> OAuth2Client:
    from authlib.integrations.httpx_client import OAuth2Client

    return OAuth2Client(settings.oidc_client_id, settings.oidc_client_secret, scope=settings.oidc_scopes,
                        redirect_uri=redirect_uri, code_challenge_method="S256", timeout=10)


def authorization_url(settings: Any, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
    """Where to send the browser: the provider's login, asking for a code bound to ``verifier`` (S256)."""
    endpoint = discovery(settings.oidc_issuer)["authorization_endpoint"]
    with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(endpoint, state=state, nonce=nonce, code_verifier=verifier)
    return str(url)


def finish_login(settings: Any, redirect_uri: str, code: str, verifier: str,
                 nonce: str) -> tuple[Identity, dict[str, Any], str]:
    """Trade the code for tokens and check the ID token: the identity, its claims and the ID token (for
    logout)."""
    issuer = settings.oidc_issuer
    meta = discovery(issuer)
    try:
        with _client(settings, redirect_uri) as client:
            tokens = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                        code_verifier=verifier)
    except Exception as exc:  # authlib raises OAuthError, httpx its own: the provider refused or is away
        raise Unauthorized(f"the OpenID provider refused the login: {getattr(exc, 'error', None) or 'error'}") \
            from None
    id_token = tokens.get("id_token")
    if not id_token:
        raise Unauthorized("the OpenID provider sent no ID token")
    claims = check_id_token(id_token, issuer, settings.oidc_client_id, nonce, tokens.get("access_token"))
    # Keycloak may put groups and roles in the access token only: take them from it when it is a JWT we trust.
    if tokens.get("access_token") and groups_missing(claims, settings):
        claims.update(_access_claims(tokens["access_token"], issuer))
    return identity_from_claims(claims, settings), claims, id_token


def groups_missing(claims: dict[str, Any], settings: Any) -> bool:
    return settings.oidc_groups_claim not in claims and "realm_access" not in claims


def check_id_token(id_token: str, issuer: str, client_id: str, nonce: str, access_token: str | None = None,
                   keys: KeySet | None = None) -> dict[str, Any]:
    """The ID token's claims once its signature, iss, aud, exp, iat, sub and nonce hold (and azp, at_hash when
    present: OpenID Connect Core 3.1.3.7)."""
    rules = {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": client_id},
             "exp": {"essential": True}, "iat": {"essential": True}, "sub": {"essential": True},
             "nonce": {"essential": True, "value": nonce}}
    claims = _verified(id_token, issuer, rules, "ID token", keys)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise Unauthorized("ID token refused: issued to another client (azp)")
    if access_token and "at_hash" in claims and claims["at_hash"] != _half_hash(access_token, id_token):
        raise Unauthorized("ID token refused: at_hash does not match the access token")
    return claims


def _half_hash(value: str, id_token: str) -> str:
    alg = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "==")).get("alg", "RS256")
    digest = {"384": hashlib.sha384, "512": hashlib.sha512}.get(alg[-3:], hashlib.sha256)(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def _access_claims(access_token: str, issuer: str) -> dict[str, Any]:
    try:
        claims = _verified(access_token, issuer, {"iss": {"essential": True, "value": issuer},
                                                  "exp": {"essential": True}}, "access token")
    except Unauthorized:
        return {}  # an opaque or foreign access token: the ID token's claims are all there is
    return {k: claims[k] for k in ("groups", "realm_access", "resource_access") if k in claims}


def logout_url(settings: Any, id_token: str | None, after: str) -> str | None:
    """The provider's end-session address (RP-initiated logout), if it has one."""
    if not settings.oidc_issuer:
        return None
    try:
        endpoint = discovery(settings.oidc_issuer).get("end_session_endpoint")
    except (OSError, ValueError):
        return None
    if not endpoint:
        return None
    query = {"post_logout_redirect_uri": after, "client_id": settings.oidc_client_id or ""}
    if id_token:
        query["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


def browser_login(settings: Any) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def require_browser_login(settings: Any) -> None:
    if not browser_login(settings):
        raise InvalidInput("no OpenID provider is configured for logging in")
