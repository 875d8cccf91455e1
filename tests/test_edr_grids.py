"""OGC API – EDR on raster time stacks, on both stores: position, area and radius on coads_sst.nc's SST published as
a stack, values compared with the source read by GDAL's netCDF driver, CoverageJSON read by covjson-pydantic.

Data: tests/data/rasters/coads_sst.nc (monthly sea-surface temperature, 2° grid, 12 times; README there).
"""

from __future__ import annotations

import csv
import io

import numpy as np
import orjson
import pytest
import rasterio
from covjson_pydantic.coverage import Coverage

from conftest import shared
from kartenn.domain.security import Sharing
from kartenn.services.publish import publish_file

NC = shared("rasters/coads_sst.nc")
BREST = (-5.0, 47.0)  # a cell of the Atlantic off Brittany


def source(lon: float, lat: float) -> np.ndarray:
    """SST at (lon, lat) for each of the 12 months, as GDAL reads the NetCDF (NaN where no value)."""
    with rasterio.open(f"NETCDF:{NC}:SST") as src:
        row, col = src.index(lon, lat)
        values = src.read(window=((row, row + 1), (col, col + 1)), masked=True).astype(float)
        return np.ma.filled(values, np.nan).reshape(-1)


@pytest.fixture(scope="module")
def http(module_server):
    with module_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def sst(module_site) -> tuple[str, str]:
    (outcome,) = publish_file(module_site, NC, variable="SST")
    assert outcome.error is None
    (hidden,) = publish_file(module_site, NC, variable="AIRT", sharing=Sharing(public=False))
    assert hidden.error is None
    return outcome.dataset.id, hidden.dataset.id


def test_collection_lists_the_grid_queries_and_its_parameter(http, sst) -> None:
    dataset_id, _ = sst
    doc = http.get(f"/ogc/collections/{dataset_id}").json()
    assert set(doc["data_queries"]) == {"position", "area", "radius", "cube"}
    assert doc["parameter_names"]["SST"]["unit"]["symbol"] == "Deg C"
    assert doc["extent"]["temporal"]["interval"][0][0].startswith("2000-01-16")


def test_position_gives_the_cell_series_equal_to_the_source(http, sst) -> None:
    dataset_id, _ = sst
    r = http.get(f"/ogc/collections/{dataset_id}/position",
                          params={"coords": f"POINT({BREST[0]} {BREST[1]})"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/prs.coverage+json")
    coverage = Coverage.model_validate_json(r.content)
    assert coverage.domain.domainType.value == "PointSeries"
    doc = orjson.loads(r.content)
    assert len(doc["domain"]["axes"]["t"]["values"]) == 12
    got = np.array([np.nan if v is None else v for v in doc["ranges"]["SST"]["values"]])
    np.testing.assert_allclose(got, source(*BREST), rtol=1e-6, equal_nan=True)
    assert not np.isnan(got).all()


def test_datetime_keeps_the_steps_in_the_interval(http, sst) -> None:
    dataset_id, _ = sst
    r = http.get(f"/ogc/collections/{dataset_id}/position",
                          params={"coords": f"POINT({BREST[0]} {BREST[1]})", "datetime": "2000-03-01/2000-05-31",
                                  "f": "csv"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["time"][:7] for row in rows] == ["2000-03", "2000-04", "2000-05"]
    np.testing.assert_allclose([float(row["value"]) for row in rows], source(*BREST)[2:5], rtol=1e-6)


def test_area_keeps_the_cells_in_the_polygon(http, sst) -> None:
    dataset_id, _ = sst
    polygon = "POLYGON((-10 40, 0 40, 0 50, -10 50, -10 40))"
    r = http.get(f"/ogc/collections/{dataset_id}/area",
                          params={"coords": polygon, "datetime": "2000-01-16T06:00:00Z"})
    assert r.status_code == 200
    Coverage.model_validate_json(r.content)
    doc = orjson.loads(r.content)
    xs, ys = doc["domain"]["axes"]["x"]["values"], doc["domain"]["axes"]["y"]["values"]
    assert all(-10 <= x <= 0 for x in xs) and all(40 <= y <= 50 for y in ys)
    assert doc["ranges"]["SST"]["shape"] == [1, len(ys), len(xs)]
    values = doc["ranges"]["SST"]["values"]
    for i, y in enumerate(ys):  # every value is the source's at the cell's centre
        for j, x in enumerate(xs):
            v = values[i * len(xs) + j]
            expected = source(x, y)[0]
            assert (v is None and np.isnan(expected)) or v == pytest.approx(expected, rel=1e-6)
    assert any(v is not None for v in values)


def test_radius_keeps_the_cells_within_the_distance(http, sst) -> None:
    dataset_id, _ = sst
    r = http.get(f"/ogc/collections/{dataset_id}/radius",
                          params={"coords": f"POINT({BREST[0]} {BREST[1]})", "within": "250",
                                  "within-units": "km", "f": "geojson", "datetime": "2000-06-01/2000-06-30"})
    assert r.status_code == 200
    features = r.json()["features"]
    assert features and all(f["properties"]["datetime"].startswith("2000-06") for f in features)
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    for f in features:
        x, y = f["geometry"]["coordinates"]
        assert geod.inv(BREST[0], BREST[1], x, y)[2] <= 250_000


@pytest.mark.parametrize("params, locator", [
    ({"coords": "POINT(-5 47)", "parameter-name": "AIRT"}, "parameter-name"),
    ({"coords": "POINT(-5 47)", "datetime": "not-a-date"}, "datetime"),
    ({"coords": "POINT(500 47)"}, "coords"),
])
def test_bad_queries_are_400(http, sst, params, locator) -> None:
    dataset_id, _ = sst
    r = http.get(f"/ogc/collections/{dataset_id}/position", params=params)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


def test_an_area_too_large_is_refused_without_reading(http, sst, monkeypatch) -> None:
    from kartenn.services import grids

    dataset_id, _ = sst
    monkeypatch.setattr(grids, "MAX_VALUES", 100)
    r = http.get(f"/ogc/collections/{dataset_id}/area",
                          params={"coords": "POLYGON((-60 -30, 60 -30, 60 30, -60 30, -60 -30))"})
    assert r.status_code == 400 and "more than the 100 allowed" in r.json()["detail"]


def test_a_private_stack_does_not_exist_for_others(http, sst) -> None:
    _, hidden = sst
    for query in ("position?coords=POINT(-5 47)", "area?coords=POLYGON((-10 40, 0 40, 0 50, -10 40))"):
        r = http.get(f"/ogc/collections/{hidden}/{query}")
        assert r.status_code == 404, query


def test_a_raster_without_time_has_no_edr(http, module_site) -> None:
    (plain,) = publish_file(module_site, shared("rasters/opengeos-dtm.tif"))
    r = http.get(f"/ogc/collections/{plain.dataset.id}/position", params={"coords": "POINT(-75 40)"})
    assert r.status_code == 404


def test_openapi_describes_the_grid_queries(http, sst) -> None:
    from openapi_spec_validator import validate

    dataset_id, _ = sst
    api = http.get("/ogc/api").json()
    validate(api)
    paths = api["paths"]
    assert {f"/ogc/collections/{dataset_id}/{q}" for q in ("position", "area", "radius", "cube")} <= set(paths)
    assert f"/ogc/collections/{dataset_id}/locations" not in paths


def test_cube_equals_the_area_of_the_same_box(http, sst) -> None:
    dataset_id, _ = sst
    cube = http.get(f"/ogc/collections/{dataset_id}/cube", params={"bbox": "-10,40,0,50", "parameter-name": "SST"})
    area = http.get(f"/ogc/collections/{dataset_id}/area",
                    params={"coords": "POLYGON((-10 40, 0 40, 0 50, -10 50, -10 40))"})
    assert cube.status_code == 200 and cube.json() == area.json()
    assert http.get(f"/ogc/collections/{dataset_id}/cube", params={"bbox": "0,50,-10"}).status_code == 400


def test_aggregate_applies_to_a_cells_series_not_to_an_area(http, sst) -> None:
    """aggregate=month on a position: monthly steps are their own means, minima and maxima; on an area, a 400."""
    dataset_id, _ = sst
    r = http.get(f"/ogc/collections/{dataset_id}/position",
                 params={"coords": f"POINT({BREST[0]} {BREST[1]})", "aggregate": "month", "f": "csv"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) >= 3 and {row["parameter"] for row in rows} == {"SST", "SST.min", "SST.max"}
    by = {(row["parameter"], row["time"]): float(row["value"]) for row in rows}
    assert all(by[("SST", t)] == by[("SST.min", t)] == by[("SST.max", t)] for _, t in by)
    area = http.get(f"/ogc/collections/{dataset_id}/area",
                    params={"coords": "POLYGON((-6 47,-4 47,-4 49,-6 49,-6 47))", "aggregate": "month"})
    assert area.status_code == 400 and "aggregate" in area.json()["detail"]
