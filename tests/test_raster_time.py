"""Raster time stacks on both stores: a NetCDF variable with a CF time axis and a zip of GeoTIFFs named by date,
published as one time-enabled raster each, then TIME in WMS 1.3.0/1.1.1, WMTS (KVP and REST) and OGC API Maps.

Data: coads_sst.nc (monthly sea-surface temperature, CF time "hours since 2000-01-01") and sst-dated/, three of
its months written as GeoTIFFs named by date (tests/data/rasters/README.md).
"""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest
import rasterio
from lxml import etree
from owslib.wms import WebMapService

from conftest import kartenn_here, shared, wait_job
from kartenn.errors import InvalidInput
from kartenn.services.publish import publish_file
from kartenn.services.stacks import date_in_name, decode_cf_times
from publishing import store_state

NC = shared("rasters/coads_sst.nc")
WMS = "{http://www.opengis.net/wms}"
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS11 = "{http://www.opengis.net/ows/1.1}"
SST_TIMES = ["2000-01-16T06:00:00Z", "2000-02-15T16:29:06Z", "2000-03-17T02:58:12Z", "2000-04-16T13:27:18Z",
             "2000-05-16T23:56:24Z", "2000-06-16T10:25:30Z", "2000-07-16T20:54:36Z", "2000-08-16T07:23:42Z",
             "2000-09-15T17:52:48Z", "2000-10-16T04:21:54Z", "2000-11-15T14:51:00Z", "2000-12-16T01:20:06Z"]
GETMAP = {"service": "WMS", "version": "1.3.0", "request": "GetMap", "styles": "", "crs": "CRS:84",
          "bbox": "-180,-90,180,90", "width": 360, "height": 180, "format": "image/png"}


def source_value(band: int, lon: float, lat: float) -> float:
    """The value of coads_sst.nc's SST at a time step (band) and place, read by GDAL's netCDF driver."""
    with rasterio.open(f"NETCDF:{NC}:SST") as src:
        row, col = src.index(lon, lat)
        return float(src.read(band)[row, col])


def zipped(tmp_path, names: dict[str, str], name: str = "sst.zip"):
    """A zip of the dated GeoTIFFs under new names: {name in the zip: file of sst-dated/}."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        for arcname, source in names.items():
            z.write(shared(f"rasters/sst-dated/{source}"), arcname)
    return path


@pytest.fixture(scope="module")
def stacks(module_site, tmp_path_factory) -> dict[str, str]:
    (sst,) = publish_file(module_site, NC, variable="SST")
    tmp = tmp_path_factory.mktemp("dated")
    (dated,) = publish_file(module_site, zipped(tmp, {"sst_2000-01.tif": "sst_2000-01.tif",
                                                      "20000215.tif": "sst_2000-02.tif",
                                                      "sst_2000-03-01.tif": "sst_2000-03.tif"}))
    (plain,) = publish_file(module_site, shared("rasters/opengeos-dtm.tif"))
    assert sst.error is None and dated.error is None and plain.error is None
    return {"sst": sst.dataset.id, "dated": dated.dataset.id, "plain": plain.dataset.id}


def png_digest(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return hashlib.sha1(response.content).hexdigest()


def test_netcdf_becomes_one_time_stack(module_site, stacks):
    ds = module_site.catalog.get_dataset(stacks["sst"])
    assert ds.kind == "raster" and ds.raster["times"] == SST_TIMES
    assert len(ds.raster["steps"]) == 12 and ds.storage == ds.raster["steps"][-1]  # the latest by default
    # The CF times, decoded from the file's own numbers, are the dataset's.
    with rasterio.open(f"NETCDF:{NC}:SST") as src:
        hours = [float(src.tags(b)["NETCDF_DIM_TIME"]) for b in range(1, src.count + 1)]
        source = src.read(masked=True)
    assert [t.isoformat().replace("+00:00", "Z") for t in decode_cf_times(hours, "hours since 2000-01-01",
                                                                           "proleptic_gregorian", "t")] == SST_TIMES
    # Each step's COG holds that month's values.
    for k in (0, 6, 11):
        with rasterio.open(module_site.files.path(ds.raster["steps"][k])) as cog:
            assert cog.crs.to_epsg() == 4326 and cog.profile["tiled"]
            step = cog.read(1, masked=True)
        assert np.ma.allclose(step, source[k]) and (step.mask == source[k].mask).all()


def test_dated_geotiffs_become_one_time_stack(module_site, stacks):
    ds = module_site.catalog.get_dataset(stacks["dated"])
    assert ds.raster["times"] == ["2000-01-01T00:00:00Z", "2000-02-15T00:00:00Z", "2000-03-01T00:00:00Z"]
    for k, name in enumerate(("sst_2000-01.tif", "sst_2000-02.tif", "sst_2000-03.tif")):
        with rasterio.open(shared(f"rasters/sst-dated/{name}")) as src, \
                rasterio.open(module_site.files.path(ds.raster["steps"][k])) as cog:
            assert np.array_equal(src.read(1), cog.read(1))


def test_dates_in_file_names():
    assert date_in_name("sst_2020-01").isoformat() == "2020-01-01T00:00:00+00:00"
    assert date_in_name("20200115").isoformat() == "2020-01-15T00:00:00+00:00"
    assert date_in_name("chl_2020-01-15T0630").isoformat() == "2020-01-15T06:30:00+00:00"
    assert date_in_name("dem") is None and date_in_name("20201345") is None  # no date, an impossible one
    assert date_in_name("2020-01-01_2020-02-01") is None  # two dates: which is the step's is a guess


def test_cf_time_units():
    # The standard calendar is Julian before 1582: two days fewer than the proleptic Gregorian one by then.
    assert decode_cf_times([0, 730119], "days since 1-1-1", "standard", "t")[1].isoformat() == \
        "1999-12-30T00:00:00+00:00"
    assert decode_cf_times([730119], "days since 1-1-1", "proleptic_gregorian", "t")[0].isoformat() == \
        "2000-01-01T00:00:00+00:00"
    assert decode_cf_times([45.25], "days since 2000-01-01", "noleap", "t")[0].isoformat() == \
        "2000-02-15T06:00:00+00:00"
    assert decode_cf_times([1753152], "hours since 1800-01-01", None, "t")[0].isoformat() == \
        "2000-01-01T00:00:00+00:00"
    with pytest.raises(InvalidInput, match="cannot be read as dates"):
        decode_cf_times([59], "days since 2000-01-01", "360_day", "t")  # 2000-02-30: not a real date


def test_bad_stacks_publish_nothing(site, tmp_path):
    before = store_state(site)
    # Two GeoTIFFs named by the same date.
    with pytest.raises(InvalidInput, match="same date"):
        publish_file(site, zipped(tmp_path, {"a_2000-01-01.tif": "sst_2000-01.tif",
                                             "b_20000101.tif": "sst_2000-02.tif"}))
    # GeoTIFFs of different grids.
    mixed = tmp_path / "mixed.zip"
    with zipfile.ZipFile(mixed, "w") as z:
        z.write(shared("rasters/sst-dated/sst_2000-01.tif"), "sst_2000-01.tif")
        z.write(shared("rasters/opengeos-dtm.tif"), "sst_2000-02.tif")
    with pytest.raises(InvalidInput, match="share them"):
        publish_file(site, mixed)
    # A variable the file does not have.
    with pytest.raises(InvalidInput, match="no variable 'TEMP'.*SST, AIRT"):
        publish_file(site, NC, variable="TEMP")
    assert store_state(site) == before


def test_cli_ingest_of_a_variable_and_of_a_folder(site, settings):
    out = kartenn_here("ingest", str(NC), "--variable", "AIRT", "--data-dir", str(settings.data_dir),
                       settings=settings)
    assert "raster" in out
    (ds,) = site.catalog.list_datasets()
    assert ds.raster["times"] == SST_TIMES and ds.source == "coads_sst.nc"
    # A folder of GeoTIFFs named by date.
    kartenn_here("ingest", str(shared("rasters/sst-dated")), "--data-dir", str(settings.data_dir), settings=settings)
    stack = site.catalog.get_dataset("sst")
    assert stack.raster["times"] == ["2000-01-01T00:00:00Z", "2000-02-01T00:00:00Z", "2000-03-01T00:00:00Z"]


def test_http_publish_of_a_netcdf_variable(server, site, editor_token):
    with server.client(editor_token) as http, open(NC, "rb") as f:
        r = http.post("/api/v1/uploads", files={"file": ("coads_sst.nc", f)}, data={"variable": "UWND"})
        job = wait_job(http, r.headers["Location"])
    assert job["state"] == "succeeded", job
    (dataset_id,) = job["result"]["datasets"]
    assert site.catalog.get_dataset(dataset_id).raster["times"] == SST_TIMES


def test_wms_capabilities_list_the_times(stacks, module_live_server):
    server = module_live_server
    with server.client() as http:
        for version, tag in (("1.3.0", "Dimension"), ("1.1.1", "Extent")):
            caps = http.get("/wms", params={"service": "WMS", "version": version, "request": "GetCapabilities"})
            ns = WMS if version == "1.3.0" else ""
            root = etree.fromstring(caps.content)
            layer = next(el for el in root.iter(f"{ns}Layer") if el.findtext(f"{ns}Name") == stacks["sst"])
            extent = layer.find(f"{ns}{tag}")
            assert extent.get("name") == "time" and extent.get("default") == SST_TIMES[-1]
            assert extent.text.split(",") == SST_TIMES
            plain = next(el for el in root.iter(f"{ns}Layer") if el.findtext(f"{ns}Name") == stacks["plain"])
            assert plain.find(f"{ns}{tag}") is None
    for version in ("1.3.0", "1.1.1"):
        layer = WebMapService(f"{server.url}/wms", version=version).contents[stacks["dated"]]
        assert [t.strip() for t in layer.timepositions] == ["2000-01-01T00:00:00Z", "2000-02-15T00:00:00Z",
                                                            "2000-03-01T00:00:00Z"]


def test_getmap_at_a_time(stacks, module_server):
    with module_server.client() as http:
        for version, crs_key in (("1.3.0", "crs"), ("1.1.1", "srs")):
            base = {**GETMAP, "version": version, crs_key: "CRS:84" if version == "1.3.0" else "EPSG:4326",
                    "layers": stacks["sst"]}
            january = png_digest(http.get("/wms", params={**base, "time": SST_TIMES[0]}))
            july = png_digest(http.get("/wms", params={**base, "time": SST_TIMES[6]}))
            latest = png_digest(http.get("/wms", params=base))
            assert len({january, july, latest}) == 3  # three months, three maps
            assert png_digest(http.get("/wms", params={**base, "time": SST_TIMES[-1]})) == latest  # the default
            assert png_digest(http.get("/wms", params={**base, "time": "2000-07"})) == july  # reduced precision
            assert png_digest(http.get("/wms", params={**base, "time": "2000-06-20/2000-07-31"})) == july
            # Exact match by default: a time between the steps is refused, in the version's exception form.
            r = http.get("/wms", params={**base, "time": "2000-07-01T00:00:00Z"})
            assert r.status_code == 400 and b'code="InvalidDimensionValue"' in r.content
            assert b"2000-01-16T06:00:00Z" in r.content  # it says which times there are
            for bad in ("1999-01-01", "not-a-time", "2000-02-01/2000-01-01"):
                r = http.get("/wms", params={**base, "time": bad})
                assert r.status_code == 400 and b'code="InvalidDimensionValue"' in r.content, bad
            # Nearest match on request: the nearest step, said in a Warning header as GeoServer does.
            r = http.get("/wms", params={**base, "time": "2000-07-10T00:00:00Z", "nearest": "true"})
            assert png_digest(r) == july
            assert r.headers["Warning"] == f"99 Nearest value used: time={SST_TIMES[6]} ISO8601"


def test_feature_info_at_a_time(stacks, module_server):
    params = {**GETMAP, "request": "GetFeatureInfo", "layers": stacks["sst"], "query_layers": stacks["sst"],
              "info_format": "application/json", "i": 181, "j": 70}  # pixel centre 1°E, 19°N
    with module_server.client() as http:
        for k in (0, 6, 11):
            (feature,) = http.get("/wms", params={**params, "time": SST_TIMES[k]}).json()["features"]
            assert feature["properties"]["band_1"] == pytest.approx(source_value(k + 1, 1.0, 19.0))
            assert feature["properties"]["time"] == SST_TIMES[k]
        (latest,) = http.get("/wms", params=params).json()["features"]
        assert latest["properties"]["time"] == SST_TIMES[-1]


def test_wmts_time(stacks, module_server):
    with module_server.client() as http:
        caps = etree.fromstring(http.get("/wmts", params={"service": "WMTS", "request": "GetCapabilities"}).content)
        layer = next(el for el in caps.iter(f"{WMTS}Layer") if el.findtext(f"{OWS11}Identifier") == stacks["sst"])
        dim = layer.find(f"{WMTS}Dimension")
        assert dim.findtext(f"{OWS11}Identifier") == "time" and dim.findtext(f"{WMTS}Default") == SST_TIMES[-1]
        assert [v.text for v in dim.findall(f"{WMTS}Value")] == SST_TIMES
        template = next(r.get("template") for r in layer.findall(f"{WMTS}ResourceURL")
                        if r.get("resourceType") == "tile" and r.get("format") == "image/png")
        assert "/{Style}/{Time}/{TileMatrixSet}/" in template
        kvp = {"service": "WMTS", "request": "GetTile", "version": "1.0.0", "layer": stacks["sst"],
               "style": "default", "tilematrixset": "WebMercatorQuad", "tilematrix": "1", "tilerow": "0",
               "tilecol": "0", "format": "image/png"}
        january = png_digest(http.get("/wmts", params={**kvp, "time": SST_TIMES[0]}))
        latest = png_digest(http.get("/wmts", params=kvp))
        assert january != latest
        rest = template.replace("{Style}", "default").replace("{TileMatrixSet}", "WebMercatorQuad") \
            .replace("{TileMatrix}", "1").replace("{TileRow}", "0").replace("{TileCol}", "0")
        assert png_digest(http.get(rest.replace("{Time}", SST_TIMES[0]))) == january
        assert png_digest(http.get(rest.replace("{Time}", SST_TIMES[-1]))) == latest
        r = http.get(rest.replace("{Time}", "1999-01-01"))
        assert r.status_code == 400 and b'exceptionCode="InvalidDimensionValue"' in r.content
        r = http.get("/wmts", params={**kvp, "time": "2000-07-01"})
        assert r.status_code == 400 and b'exceptionCode="InvalidDimensionValue"' in r.content
        # Feature info at a time, through its REST template too.
        info = next(r.get("template") for r in layer.findall(f"{WMTS}ResourceURL")
                    if r.get("resourceType") == "FeatureInfo" and r.get("format") == "application/json")
        info = info.replace("{Style}", "default").replace("{TileMatrixSet}", "WebMercatorQuad") \
            .replace("{TileMatrix}", "1").replace("{TileRow}", "0").replace("{TileCol}", "0") \
            .replace("{J}", "180").replace("{I}", "200")
        (feature,) = http.get(info.replace("{Time}", SST_TIMES[6])).json()["features"]
        assert feature["properties"]["time"] == SST_TIMES[6]
        (same,) = http.get("/wmts", params={**kvp, "request": "GetFeatureInfo", "infoformat": "application/json",
                                            "i": "200", "j": "180", "time": SST_TIMES[6]}).json()["features"]
        assert same == feature


def test_ogc_api_maps_datetime(stacks, module_server):
    href = f"/ogc/collections/{stacks['sst']}"
    with module_server.client() as http:
        temporal = http.get(href).json()["extent"]["temporal"]
        assert temporal["interval"] == [[SST_TIMES[0], SST_TIMES[-1]]] and temporal["values"] == SST_TIMES
        january = png_digest(http.get(f"{href}/map", params={"datetime": SST_TIMES[0]}))
        latest = png_digest(http.get(f"{href}/map"))
        assert january != latest and png_digest(http.get(f"{href}/map", params={"datetime": "2000-12"})) == latest
        r = http.get(f"{href}/map", params={"datetime": "2001-01-01"})
        assert r.status_code == 400 and "2001-01-01" in r.json()["detail"]
        r = http.get(f"{href}/map", params={"datetime": "2001-01-01", "nearest": "true"})
        assert png_digest(r) == latest and SST_TIMES[-1] in r.headers["Warning"]
        assert http.get(f"{href}/tiles/WebMercatorQuad/0/0/0", params={"datetime": SST_TIMES[0]}).status_code == 200


def test_nearest_match_as_a_site_setting(site, settings, server):
    (outcome,) = publish_file(site, NC, variable="SST")
    layer = outcome.dataset.id
    (settings.data_dir / "kartenn.toml").write_text("time_nearest = true\n")
    server.stop()
    server.start()  # reads the setting
    with server.client() as http:
        caps = etree.fromstring(http.get("/wms", params={"service": "WMS", "request": "GetCapabilities"}).content)
        dim = next(el for el in caps.iter(f"{WMS}Layer") if el.findtext(f"{WMS}Name") == layer).find(f"{WMS}Dimension")
        assert dim.get("nearestValue") == "1"
        r = http.get("/wms", params={**GETMAP, "layers": layer, "time": "2000-07-10"})
        assert r.status_code == 200 and r.headers["Warning"].endswith(f"time={SST_TIMES[6]} ISO8601")
        r = http.get("/wms", params={**GETMAP, "layers": layer, "time": "2000-07-10", "nearest": "false"})
        assert r.status_code == 400 and b"InvalidDimensionValue" in r.content  # the request's word wins


def test_stack_files_are_kept_replaced_and_cleaned(site, tmp_path):
    (outcome,) = publish_file(site, NC, variable="SST")
    ds = outcome.dataset
    record = site.catalog.get_record(ds.record_id)
    assert (record.time_begin, record.time_end) == (SST_TIMES[0], SST_TIMES[-1])  # searchable by time
    stray = site.files.path(f"{ds.storage.split('.')[0]}x.t0000.tif")
    stray.write_bytes(b"left by a killed process")
    site.reconcile()
    assert all(site.files.path(name).exists() for name in ds.raster["steps"])  # every step is listed
    assert not stray.exists()
    # A replace by another stack removes the old steps once the new ones are in.
    (replaced,) = publish_file(site, zipped(tmp_path, {"sst_2000-01.tif": "sst_2000-01.tif",
                                                       "sst_2000-02.tif": "sst_2000-02.tif"}), replace=ds.id)
    assert replaced.dataset.id == ds.id and len(replaced.dataset.raster["times"]) == 2
    assert not any(site.files.path(name).exists() for name in ds.raster["steps"])
    assert all(site.files.path(name).exists() for name in replaced.dataset.raster["steps"])
