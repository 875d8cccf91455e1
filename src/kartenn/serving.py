"""HTTP worker processes, each listening on its own socket bound to the same port (SO_REUSEPORT).

With one socket shared by every worker (uvicorn's ``--workers``), the first process to wake takes all the
connections waiting: eight keep-alive clients, or a proxy's eight upstream connections, could all land on one
process while the others idle. With a socket per process, the kernel spreads new connections across them, as
nginx's ``reuseport`` does. The parent restarts a worker that dies and stops them all on SIGINT or SIGTERM.

>>> serve_workers(2, "127.0.0.1", 8000)  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from typing import Any

import uvicorn

from kartenn.logs import log_config
from kartenn.metrics import MULTIPROCESS_DIR

APP = "kartenn.app:app_from_env"
UVICORN_OPTIONS: dict[str, Any] = {"factory": True, "log_level": "info"}
STARTUP_GRACE = 10.0  # a first worker that dies sooner than this after its start stops the server: it would again
PR_SET_PDEATHSIG = 1


def uvicorn_options(forwarded_allow_ips: str | None, log_format: str = "text",
                    shutdown_timeout: int | None = None) -> dict[str, Any]:
    """uvicorn's options: X-Forwarded-For and X-Forwarded-Proto are believed from the configured proxies only
    (uvicorn alone would believe any client on 127.0.0.1, and so anyone behind a local proxy or tunnel). On
    SIGTERM uvicorn stops accepting connections and lets the requests in flight finish, for ``shutdown_timeout``
    seconds at most (None: as long as they take)."""
    proxies = (forwarded_allow_ips or "").strip()
    options = {**UVICORN_OPTIONS, "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None,
               "timeout_graceful_shutdown": shutdown_timeout}
    config = log_config(log_format)
    if config is not None:
        options.update(log_config=config, access_log=False)
    return options


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    _stop_with_parent()
    sock = listening_socket(host, port, reuse_port=True)
    uvicorn.Server(uvicorn.Config(APP, **options)).run(sockets=[sock])


def _stop_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent dies, even by SIGKILL: no worker is left on the port."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def serve_workers(workers: int, host: str, port: int, options: dict[str, Any] | None = None) -> int:
    """Run ``workers`` processes until a signal; the exit status (1: a worker could not start)."""
    # Bound once here first, without SO_REUSEPORT: a port in use, even by another server's workers, is reported
    # before any worker starts.
    listening_socket(host, port, reuse_port=False).close()
    metrics_dir = _metrics_dir()
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def start() -> Any:
        process = context.Process(target=_worker, args=(host, port, options or uvicorn_options(None)), daemon=False)
        process.start()
        return process

    running = [start() for _ in range(workers)]
    began, status = time.monotonic(), 0
    while not stop.wait(0.5):
        for i, process in enumerate(running):
            if process.is_alive():
                continue
            if time.monotonic() - began < STARTUP_GRACE:  # the site or the port is unusable: restarts would fail
                status = 1
                stop.set()
                break
            _forget(process)
            running[i] = start()  # a worker that died while serving (killed, out of memory) is replaced
    for process in running:
        if process.is_alive():
            process.terminate()
    wait = (options or {}).get("timeout_graceful_shutdown") or 30
    for process in running:
        process.join(timeout=wait + 10)  # its requests in flight finish first
        if process.is_alive():
            process.kill()
    if metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return status


def _metrics_dir() -> str | None:
    """Where the workers keep their metrics, which /metrics adds up (prometheus_client's multiprocess mode): a
    directory of PROMETHEUS_MULTIPROC_DIR, emptied, or a new one; the path made here is removed at the end."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.unlink(os.path.join(given, name))
        return None
    os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="kartenn-metrics-")
    return os.environ[MULTIPROCESS_DIR]


def _forget(process: Any) -> None:
    """A dead worker's gauges (render slots) no longer count; its counters still do."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(process.pid)
