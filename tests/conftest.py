"""Fixtures: a throwaway PostGIS cluster, a fresh site on each store, a server for it.

Every test that takes ``site`` or ``server`` runs twice: on the embedded store and on PostGIS. Modules that only
read take ``module_site`` and ``module_server`` instead: the site and its application are then made once per
module and store. ``server`` is the
application in the test's own process, reached through an HTTP client without a socket; a test marked ``live``
gets a real ``kartenn serve`` process on 127.0.0.1 instead, for clients that open their own connections (GDAL,
OWSLib, QGIS, browsers) and for what only a process shows (signals, restarts).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette import testclient
from starlette.testclient import TestClient

from kartenn.config import Settings
from kartenn.site import Site
from kartenn.testing.postgres import TemporaryCluster, free_port

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "data"  # real data, each folder with its source and licence
STORES = ["embedded", "postgis"]


def shared(relative: str) -> Path:
    """A file of the real test data in tests/data (each folder's README gives its source and licence)."""
    path = SHARED / relative
    if not path.exists():
        pytest.fail(f"missing test data file {path}")
    return path


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TemporaryCluster]:
    cluster = TemporaryCluster().start()
    yield cluster
    cluster.stop()


_db_counter = iter(range(1_000_000))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(store: str, request: pytest.FixtureRequest) -> str | None:
    if store == "embedded":
        return None
    cluster: TemporaryCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"t{next(_db_counter)}")


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings.load(tmp_path / "site", database_url=database_url)


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    s = Site.open(settings, create=True)
    yield s
    s.close()


def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTENN_")}
    if settings.database_url:
        env["KARTENN_DATABASE_URL"] = settings.database_url
    return env


def kartenn(*args: str, settings: Settings, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real command line, as a user would."""
    cmd = [sys.executable, "-m", "kartenn.cli", *args]
    result = subprocess.run(cmd, env=cli_env(settings), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def kartenn_here(*args: str, settings: Settings) -> str:
    """The same command line run in this process (typer's runner): for setting a test up, where the process
    itself is not what is tested. Fails the test when the command fails; gives its output."""
    from typer.testing import CliRunner

    from kartenn.cli import app

    env = {"KARTENN_DATABASE_URL": settings.database_url} if settings.database_url else {}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    if result.exit_code != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.output}")
    return result.stdout


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        log = open(self.settings.data_dir / "server.log", "ab")  # noqa: SIM115
        cmd = [sys.executable, "-m", "kartenn.cli", "serve", "--data-dir", str(self.settings.data_dir),
               "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=cli_env(self.settings), stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {(self.settings.data_dir / 'server.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client, sending ``token`` as a Bearer credential when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)


class AppServer:
    """The application of a site in this process, its lifespan run as ``kartenn serve`` runs it. ``client()``
    gives httpx clients whose requests go straight to the application (Starlette's test transport), from a
    peer address of 127.0.0.1, and whose responses are what a real server would send (errors become 500s)."""

    url = "http://127.0.0.1:8000"  # what the application sees as its address

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._main: TestClient | None = None

    def start(self) -> AppServer:
        from kartenn.app import create_app

        # read again from the data directory, as ``kartenn serve`` does: a test may have changed kartenn.toml
        settings = Settings.load(self.settings.data_dir, database_url=self.settings.database_url)
        self._main = TestClient(create_app(settings), base_url=self.url, raise_server_exceptions=False,
                                client=("127.0.0.1", 50000), follow_redirects=False)
        self._main.__enter__()  # lifespan: the site opens, the job runner starts
        return self

    def stop(self) -> None:
        if self._main is not None:
            self._main.__exit__(None, None, None)
            self._main = None

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client, sending ``token`` as a Bearer credential when given."""
        assert self._main is not None, "the application is not running"
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return httpx.Client(base_url=self.url, timeout=60, headers=headers, transport=_Shared(self._main._transport))


class _Shared(httpx.BaseTransport):
    """The running application's transport, for an httpx client: left open when one of its clients closes, and
    speaking the HTTP client module Starlette's test client was built on (which may not be httpx)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = testclient.httpx.Request(request.method, str(request.url), headers=request.headers.raw,
                                        content=iter(request.stream))
        got = self.inner.handle_request(sent)
        return httpx.Response(got.status_code, headers=got.headers.raw, stream=_Body(got.stream),
                              extensions={k: v for k, v in got.extensions.items() if k == "http_version"})


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[bytes]:
        yield from self.stream

    def close(self) -> None:
        self.stream.close()


@pytest.fixture
def server(site: Site, settings: Settings, request: pytest.FixtureRequest) -> Iterator[AppServer | LiveServer]:
    """The site's application in this process; a ``kartenn serve`` process for tests marked ``live``."""
    running = LiveServer(settings) if request.node.get_closest_marker("live") else AppServer(settings)
    running.start()
    yield running
    running.stop()


# The same, built once per test module, for modules whose tests only read what their fixtures published: a
# test there must leave the site as it found it.


@pytest.fixture(scope="module", params=STORES)
def module_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    database_url = None
    if request.param == "postgis":
        cluster: TemporaryCluster = request.getfixturevalue("pg_cluster")
        database_url = cluster.create_database(f"t{next(_db_counter)}")
    return Settings.load(tmp_path_factory.mktemp("site") / "site", database_url=database_url)


@pytest.fixture(scope="module")
def module_site(module_settings: Settings) -> Iterator[Site]:
    s = Site.open(module_settings, create=True)
    yield s
    s.close()


@pytest.fixture(scope="module")
def module_server(module_site: Site, module_settings: Settings) -> Iterator[AppServer]:
    """The application of ``module_site`` in this process, started once for the module (after the module's
    own module-scoped fixtures that publish, when the test asks for them first)."""
    running = AppServer(module_settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def module_live_server(module_site: Site, module_settings: Settings) -> Iterator[LiveServer]:
    """A ``kartenn serve`` process on ``module_site``, for the clients of such a module that open their own
    connections."""
    running = LiveServer(module_settings).start()
    yield running
    running.stop()


@pytest.fixture
def editor_token(site: Site) -> str:
    """An API token of an editor of organisation 'iuem' (made through the same services as the CLI)."""
    from kartenn.services.identity import create_token

    if not site.accounts.has_organisation("iuem"):
        site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_user("editor")
    site.accounts.set_membership("editor", "iuem", "editor")
    return create_token(site, "editor", name="tests")


def wait_job(client: httpx.Client, job_url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(job_url).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_url} did not finish")
