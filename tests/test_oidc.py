"""Bearer access tokens from a real OpenID provider (panva's oidc-provider on Node), Keycloak-shaped:
groups give organisations and roles, a realm role gives admin; tampered, expired, wrong-audience and
``alg: none`` tokens are refused. Both stores."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from conftest import LiveServer, shared, wait_job
from kartenn.domain.security import Sharing
from kartenn.services.identity import hash_password
from kartenn.services.publish import publish_file
from kartenn.testing.postgres import free_port

pytestmark = pytest.mark.live  # its clients open their own connections

HERE = Path(__file__).parent / "oidc"


@contextmanager
def run_provider(*args: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(["node", str(HERE / "provider.mjs"), str(port), "urn:kartenn", *args], cwd=HERE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(proc.stdout.read() if proc.stdout else "provider did not start")
    try:
        yield issuer
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def provider():
    with run_provider() as issuer:
        yield issuer


def token(issuer: str, client: str, resource: str = "urn:kartenn") -> str:
    r = httpx.post(f"{issuer}/token", timeout=60, data={"grant_type": "client_credentials", "client_id": client,
                                                        "client_secret": "secret", "scope": "api",
                                                        "resource": resource})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_provider_tokens(site, settings, provider):
    site.accounts.add_organisation("iuem")
    assert not publish_file(site, shared("nyc-boroughs/nybb_16a.zip"), sharing=Sharing(org="iuem", public=False)
                            )[0].error
    config = settings.data_dir / "kartenn.toml"
    config.write_text(config.read_text() + f'oidc_issuer = "{provider}"\noidc_audience = "urn:kartenn"\n')
    server = LiveServer(settings).start()
    try:
        anne, olga, root = (token(provider, c) for c in ("anne-scripts", "olga-scripts", "root-scripts"))
        with server.client(anne) as http:
            assert http.get("/ogc/collections/nybb").status_code == 200  # an editor of IUEM, by her group
            with open(shared("natural-earth/ne_110m_lakes.geojson"), "rb") as f:
                r = http.post("/api/v1/uploads", files={"file": ("lakes.geojson", f)})
            assert r.status_code == 202, r.text
            assert wait_job(http, r.headers["Location"])["state"] == "succeeded"
        with server.client(olga) as http:
            assert http.get("/ogc/collections/nybb").status_code == 404  # another organisation
        with server.client(root) as http:
            assert http.get("/ogc/collections/nybb").status_code == 200  # realm role kartenn-admin
        header, payload, signature = anne.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        forged = b64({**claims, "groups": ["/lille/admin"]})
        late = token(provider, "late-scripts")
        other = token(provider, "anne-scripts", resource="urn:other")
        time.sleep(12)  # past the late token's expiry and the 10 s leeway
        bad = {  # each refused for its own reason
            f"{header}.{forged}.{signature}": "bad_signature",
            f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.": "unsupported_algorithm",
            other: "invalid_claim",
            late: "expired_token",
            "not.a.jwt": "malformed",
        }
        with server.client() as http:
            for value, name in bad.items():
                r = http.get("/ogc/collections", headers={"Authorization": f"Bearer {value}"})
                assert r.status_code == 401 and name in r.json()["detail"], (name, r.text)
                assert "WWW-Authenticate" in r.headers, name
    finally:
        server.stop()


def follow(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow redirects across the provider and Kartenn, as a browser does."""
    for _ in range(10):
        if response.status_code not in (302, 303) or "location" not in response.headers:
            return response
        response = browser.get(urljoin(str(response.url), response.headers["location"]))
    raise AssertionError("too many redirects")


def provider_login(browser: httpx.Client, start: httpx.Response, user: str) -> httpx.Response:
    """Log in at the provider's form (reached from ``start``) and come back to Kartenn."""
    form = follow(browser, start)
    assert form.status_code == 200 and 'name="login"' in form.text, form.text
    action = urljoin(str(form.url), re.search(r'action="([^"]+)"', form.text).group(1))
    return follow(browser, browser.post(action, data={"login": user}))


def test_browser_login_with_the_provider(site, settings):
    """Authorization code with PKCE, state and nonce; the user created at first login with the provider's
    groups as roles; CSRF still applies; RP-initiated logout at the provider."""
    site.accounts.add_organisation("iuem")
    assert not publish_file(site, shared("nyc-boroughs/nybb_16a.zip"), sharing=Sharing(org="iuem", public=False)
                            )[0].error
    server = LiveServer(settings)  # its address is known before it starts: the provider needs it
    with run_provider(f"{server.url}/auth/callback", f"{server.url}/") as issuer:
        config = settings.data_dir / "kartenn.toml"
        config.write_text(config.read_text() + f'oidc_issuer = "{issuer}"\noidc_audience = "urn:kartenn"\n'
                          'oidc_client_id = "kartenn-web"\noidc_client_secret = "secret"\n')
        server.start()
        try:
            with httpx.Client(base_url=server.url, timeout=30) as browser:
                page = browser.get("/auth/login", params={"next": "/ogc/collections/nybb"})
                assert 'href="/auth/oidc?next=/ogc/collections/nybb"' in unescape(page.text)
                start = browser.get("/auth/oidc", params={"next": "/ogc/collections/nybb"})
                assert start.status_code == 303
                asked = parse_qs(urlsplit(start.headers["location"]).query)
                assert start.headers["location"].startswith(f"{issuer}/")
                assert asked["response_type"] == ["code"] and asked["client_id"] == ["kartenn-web"]
                assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) >= 43
                assert asked["state"][0] and asked["nonce"][0] and "openid" in asked["scope"][0]
                callback_url = None

                def keep(response: httpx.Response) -> None:
                    nonlocal callback_url
                    if "/auth/callback" in str(response.url):
                        callback_url = str(response.url)

                browser.event_hooks["response"] = [keep]
                done = provider_login(browser, start, "anne")
                browser.event_hooks["response"] = []
                assert done.status_code == 200 and str(done.url) == f"{server.url}/ogc/collections/nybb", done.text
                me = browser.get("/auth/me").json()
                assert me["user"] == "anne" and me["roles"] == {"iuem": "editor"} and not me["admin"]
                user = site.accounts.get_user("anne")
                assert user["email"] == "anne@iuem.example" and user["password"] is None  # created at first login
                with open(shared("natural-earth/ne_110m_lakes.geojson"), "rb") as f:
                    upload = {"file": ("lakes.geojson", f.read())}
                assert browser.post("/api/v1/uploads", files=upload).status_code == 403  # no CSRF token
                r = browser.post("/api/v1/uploads", files=upload, headers={"X-CSRF-Token": me["csrf"]})
                assert r.status_code == 202, r.text
                assert wait_job(browser, r.headers["Location"])["state"] == "succeeded"

                # The same code and state again: refused (one use), nothing changes.
                assert callback_url and browser.get(callback_url).status_code == 400

                # Logging out here logs out at the provider too (RP-initiated logout).
                r = browser.post("/auth/logout", data={}, headers={"X-CSRF-Token": me["csrf"]})
                assert r.status_code == 303
                end = r.headers["location"]
                hint = parse_qs(urlsplit(end).query)
                assert end.startswith(f"{issuer}/session/end")
                assert hint["post_logout_redirect_uri"] == [f"{server.url}/"] and hint["id_token_hint"][0]
                assert browser.get("/auth/me").json()["user"] is None
                confirm = follow(browser, browser.get(end))
                assert confirm.status_code == 200 and "form" in confirm.text
                action = urljoin(str(confirm.url), re.search(r'action="([^"]+)"', confirm.text).group(1))
                inputs = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm.text))
                back = follow(browser, browser.post(action, data={**inputs, "logout": "yes"}))
                assert str(back.url) == f"{server.url}/" and back.status_code == 200

            with httpx.Client(base_url=server.url, timeout=30) as browser:
                done = provider_login(browser, browser.get("/auth/oidc", params={"next": "/ogc/collections/nybb"}),
                                      "olga")
                assert done.status_code == 404  # another organisation's member does not see it
                assert browser.get("/auth/me").json()["roles"] == {"lille": "member"}
            with httpx.Client(base_url=server.url, timeout=30) as browser:
                done = provider_login(browser, browser.get("/auth/oidc", params={"next": "/ogc/collections/nybb"}),
                                      "root")
                assert done.status_code == 200 and browser.get("/auth/me").json()["admin"]  # realm role

            # A local account (with its own password) is never taken over by a provider login of the same name.
            site.accounts.add_user("marie", password_hash=hash_password("marie's own password"))
            with httpx.Client(base_url=server.url, timeout=30) as browser:
                assert provider_login(browser, browser.get("/auth/oidc"), "marie").status_code == 403
                assert browser.get("/auth/me").json()["user"] is None
            with httpx.Client(base_url=server.url, timeout=30) as browser:
                # A callback this browser did not start (login CSRF) is refused, and so is a made-up state.
                start = browser.get("/auth/oidc")
                state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
                with server.client() as other:
                    assert other.get("/auth/callback", params={"code": "x", "state": state}).status_code == 400
                assert browser.get("/auth/callback", params={"code": "x", "state": "made-up"}).status_code == 400
                assert browser.get("/auth/callback", params={"error": "access_denied"}).status_code == 400
                assert browser.get("/auth/me").json()["user"] is None
        finally:
            server.stop()
    events = [(e["event"], e["detail"].get("method") or e["detail"].get("source")) for e in
              site.accounts.audit_log(limit=200)]
    assert ("login", "oidc") in events and ("user.create", "oidc") in events and ("logout", None) in events


def test_id_token_checks():
    """The ID token's own checks, with a key of our own standing for the provider's."""
    from joserfc import jwt
    from joserfc.jwk import KeySet, RSAKey

    from kartenn.errors import Unauthorized
    from kartenn.services.oidc import check_id_token

    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    keys = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    now = int(time.time())
    good = {"iss": "https://sso.example", "sub": "anne", "aud": "kartenn-web", "exp": now + 300, "iat": now,
            "nonce": "n1"}

    def sign(claims: dict, alg: str = "RS256") -> str:
        return jwt.encode({"alg": alg, "kid": "k1"}, claims, key)

    assert check_id_token(sign(good), "https://sso.example", "kartenn-web", "n1", keys=keys)["sub"] == "anne"
    header, payload, _ = sign(good).split(".")
    bad = {
        "nonce": sign({**good, "nonce": "n2"}),
        "aud": sign({**good, "aud": "another-client"}),
        "iss": sign({**good, "iss": "https://evil.example"}),
        "expired": sign({**good, "exp": now - 60, "iat": now - 400}),
        "none": f"{b64({'alg': 'none', 'kid': 'k1'})}.{payload}.",
        "tampered": f"{header}.{b64({**good, 'sub': 'root'})}.{sign(good).split('.')[2]}",
        "other key": jwt.encode({"alg": "RS256", "kid": "k1"}, good, RSAKey.generate_key(2048)),
        "azp": sign({**good, "aud": ["kartenn-web", "other"], "azp": "other"}),
    }
    for name, token in bad.items():
        with pytest.raises(Unauthorized):
            check_id_token(token, "https://sso.example", "kartenn-web", "n1", keys=keys)
            pytest.fail(name)


def test_claim_mapping_is_configurable(settings):
    """Groups under a prefix, realm roles and client roles (Keycloak's resource_access) map to organisations,
    roles and administrators as configured."""
    from kartenn.services.oidc import identity_from_claims

    settings.oidc_group_prefix = "/sdi"
    settings.oidc_client_id = "kartenn-web"
    settings.oidc_role_map = {"cartographe": "iuem/editor", "lecteur-lille": "lille", "chef": "admin"}
    claims = {"preferred_username": "anne", "groups": ["/sdi/brest/reviewer", "/other/ignored", "/sdi"],
              "realm_access": {"roles": ["offline_access", "lecteur-lille"]},
              "resource_access": {"kartenn-web": {"roles": ["cartographe"]}, "account": {"roles": ["chef"]}}}
    identity = identity_from_claims(claims, settings)
    assert identity.roles == {"brest": "reviewer", "iuem": "editor", "lille": "member"}
    assert not identity.admin  # "chef" is a role of another client
    claims["resource_access"]["kartenn-web"]["roles"].append("chef")
    assert identity_from_claims(claims, settings).admin
    assert identity_from_claims({"sub": "x", "realm_access": {"roles": ["kartenn-admin"]}}, settings).admin
