"""One registry of feature output formats for f=, Accept, downloads, record links and WFS outputFormat."""

from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import shared
from kartenn.app import create_app
from kartenn.formats import output
from kartenn.formats.online_resources import DOWNLOADS
from kartenn.services.exports import FORMATS
from kartenn.services.publish import publish_file


def test_names_media_types_and_wfs_names_lead_to_one_format() -> None:
    assert [output.by_name(n).name for n in ("shp", "shapefile", "fgb", "flatgeobuf", "json", "geojson")] == [
        "shp", "shp", "fgb", "fgb", "geojson", "geojson"]
    assert output.by_name("kml") is None and output.by_name("") is None
    assert output.by_media_type("text/html, text/csv;q=0.5").name == "csv"
    assert output.by_media_type("application/x-shapefile").name == "shp"
    assert output.by_media_type("text/html, */*") is None
    assert [output.wfs_output(v).name for v in ("application/json", "JSON", "application/geo+json", "GeoJSON")] == [
        "geojson"] * 4
    assert output.wfs_output("text/xml; subtype=gml/3.2") is None
    # The tables of exports and of record links are this registry's.
    assert FORMATS == {f.name: (f.media_type, f.extension, f.driver) for f in output.FEATURE_FORMATS}
    assert DOWNLOADS["csv"] == ("text/csv", "CSV") and DOWNLOADS["shp"] == ("application/zip", "ESRI Shapefile")


def test_downloads_and_wfs_answer_each_way_of_asking(site, settings) -> None:
    [outcome] = publish_file(site, shared("france-admin-express-2018/regions.geojson"))
    ds = outcome.dataset.id
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        url = f"/ogc/collections/{ds}/download"
        for params, headers, media in (
                ({"f": "shapefile"}, {}, "application/zip"),
                ({"f": "flatgeobuf"}, {}, "application/flatgeobuf"),
                ({}, {"Accept": "text/html, application/geopackage+sqlite3"}, "application/geopackage+sqlite3"),
                ({}, {"Accept": "text/csv"}, "text/csv; charset=utf-8"),
                ({}, {}, "application/geo+json")):
            response = client.get(url, params=params, headers=headers)
            assert (response.status_code, response.headers["content-type"]) == (200, media), (params, headers)
        refused = client.get(url, params={"f": "kml"})
        assert refused.status_code == 400 and "gpkg" in refused.text
        for name in ("geojson", "application/json"):
            response = client.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                                  "typeNames": ds, "count": "1", "outputFormat": name})
            assert response.status_code == 200 and response.headers["content-type"] == "application/geo+json"
            assert len(response.json()["features"]) == 1


def test_a_raster_downloads_as_its_cloud_optimized_geotiff(site, settings) -> None:
    from kartenn.domain.security import Sharing

    dem = publish_file(site, shared("rasters/opengeos-dtm.tif"))[0].dataset
    hidden = publish_file(site, shared("rasters/opengeos-dtm.tif"), sharing=Sharing(public=False))[0].dataset
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        url = f"/ogc/collections/{dem.id}/download"
        for params in ({}, {"f": "tiff"}):
            response = client.get(url, params=params)
            assert response.status_code == 200 and response.headers["content-type"].startswith("image/tiff")
            assert response.content == site.files.path(dem.storage).read_bytes()
            assert f'filename="{dem.id}.tif"' in response.headers["content-disposition"]
        refused = client.get(url, params={"f": "gpkg"})
        assert refused.status_code == 400 and "f=tiff" in refused.text
        assert client.get(f"/ogc/collections/{hidden.id}/download").status_code == 404
