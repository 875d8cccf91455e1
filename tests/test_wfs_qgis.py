"""QGIS itself (python3-qgis, headless) edits a Kartenn layer through WFS-T 1.0.0, 1.1.0, 2.0.0 and version=auto,
on both stores; the edits are then read back through OGC API Features."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import shapely

from conftest import shared

pytestmark = pytest.mark.live  # its clients open their own connections

REGIONS = "france-admin-express-2018/regions.geojson"
QGIS_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).parent / "qgis" / "edit_wfs.py"
VERSIONS = ["1.0.0", "1.1.0", "2.0.0", "auto"]
# Each version inserts one square, moves it, renames one region and deletes another.
PLAN = {
    version: {"insert": {"code": f"9{i}0", "nom": f"Île QGIS {version}",
                         "wkt": f"MultiPolygon(((-4.6 {46 + i}, -4.4 {46 + i}, -4.4 {46.2 + i}, -4.6 {46.2 + i}, "
                                f"-4.6 {46 + i})))"},
              "move": [-1.0, 0.5],
              "rename": {"code": code, "nom": f"Renommée {version} «été»"}, "delete": gone}
    for i, (version, code, gone) in enumerate(zip(VERSIONS, ["11", "24", "27", "28"], ["32", "44", "52", "53"],
                                                  strict=True))}


def qgis_available() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    return subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0


def run_qgis(url: str, token: str, home: Path) -> dict:
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime), "HOME": str(home)}
    env.pop("PYTHONPATH", None)
    args = {"url": url, "token": token, "user": "qgis-editor", "versions": VERSIONS, "plan": PLAN}
    done = subprocess.run([QGIS_PYTHON, str(SCRIPT), json.dumps(args)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not qgis_available(), reason="QGIS (Debian's python3-qgis) is NOT INSTALLED: "
                    "run scripts/install-test-deps.sh; QGIS editing through WFS-T is untested")
def test_qgis_edits_through_wfs_t(site, server, tmp_path):
    from kartenn.domain.security import Sharing
    from kartenn.services.identity import create_token
    from kartenn.services.publish import publish_file

    site.accounts.add_organisation("iuem")
    assert not publish_file(site, shared(REGIONS), sharing=Sharing(org="iuem", public=True))[0].error
    site.accounts.add_user("qgis-editor")
    site.accounts.set_membership("qgis-editor", "iuem", "editor")
    token = create_token(site, "qgis-editor")

    report = run_qgis(server.url, token, tmp_path)
    with server.client() as http:
        items = http.get("/ogc/collections/regions/items", params={"limit": 100}).json()["features"]
    by_code = {f["properties"]["code"]: f for f in items}
    for version in VERSIONS:
        seen, plan = report[version], PLAN[version]
        assert seen["valid"] and seen["anonymous_valid"], (version, seen)
        assert seen["can_edit"] and not seen["anonymous_can_edit"], (version, seen)
        for step in ("added", "moved", "renamed", "deleted"):
            assert seen[step], (version, step, seen)
        # commitErrors() also lists what succeeded: every line must say so
        assert seen["commit_insert"] is True and seen["errors_insert"] == ["SUCCESS: 1 feature(s) added."], seen
        assert seen["commit_edits"] is True and all(e.startswith("SUCCESS") for e in seen["errors_edits"]), seen
        assert len(seen["errors_edits"]) == 3, seen
        new = by_code[plan["insert"]["code"]]
        assert new["properties"]["nom"] == plan["insert"]["nom"]
        expected = shapely.affinity.translate(shapely.from_wkt(plan["insert"]["wkt"]), *plan["move"])
        got = shapely.geometry.shape(new["geometry"])
        assert got.geom_type == "MultiPolygon" and got.equals_exact(expected, 1e-6), (version, got.wkt)
        assert by_code[plan["rename"]["code"]]["properties"]["nom"] == plan["rename"]["nom"]
        assert plan["delete"] not in by_code
    assert len(items) == 13
    events = [e for e in site.accounts.audit_log() if e["event"] == "features.edit"]
    assert len(events) == 4 * len(VERSIONS)  # QGIS sends one transaction per kind of edit
