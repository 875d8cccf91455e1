"""GDAL's command-line tools (Debian's GDAL 3.6) against a live server, on both stores: OGC API Maps and Tiles
through the OGCAPI driver, OGC API Features through OAPIF, every value copied by ogr2ogr.

Data: RGB.byte.tif (rasterio's test image), the French regions, POI Portugal (OpenStreetMap ids above 2**31,
Portuguese names) and MapServer's obs.csv (date-times).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from conftest import shared
from kartenn.services.publish import publish_file
from publishing import stored_rows

pytestmark = [pytest.mark.live,  # its clients open their own connections
              pytest.mark.skipif(shutil.which("gdalinfo") is None, reason="GDAL command-line tools not installed")]


def publish(site, rel: str):
    (outcome,) = publish_file(site, shared(rel))
    assert outcome.error is None, outcome.error
    return outcome.dataset


@pytest.fixture(scope="module")
def published(module_site) -> dict:
    """Every dataset the module reads, published once per store: the tests here only read."""
    return {name: publish(module_site, rel) for name, rel in (
        ("rgb", "rasters/RGB.byte.tif"), ("regions", "france-admin-express-2018/regions.geojson"),
        ("poi", "osm-poi-portugal/poi_portugal.gpkg"), ("obs", "timeseries/mapserver-obs.csv"))}


@pytest.fixture(scope="module")
def server(published, module_live_server):
    """One served process per module and store, over the published site."""
    return module_live_server


def gdal(*args: str, cwd: Path, debug: bool = False) -> subprocess.CompletedProcess:
    # No tile cache on disk: GDAL's WMS cache can lose a file it is writing from several threads ("No such file").
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "120", "CPL_DEBUG": "ON" if debug else "OFF",
           "GDAL_ENABLE_WMS_CACHE": "NO"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def vector_tiles_built() -> bool:
    """Debian's GDAL 3.6.2 builds its OGCAPI driver without the GML driver's define, which leaves vector tiles
    out (frmts/ogcapi/CMakeLists.txt, #ifdef OGR_ENABLE_DRIVER_GML): its library then lacks this member's name."""
    found = re.search(r"(/\S*libgdal\.so\S*)", subprocess.run(["ldd", shutil.which("ogrinfo")], capture_output=True,
                                                              text=True).stdout)
    return bool(found) and b"vectorType\0" in Path(found.group(1)).read_bytes()


def test_gdal_reads_raster_collections_as_maps_and_tiles(published, server, tmp_path):
    rgb = published["rgb"]
    url = f"OGCAPI:{server.url}/ogc/collections/{rgb.id}"
    info = gdal("gdalinfo", url, cwd=tmp_path)
    assert info.returncode == 0 and "Driver: OGCAPI/OGCAPI" in info.stdout, info.stderr
    images = {}
    for api in ("AUTO", "TILES", "MAP"):
        out = tmp_path / f"{api}.tif"
        done = gdal("gdal_translate", "-q", "-oo", f"API={api}", "-outsize", "256", "0", url, str(out), cwd=tmp_path)
        assert done.returncode == 0, (api, done.stderr)
        with rasterio.open(out) as src:
            assert src.count == 4 and src.crs.to_epsg() == 4326, api
            west, south, east, north = rgb.extent_wgs84
            pixel = (east - west) / 256
            assert all(math.isclose(a, b, abs_tol=2 * pixel) for a, b in
                       zip(src.bounds, (west, south, east, north), strict=True)), (api, src.bounds)
            images[api] = image = src.read()
        painted = image[3] > 0
        assert painted.mean() > 0.3 and image[:3, painted].std() > 10, api
    # Tiles and maps draw the same picture.
    both = (images["TILES"][3] > 0) & (images["MAP"][3] > 0)
    difference = np.abs(images["TILES"][:3].astype(int) - images["MAP"][:3].astype(int))[:, both]
    assert both.mean() > 0.3 and difference.mean() < 20


def test_ogcapi_reads_vector_collections(published, server, tmp_path):
    regions = published["regions"]
    url = f"OGCAPI:{server.url}/ogc/collections/{regions.id}"
    items = gdal("ogrinfo", "-ro", "-al", "-q", "-oo", "API=ITEMS", url, cwd=tmp_path)
    assert items.returncode == 0, items.stderr
    assert items.stdout.count("OGRFeature(") == 13 and "Bretagne" in items.stdout
    if not vector_tiles_built():
        pytest.skip("this GDAL build reads no vector tiles through OGC API (OGCAPI built without the GML define)")
    tiles = gdal("ogrinfo", "-ro", "-q", "-oo", "API=TILES", url, "Zoom level 3", cwd=tmp_path)
    assert tiles.returncode == 0 and "Bretagne" in tiles.stdout, tiles.stderr


def test_oapif_opens_without_http_errors(published, server, tmp_path):
    regions = published["regions"]
    listed = gdal("ogrinfo", "-ro", "-so", "--debug", "on", f"OAPIF:{server.url}/ogc", cwd=tmp_path, debug=True)
    assert listed.returncode == 0, listed.stderr
    assert "HTTP error" not in listed.stderr and "ERROR" not in listed.stderr, listed.stderr
    layers = re.findall(r"^\d+: (\S+)", listed.stdout, re.MULTILINE)
    vectors = sorted(published[name].id for name in ("regions", "poi", "obs"))
    assert sorted(layers) == sorted([*vectors, "catalog"])  # the raster has no items: GDAL leaves it out
    assert "Using XML schema" in gdal("ogrinfo", "-ro", "-so", f"OAPIF:{server.url}/ogc", regions.id,
                                      cwd=tmp_path, debug=True).stderr


def _value(value):
    """A stored or copied value in one comparable form (date-times as UTC instants)."""
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, np.generic):
        return value.item()
    return value


def test_ogr2ogr_copies_every_value(module_site, published, server, tmp_path):
    site, poi, obs = module_site, published["poi"], published["obs"]
    out = tmp_path / "copy.gpkg"
    done = gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{server.url}/ogc", poi.id, obs.id, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for ds in (poi, obs):
        meta, table = pyogrio.read_arrow(out, layer=ds.id)
        kinds = dict(zip(meta["fields"], meta["dtypes"], strict=True))
        for field in ds.fields:
            expected = {"integer": "int64", "number": "float64", "datetime": "datetime64[ms]",
                        "string": "object"}[field.type]
            if field.name == "id":  # GDAL types a property named "id" from the first page, as if it were the fid
                expected = "int32"
            assert kinds[field.name] == expected, (ds.id, field.name, kinds[field.name])
        copied = table.to_pylist()
        truth = stored_rows(site, ds)
        assert len(copied) == len(truth) == ds.count
        geometries = shapely.from_wkb([row.pop(meta["geometry_name"] or "geom") for row in copied])
        for row, geometry, stored in zip(copied, geometries, truth, strict=True):
            for field in ds.fields:
                assert _value(row[field.name]) == _value(stored[field.name]), (ds.id, field.name, row, stored)
            assert shapely.equals_exact(geometry, stored["geom"], tolerance=1e-7)
    ids = [r["osm_id"] for r in stored_rows(site, poi)]
    assert max(ids) == 5_872_043_786 and sum(i > 2**31 for i in ids) > 100
    assert any("ã" in (r["name"] or "") for r in stored_rows(site, poi))
