"""Station datasets (measurements in long or wide form) and OGC API – EDR on them, on both stores.

CoverageJSON answers are read by covjson-pydantic's models; values are compared with the source files read by
Python's csv and json modules. Data: tests/data/timeseries (README there: sources, licences, derived files).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from covjson_pydantic.coverage import Coverage, CoverageCollection

from conftest import kartenn, shared
from kartenn.domain.security import Sharing
from kartenn.errors import InvalidInput
from kartenn.services.publish import publish_file

PORTLAND = "timeseries/portland-8418150-msl-long.csv"  # long form, usual names, units, lon/lat per row
HYDAT = "timeseries/hydat-02HC003-daily.geojson"  # wide form, GeoJSON points
WEATHER = "timeseries/seattle-newyork-weather.csv"  # wide form, two stations
OBS = "timeseries/mapserver-obs.csv"  # long form with one unnamed variable; "id" is a row id, not the station
SEATTLE = (-122.3139, 47.4444)
NEW_YORK = (-73.9692, 40.7789)


@pytest.fixture(scope="module")
def published(module_site):
    site = module_site
    for path, naming, dataset_id in ((PORTLAND, "auto", "portland"),
                                     (HYDAT, "station=STATION_NUMBER,time=DATE", "hydat"),
                                     (WEATHER, "station=location,time=date", "weather"),
                                     (OBS, "station=stn_id", "obs")):
        (outcome,) = publish_file(site, shared(path), series=naming, dataset_id=dataset_id)
        assert outcome.error is None, outcome.error
    site.accounts.add_organisation("iuem", "IUEM")
    (outcome,) = publish_file(site, shared(OBS), series="station=stn_id", dataset_id="secret",
                              sharing=Sharing(org="iuem", public=False))
    assert outcome.error is None
    return site


def source_rows(relative: str) -> list[dict[str, str]]:
    with open(shared(relative), newline="") as f:
        return list(csv.DictReader(f))


def test_long_form_values_read_back_equal_the_source(published, module_server):
    expected = {(r["variable"], r["time"] + "T00:00:00Z", float(r["value"])) for r in source_rows(PORTLAND)}
    with module_server.client() as http:
        r = http.get("/ogc/collections/portland/locations/8418150", params={"f": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        got = list(csv.DictReader(io.StringIO(r.text)))
    assert {(g["parameter"], g["time"], float(g["value"])) for g in got} == expected
    assert len(got) == len(expected) == 2598
    assert {g["unit"] for g in got} == {"m"} and {g["station"] for g in got} == {"8418150"}


def test_wide_form_geojson_source(published, module_server):
    with open(shared(HYDAT)) as f:
        features = json.load(f)["features"]
    flows = {ft["properties"]["DATE"] + "T00:00:00Z": ft["properties"]["FLOW"] for ft in features}
    with module_server.client() as http:
        meta = http.get("/ogc/collections/hydat").json()
        assert "FLOW" in meta["parameter_names"]
        assert not {"DATE", "STATION_NUMBER", "IDENTIFIER"} & set(meta["parameter_names"])
        r = http.get("/ogc/collections/hydat/locations/02HC003", params={"parameter-name": "FLOW"})
    assert r.headers["content-type"] == "application/prs.coverage+json"
    cov = Coverage.model_validate_json(r.content)
    assert cov.domain.domainType.value == "PointSeries"
    times = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in cov.domain.axes.t.values]
    assert dict(zip(times, cov.ranges["FLOW"].values, strict=True)) == pytest.approx(flows)
    assert cov.domain.axes.x.values == pytest.approx([features[0]["geometry"]["coordinates"][0]])


def test_wide_form_named_columns(published, module_server):
    rows = [r for r in source_rows(WEATHER) if r["location"] == "Seattle"]
    with module_server.client() as http:
        meta = http.get("/ogc/collections/weather").json()
        # every numeric column but the coordinates is a variable; "weather" (text) is not
        assert set(meta["parameter_names"]) == {"precipitation", "temp_max", "temp_min", "wind"}
        r = http.get("/ogc/collections/weather/locations/Seattle",
                     params={"parameter-name": "temp_max,wind", "f": "csv"})
    got = list(csv.DictReader(io.StringIO(r.text)))
    assert {g["parameter"] for g in got} == {"temp_max", "wind"}
    maxima = {g["time"][:10]: float(g["value"]) for g in got if g["parameter"] == "temp_max"}
    assert maxima == {r["date"]: float(r["temp_max"]) for r in rows}


def test_collection_metadata_and_conformance(published, module_server):
    with module_server.client() as http:
        conforms = http.get("/ogc/conformance").json()["conformsTo"]
        assert "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/covjson" in conforms
        meta = http.get("/ogc/collections/portland").json()
        listed = {c["id"]: c for c in http.get("/ogc/collections").json()["collections"]}
        plain = http.get("/ogc/collections/portland/items").json()  # the stations are features too
        api = http.get("/ogc/api").json()
        described = http.get("/api/v1/datasets/portland").json()["series"]
        assert described["station"] == "station" and described["end"] == "2020-03-01T00:00:00+00:00"
        assert {p["name"]: p["unit"] for p in described["parameters"]} == {"Monthly_MSL": "m", "Linear_Trend": "m"}
        assert "series" not in http.get("/api/v1/datasets").json()["datasets"][0]
    from openapi_spec_validator import validate

    validate(api)
    position = api["paths"]["/ogc/collections/portland/position"]["get"]
    assert {p["name"] for p in position["parameters"]} == {"coords", "parameter-name", "datetime", "f", "aggregate"}
    assert "/ogc/collections/portland/locations/{locId}" in api["paths"]
    assert set(meta["data_queries"]) == {"position", "area", "radius", "locations", "items"}
    assert meta["data_queries"]["radius"]["link"]["variables"]["within_units"] == ["km", "m", "mi"]
    msl = meta["parameter_names"]["Monthly_MSL"]
    assert msl["unit"]["symbol"] == "m" and msl["type"] == "Parameter"
    assert meta["extent"]["temporal"]["interval"] == [["1912-01-01T00:00:00+00:00", "2020-03-01T00:00:00+00:00"]]
    assert listed["portland"]["parameter_names"] == meta["parameter_names"]
    assert "data_queries" not in listed.get("catalog", {})
    assert plain["numberMatched"] == 1 and plain["features"][0]["properties"]["station"] == "8418150"


@pytest.mark.live
def test_owslib_reads_edr(published, module_live_server):
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval

    edr = EnvironmentalDataRetrieval(module_live_server.url + "/ogc")
    assert {"portland", "hydat", "weather", "obs"} <= set(edr.data())
    assert "secret" not in edr.data()
    cov = edr.query_data("portland", "position", coords="POINT(-70.247 43.657)", datetime_="2000-01-01/2000-12-31")
    assert cov["type"] == "Coverage" and cov["domain"]["domainType"] == "PointSeries"
    assert len(cov["domain"]["axes"]["t"]["values"]) == 12
    assert set(cov["ranges"]) == {"Monthly_MSL", "Linear_Trend"}
    east = edr.query_data("weather", "area", coords="POLYGON((-80 35,-70 35,-70 45,-80 45,-80 35))",
                          datetime_="2012-01-01")
    assert east["type"] == "Coverage" and east["ranges"]["temp_max"]["values"] == [10.0]


def test_position_datetime_and_parameter_name(published, module_server):
    with module_server.client() as http:
        r = http.get("/ogc/collections/portland/position",
                     params={"coords": "POINT(-70.247 43.657)", "datetime": "2000-01-01/2000-12-31",
                             "parameter-name": "Monthly_MSL"})
        assert r.status_code == 200, r.text
        cov = Coverage.model_validate_json(r.content)
        assert set(cov.domain.axes.model_dump(exclude_none=True)) == {"x", "y", "t"}
        assert list(cov.ranges) == ["Monthly_MSL"] and cov.ranges["Monthly_MSL"].shape == [12]
        assert len(cov.domain.axes.t.values) == 12 and list(cov.parameters) == ["Monthly_MSL"]
        # open ends and instants
        before = http.get("/ogc/collections/portland/locations/8418150",
                          params={"datetime": "../1912-12-31", "parameter-name": "Monthly_MSL"}).json()
        assert len(before["domain"]["axes"]["t"]["values"]) == 12
        after = http.get("/ogc/collections/portland/locations/8418150",
                         params={"datetime": "2020-01-01T00:00:00Z/..", "parameter-name": "Monthly_MSL"}).json()
        assert after["domain"]["axes"]["t"]["values"] == ["2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z",
                                                         "2020-03-01T00:00:00Z"]
        one = http.get("/ogc/collections/portland/locations/8418150",
                       params={"datetime": "1912-01-01T00:00:00Z"}).json()
        assert one["ranges"]["Monthly_MSL"]["values"] == [-0.197]
        assert one["ranges"]["Linear_Trend"]["values"] == [-0.138]
        # a position more than 1 km from any station: nothing
        far = CoverageCollection.model_validate_json(
            http.get("/ogc/collections/portland/position", params={"coords": "POINT(-70.3 43.7)"}).content)
        assert far.coverages == []


def test_area_and_radius(published, module_server):
    with module_server.client() as http:
        area = http.get("/ogc/collections/weather/area",
                        params={"coords": "POLYGON((-123 47,-122 47,-122 48,-123 48,-123 47))",
                                "parameter-name": "wind", "datetime": "2012-01-01/2012-01-31"})
        cov = Coverage.model_validate_json(area.content)
        assert cov.domain.axes.x.values == pytest.approx([SEATTLE[0]]) and cov.ranges["wind"].shape == [31]
        near = http.get("/ogc/collections/weather/radius",
                        params={"coords": f"POINT({SEATTLE[0]} {SEATTLE[1]})", "within": "100", "within-units": "km"})
        assert Coverage.model_validate_json(near.content).domain.axes.y.values == pytest.approx([SEATTLE[1]])
        both = http.get("/ogc/collections/weather/radius",
                        params={"coords": f"POINT({SEATTLE[0]} {SEATTLE[1]})", "within": "4000",
                                "within-units": "km", "datetime": "2015-12-31"})
        collection = CoverageCollection.model_validate_json(both.content)
        assert len(collection.coverages) == 2 and set(collection.parameters) == {"precipitation", "temp_max",
                                                                                 "temp_min", "wind"}
        assert all(c.ranges["wind"].shape == [1] for c in collection.coverages)
        miles = http.get("/ogc/collections/weather/radius",
                         params={"coords": f"POINT({SEATTLE[0]} {SEATTLE[1]})", "within": "2000",
                                 "within-units": "mi", "datetime": "2015-12-31"})
        assert json.loads(miles.content)["type"] == "Coverage"  # 2000 miles: Seattle only (New York is 2400 away)


def test_geojson_and_csv_outputs(published, module_server):
    with module_server.client() as http:
        g = http.get("/ogc/collections/weather/area",
                     params={"coords": "POLYGON((-80 35,-70 35,-70 45,-80 45,-80 35))", "f": "geojson",
                             "datetime": "2012-01-01/2012-01-03", "parameter-name": "temp_min"})
        assert g.headers["content-type"] == "application/geo+json"
        features = g.json()["features"]
        assert [f["properties"]["datetime"] for f in features] == ["2012-01-01T00:00:00Z", "2012-01-02T00:00:00Z",
                                                                  "2012-01-03T00:00:00Z"]
        assert {f["properties"]["station"] for f in features} == {"New York"}
        assert features[0]["geometry"]["coordinates"] == pytest.approx(list(NEW_YORK))
        source = {r["date"]: float(r["temp_min"]) for r in source_rows(WEATHER) if r["location"] == "New York"}
        assert [f["properties"]["value"] for f in features] == [source[d] for d in
                                                                ("2012-01-01", "2012-01-02", "2012-01-03")]
        by_accept = http.get("/ogc/collections/obs/locations/35", headers={"Accept": "text/csv"})
        rows = list(csv.DictReader(io.StringIO(by_accept.text)))
        assert [(r["time"], float(r["value"])) for r in rows] == [("2001-10-30T14:24:55Z", 89.9),
                                                                 ("2002-10-30T18:31:38Z", 93.9)]


def test_locations(published, module_server):
    with module_server.client() as http:
        r = http.get("/ogc/collections/obs/locations")
        assert r.headers["content-type"] == "application/geo+json"
        stations = {f["id"]: f["geometry"]["coordinates"] for f in r.json()["features"]}
        source = {row["stn_id"]: [float(row["long"]), float(row["lat"])] for row in source_rows(OBS)}
        assert stations == source
        boxed = http.get("/ogc/collections/weather/locations", params={"bbox": "-80,35,-70,45"}).json()
        assert [f["id"] for f in boxed["features"]] == ["New York"]
        link = boxed["features"][0]["links"][0]["href"]
        assert link.endswith("/ogc/collections/weather/locations/New%20York")
        assert http.get(link.removeprefix(module_server.url)).status_code == 200


@pytest.mark.parametrize("path, params, locator", [
    ("position", {"coords": "POINT(abc)"}, "coords"),
    ("position", {"coords": "POLYGON((0 0,1 0,1 1,0 0))"}, "coords"),
    ("position", {}, "coords"),
    ("area", {"coords": "POINT(0 0)"}, "coords"),
    ("radius", {"coords": "POINT(0 0)", "within": "10"}, "within-units"),
    ("radius", {"coords": "POINT(0 0)", "within": "ten", "within-units": "km"}, "within"),
    ("locations/8418150", {"datetime": "2020-13-45"}, "datetime"),
    ("locations/8418150", {"datetime": "2020-01-01/2019-01-01"}, "datetime"),
    ("locations/8418150", {"parameter-name": "salinity"}, "parameter-name"),
    ("locations/8418150", {"f": "xml"}, "f"),
    ("locations/8418150", {"aggregate": "week"}, "aggregate"),
    ("position", {"coords": "POINT(500 43)"}, "coords"),
])
def test_bad_queries_are_400(published, module_server, path, params, locator):
    with module_server.client() as http:
        r = http.get(f"/ogc/collections/portland/{path}", params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert locator in r.json()["detail"]


def test_daily_and_monthly_means_minima_and_maxima(published, module_server):
    """aggregate=month: per station and month, the mean of each parameter under its name, and its minimum and maximum
    as name.min and name.max, in every format; aggregate=day on daily values gives them back."""
    rows = [r for r in source_rows(WEATHER) if r["location"] == "New York" and r["date"] < "2013"]
    by_month: dict[str, list[float]] = {}
    for r in rows:
        by_month.setdefault(r["date"][:7] + "-01T00:00:00Z", []).append(float(r["temp_min"]))
    query = {"parameter-name": "temp_min", "datetime": "2012-01-01/2012-12-31", "aggregate": "month"}
    with module_server.client() as http:
        got = list(csv.DictReader(io.StringIO(http.get("/ogc/collections/weather/locations/New York",
                                                       params={**query, "f": "csv"}).text)))
        answer = http.get("/ogc/collections/weather/locations/New York", params=query)
        cov = Coverage.model_validate_json(answer.content)
        daily = http.get("/ogc/collections/weather/locations/New York",
                         params={**query, "aggregate": "day", "f": "csv"}).text
    values = {(g["parameter"], g["time"]): float(g["value"]) for g in got}
    assert len(got) == 36 and {g["parameter"] for g in got} == {"temp_min", "temp_min.min", "temp_min.max"}
    assert {t: values[("temp_min", t)] for t in by_month} == pytest.approx({t: np.mean(v) for t, v in by_month.items()})
    assert {t: values[("temp_min.min", t)] for t in by_month} == {t: min(v) for t, v in by_month.items()}
    assert {t: values[("temp_min.max", t)] for t in by_month} == {t: max(v) for t, v in by_month.items()}
    assert set(cov.ranges) == {"temp_min", "temp_min.min", "temp_min.max"} and len(cov.domain.axes.t.values) == 12
    assert cov.ranges["temp_min.max"].values == [max(v) for v in by_month.values()]
    means = {g["time"][:10]: float(g["value"]) for g in csv.DictReader(io.StringIO(daily))
             if g["parameter"] == "temp_min"}
    assert means == {r["date"]: float(r["temp_min"]) for r in rows}


def test_too_many_values_is_400(published, module_server, monkeypatch):
    from kartenn.services import series

    monkeypatch.setattr(series, "MAX_VALUES", 1000)
    with module_server.client() as http:
        everything = http.get("/ogc/collections/portland/locations/8418150")  # 2,598 values
        assert everything.status_code == 400 and "more than the 1,000 allowed" in everything.json()["detail"]
        decade = http.get("/ogc/collections/portland/locations/8418150", params={"datetime": "2000-01-01/2009-12-31"})
        assert decade.status_code == 200 and len(decade.json()["domain"]["axes"]["t"]["values"]) == 120


def test_not_found_and_rights(published, module_server):
    with module_server.client() as http:
        assert http.get("/ogc/collections/portland/locations/nowhere").status_code == 404
        assert http.get("/ogc/collections/nothing/position", params={"coords": "POINT(0 0)"}).status_code == 404
        # a private station dataset does not exist for an anonymous caller, in EDR as in Features
        assert http.get("/ogc/collections/obs/locations").status_code == 200
        for path in ("", "/locations", "/locations/35", "/items"):
            assert http.get(f"/ogc/collections/secret{path}").status_code == 404, path
        assert http.get("/ogc/collections/secret/position", params={"coords": "POINT(-75 45)"}).status_code == 404
        assert "secret" not in {c["id"] for c in http.get("/ogc/collections").json()["collections"]}


def _nothing_published(site):
    assert site.catalog.list_datasets() == []
    assert site.features.unreferenced(set()) == []


def test_bad_input_publishes_nothing(site, tmp_path):
    def fails(text: str, naming: str, message: str, name: str = "m.csv") -> None:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InvalidInput, match=message):
            publish_file(site, path, series=naming)
        _nothing_published(site)

    with pytest.raises(InvalidInput, match="no coordinates"):
        publish_file(site, shared("timeseries/vega-weather-seattle-newyork.csv"), series="station=location")
    _nothing_published(site)
    fails("station,value,lon,lat\na,1,0,0\n", "auto", "no time column")
    fails("station,time,value,lon,lat\na,01/02/2020,1,0,0\n", "auto", "01/02/2020")
    fails("station,time,value,lon,lat\na,2020-01-01,,0,0\na,2020-01-02,high,0,0\n", "auto", "not numbers")
    fails("station,time,note,lon,lat\na,2020-01-01,calm,0,0\n", "auto", "no numeric column")
    fails("station,time,value,lon,lat\na,2020-01-01,1,0,0\nb,2020-01-01,2,,\n", "auto", "station 'b' has no coord")
    fails("station,time,value,lon,lat\na,2020-01-01,1,0,0\na,2020-01-01,2,0,0\n", "auto", "more than once")
    fails("station,time,value,lon,lat\na,2020-01-01,1,0,0\n", "station=code", "no column 'code'")
    fails("station,time,value,lon,lat\na,2020-01-01,1,0,0\n", "station=code,colour=red", "role=COLUMN")


def test_ten_years_hourly_in_one_read(site, tmp_path):
    start = datetime(2010, 1, 1, tzinfo=UTC)
    hours = 24 * 3650
    values = np.round(np.sin(np.arange(hours) / 500.0) * 3 + 1, 3)
    path = tmp_path / "gauge.csv"
    with open(path, "w") as f:
        f.write("code,timestamp,water_level (m),longitude,latitude\n")
        for i in range(hours):
            f.write(f"G1,{(start + timedelta(hours=i)).isoformat()},{values[i]},-4.49,48.38\n")
    (outcome,) = publish_file(site, path, series="auto")
    assert outcome.error is None
    dataset = outcome.dataset
    info = site.catalog.series_of([dataset.id])[dataset.id]
    assert info["parameters"] == [{"name": "water_level", "unit": "m", "count": hours,
                                   "begin": "2010-01-01T00:00:00+00:00", "end": "2019-12-29T23:00:00+00:00"}]
    (series,) = site.features.read_series(dataset.storage, ["G1"], ["water_level"], None, None)
    assert len(series.values) == hours and np.array_equal(series.values, values)
    assert series.times[0] == np.datetime64("2010-01-01T00:00")
    assert np.all(np.diff(series.times).astype(int) == 3600_000)
    (year,) = site.features.read_series(dataset.storage, ["G1"], ["water_level"], datetime(2015, 1, 1, tzinfo=UTC),
                                        datetime(2015, 12, 31, 23, tzinfo=UTC))
    assert len(year.values) == 8760


def test_cli_and_http_publish(site, settings, server, editor_token, tmp_path):
    result = kartenn("ingest", "--data-dir", str(settings.data_dir), "--series", "station=stn_id",
                     str(shared(OBS)), settings=settings)
    assert result.returncode == 0, result.stderr
    assert site.catalog.series_of(["mapserver-obs"])["mapserver-obs"]["station"] == "stn_id"
    bad = kartenn("ingest", "--data-dir", str(settings.data_dir), "--series", "auto",
                  str(shared("timeseries/vega-weather-seattle-newyork.csv")), settings=settings)
    assert bad.returncode != 0 and "no station column" in bad.stderr + bad.stdout
    from conftest import wait_job

    with server.client(editor_token) as http:
        refused = http.post("/api/v1/uploads", data={"series": "where=here"},
                            files={"file": ("obs.csv", shared(OBS).read_bytes())})
        assert refused.status_code == 400 and "role=COLUMN" in refused.json()["detail"]
        r = http.post("/api/v1/uploads", data={"series": "station=location,time=date", "public": "true"},
                      files={"file": ("weather.csv", shared(WEATHER).read_bytes())})
        assert r.status_code == 202, r.text
        job = wait_job(http, r.headers["location"])
        assert job["state"] == "succeeded", job
        (dataset_id,) = job["result"]["datasets"]
    with server.client() as http:
        cov = http.get(f"/ogc/collections/{dataset_id}/locations/Seattle",
                       params={"parameter-name": "precipitation", "datetime": "2012-01-01/2012-01-03"}).json()
        assert cov["ranges"]["precipitation"]["values"] == [0.0, 10.9, 0.8]


def test_stations_in_a_layer_of_their_own(site, tmp_path):
    import zipfile

    import geopandas
    import pandas
    import pyogrio

    # a zip: the measurements without coordinates, and a stations file joined by the station key
    stations = tmp_path / "stations.csv"
    stations.write_text("location,name,lon,lat\nSeattle,Seattle-Tacoma,-122.3139,47.4444\n"
                        f"New York,Central Park,{NEW_YORK[0]},{NEW_YORK[1]}\nBoston,Logan,-71.0,42.36\n")
    archive = tmp_path / "weather.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(shared("timeseries/vega-weather-seattle-newyork.csv"), "weather.csv")
        z.write(stations, "stations.csv")
    (outcome,) = publish_file(site, archive, series="station=location,time=date")
    assert outcome.error is None
    dataset = outcome.dataset
    assert dataset.count == 2 and [f.name for f in dataset.fields] == ["location", "name"]  # Boston measures nothing
    (wind,) = site.features.read_series(dataset.storage, ["New York"], ["wind"], None, None)
    expected = [float(r["wind"]) for r in source_rows("timeseries/vega-weather-seattle-newyork.csv")
                if r["location"] == "New York"]
    assert wind.values.tolist() == expected

    # a GeoPackage: a point layer of stations and a table of measurements
    gpkg = tmp_path / "gauges.gpkg"
    geopandas.GeoDataFrame({"station": ["8418150"], "name": ["Portland"]},
                           geometry=geopandas.points_from_xy([-70.2467], [43.6567]), crs="EPSG:4326").to_file(gpkg,
                                                                                                            layer="gauges")
    table = pandas.read_csv(shared(PORTLAND), dtype={"station": str}).drop(columns=["lon", "lat"])
    pyogrio.write_dataframe(table, gpkg, layer="msl")
    (outcome,) = publish_file(site, gpkg, series="auto")
    assert outcome.error is None
    info = site.catalog.series_of([outcome.dataset.id])[outcome.dataset.id]
    assert (info["station"], info["name"]) == ("station", "name")
    assert {p["name"]: p["count"] for p in info["parameters"]} == {"Monthly_MSL": 1299, "Linear_Trend": 1299}

    stations.write_text("location,lon,lat\nSeattle,-122.3139,47.4444\n")
    with zipfile.ZipFile(archive, "w") as z:
        z.write(shared("timeseries/vega-weather-seattle-newyork.csv"), "weather.csv")
        z.write(stations, "stations.csv")
    with pytest.raises(InvalidInput, match="station 'New York' of the measurements is not in the stations layer"):
        publish_file(site, archive, series="station=location,time=date")
    assert len(site.catalog.list_datasets()) == 2


def test_replace_and_delete(site):
    from kartenn.services.publish import delete_dataset

    (first,) = publish_file(site, shared(OBS), series="station=stn_id", dataset_id="gauges")
    (second,) = publish_file(site, shared(PORTLAND), series="auto", replace="gauges")
    assert second.dataset.id == "gauges" and second.dataset.storage != first.dataset.storage
    assert [p["name"] for p in site.catalog.series_of(["gauges"])["gauges"]["parameters"]] == ["Linear_Trend",
                                                                                                 "Monthly_MSL"]
    assert site.features.unreferenced({second.dataset.storage}) == []  # the old points and measurements are gone
    (plain,) = publish_file(site, shared(OBS), replace="gauges")  # no longer a station dataset
    assert plain.error is None and site.catalog.series_of(["gauges"]) == {}
    delete_dataset(site, "gauges")
    assert site.features.unreferenced(set()) == [] and site.catalog.list_datasets() == []
