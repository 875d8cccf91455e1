"""The server starts without the modules requests import on first use, and imports them safely.

Those modules (web/warmup.py LATER) are imported by one thread after the start; requests wait for it, because
two threads importing rio-tiler at once left one with a half-made package (a 500 on a raster tile).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import morecantile
import pytest

import kartenn
from conftest import LiveServer, shared
from kartenn.services.publish import publish_file
from kartenn.web.warmup import LATER

PACKAGE = Path(kartenn.__file__).parent
# Modules imported in functions that no request reaches: the command line, the demo, the tests' own helpers,
# job handlers (they run in processes of their own) and the render workers' processes.
NOT_SERVED = ("cli.py", "demo.py", "testing/", "serving.py")


def _imported_in_functions() -> dict[str, set[str]]:
    """Module → the modules imported inside its functions."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).as_posix()
        if name.startswith(NOT_SERVED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import):
                        found.setdefault(name, set()).update(a.name for a in inner.names)
                    elif isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                        found.setdefault(name, set()).add(inner.module)
    return found


def _loaded_by_the_app() -> set[str]:
    """The modules a fresh process has once it has made the application (what the server loads to start)."""
    code = ("import sys, tempfile; from kartenn.config import Settings; from kartenn.app import create_app; "
            "create_app(Settings.load(tempfile.mkdtemp())); print('\\n'.join(sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_what_requests_import_later_is_listed_and_not_loaded_at_start():
    loaded = _loaded_by_the_app()
    assert not set(LATER) & loaded, "listed as imported later, yet loaded to start"
    unlisted = {f"{where}: {module}" for where, modules in _imported_in_functions().items() for module in modules
                if module not in loaded and module not in LATER and module.split(".")[0] != "kartenn"
                and not module.startswith(tuple(f"{m}." for m in LATER))}
    # Anything a request imports on first use must be imported by the warm-up thread first.
    assert not unlisted, sorted(unlisted)


@pytest.mark.live
def test_first_raster_tiles_at_once_after_a_start(site, settings):
    """Eight tile requests at the same moment, as soon as a fresh server answers: every one is drawn."""
    (outcome,) = publish_file(site, shared("rasters/RGB.byte.tif"))
    assert outcome.error is None
    west, south, east, north = outcome.dataset.extent_wgs84
    inside = list(morecantile.tms.get("WebMercatorQuad").tiles(west, south, east, north, [9]))[:8]
    assert len(inside) == 8
    server = LiveServer(settings).start()
    try:
        def tile(t: morecantile.Tile) -> int:
            with server.client() as http:
                url = f"/ogc/collections/{outcome.dataset.id}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
                return http.get(url).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(tile, inside))
        assert codes == [200] * 8, codes
        assert "Traceback" not in (settings.data_dir / "server.log").read_text()
    finally:
        server.stop()
