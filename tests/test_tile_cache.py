"""The tile cache on both stores: hits the second time, new tiles after a WFS-T edit or a replace, rights first."""

from __future__ import annotations

import io

import mapbox_vector_tile
import morecantile
import numpy as np
from PIL import Image
from pyproj import Transformer

from conftest import shared
from kartenn.domain.security import Sharing
from kartenn.services.identity import create_token
from kartenn.services.publish import publish_file

REGIONS = "france-admin-express-2018/regions.geojson"
WFS = "http://www.opengis.net/wfs/2.0"
GML = "http://www.opengis.net/gml/3.2"
# A square of sea west of Brittany, in Lambert-93.
SQUARE = (40000, 6700000, 80000, 6740000)
INSERT = f"""<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS}" xmlns:gml="{GML}"
    xmlns:kartenn="urn:x-kartenn:features">
  <wfs:Insert><kartenn:regions>
    <kartenn:geom><gml:Polygon gml:id="p1" srsName="urn:ogc:def:crs:EPSG::2154"><gml:exterior><gml:LinearRing>
      <gml:posList>{SQUARE[0]} {SQUARE[1]} {SQUARE[2]} {SQUARE[1]} {SQUARE[2]} {SQUARE[3]} {SQUARE[0]} {SQUARE[3]}
        {SQUARE[0]} {SQUARE[1]}</gml:posList>
    </gml:LinearRing></gml:exterior></gml:Polygon></kartenn:geom>
    <kartenn:code>99</kartenn:code><kartenn:nom>Île Nouvelle</kartenn:nom>
  </kartenn:regions></wfs:Insert>
</wfs:Transaction>"""


def alpha_at(png: bytes, col: int, row: int) -> int:
    return int(np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[row, col, 3])


def test_tiles_are_cached_and_follow_edits_and_replaces(site, server):
    site.accounts.add_organisation("iuem")
    site.accounts.add_user("carto")
    site.accounts.set_membership("carto", "iuem", "editor")
    assert not publish_file(site, shared(REGIONS), sharing=Sharing(org="iuem", public=False))[0].error
    editor = create_token(site, "carto")
    tms = morecantile.tms.get("WebMercatorQuad")
    lon, lat = Transformer.from_crs("EPSG:2154", "OGC:CRS84", always_xy=True).transform(
        (SQUARE[0] + SQUARE[2]) / 2, (SQUARE[1] + SQUARE[3]) / 2)
    tile = tms.tile(lon, lat, 8)
    b = tms.xy_bounds(tile)
    x, y = tms.xy(lon, lat)
    col, row = int((x - b.left) / (b.right - b.left) * 256), int((b.top - y) / (b.top - b.bottom) * 256)
    png = f"/wmts/1.0.0/regions/default/WebMercatorQuad/8/{tile.y}/{tile.x}.png"
    mvt = f"/ogc/collections/regions/tiles/WebMercatorQuad/8/{tile.y}/{tile.x}"
    with server.client(editor) as http:
        first = http.get(png)
        assert first.headers["x-cache"] == "miss" and alpha_at(first.content, col, row) == 0
        again = http.get(png)
        assert again.headers["x-cache"] == "hit" and again.content == first.content
        vector = http.get(mvt)
        assert vector.headers["x-cache"] == "miss"
        assert http.get(mvt).headers["x-cache"] == "hit"
        before = mapbox_vector_tile.decode(vector.content)["regions"]["features"] if vector.content else []
        assert "Île Nouvelle" not in {f["properties"]["nom"] for f in before}
        cached = list((site.settings.data_dir / "cache" / "tiles" / "regions").rglob("*.png"))
        assert cached and not list((site.settings.data_dir / "cache" / "tiles").rglob(".tmp-*"))

        # A WFS-T insert: the next tiles are new, and show the new feature.
        r = http.post("/wfs", content=INSERT)
        assert r.status_code == 200 and b"totalInserted>1<" in r.content
        after = http.get(png)
        assert after.headers["x-cache"] == "miss" and alpha_at(after.content, col, row) > 0
        vector = http.get(mvt)
        assert vector.headers["x-cache"] == "miss"
        names = {f["properties"]["nom"] for f in mapbox_vector_tile.decode(vector.content)["regions"]["features"]}
        assert "Île Nouvelle" in names

    # Rights come before the cache: the cached tile of a private dataset is not served to strangers.
    with server.client() as anonymous:
        assert anonymous.get(png).status_code == 404
        assert anonymous.get(mvt).status_code == 404

    # A replace by other data: the tile over Paris no longer shows the regions.
    paris = tms.tile(2.35, 48.85, 6)
    path = f"/wmts/1.0.0/regions/default/WebMercatorQuad/6/{paris.y}/{paris.x}.mvt"
    with server.client(editor) as http:
        assert http.get(path).content and http.get(path).headers["x-cache"] == "hit"
    (outcome,) = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), replace="regions")
    assert outcome.error is None
    with server.client(editor) as http:
        r = http.get(path)
        assert r.status_code == 200 and r.headers["x-cache"] == "miss" and r.content == b""


def test_cache_cap_and_switch(tmp_path):
    import os
    from datetime import UTC, datetime

    from kartenn.domain import Dataset
    from kartenn.services.tile_cache import TileCache

    ds = Dataset(id="roads", title="Roads", kind="vector", crs="EPSG:2154", storage="roads_1", srid=2154,
                 extent=None, extent_wgs84=None,
                 updated=datetime(2026, 1, 1, tzinfo=UTC))
    cache = TileCache(tmp_path, max_bytes=10_000)
    paths = [cache.key([ds], "WebMercatorQuad", 5, 10, col, "png", "style") for col in range(6)]
    for k, path in enumerate(paths):
        assert cache.fetch(path, lambda: b"x" * 3000) == (b"x" * 3000, False)
        os.utime(path, (1_000_000 + k, 1_000_000 + k))
    assert cache.fetch(paths[-1], lambda: b"never") == (b"x" * 3000, True)
    cache.trim()
    left = [p for p in paths if p.exists()]
    assert sum(p.stat().st_size for p in left) <= 8_000 and paths[-1] in left and paths[0] not in left
    # Another update time or style: another file.
    newer = Dataset(**{**ds.__dict__, "updated": datetime(2026, 2, 1, tzinfo=UTC)})
    assert cache.key([newer], "WebMercatorQuad", 5, 10, 0, "png", "style") != paths[0]
    assert cache.key([ds], "WebMercatorQuad", 5, 10, 0, "png", "other") != paths[0]
    off = TileCache(tmp_path / "off", max_bytes=10_000, enabled=False)
    path = off.key([ds], "WebMercatorQuad", 5, 10, 0, "png")
    assert off.fetch(path, lambda: b"a") == (b"a", False) and off.fetch(path, lambda: b"b") == (b"b", False)
    assert not path.exists()
