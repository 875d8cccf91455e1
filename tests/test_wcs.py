"""WCS 2.0.1 on both stores: capabilities, coverage descriptions, GetCoverage trims and slices on space and time in
GeoTIFF and NetCDF, exception reports, rights, and GDAL's WCS driver and OWSLib as clients of a live server.

Data: coads_sst.nc (a time stack of 12 months, EPSG:4326) and RGB.byte.tif (3 bands, EPSG:32618); values are
compared with the source files read by GDAL (rasterio).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import rasterio
from lxml import etree
from owslib.wcs import WebCoverageService
from rasterio.io import MemoryFile
from rasterio.windows import from_bounds

from conftest import shared
from kartenn.domain.security import Sharing
from kartenn.services.identity import create_token
from kartenn.services.publish import publish_file
from kartenn.services.stacks import decode_cf_times

NC = shared("rasters/coads_sst.nc")
RGB = shared("rasters/RGB.byte.tif")
WCS = "{http://www.opengis.net/wcs/2.0}"
GML = "{http://www.opengis.net/gml/3.2}"
OWS = "{http://www.opengis.net/ows/2.0}"
SST_TIMES = ["2000-01-16T06:00:00Z", "2000-02-15T16:29:06Z", "2000-03-17T02:58:12Z", "2000-04-16T13:27:18Z",
             "2000-05-16T23:56:24Z", "2000-06-16T10:25:30Z", "2000-07-16T20:54:36Z", "2000-08-16T07:23:42Z",
             "2000-09-15T17:52:48Z", "2000-10-16T04:21:54Z", "2000-11-15T14:51:00Z", "2000-12-16T01:20:06Z"]
BASE = {"service": "WCS", "version": "2.0.1"}


@pytest.fixture(scope="module")
def coverages(module_site) -> dict[str, str]:
    (sst,) = publish_file(module_site, NC, variable="SST")
    (rgb,) = publish_file(module_site, RGB)
    (lakes,) = publish_file(module_site, shared("natural-earth/ne_110m_lakes.geojson"))
    module_site.accounts.add_organisation("iuem")
    (private,) = publish_file(module_site, shared("rasters/opengeos-dtm.tif"), sharing=Sharing(org="iuem",
                                                                                                 public=False))
    module_site.accounts.add_user("member")
    module_site.accounts.set_membership("member", "iuem", "member")
    return {"sst": sst.dataset.id, "rgb": rgb.dataset.id, "lakes": lakes.dataset.id,
            "private": private.dataset.id, "token": create_token(module_site, "member", name="tests")}


def get_coverage(http, coverage: str, *subsets: str, **params: str):
    query = [*BASE.items(), ("request", "GetCoverage"), ("coverageId", coverage), *params.items()]
    return http.get("/wcs", params=query + [("subset", s) for s in subsets])


def opened(response):
    assert response.status_code == 200, response.text
    return MemoryFile(response.content).open()


def exception(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    root = etree.fromstring(response.content)
    assert root.tag == f"{OWS}ExceptionReport" and root.get("version") == "2.0.0"
    assert root.find(f"{OWS}Exception").get("exceptionCode") == code, response.text
    return root.find(f"{OWS}Exception").get("locator") or ""


def source_sst(band: int):
    with rasterio.open(f"NETCDF:{NC}:SST") as src:
        return src.read(band), src.transform


def test_capabilities(coverages, module_server):
    with module_server.client() as http:
        for path, params in (("/wcs", {"service": "WCS", "request": "GetCapabilities"}),
                             ("/ows", {"service": "WCS", "request": "GetCapabilities", "acceptVersions": "2.0.1"})):
            r = http.get(path, params=params)
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
            root = etree.fromstring(r.content)
            assert root.tag == f"{WCS}Capabilities" and root.get("version") == "2.0.1"
            ids = [el.text for el in root.iter(f"{WCS}CoverageId")]
            assert coverages["sst"] in ids and coverages["rgb"] in ids
            assert coverages["lakes"] not in ids and coverages["private"] not in ids  # vector; not seen
            assert [f.text for f in root.iter(f"{WCS}formatSupported")] == ["image/tiff", "application/netcdf"]
        # Its organisation's members see the private raster.
        with module_server.client(coverages["token"]) as member:
            root = etree.fromstring(member.get("/wcs", params={"request": "GetCapabilities"}).content)
            assert coverages["private"] in [el.text for el in root.iter(f"{WCS}CoverageId")]


def test_describe_coverage(coverages, module_server):
    with module_server.client() as http:
        r = http.get("/wcs", params={**BASE, "request": "DescribeCoverage",
                                     "coverageId": f"{coverages['sst']},{coverages['rgb']}"})
    assert r.status_code == 200
    sst, rgb = etree.fromstring(r.content).findall(f"{WCS}CoverageDescription")
    env = sst.find(f"{GML}boundedBy/{GML}EnvelopeWithTimePeriod")
    assert env.get("srsName") == "http://www.opengis.net/def/crs/EPSG/0/4326"
    assert env.get("axisLabels") == "Lat Long"  # EPSG:4326 is latitude first
    assert env.findtext(f"{GML}lowerCorner") == "-90 -180" and env.findtext(f"{GML}upperCorner") == "90 180"
    assert (env.findtext(f"{GML}beginPosition"), env.findtext(f"{GML}endPosition")) == (SST_TIMES[0], SST_TIMES[-1])
    assert [t.text for t in sst.iter(f"{GML}timePosition")] == SST_TIMES
    swe = "{http://www.opengis.net/swe/2.0}"
    assert sst.findtext(f".//{swe}Quantity/{swe}description") == "SEA SURFACE TEMPERATURE"
    assert sst.find(f".//{swe}Quantity/{swe}uom").get("code") == "Deg C"  # as the NetCDF variable says
    grid = sst.find(f"{GML}domainSet/{GML}RectifiedGrid")
    assert grid.findtext(f"{GML}limits/{GML}GridEnvelope/{GML}high") == "179 89"
    assert grid.findtext(f"{GML}origin/{GML}Point/{GML}pos") == "89 -179"  # the centre of the first pixel
    assert [v.text for v in grid.findall(f"{GML}offsetVector")] == ["0 2", "-2 0"]
    env = rgb.find(f"{GML}boundedBy/{GML}Envelope")
    assert env.get("axisLabels") == "E N" and env.get("srsName").endswith("/EPSG/0/32618")
    fields = rgb.findall(".//{http://www.opengis.net/swe/2.0}field")
    assert [f.get("name") for f in fields] == ["band_1", "band_2", "band_3"]


def test_get_coverage_trims_and_slices_space(coverages, module_server):
    with module_server.client() as http:
        # Latest time by default; a trim keeps whole pixels.
        with opened(get_coverage(http, coverages["sst"], "Lat(40,50)", "Long(-10,10)")) as got:
            assert got.crs.to_epsg() == 4326 and got.bounds == (-10, 40, 10, 50) and got.shape == (5, 10)
            data, transform = source_sst(12)
            window = from_bounds(-10, 40, 10, 50, transform=transform).round_offsets().round_lengths()
            assert np.array_equal(got.read(1), data[window.toslices()])
        # A slice on latitude: the one row of pixels it crosses.
        with opened(get_coverage(http, coverages["sst"], "Lat(41)", "Long(-10,10)")) as got:
            assert got.shape == (1, 10) and got.bounds == (-10, 40, 10, 42)
        # An open end (*), and a trim in E/N on a projected raster of three bands.
        with opened(get_coverage(http, coverages["rgb"], "E(*,110000)", "N(2800000,2820000)")) as got, \
                rasterio.open(RGB) as src:
            assert got.count == 3 and got.crs == src.crs and got.bounds.left == src.bounds.left
            res = src.res[0]
            assert 110000 <= got.bounds.right < 110000 + res and 2820000 <= got.bounds.top < 2820000 + res
            assert 2800000 - res < got.bounds.bottom <= 2800000
            window = from_bounds(*got.bounds, transform=src.transform).round_offsets().round_lengths()
            assert np.array_equal(got.read(), src.read(window=window))


def test_get_coverage_in_time(coverages, module_server):
    with module_server.client() as http:
        for k in (0, 6):
            for subset in (f'time("{SST_TIMES[k]}")', f"ansi({SST_TIMES[k]})", f'time("{SST_TIMES[k][:7]}")'):
                with opened(get_coverage(http, coverages["sst"], subset)) as got:
                    assert np.array_equal(got.read(1), source_sst(k + 1)[0]), subset
                    assert got.tags()["time"] == SST_TIMES[k]
        # A time trim of three months, as NetCDF: read back with its time axis.
        r = get_coverage(http, coverages["sst"], 'time("2000-02-01","2000-04-30")', "Lat(-10,10)",
                         format="application/netcdf")
        assert r.status_code == 200 and r.headers["content-type"] == "application/netcdf"
        assert r.content[:4] == b"\x89HDF"  # netCDF-4
        with MemoryFile(r.content, ext=".nc") as mem, mem.open() as got:
            tags = got.tags()
            seconds = [float(v) for v in tags["NETCDF_DIM_time_VALUES"].strip("{}").split(",")]
            times = decode_cf_times(seconds, tags["time#units"], tags["time#calendar"], "out")
            assert [t.isoformat().replace("+00:00", "Z") for t in times] == SST_TIMES[1:4]
            assert got.count == 3 and got.bounds == (-180, -10, 180, 10)
            for k in range(3):
                data, transform = source_sst(k + 2)
                window = from_bounds(-180, -10, 180, 10, transform=transform).round_offsets().round_lengths()
                assert np.array_equal(got.read(k + 1), data[window.toslices()])
        # Several times do not fit in one GeoTIFF.
        r = get_coverage(http, coverages["sst"], 'time("2000-02-01","2000-04-30")')
        assert "image/tiff holds one" in r.text and exception(r, 404, "InvalidSubsetting") == "time"


def test_output_and_subsetting_crs(coverages, module_server):
    mercator = "http://www.opengis.net/def/crs/EPSG/0/3857"
    with module_server.client() as http:
        r = get_coverage(http, coverages["sst"], "Lat(40,50)", "Long(-10,10)", outputCrs=mercator)
        with opened(r) as got:
            assert got.crs.to_epsg() == 3857
            assert got.bounds.left == pytest.approx(-1113194.9, abs=1) and got.bounds.top > 6e6
        r = get_coverage(http, coverages["sst"], "x(-1113194.9,1113194.9)", "y(4865942.3,6446275.8)",
                         subsettingCrs=mercator)
        with opened(r) as got:
            assert got.crs.to_epsg() == 4326 and got.bounds == (-10, 40, 10, 50)
        r = get_coverage(http, coverages["sst"], outputCrs="EPSG:999999")
        assert exception(r, 400, "OutputCrs-NotSupported") == "outputcrs"


def test_scaling(coverages, module_server):
    with module_server.client() as http:
        with opened(get_coverage(http, coverages["sst"], scaleSize="i(90),j(45)")) as got:
            assert got.shape == (45, 90) and got.bounds == (-180, -90, 180, 90)
        with opened(get_coverage(http, coverages["sst"], scaleFactor="2")) as got:
            assert got.shape == (45, 90)
        exception(get_coverage(http, coverages["sst"], scaleFactor="-1"), 400, "InvalidScaleFactor")


def test_bad_requests_are_exception_reports(coverages, module_server):
    sst = coverages["sst"]
    with module_server.client() as http:
        cases = [
            (get_coverage(http, "nothing-here"), 404, "NoSuchCoverage"),
            (get_coverage(http, coverages["lakes"]), 404, "NoSuchCoverage"),  # vector data is no coverage
            (get_coverage(http, sst, "Height(1,2)"), 404, "InvalidAxisLabel"),
            (get_coverage(http, coverages["rgb"], 'time("2000-01-01")'), 404, "InvalidAxisLabel"),  # no time axis
            (get_coverage(http, sst, "Lat(95,99)"), 404, "InvalidSubsetting"),  # outside
            (get_coverage(http, sst, "Lat(50,40)"), 404, "InvalidSubsetting"),  # low above high
            (get_coverage(http, sst, "Lat[40,50]"), 404, "InvalidSubsetting"),  # not the KVP syntax
            (get_coverage(http, sst, "Lat(a,b)"), 404, "InvalidSubsetting"),
            (get_coverage(http, sst, "Lat(40,50)", "Lat(41,50)"), 404, "InvalidSubsetting"),
            (get_coverage(http, sst, 'time("1999-01-01")'), 404, "InvalidSubsetting"),
            (get_coverage(http, sst, 'time("someday")'), 404, "InvalidSubsetting"),
            (get_coverage(http, sst, format="image/png"), 400, "InvalidParameterValue"),
            (get_coverage(http, sst, rangeSubset="band_2"), 400, "InvalidParameterValue"),
            (http.get("/wcs", params={**BASE, "request": "GetCoverage"}), 400, "MissingParameterValue"),
            (http.get("/wcs", params={**BASE, "request": "DescribeCoverage", "coverageId": "x"}), 404,
             "NoSuchCoverage"),
            (http.get("/wcs", params={"service": "WCS", "version": "1.0.0", "request": "DescribeCoverage",
                                      "coverageId": sst}), 400, "InvalidParameterValue"),
            (http.get("/wcs", params={"request": "GetCapabilities", "acceptVersions": "1.1.0"}), 400,
             "VersionNegotiationFailed"),
            (http.get("/wcs", params={**BASE, "request": "Transaction"}), 501, "OperationNotSupported"),
            (http.get("/wcs", params=BASE), 400, "MissingParameterValue"),
        ]
        for response, status, code in cases:
            exception(response, status, code)


def test_rights(coverages, module_server):
    private = coverages["private"]
    with module_server.client() as http:
        exception(get_coverage(http, private), 404, "NoSuchCoverage")  # not seen: does not exist
        r = http.get("/wcs", params={**BASE, "request": "DescribeCoverage", "coverageId": private})
        exception(r, 404, "NoSuchCoverage")
    with module_server.client(coverages["token"]) as member:
        with opened(get_coverage(member, private)) as got, rasterio.open(shared("rasters/opengeos-dtm.tif")) as src:
            assert np.array_equal(got.read(1), src.read(1))


@pytest.mark.live
def test_gdal_and_owslib_read_the_coverages(coverages, module_live_server, tmp_path):
    url = f"{module_live_server.url}/wcs"
    cache = ["-oo", f"CACHE={tmp_path / 'cache'}"]
    info = subprocess.run(["gdalinfo", *cache, f"WCS:{url}?coverage={coverages['sst']}"], capture_output=True,
                          text=True, check=True).stdout
    assert "Size is 180, 90" in info and "Pixel Size = (2.000000000000000,-2.000000000000000)" in info
    assert f"TimeDomain={','.join(SST_TIMES)}" in info
    # gdal_translate through the driver: the latest month by default, a month when the URL slices time.
    for subset, band in (("", 12), (f'&subset=time("{SST_TIMES[1]}")', 2)):
        out = tmp_path / f"sst{band}.tif"
        subprocess.run(["gdal_translate", "-q", *cache, "-projwin", "-10", "50", "10", "40",
                        f"WCS:{url}?coverage={coverages['sst']}{subset}", str(out)], check=True)
        with rasterio.open(out) as got:
            data, transform = source_sst(band)
            window = from_bounds(-10, 40, 10, 50, transform=transform).round_offsets().round_lengths()
            assert got.bounds == (-10, 40, 10, 50) and np.array_equal(got.read(1), data[window.toslices()])
    # A window of the projected RGB raster through the driver: the same pixels as the source's (the grid's origin
    # and resolution survive the description to the last bit).
    out = tmp_path / "rgb-window.tif"
    subprocess.run(["gdal_translate", "-q", *cache, "-srcwin", "100", "100", "50", "50",
                    f"WCS:{url}?coverage={coverages['rgb']}", str(out)], check=True)
    with rasterio.open(out) as got, rasterio.open(RGB) as src:
        assert got.shape == (50, 50) and np.array_equal(got.read(), src.read(window=((100, 150), (100, 150))))
        assert got.transform.almost_equals(src.window_transform(((100, 150), (100, 150))))
    # gdal_translate of a GetCoverage answer.
    answer = tmp_path / "answer.tif"
    answer.write_bytes(subprocess.run(
        ["curl", "-sf", f"{url}?service=WCS&version=2.0.1&request=GetCoverage&coverageId={coverages['rgb']}"],
        capture_output=True, check=True).stdout)
    subprocess.run(["gdal_translate", "-q", "-of", "PNG", str(answer), str(tmp_path / "rgb.png")], check=True)
    with rasterio.open(answer) as got, rasterio.open(RGB) as src:
        assert got.count == 3 and np.array_equal(got.read(), src.read())

    wcs = WebCoverageService(url, version="2.0.1")
    assert {coverages["sst"], coverages["rgb"]} <= set(wcs.contents)
    assert coverages["private"] not in wcs.contents
    cov = wcs.contents[coverages["sst"]]
    assert cov.supportedFormats == ["image/tiff", "application/netcdf"]
    assert cov.grid.highlimits == ["179", "89"] and cov.grid.offsetvectors == [["0", "2"], ["-2", "0"]]
    response = wcs.getCoverage(identifier=coverages["sst"], format="image/tiff",
                               subsets=[("Lat", 40, 50), ("Long", -10, 10), ("time", SST_TIMES[6])])
    with MemoryFile(response.read()) as mem, mem.open() as got:
        data, transform = source_sst(7)
        window = from_bounds(-10, 40, 10, 50, transform=transform).round_offsets().round_lengths()
        assert np.array_equal(got.read(1), data[window.toslices()])


def test_portal_raster_downloads(coverages, module_server):
    sst = coverages["sst"]
    with module_server.client() as http:
        page = http.get(f"/datasets/{sst}")
        assert page.status_code == 200
        html = etree.HTML(page.content)
        links = {a.text: a.get("href") for a in html.iterfind(".//ul[@class='downloads']/li/a")}
        assert set(links) == {f"GeoTIFF ({SST_TIMES[-1]})", f"NetCDF ({SST_TIMES[-1]})",
                              f"NetCDF ({SST_TIMES[0]} … {SST_TIMES[-1]})"}
        with opened(http.get(links[f"GeoTIFF ({SST_TIMES[-1]})"])) as got:
            assert np.array_equal(got.read(1), source_sst(12)[0])
        with MemoryFile(http.get(links[f"NetCDF ({SST_TIMES[0]} … {SST_TIMES[-1]})"]).content, ext=".nc") as mem, \
                mem.open() as got:
            assert got.count == 12 and np.array_equal(got.read(3), source_sst(3)[0])
        services = [a.get("href") for a in html.iter("a")] + [i.get("value") for i in html.iter("input")]
        assert any(str(s).endswith("/wcs?service=WCS&request=GetCapabilities") for s in services)
        record = http.get(f"/api/v1/datasets/{sst}").json()
        links = http.get(f"/api/v1/records/{record['record_id']}").json()["links"]
        assert any(link["protocol"] == "OGC:WCS" and link["name"] == sst for link in links)
        # The subset form: a box in longitude/latitude and one time, to WCS.
        assert [o.text for o in html.iterfind(".//form[@class='subset']//select[@name='time']/option")] == \
            SST_TIMES[::-1]
        r = http.get(f"/datasets/{sst}/subset", params={"west": -10, "south": 40, "east": 10, "north": 50,
                                                       "time": SST_TIMES[2], "format": "image/tiff"})
        assert r.status_code == 303 and r.headers["location"].startswith("/wcs?")
        with opened(http.get(r.headers["location"])) as got:
            assert got.bounds == (-10, 40, 10, 50) and got.tags()["time"] == SST_TIMES[2]
    with module_server.client(coverages["token"]) as member:
        page = etree.HTML(member.get(f"/datasets/{coverages['private']}").content)
        assert len(page.findall(".//ul[@class='downloads']/li")) == 2  # not a time stack: GeoTIFF and NetCDF


def test_xml_requests_by_post(coverages, module_server):
    request = f"""<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS" version="2.0.1">
      <wcs:CoverageId>{coverages['sst']}</wcs:CoverageId>
      <wcs:DimensionTrim><wcs:Dimension>Lat</wcs:Dimension><wcs:TrimLow>40</wcs:TrimLow><wcs:TrimHigh>50</wcs:TrimHigh>
      </wcs:DimensionTrim>
      <wcs:DimensionTrim><wcs:Dimension>Long</wcs:Dimension><wcs:TrimLow>-10</wcs:TrimLow><wcs:TrimHigh>10</wcs:TrimHigh>
      </wcs:DimensionTrim>
      <wcs:DimensionSlice><wcs:Dimension>time</wcs:Dimension><wcs:SlicePoint>{SST_TIMES[3]}</wcs:SlicePoint>
      </wcs:DimensionSlice>
      <wcs:format>image/tiff</wcs:format>
    </wcs:GetCoverage>"""
    with module_server.client() as http:
        for path in ("/wcs", "/ows"):
            with opened(http.post(path, content=request, headers={"Content-Type": "application/xml"})) as got:
                assert got.bounds == (-10, 40, 10, 50) and got.tags()["time"] == SST_TIMES[3]
        describe = (f'<wcs:DescribeCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS" version="2.0.1">'
                    f'<wcs:CoverageId>{coverages["rgb"]}</wcs:CoverageId></wcs:DescribeCoverage>')
        r = http.post("/wcs", content=describe)
        assert r.status_code == 200 and etree.fromstring(r.content).find(f"{WCS}CoverageDescription") is not None
        bomb = '<!DOCTYPE d [<!ENTITY e "x">]><wcs:GetCapabilities xmlns:wcs="http://www.opengis.net/wcs/2.0"/>'
        for body in (b"<not xml", bomb.encode(), b"<GetCoverage/>"):
            exception(http.post("/wcs", content=body), 400, "InvalidParameterValue")


def test_size_cap(site, settings, server):
    (outcome,) = publish_file(site, NC, variable="SST")
    (settings.data_dir / "kartenn.toml").write_text("wcs_max_bytes = 10000\n")  # 2,500 float32 pixels
    server.stop()
    server.start()  # reads the setting
    with server.client() as http:
        r = get_coverage(http, outcome.dataset.id)  # 180 × 90 pixels
        assert "subset it" in r.text and exception(r, 413, "InvalidParameterValue") == "subset"
        with opened(get_coverage(http, outcome.dataset.id, "Lat(0,40)", "Long(0,40)")) as got:
            assert got.shape == (20, 20)
        assert get_coverage(http, outcome.dataset.id, scaleFactor="4").status_code == 200  # 45 × 23
