"""OGC API Tiles dataset tiles (/ogc/tiles): one MVT, one layer per visible collection, on both stores."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import shapely

from conftest import shared
from kartenn.domain.security import Sharing
from kartenn.services.publish import publish_file

NEW_YORK = (-73.98196278740681, 40.75192492259464)  # the populated place, inside Manhattan


def publish(site, rel: str, **kwargs) -> str:
    (outcome,) = publish_file(site, shared(rel), **kwargs)
    assert outcome.error is None
    return outcome.dataset.id


def test_one_tile_carries_every_visible_collection(site, server):
    nybb = publish(site, "nyc-boroughs/nybb_16a.zip")
    places = publish(site, "natural-earth/ne_110m_populated_places_simple.geojson")
    site.accounts.add_organisation("iuem")
    lakes = publish(site, "natural-earth/ne_110m_lakes.geojson", sharing=Sharing(org="iuem", public=False))
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(*NEW_YORK, 10)
    b = tms.xy_bounds(tile)
    with server.client() as http:
        landing = http.get("/ogc").json()
        assert any(link["href"].endswith("/ogc/tiles") for link in landing["links"])
        tilesets = http.get("/ogc/tiles").json()["tilesets"]
        assert {t["tileMatrixSetURI"] for t in tilesets} >= {tms.uri}
        layers = {layer["id"] for layer in tilesets[0]["layers"]}
        assert {nybb, places} <= layers and lakes not in layers  # private: not listed to strangers
        tilejson = http.get("/ogc/tiles/WebMercatorQuad/tilejson", params={"collections": f"{nybb},{places}"}).json()
        assert [v["id"] for v in tilejson["vector_layers"]] == [nybb, places]
        assert tilejson["tiles"][0].endswith(f"/{{z}}/{{y}}/{{x}}?collections={nybb},{places}")

        r = http.get(f"/ogc/tiles/WebMercatorQuad/10/{tile.y}/{tile.x}", params={"collections": f"{nybb},{places}"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert http.get(r.url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
        other = http.get(r.url.copy_with(params={"collections": nybb}), headers={"If-None-Match": r.headers["etag"]})
        assert other.status_code == 200 and other.headers["etag"] != r.headers["etag"]
        decoded = mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": False})
        assert set(decoded) == {nybb, places}
        extent = decoded[places]["extent"]
        point = next(f for f in decoded[places]["features"] if f["properties"]["name"] == "New York")
        px, py = point["geometry"]["coordinates"]
        x, y = tms.xy(*NEW_YORK)
        assert abs(b.left + px / extent * (b.right - b.left) - x) < 100
        assert abs(b.bottom + py / extent * (b.top - b.bottom) - y) < 100
        manhattan = next(f for f in decoded[nybb]["features"] if f["properties"]["BoroName"] == "Manhattan")
        assert shapely.geometry.shape(manhattan["geometry"]).buffer(0).contains(shapely.Point(px, py))

        # Without collections: every visible vector collection, never the private one.
        everything = mapbox_vector_tile.decode(http.get(f"/ogc/tiles/WebMercatorQuad/10/{tile.y}/{tile.x}").content)
        assert set(everything) == {nybb, places}
        assert http.get(f"/ogc/tiles/WebMercatorQuad/10/{tile.y}/{tile.x}",
                        params={"collections": lakes}).status_code == 404
        assert http.get("/ogc/tiles/WebMercatorQuad/3/99/0").status_code == 404
        assert http.get("/ogc/tiles/Nope/3/0/0").status_code == 404
