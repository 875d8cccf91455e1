"""Browser sessions on a real server, both stores: the login form, session cookies, CSRF on every change made
with the cookie, no open redirect after login, the per-address login rate limit, sign-up requests approved by
an administrator, dataset deletion, and the audit events of each."""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import LiveServer, kartenn, shared, wait_job
from kartenn.domain.security import Sharing
from kartenn.services.identity import create_token, hash_password
from kartenn.services.publish import publish_file

PASSWORD = "correct horse battery"


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def login(browser: httpx.Client, user: str, password: str, next_url: str = "/") -> httpx.Response:
    token = form_token(browser.get("/auth/login", params={"next": next_url}))
    return browser.post("/auth/login", data={"username": user, "password": password, "csrf_token": token,
                                             "next": next_url})


def set_cookie(response: httpx.Response, name: str) -> str:
    headers = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{name}=")]
    assert headers, response.headers
    return headers[0]


@pytest.fixture
def people(site):
    site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_user("anne", password_hash=hash_password(PASSWORD))
    site.accounts.set_membership("anne", "iuem", "editor")
    site.accounts.add_user("root", password_hash=hash_password(PASSWORD), admin=True)
    dataset = publish_file(site, shared("nyc-boroughs/nybb_16a.zip"), sharing=Sharing(org="iuem", public=False))[0]
    assert not dataset.error
    return site


def test_login_session_and_csrf(people, server):
    with server.client() as browser:
        page = browser.get("/auth/login", params={"next": "/ogc/collections/nybb"})
        assert page.status_code == 200 and 'name="password"' in page.text
        form_cookie = set_cookie(page, "kartenn_form").lower()
        assert "httponly" in form_cookie and "samesite=strict" in form_cookie
        assert "frame-ancestors 'self'" in page.headers["content-security-policy"]

        r = login(browser, "anne", "wrong password!", "/ogc/collections/nybb")
        assert r.status_code == 200 and 'role="alert"' in r.text and "kartenn_session" not in r.headers.get(
            "set-cookie", "")
        assert 'name="next" value="/ogc/collections/nybb"' in r.text  # still going back there
        assert browser.get("/ogc/collections/nybb").status_code == 404  # still anonymous

        r = login(browser, "anne", PASSWORD, "/ogc/collections/nybb")
        assert r.status_code == 303 and r.headers["location"] == "/ogc/collections/nybb"
        cookie = set_cookie(r, "kartenn_session").lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # served over http here; see test_login_refusals for https
        assert browser.get("/ogc/collections/nybb").status_code == 200  # the session is anne's
        me = browser.get("/auth/me").json()
        assert me["user"] == "anne" and me["roles"] == {"iuem": "editor"} and me["csrf"]

        with open(shared("natural-earth/ne_110m_lakes.geojson"), "rb") as f:
            data = f.read()
        upload = {"file": ("lakes.geojson", data)}
        r = browser.post("/api/v1/uploads", files=upload)
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]  # the cookie alone changes nothing
        r = browser.post("/api/v1/uploads", files=upload, headers={"X-CSRF-Token": "forged"})
        assert r.status_code == 403
        r = browser.post("/api/v1/uploads", files=upload, headers={"X-CSRF-Token": me["csrf"],
                                                                   "Origin": "http://evil.example"})
        assert r.status_code == 403 and "another site" in r.json()["detail"]
        r = browser.post("/api/v1/uploads", files=upload, headers={"X-CSRF-Token": me["csrf"], "Origin": server.url})
        assert r.status_code == 202, r.text
        job = wait_job(browser, r.headers["Location"])  # the job logs "publish" when it ends
        assert job["state"] == "succeeded", job

        # Deleting needs the token too; then the dataset is gone for everyone.
        assert browser.delete("/api/v1/datasets/nybb").status_code == 403
        assert browser.delete("/api/v1/datasets/nybb", headers={"X-CSRF-Token": me["csrf"]}).status_code == 204
        assert browser.get("/ogc/collections/nybb").status_code == 404
        with pytest.raises(Exception, match="no dataset"):
            people.catalog.get_dataset("nybb")

        # Logging out needs the form's token; afterwards the cookie is worth nothing.
        old = browser.cookies.get("kartenn_session")
        assert browser.post("/auth/logout", data={"csrf_token": "nope"}).status_code == 403
        page = browser.get("/auth/logout")
        r = browser.post("/auth/logout", data={"csrf_token": form_token(page)})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert browser.get("/auth/me").json()["user"] is None
    with server.client() as replay:
        replay.cookies.set("kartenn_session", old)
        assert replay.get("/auth/me").json()["user"] is None

    events = [e["event"] for e in people.accounts.audit_log(limit=100)]
    for event in ("login", "login.failed", "logout", "delete", "publish", "access.denied"):
        assert event in events, event


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "/%0d%0aSet-Cookie:x=y"])
def test_no_open_redirect_after_login(people, server, target):
    with server.client() as browser:
        r = login(browser, "anne", PASSWORD, target)
        assert r.status_code == 303
        location = r.headers["location"]
        assert location.startswith("/") and not location.startswith("//") and "evil" not in location.split("?")[0]


def test_login_refusals(people, settings):
    config = settings.data_dir / "kartenn.toml"
    config.write_text(config.read_text() + "login_rate_limit = 3\ncookie_secure = true\n")
    server = LiveServer(settings).start()

    def secure_login(browser: httpx.Client, password: str) -> httpx.Response:
        # Secure cookies are not sent back over http: hand the form cookie back as a proxy in front would.
        token = form_token(browser.get("/auth/login"))
        return browser.post("/auth/login", data={"username": "anne", "password": password, "csrf_token": token},
                            headers={"Cookie": f"kartenn_form={token}"})

    try:
        with server.client() as browser:
            assert "secure" in set_cookie(browser.get("/auth/login"), "kartenn_form").lower()
            # A form posted without the token of a page of this site is refused.
            r = browser.post("/auth/login", data={"username": "anne", "password": PASSWORD})
            assert r.status_code == 403
            r = secure_login(browser, PASSWORD)
            assert r.status_code == 303 and "secure" in set_cookie(r, "kartenn_session").lower()
        with server.client() as browser:
            for _ in range(3):
                assert 'role="alert"' in secure_login(browser, "wrong password!").text
            r = secure_login(browser, PASSWORD)  # the right password, from an address that failed too often
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            basic = browser.get("/ogc/collections", auth=("anne", PASSWORD))  # Basic is limited the same way
            assert basic.status_code == 429
    finally:
        server.stop()


def test_signup_needs_approval(people, server, settings):
    admin = create_token(people, "root", name="tests")
    with server.client() as browser:
        page = browser.get("/auth/signup")
        assert page.status_code == 200 and '<option value="iuem">IUEM</option>' in page.text
        fields = {"username": "yann", "name": "Yann Kervella", "email": "yann@iuem.example", "password": PASSWORD,
                  "org": "iuem", "message": "Drone surveys", "csrf_token": form_token(page)}
        r = browser.post("/auth/signup", data={**fields, "username": "../x"})
        assert r.status_code == 400 and "user name" in r.text
        r = browser.post("/auth/signup", data={**fields, "csrf_token": form_token(r)})
        assert r.status_code == 200, r.text
        assert login(browser, "yann", PASSWORD).status_code == 200  # the form again: not before approval
        assert browser.get("/auth/me").json()["user"] is None
        r = browser.post("/auth/signup", data={**fields, "csrf_token": form_token(browser.get("/auth/signup"))})
        assert r.status_code == 409  # the name is taken by the pending request
    with server.client(admin) as http:
        pending = http.get("/api/v1/signups").json()["signups"]
        assert [(p["id"], p["org"], p["message"]) for p in pending] == [("yann", "iuem", "Drone surveys")]
        assert "password" not in pending[0]
        r = http.post("/api/v1/signups/yann/approve", json={"org": "nowhere"})
        assert r.status_code == 400 and len(http.get("/api/v1/signups").json()["signups"]) == 1  # still pending
        r = http.post("/api/v1/signups/yann/approve", json={"role": "editor"})
        assert r.status_code == 201 and r.json() == {"id": "yann", "org": "iuem", "role": "editor"}
        assert http.post("/api/v1/signups/yann/approve", json={}).status_code == 404
    with server.client(create_token(people, "anne", name="t")) as http:
        assert http.get("/api/v1/signups").status_code == 403
    with server.client() as browser:
        assert login(browser, "yann", PASSWORD).status_code == 303
        assert browser.get("/auth/me").json()["roles"] == {"iuem": "editor"}
    # The command line does the same.
    with server.client() as browser:
        fields["username"], fields["csrf_token"] = "zoe", form_token(browser.get("/auth/signup"))
        assert browser.post("/auth/signup", data=fields).status_code == 200
    listed = kartenn("user", "requests", "--data-dir", str(settings.data_dir), settings=settings, check=True)
    assert listed.stdout.startswith("zoe\tyann@iuem.example\tiuem")
    kartenn("user", "approve", "zoe", "--data-dir", str(settings.data_dir), settings=settings, check=True)
    assert people.accounts.identity("zoe").roles == {"iuem": "member"}
    events = [e["event"] for e in people.accounts.audit_log(limit=100)]
    assert events.count("signup.request") == 2 and events.count("signup.approve") == 2
