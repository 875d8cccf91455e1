"""Login throttling on a real server, both stores: X-Forwarded-For is believed from configured proxies only, and
wrong passwords slow the address that sends them (429 with Retry-After) without locking the account's owner out.
Form login and HTTP Basic (what OWS clients send) are throttled alike."""

from __future__ import annotations

import httpx
import pytest

from conftest import LiveServer
from kartenn.services.identity import hash_password
from test_sessions import form_token

PASSWORD = "correct horse battery"
ATTACKER, OWNER, OTHER = "203.0.113.5", "198.51.100.7", "192.0.2.9"


@pytest.fixture
def accounts(site):
    site.accounts.add_user("anne", password_hash=hash_password(PASSWORD))
    site.accounts.add_user("root", password_hash=hash_password(PASSWORD), admin=True)
    return site


def live(settings, **config: object) -> LiveServer:
    path = settings.data_dir / "kartenn.toml"
    path.write_text(path.read_text() + "".join(f"{k} = {v!r}\n" for k, v in config.items()))
    return LiveServer(settings).start()


def client(server: LiveServer, forwarded_for: str | None = None) -> httpx.Client:
    http = server.client()
    if forwarded_for:
        http.headers["X-Forwarded-For"] = forwarded_for
    return http


def form_login(http: httpx.Client, user: str, password: str) -> httpx.Response:
    token = form_token(http.get("/auth/login"))
    return http.post("/auth/login", data={"username": user, "password": password, "csrf_token": token})


def test_forwarded_for_only_from_configured_proxies(accounts, settings):
    server = live(settings, login_rate_limit=3)
    try:  # no proxy configured: a client on 127.0.0.1 cannot pass for another address
        for n in range(3):
            with client(server, f"203.0.113.{10 + n}") as http:
                assert form_login(http, f"nobody{n}", "wrong password!").status_code == 200
        with client(server, OWNER) as http:
            r = form_login(http, "anne", PASSWORD)
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            assert http.get("/ogc/collections", auth=("anne", PASSWORD)).status_code == 429
    finally:
        server.stop()
    server = live(settings, forwarded_allow_ips="127.0.0.1")
    try:  # 127.0.0.1 is the proxy now: the addresses it forwards are the callers'
        with client(server, ATTACKER) as http:
            for n in range(3):
                assert form_login(http, f"nobody{n}", "wrong password!").status_code == 200
        with client(server, OWNER) as http:
            assert form_login(http, "anne", PASSWORD).status_code == 303
        events = [e for e in accounts.accounts.audit_log(limit=50) if e["event"] == "login"]
        assert events and events[0]["detail"].get("ip") == OWNER, events[:1]
    finally:
        server.stop()


def test_wrong_passwords_slow_the_address_not_the_account(accounts, settings):
    server = live(settings, forwarded_allow_ips="127.0.0.1")
    try:
        with client(server, ATTACKER) as http:
            for _ in range(5):  # HTTP Basic
                assert http.get("/ogc/collections", auth=("root", "wrong password!")).status_code == 401
            r = http.get("/ogc/collections", auth=("root", PASSWORD))  # even the right password: slowed
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            assert form_login(http, "root", PASSWORD).status_code == 429
            # Other accounts from that address are not (the per-address limit is higher).
            assert http.get("/ogc/collections", auth=("anne", PASSWORD)).status_code == 200
        with client(server, OWNER) as http:  # the owner, from another address, logs in
            assert http.get("/ogc/collections", auth=("root", PASSWORD)).status_code == 200
            assert form_login(http, "root", PASSWORD).status_code == 303
        with client(server, OTHER) as http:
            for _ in range(5):  # the login form
                assert 'role="alert"' in form_login(http, "anne", "wrong password!").text
            r = form_login(http, "anne", PASSWORD)
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        with client(server, OWNER) as http:
            assert form_login(http, "anne", PASSWORD).status_code == 303
        # IPv6 callers count by /64: one subscriber's network, however many addresses it takes.
        for n in range(5):
            with client(server, f"2001:db8:1:2::{n + 10:x}") as http:
                assert http.get("/ogc/collections", auth=("anne", "wrong password!")).status_code == 401
        with client(server, "2001:db8:1:2:ffff::1") as http:
            assert http.get("/ogc/collections", auth=("anne", PASSWORD)).status_code == 429
        with client(server, "2001:db8:1:3::1") as http:
            assert http.get("/ogc/collections", auth=("anne", PASSWORD)).status_code == 200
    finally:
        server.stop()
