"""The modules that requests import on first use, imported by one thread just after the server starts.

Importing GDAL's bindings, rio-tiler, the OIDC client and the filter grammars takes most of a second; the server
answers ``/healthz`` without them. Two request threads must never import them at once: a package with import
cycles (rio-tiler) is then seen half made by the second ("cannot import name … partially initialized module").
So one thread imports them all, and every other request waits until it is done (about a second, once).

>>> start(); wait()   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

import anyio.to_thread

log = logging.getLogger("kartenn")

# Every module imported inside a function on a request's path (tests/test_startup.py checks the list).
LATER = (
    "pyogrio", "rasterio", "rasterio.errors", "rasterio.io", "rasterio.shutil", "rasterio.windows",
    "rio_tiler.colormap", "rio_tiler.errors", "rio_tiler.io", "rio_tiler.models",
    "authlib.integrations.httpx_client", "pygeofilter.parsers.ecql", "kartenn.cql2", "h5py", "affine", "cftime",
)
_started = threading.Event()
_done = threading.Event()
_lock = threading.Lock()


def start() -> None:
    """Import LATER in a thread of its own, once per process."""
    with _lock:
        if _started.is_set():
            return
        _started.set()
    threading.Thread(target=_import_all, name="kartenn-imports", daemon=True).start()


def _import_all() -> None:
    try:
        for name in LATER:
            try:
                importlib.import_module(name)
            except Exception:  # the request that needs it gets the error
                log.exception("could not import %s", name)
    finally:
        _done.set()


def wait() -> None:
    """Return once the imports started by ``start`` are done (at once when none were started)."""
    if _started.is_set():
        _done.wait()


class WarmUp:
    """ASGI middleware: requests other than ``/healthz`` wait for the imports of ``start``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not _done.is_set() and scope.get("path") != "/healthz":
            await anyio.to_thread.run_sync(wait)
        await self.app(scope, receive, send)
