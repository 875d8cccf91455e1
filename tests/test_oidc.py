"""Bearer access tokens from a real OpenID provider (panva's oidc-provider on Node), Keycloak-shaped:
groups give organisations and roles, a realm role gives admin; tampered, expired, wrong-audience and
``alg: none`` tokens are refused. Both stores."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, shared
from kartenn.domain.security import Sharing
from kartenn.services.publish import publish_file
from kartenn.testing.postgres import free_port

HERE = Path(__file__).parent / "oidc"


@pytest.fixture
def provider():
    port = free_port()
    proc = subprocess.Popen(["node", str(HERE / "provider.mjs"), str(port), "urn:kartenn"], cwd=HERE,
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
    yield issuer
    proc.terminate()
    proc.wait(timeout=10)


def token(issuer: str, client: str, resource: str = "urn:kartenn") -> str:
    r = httpx.post(f"{issuer}/token", data={"grant_type": "client_credentials", "client_id": client,
                                            "client_secret": "secret", "scope": "api", "resource": resource})
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
