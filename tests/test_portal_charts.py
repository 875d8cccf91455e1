"""Charts of station series and of a raster time stack's pixels, and the viewer's time slider, in Chromium
(Playwright) against a live server.

The chart's numbers are compared with the source file read by Python's csv module (or, for a pixel, by rasterio):
points shown for a range and variables, monthly means, CSV export, the address that restores the chart, the
embeddable page framed by another origin. The slider's tile requests carry datetime, and the tiles they get back
(decoded by mapbox-vector-tile) hold only the features of that time. Data: tests/data/timeseries and
tests/data/rasters/coads_sst.nc (README there: sources, licences).
"""

from __future__ import annotations

import base64
import csv
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from statistics import mean
from urllib.parse import parse_qs, unquote, urlparse

import mapbox_vector_tile
import pytest
import rasterio
from playwright import sync_api

import test_portal_browser
from conftest import shared
from kartenn.domain.security import Sharing
from kartenn.services.publish import publish_file

playwright = test_portal_browser.playwright  # the fixtures of the portal's other browser tests
browser = test_portal_browser.browser
WEATHER = "timeseries/seattle-newyork-weather.csv"  # daily, 2012-2015, Seattle and New York
CHART = "#series-chart"
SST = "rasters/coads_sst.nc"  # monthly sea-surface temperature of 2000, 2° cells, 12 bands
BREST = (-5, 47)  # a cell of the Atlantic off Brittany


@pytest.fixture
def weather(site):
    (outcome,) = publish_file(site, shared(WEATHER), series="station=location,time=date", dataset_id="weather",
                              title="Weather of two cities")
    assert outcome.error is None, outcome.error
    return outcome.dataset


def source(station: str) -> list[dict[str, str]]:
    with open(shared(WEATHER), newline="") as f:
        return [r for r in csv.DictReader(f) if r["location"] == station]


def chart_ready(page) -> dict:
    """What the chart draws once it has read its series: points, series, and its time axis."""
    sync_api.expect(page.locator(f"{CHART}[data-ready=true]")).to_be_visible()
    return page.evaluate("""() => { const u = document.querySelector('#series-chart').chart;
        return u ? {points: u.data[0].length, series: u.data.length - 1, first: u.data[0][0],
                    last: u.data[0][u.data[0].length - 1], min: u.scales.x.min, max: u.scales.x.max,
                    labels: u.series.slice(1).map((s) => s.label)} : {points: 0}; }""")


def seconds(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def instant(text: str) -> str:
    """A time as the API lists it: the tiles of PostGIS write '2001-10-30 14:24:55+00'."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def downloaded(page, button: str) -> bytes:
    with page.expect_download() as info:
        page.locator(button).click()
    return open(info.value.path(), "rb").read()


@pytest.mark.live
def test_station_chart_range_aggregation_exports_and_address(weather, server, browser):
    seattle = [r for r in source("Seattle") if r["date"].startswith("2012")]
    page = browser.page()
    page.goto(f"{server.url}/datasets/weather?lang=en&station=Seattle&var=temp_max&var=wind"
              "&from=2012-01-01&to=2012-12-31")
    drawn = chart_ready(page)
    # 2012 is a leap year: 366 days, two variables; the time axis spans the chosen range
    assert drawn["points"] == len(seattle) == 366 and drawn["series"] == 2
    assert drawn["first"] == seconds("2012-01-01") and drawn["last"] == seconds("2012-12-31")
    assert drawn["min"] <= seconds("2012-01-01") and drawn["max"] >= seconds("2012-12-31")
    sync_api.expect(page.locator(".chart-status")).to_have_text("366 points shown")
    rows = list(csv.DictReader(downloaded(page, ".chart-csv").decode().splitlines()))
    assert len(rows) == 366
    assert [float(r["Seattle · temp_max"]) for r in rows] == [float(r["temp_max"]) for r in seattle]
    assert rows[0]["time"] == "2012-01-01T00:00:00Z"
    browser.check_accessibility(page, "dataset page with a chart")

    # Monthly: 12 points, each the mean of its month, with the month's minimum and maximum.
    with page.expect_request(lambda r: "/locations/Seattle?" in r.url and "aggregate=month" in r.url):
        page.get_by_label("Aggregation").select_option("month")  # computed by the server
    sync_api.expect(page.locator(".chart-status")).to_have_text("12 points shown")
    drawn = chart_ready(page)
    assert drawn["series"] == 6  # mean, min and max of each variable
    rows = list(csv.DictReader(downloaded(page, ".chart-csv").decode().splitlines()))
    by_month = defaultdict(list)
    for r in seattle:
        by_month[r["date"][:7]].append(float(r["temp_max"]))
    assert [r["time"][:7] for r in rows] == sorted(by_month)
    assert [float(r["Seattle · temp_max (mean)"]) for r in rows] == pytest.approx([mean(v) for v in by_month.values()])
    assert [float(r["Seattle · temp_max (max)"]) for r in rows] == [max(v) for v in by_month.values()]

    # Compare with New York: its two series join the chart; the address holds the whole state.
    page.get_by_label("Compare with the station").select_option("New York")
    page.locator(".chart-add").click()
    sync_api.expect(page.locator(".chart-stations li")).to_have_count(2)
    drawn = chart_ready(page)
    assert drawn["series"] == 12 and drawn["points"] == 12
    assert "New York · wind (mean)" in drawn["labels"]
    query = parse_qs(urlparse(page.url).query)
    assert query["station"] == ["Seattle", "New York"] and query["var"] == ["temp_max", "wind"]
    assert query["agg"] == ["month"] and query["from"] == ["2012-01-01"] and query["to"] == ["2012-12-31"]
    png = downloaded(page, ".chart-png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000

    # The address restores the chart, as does the share box's address.
    address = page.url
    page.locator(".chart-share summary").click()
    assert unquote(page.locator(".chart-link").input_value()).replace("+", " ") == \
        unquote(address.split("#")[0]).replace("lang=en&", "").replace("+", " ")
    embed = page.locator(".chart-embed").input_value()
    assert re.fullmatch(r'<iframe src="http://127\.0\.0\.1:\d+/datasets/weather/chart\?station=Seattle&amp;.*'
                        r'title="Weather of two cities" style="border:0"></iframe>', embed.replace("&", "&amp;"))
    page.goto("about:blank")
    page.goto(address)
    drawn = chart_ready(page)
    assert drawn["series"] == 12 and drawn["points"] == 12
    sync_api.expect(page.get_by_label("Aggregation")).to_have_value("month")

    # Whole period, every value: the time axis covers the series' range (2012-01-01 to 2015-12-31).
    page.get_by_label("Aggregation").select_option("raw")
    page.locator(".chart-reset").click()
    sync_api.expect(page.locator(".chart-status")).to_have_text(f"{len(source('Seattle'))} points shown")
    drawn = chart_ready(page)
    assert drawn["first"] == seconds("2012-01-01") and drawn["last"] == seconds("2015-12-31")
    assert drawn["min"] <= drawn["first"] and drawn["max"] >= drawn["last"]
    # Dragging across the chart zooms in: a shorter period in the address, fewer points.
    page.locator(f"{CHART} .u-over").scroll_into_view_if_needed()
    box = page.locator(f"{CHART} .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    sync_api.expect(page).to_have_url(re.compile(r".*&from=201[23]-\d\d-\d\d&to=201[34]-\d\d-\d\d$"))
    zoomed = chart_ready(page)
    assert 200 < zoomed["points"] < 500
    browser.shot(page, "chart")


def test_chart_page_has_the_rights_of_edr(weather, site, server):
    """The embeddable page of a private station dataset: found by its organisation's member, as its EDR is; not
    found by anyone else. Only that page may be framed by other sites."""
    from kartenn.services.identity import hash_password

    site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_user("anne", password_hash=hash_password("a long member password"))
    site.accounts.set_membership("anne", "iuem", "member")
    (outcome,) = publish_file(site, shared(WEATHER), series="station=location,time=date", dataset_id="secret",
                              sharing=Sharing(org="iuem", public=False))
    assert outcome.error is None
    member = {"Authorization": "Basic " + base64.b64encode(b"anne:a long member password").decode()}
    with server.client() as http:
        for headers, status in (({}, 404), (member, 200)):
            page = http.get("/datasets/secret/chart", headers=headers)
            data = http.get("/ogc/collections/secret/locations/Seattle", headers=headers)
            assert page.status_code == data.status_code == status
            assert "frame-ancestors *" in page.headers["content-security-policy"]
            assert "x-frame-options" not in page.headers
        assert 'id="series-chart"' in http.get("/datasets/secret/chart", headers=member).text
        for path in ("/datasets/weather", "/map", "/"):
            other = http.get(path)
            assert other.headers["x-frame-options"] == "SAMEORIGIN", path
            assert "frame-ancestors 'self'" in other.headers["content-security-policy"], path


@pytest.mark.live
def test_embedded_chart_in_another_site_and_private_datasets_hidden(weather, site, server, browser):
    site.accounts.add_organisation("iuem", "IUEM")
    (outcome,) = publish_file(site, shared(WEATHER), series="station=location,time=date", dataset_id="secret",
                              sharing=Sharing(org="iuem", public=False))
    assert outcome.error is None
    with server.client() as http:
        framed = http.get("/datasets/weather/chart?station=Seattle")
        plain = http.get("/datasets/weather")
        hidden = http.get("/datasets/secret/chart")
        not_series = http.get("/ogc/collections/secret/locations")
    assert framed.status_code == 200 and "x-frame-options" not in framed.headers
    assert "frame-ancestors *" in framed.headers["content-security-policy"]
    assert plain.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in plain.headers["content-security-policy"]
    assert hidden.status_code == 404 and not_series.status_code == 404  # as in EDR
    assert "Seattle" not in hidden.text

    # A page of another origin (a server on another port) frames the chart, and the private dataset's.
    page = browser.page()
    src = f"{server.url}/datasets/weather/chart?lang=fr&station=New+York&var=precipitation&from=2015-01-01&agg=month"
    with other_site({"/host.html": src, "/hidden.html": f"{server.url}/datasets/secret/chart?lang=en"}) as other:
        page.goto(f"{other}/host.html")
        frame = page.frame_locator("iframe")
        sync_api.expect(frame.locator(f"{CHART}[data-ready=true]")).to_be_visible()
        sync_api.expect(frame.locator(".chart-status")).to_have_text("12 points affichés")
        assert page.frames[1].evaluate("document.querySelector('#series-chart').chart.data.length") == 4
        page.goto(f"{other}/hidden.html")
        frame = page.frame_locator("iframe")
        sync_api.expect(frame.locator("h1")).to_have_text("Not found")
        sync_api.expect(frame.locator(CHART)).to_have_count(0)
    page.goto(src)  # the embeddable page on its own, in French
    sync_api.expect(page.locator(f"{CHART}[data-ready=true]")).to_be_visible()
    sync_api.expect(page.get_by_role("button", name="Exporter en CSV")).to_be_visible()
    browser.check_accessibility(page, "embeddable chart")


@contextmanager
def other_site(frames: dict[str, str]) -> Iterator[str]:
    """A web site of its own (another port of 127.0.0.1) whose pages each frame one address."""

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path not in frames:
                self.send_error(404)
                return
            body = ('<!doctype html><html lang="en"><title>Another site</title>'
                    f'<iframe src="{escape(frames[self.path])}" width="800" height="600" title="chart"></iframe>'
                    '</html>').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.live
def test_station_chart_from_the_viewer(weather, server, browser):
    page = browser.page()
    page.goto(f"{server.url}/map?lang=en&layers=weather~mvt&view=-122.3139,47.4444,9")
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    page.wait_for_load_state("networkidle")
    page.locator("#viewer-map").click()  # the centre of the view: Seattle's station
    panel = page.locator("#info-panel")
    sync_api.expect(panel.locator(".series-chart[data-station=Seattle][data-ready=true]")).to_be_visible()
    points = page.evaluate("document.querySelector('#info-panel .series-chart').chart.data[0].length")
    assert points == len(source("Seattle"))
    panel.get_by_role("link", name="Open the chart of this station").click()
    page.wait_for_url("**/datasets/weather?station=Seattle*")
    assert chart_ready(page)["points"] == len(source("Seattle"))


@pytest.mark.live
def test_time_slider_filters_vector_tiles_and_is_kept_in_the_address(site, server, browser):
    (outcome,) = publish_file(site, shared("timeseries/mapserver-obs.csv"))
    assert not outcome.error
    ds = outcome.dataset.id
    with server.client() as http:
        times = http.get(f"/api/v1/datasets/{ds}").json()["time"]["values"]
    page = browser.page()
    asked: list[str] = []
    answered: dict[str, list[str]] = {}  # tile URL: the times of its features

    def finished(request) -> None:
        response = request.response()
        found = mapbox_vector_tile.decode(response.body()) if response and response.status == 200 else {}
        answered[request.url] = [instant(f["properties"]["datetime"]) for layer in found.values()
                                 for f in layer["features"]]

    def drawn(when: str | None) -> list[str]:
        """The times of the features in the tiles asked for with datetime ``when``, once every tile has come."""
        for _ in range(400):
            if asked and all(url in answered for url in asked):
                break
            page.wait_for_timeout(50)
        return [t for url in asked if parse_qs(urlparse(url).query).get("datetime", [None])[0] == when
                for t in answered[url]]

    page.on("request", lambda r: asked.append(r.url) if "/tiles/WebMercatorQuad/" in r.url else None)
    page.on("requestfinished", lambda r: finished(r) if "/tiles/WebMercatorQuad/" in r.url else None)
    page.on("requestfailed", lambda r: answered.setdefault(r.url, []))  # cancelled by the next choice
    page.goto(f"{server.url}/map?lang=en&layers={ds}~mvt")
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    assert sorted(drawn(None)) == times

    # One date: the tiles are asked for with datetime, and hold only the features of that date.
    asked.clear()
    with page.expect_request(lambda r: "/tiles/" in r.url and f"datetime={times[1].replace(':', '%3A')}" in r.url):
        page.locator(f"#time-{ds}").fill("1")
    assert drawn(times[1]) == [times[1]]
    assert f"time={ds}~{times[1]}~{times[1]}" in unquote(page.url)

    # A period (two handles), then play: a step forward keeps the period's length.
    page.locator(f"#time-range-{ds}").check()
    with page.expect_request(lambda r: "/tiles/" in r.url and
                             unquote(r.url).endswith(f"datetime={times[1]}/{times[3]}")):
        page.locator(f"#time-end-{ds}").fill("3")
    sync_api.expect(page.locator(f"#time-out-{ds}")).to_have_text(f"{times[1]} – {times[3]}")
    with page.expect_request(lambda r: "/tiles/" in r.url and
                             unquote(r.url).endswith(f"datetime={times[2]}/{times[4]}")):
        page.locator(f"#time-play-{ds}").click()
    page.locator(f"#time-play-{ds}").click()  # pause
    sync_api.expect(page.locator(f"#time-play-{ds}")).to_have_attribute("aria-pressed", "false")
    state = unquote(page.url)
    shown = page.locator(f"#time-out-{ds}").text_content()
    assert f"time={ds}~" in state

    # Reloading the address restores the period: handles, label, and the tiles' datetime.
    page.goto("about:blank")
    asked.clear()
    page.goto(state)
    sync_api.expect(page.locator(f"#time-out-{ds}")).to_have_text(shown)
    sync_api.expect(page.locator(f"#time-range-{ds}")).to_be_checked()
    start, end = parse_qs(urlparse(state).query)["time"][0].split("~")[1:]
    assert sorted(drawn(f"{start}/{end}")) == [t for t in times if start <= t <= end]
    browser.check_accessibility(page, "viewer with a time slider")


@pytest.mark.live
def test_time_slider_steps_through_a_long_range(site, server, browser):
    """Daily weather as plain points: 1,461 dates, more than the API lists, so the slider steps through their range;
    the tiles of a period hold the features of its days, at both stations."""
    (outcome,) = publish_file(site, shared(WEATHER), dataset_id="daily")
    assert not outcome.error
    with server.client() as http:
        time = http.get("/api/v1/datasets/daily").json()["time"]
    assert "values" not in time and (time["start"], time["end"]) == ("2012-01-01", "2015-12-31")
    page = browser.page()
    page.goto(f"{server.url}/map?lang=en&layers=daily~mvt")
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    sync_api.expect(page.locator("#time-daily")).to_have_attribute("max", "100")
    first, last = datetime(2012, 1, 1), datetime(2015, 12, 31)
    end = (first + (last - first) * 2 / 100).date().isoformat()  # two steps of 1,460 / 100 days
    with page.expect_response(lambda r: "/tiles/" in r.url and r.status == 200 and
                              unquote(r.url).endswith(f"datetime=2012-01-01/{end}")) as answer:
        page.locator("#time-daily").fill("0")
        page.locator("#time-range-daily").check()
        page.locator("#time-end-daily").fill("2")
    sync_api.expect(page.locator("#time-out-daily")).to_have_text(f"2012-01-01 – {end}")
    days = {r["date"] for r in source("Seattle") if "2012-01-01" <= r["date"] <= end}
    found = mapbox_vector_tile.decode(answer.value.body())
    dates = [f["properties"]["date"] for layer in found.values() for f in layer["features"]]
    assert dates and set(dates) <= days and len(dates) <= 2 * len(days)
    assert f"time=daily~2012-01-01~{end}" in unquote(page.url)


@pytest.fixture
def sst(site):
    (outcome,) = publish_file(site, shared(SST), variable="SST", dataset_id="sst", title="Sea surface temperature")
    assert outcome.error is None, outcome.error
    return outcome.dataset


def cell(lon: float, lat: float) -> list[float]:
    """SST of the cell holding (lon, lat), one value per band (month), as GDAL reads the NetCDF."""
    with rasterio.open(f"NETCDF:{shared(SST)}:SST") as src:
        row, col = src.index(lon, lat)
        return [float(v) for v in src.read(window=((row, row + 1), (col, col + 1))).reshape(-1)]


@pytest.mark.live
def test_pixel_chart_of_a_raster_stack_from_the_viewer_and_its_page(sst, server, browser):
    expected = cell(*BREST)
    assert len(expected) == 12
    page = browser.page()
    page.goto(f"{server.url}/map?lang=en&layers=sst~wms&view={BREST[0]},{BREST[1]},6")
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    page.wait_for_load_state("networkidle")
    with page.expect_request(lambda r: "/ogc/collections/sst/position?" in r.url):
        page.locator("#viewer-map").click()  # the centre of the view: the cell off Brittany
    chart = page.locator("#info-panel .series-chart[data-ready=true]")
    sync_api.expect(chart).to_be_visible()
    station = chart.get_attribute("data-station")
    lon, lat = map(float, station.split(","))
    assert cell(lon, lat) == expected  # the clicked point is in the same cell
    values = page.evaluate("document.querySelector('#info-panel .series-chart').chart.data[1]")
    assert values == pytest.approx(expected, rel=1e-6)
    page.get_by_role("link", name="Open the chart of this pixel").click()
    page.wait_for_url("**/datasets/sst?station=*")
    drawn = chart_ready(page)
    assert drawn["points"] == 12 and drawn["labels"] == [f"{station} · SST"]

    # The dataset's page with a point in its address: 12 months, the values of the source's cell.
    page.goto(f"{server.url}/datasets/sst?lang=en&station={BREST[0]},{BREST[1]}")
    drawn = chart_ready(page)
    assert drawn["points"] == 12 and drawn["series"] == 1
    sync_api.expect(page.locator(".chart-stations li")).to_have_text("-5,47")
    rows = list(csv.DictReader(downloaded(page, ".chart-csv").decode().splitlines()))
    assert len(rows) == 12 and rows[0]["time"].startswith("2000-01-16")
    assert [float(r["-5,47 · SST"]) for r in rows] == pytest.approx(expected, rel=1e-6)
    browser.check_accessibility(page, "dataset page of a raster stack with a chart")

    # Monthly: one value a month, so the mean, the minimum and the maximum are that value.
    with page.expect_request(lambda r: "/position?" in r.url and "aggregate=month" in r.url):
        page.get_by_label("Aggregation").select_option("month")
    sync_api.expect(page.locator(".chart-status")).to_have_text("12 points shown")
    assert chart_ready(page)["series"] == 3
    rows = list(csv.DictReader(downloaded(page, ".chart-csv").decode().splitlines()))
    assert [r["time"][:7] for r in rows] == [f"2000-{m:02d}" for m in range(1, 13)]
    for part in ("mean", "min", "max"):
        assert [float(r[f"-5,47 · SST ({part})"]) for r in rows] == pytest.approx(expected, rel=1e-6)
    assert parse_qs(urlparse(page.url).query)["agg"] == ["month"]
    page.locator(".chart-share summary").click()
    assert "/datasets/sst/chart?station=-5%2C47&var=SST&agg=month" in page.locator(".chart-embed").input_value()

    # The embeddable page of the pixel, in French.
    page.goto(f"{server.url}/datasets/sst/chart?lang=fr&station=-5,47&agg=month")
    drawn = chart_ready(page)
    assert drawn["points"] == 12 and drawn["series"] == 3
    sync_api.expect(page.locator(".chart-status")).to_have_text("12 points affichés")
    sync_api.expect(page.get_by_text("Point (longitude, latitude)")).to_be_visible()


def test_pixel_chart_page_has_the_rights_of_edr(sst, site, server):
    (hidden,) = publish_file(site, shared(SST), variable="SST", dataset_id="secret-sst",
                             sharing=Sharing(public=False))
    (still,) = publish_file(site, shared("rasters/shade.tif"), dataset_id="shade")  # a raster with no time
    assert hidden.error is None and still.error is None
    with server.client() as http:
        shown = http.get("/datasets/sst/chart?station=-5,47")
        page = http.get("/datasets/secret-sst/chart?station=-5,47")
        data = http.get("/ogc/collections/secret-sst/position", params={"coords": "POINT(-5 47)"})
        raster = http.get("/datasets/sst")
        timeless = (http.get("/datasets/shade/chart?station=-5,47"), http.get("/datasets/shade"))
    assert shown.status_code == 200 and 'id="series-chart"' in shown.text
    assert "frame-ancestors *" in shown.headers["content-security-policy"]
    assert page.status_code == data.status_code == 404
    assert 'id="series-chart"' not in page.text
    assert 'id="series-chart"' in raster.text
    assert timeless[0].status_code == 404 and timeless[1].status_code == 200
    assert 'id="series-chart"' not in timeless[1].text
