"""Named styles through the JSON API, OGC API Styles discovery and WMS, against a real server on both stores."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import orjson
import pytest
from lxml import etree
from owslib.wms import WebMapService
from PIL import Image

from conftest import shared
from kartenn.domain.security import Sharing
from kartenn.formats.sld import SLD
from kartenn.formats.sld_import import from_sld
from kartenn.services.publish import publish_file
from kartenn.services.styles import style_revision
from test_maplibre_style import validate

SLDS = Path(__file__).parent / "sld"
SLD_TYPE = "application/vnd.ogc.sld+xml"
# Rennes (Bretagne, code 53) in EPSG:4326, and a small box around it (WMS 1.3.0: lat/lon order).
RENNES_BOX = "47.9,-1.9,48.3,-1.4"


def publish_regions(site) -> str:
    (outcome,) = publish_file(site, shared("france-admin-express-2018/regions.geojson"),
                              sharing=Sharing(org="iuem", user="editor", public=True))
    assert not outcome.error
    return outcome.dataset.id


def centre_pixel(png: bytes) -> tuple[int, ...]:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    return tuple(int(v) for v in pixels[pixels.shape[0] // 2, pixels.shape[1] // 2])


def getmap(http, layer: str, style: str, headers: dict | None = None):
    return http.get("/wms", headers=headers, params={
        "service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": layer, "styles": style,
        "crs": "EPSG:4326", "bbox": RENNES_BOX, "width": "32", "height": "32", "format": "image/png"})


@pytest.mark.live
def test_named_styles_through_the_api(site, server, editor_token, tmp_path):
    ds = publish_regions(site)
    site.accounts.add_organisation("lille")
    site.accounts.add_user("olga")
    site.accounts.set_membership("olga", "lille", "editor")
    from kartenn.services.identity import create_token

    outsider = create_token(site, "olga")
    read_only = create_token(site, "editor", name="read", scope="read")
    body = (SLDS / "regions-categorised.sld").read_bytes()
    url = f"/api/v1/datasets/{ds}/styles"
    with server.client() as anonymous:
        listed = anonymous.get(url).json()
        assert listed["default"] == "default" and [s["name"] for s in listed["styles"]] == ["default"]
        r = anonymous.put(f"{url}/by_code", content=body, headers={"Content-Type": SLD_TYPE})
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        assert anonymous.get(f"{url}/nothing").status_code == 404
    with server.client(outsider) as other:
        assert other.put(f"{url}/by_code", content=body, headers={"Content-Type": SLD_TYPE}).status_code == 403
        assert other.delete(f"{url}/default").status_code == 403
    with server.client(read_only) as reader:
        assert reader.put(f"{url}/by_code", content=body, headers={"Content-Type": SLD_TYPE}).status_code == 403

    with server.client(editor_token) as http:
        r = http.put(f"{url}/by_code", content=body, headers={"Content-Type": SLD_TYPE})
        assert r.status_code == 201, r.text
        assert r.json()["warnings"] == [] and r.headers["location"].endswith(f"{url}/by_code")
        first = r.json()["revision"]
        assert http.put(f"{url}/by_code", content=body, headers={"Content-Type": "text/xml"}).status_code == 200

        r = http.get(f"{url}/by_code")
        model = r.json()
        assert http.get(f"{url}/by_code", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
        assert http.get(f"{url}/by_code?f=sld", headers={"If-None-Match": r.headers["etag"]}).status_code == 200
        assert any(link["rel"] == "styles" for link in http.get(f"/api/v1/datasets/{ds}").json()["links"])
        assert model["name"] == "by_code" and [r["name"] for r in model["rules"]] == ["bretagne", "south", "ile",
                                                                                      "other"]
        sld = http.get(f"{url}/by_code", headers={"Accept": SLD_TYPE})
        assert sld.headers["content-type"].startswith(SLD_TYPE)
        assert len(etree.fromstring(sld.content).findall(f".//{{{SLD}}}Rule")) == 4
        maplibre = http.get(f"{url}/by_code", params={"f": "mapbox"})
        assert maplibre.headers["content-type"].startswith("application/vnd.mapbox.style+json")
        doc = maplibre.json()
        assert doc["sources"][ds]["url"] == f"{server.url}/ogc/collections/{ds}/tiles/WebMercatorQuad/tilejson"
        assert validate(doc, tmp_path) == ""
        assert {layer["source-layer"] for layer in doc["layers"]} == {ds}
        # The source it names is the collection's real TileJSON, whose layer is the one the style draws.
        tilejson = http.get(doc["sources"][ds]["url"]).json()
        assert tilejson["vector_layers"][0]["id"] == ds

        schema = http.get("/api/v1/styles/schema").json()
        assert "rules" in schema["properties"] and "Fill" in schema["$defs"]
        # A JSON model too; names the dataset lacks are refused, nothing is stored.
        blue = {"rules": [{"symbolizers": [{"kind": "fill", "color": "#0000ff"}]}]}
        assert http.put(f"{url}/blue", json=blue).status_code == 201
        bad = {"rules": [{"filter": {"op": "=", "property": "population", "value": 1},
                          "symbolizers": [{"kind": "fill", "color": "#0000ff"}]}]}
        r = http.put(f"{url}/bad", json=bad)
        assert r.status_code == 400 and "population" in r.json()["detail"]
        for content, kind in ((b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', SLD_TYPE),
                              (body.replace(b"<ElseFilter/>", b'<ElseFilter/><PointSymbolizer><Graphic>'
                                            b'<ExternalGraphic><OnlineResource xlink:href="http://10.0.0.1/x.png"/>'
                                            b'<Format>image/png</Format></ExternalGraphic></Graphic>'
                                            b'</PointSymbolizer>'), SLD_TYPE),
                              (b"<html/>", "text/xml"), (b"{}", "text/plain"), (b"[1]", "application/json")):
            r = http.put(f"{url}/bad", content=content, headers={"Content-Type": kind})
            assert r.status_code == 400, (content[:40], r.text)
            assert "Traceback" not in r.text
        assert {s["name"] for s in http.get(url).json()["styles"]} == {"default", "by_code", "blue"}

    # OGC API Styles: the styles of the collection, with links to their stylesheets.
    with server.client() as http:
        links = http.get(f"/ogc/collections/{ds}").json()["links"]
        styles_link = next(link["href"] for link in links if link["rel"].endswith("/styles"))
        assert styles_link == f"{server.url}/ogc/collections/{ds}/styles"
        found = http.get(styles_link).json()
        assert found["default"] == "default"
        by_code = next(s for s in found["styles"] if s["id"] == "by_code")
        types = {link["type"]: link["href"] for link in by_code["links"]}
        assert set(types) == {SLD_TYPE, "application/vnd.mapbox.style+json"}
        assert b"PropertyIsLike" in http.get(types[SLD_TYPE]).content
        assert http.get(types["application/vnd.mapbox.style+json"]).json()["version"] == 8
        metadata = http.get(f"/ogc/collections/{ds}/styles/by_code/metadata").json()
        assert metadata["layers"] == [{"id": ds, "type": "polygon", "sampleData": {
            "rel": "start", "href": f"{server.url}/ogc/collections/{ds}/items", "type": "application/geo+json"}}]
        assert [s["link"]["type"] for s in metadata["stylesheets"]] == [SLD_TYPE, "application/vnd.mapbox.style+json"]

    # WMS: every named style in the capabilities with its legend; STYLES=name draws it (OWSLib as client).
    wms = WebMapService(f"{server.url}/wms", version="1.3.0")
    layer = wms.contents[ds]
    assert set(layer.styles) == {"default", "by_code", "blue"}
    assert "GetLegendGraphic" in layer.styles["by_code"]["legend"]
    with server.client() as http:
        assert http.get(layer.styles["by_code"]["legend"]).headers["content-type"] == "image/png"
    png = wms.getmap(layers=[ds], styles=["by_code"], srs="EPSG:4326", bbox=(-1.9, 47.9, -1.4, 48.3),
                     size=(32, 32), format="image/png").read()
    assert centre_pixel(png)[:3] == (0xE3, 0x1A, 0x1C)  # the imported SLD's colour for Bretagne
    with server.client() as http:
        r = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetStyles", "layers": ds})
        every = etree.fromstring(r.content)
        assert len(every.findall(f"{{{SLD}}}NamedLayer")) == 1
        assert [u.findtext(f"{{{SLD}}}IsDefault") for u in every.iter(f"{{{SLD}}}UserStyle")] == ["1", "0", "0"]
        assert {s.name for s in from_sld(r.content).styles} == {"default", "by_code", "blue"}
        r = getmap(http, ds, "nothing")
        assert r.status_code == 400 and b'code="StyleNotDefined"' in r.content
        default_tag = getmap(http, ds, "").headers["etag"]
        assert getmap(http, ds, "", {"If-None-Match": default_tag}).status_code == 304

    # OGC API Maps draws a named style too.
    with server.client() as http:
        r = http.get(f"/ogc/collections/{ds}/map", params={"bbox": "-1.9,47.9,-1.4,48.3", "width": 32,
                                                           "height": 32, "style": "by_code"})
        assert r.status_code == 200 and centre_pixel(r.content)[:3] == (0xE3, 0x1A, 0x1C)
        assert http.get(f"/ogc/collections/{ds}/map", params={"style": "nothing"}).status_code == 404

    # A new default: what draws without a style name changes, and so do the ETags.
    with server.client(editor_token) as http:
        r = http.post(f"{url}/by_code/default")
        assert r.status_code == 200 and r.json()["default"] == "by_code"
        assert {s["name"] for s in r.json()["styles"]} == {"default", "by_code", "blue"}
        r = http.delete(f"{url}/by_code")
        assert r.status_code == 409
        assert http.delete(f"{url}/blue").status_code == 204
        assert http.get(f"{url}/blue").status_code == 404
        assert http.delete(f"{url}/blue").status_code == 404
        # Replacing the default style's content: the revision and the map change.
        recoloured = body.replace(b"#E31A1C", b"#00FF00")
        r = http.put(f"{url}/by_code", content=recoloured, headers={"Content-Type": SLD_TYPE})
        assert r.status_code == 200 and r.json()["revision"] != first and r.json()["default"]
    with server.client() as http:
        r = getmap(http, ds, "")
        assert r.headers["etag"] != default_tag and getmap(http, ds, "", {"If-None-Match": default_tag}).status_code \
            == 200
        assert centre_pixel(r.content)[:3] == (0, 255, 0)
    dataset = site.catalog.get_dataset(ds)
    assert dataset.style["name"] == "by_code"
    assert style_revision(dataset, dataset.style) == r_revision(site, ds)
    events = [(e["event"], e["detail"].get("style")) for e in site.accounts.audit_log(limit=50)]
    assert ("style.update", "by_code") in events and ("style.delete", "blue") in events


def r_revision(site, ds: str) -> str:
    from kartenn.services.access import SiteView
    from kartenn.services.styles import style_for

    view = SiteView(site, site.accounts.identity("editor", "write"))
    dataset = view.catalog.get_dataset(ds)
    return style_revision(dataset, style_for(view, dataset, None))


@pytest.mark.live
def test_raster_styles_from_sld(site, server, editor_token):
    from kartenn.services.publish import publish_file as publish

    (outcome,) = publish(site, shared("rasters/opengeos-dtm.tif"),
                         sharing=Sharing(org="iuem", user="editor", public=True))
    ds = outcome.dataset.id
    with server.client(editor_token) as http:
        r = http.put(f"/api/v1/datasets/{ds}/styles/dem", content=(SLDS / "dem.sld").read_bytes(),
                     headers={"Content-Type": SLD_TYPE})
        assert r.status_code == 201, r.text
        model = http.get(f"/api/v1/datasets/{ds}/styles/dem").json()
        assert model["kind"] == "ramp" and model["ramp_mode"] == "intervals"
        assert http.get(f"/api/v1/datasets/{ds}/styles/dem", params={"f": "mapbox"}).status_code == 400
        # A vector style for raster data is refused.
        r = http.put(f"/api/v1/datasets/{ds}/styles/v", content=(SLDS / "polygon.sld").read_bytes(),
                     headers={"Content-Type": SLD_TYPE})
        assert r.status_code == 400
        assert orjson.loads(r.content)["detail"].startswith(ds)
        # A RasterSymbolizer with no colour map keeps the dataset's own colours, at its opacity.
        faded = (b'<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" version="1.0.0"><UserLayer><UserStyle>'
                 b'<FeatureTypeStyle><Rule><RasterSymbolizer><Opacity>0.5</Opacity></RasterSymbolizer></Rule>'
                 b'</FeatureTypeStyle></UserStyle></UserLayer></StyledLayerDescriptor>')
        r = http.put(f"/api/v1/datasets/{ds}/styles/faded", content=faded, headers={"Content-Type": SLD_TYPE})
        assert r.status_code == 201 and r.json()["warnings"] == []
        model = http.get(f"/api/v1/datasets/{ds}/styles/faded").json()
        default = http.get(f"/api/v1/datasets/{ds}/styles/default").json()
        assert model == {**default, "name": "faded", "title": "", "opacity": 0.5}
    wms = WebMapService(f"{server.url}/wms", version="1.3.0")
    assert set(wms.contents[ds].styles) == {"default", "dem", "faded"}
    west, south, east, north = outcome.dataset.extent_wgs84
    png = wms.getmap(layers=[ds], styles=["dem"], srs="CRS:84", bbox=(west, south, east, north), size=(64, 64),
                     format="image/png", transparent=True).read()
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).reshape(-1, 4)
    colours = {tuple(int(v) for v in p[:3]) for p in pixels if p[3] > 0}
    dem = {(0xAA, 0xFF, 0xAA), (0x00, 0xFF, 0x00), (0xFF, 0xFF, 0x00), (0xFF, 0x7F, 0x00)}
    assert colours and colours <= dem, colours  # intervals: only the colour map's own colours
    # Raster tiles draw the default style, whichever named style it is.
    import morecantile

    tile = morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2, 14)
    path = f"/ogc/collections/{ds}/tiles/WebMercatorQuad/14/{tile.y}/{tile.x}"
    with server.client(editor_token) as http:
        before = http.get(path)
        assert http.post(f"/api/v1/datasets/{ds}/styles/dem/default").status_code in (200, 204)
        after = http.get(path)
    assert before.status_code == after.status_code == 200 and before.headers["ETag"] != after.headers["ETag"]
    pixels = np.asarray(Image.open(io.BytesIO(after.content)).convert("RGBA")).reshape(-1, 4)
    colours = {tuple(int(v) for v in p[:3]) for p in pixels if p[3] > 0}
    assert colours and colours <= dem, colours


def test_getmap_with_an_inline_sld(site, server):
    ds = publish_regions(site)
    red = (SLDS / "regions-categorised.sld").read_text().replace("<Name>regions</Name>", f"<Name>{ds}</Name>")
    named = (f'<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" version="1.0.0"><NamedLayer><Name>{ds}'
             '</Name><NamedStyle><Name>nothing</Name></NamedStyle></NamedLayer></StyledLayerDescriptor>')
    with server.client() as http:
        caps = http.get("/wms", params={"service": "WMS", "version": "1.1.1", "request": "GetCapabilities"})
        assert b'SupportSLD="1"' in caps.content
        r = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": ds,
                                     "styles": "", "sld_body": red, "crs": "EPSG:4326", "bbox": RENNES_BOX,
                                     "width": "32", "height": "32", "format": "image/png"})
        assert r.status_code == 200 and centre_pixel(r.content)[:3] == (0xE3, 0x1A, 0x1C)
        base = {"service": "WMS", "version": "1.1.1", "request": "GetMap", "layers": ds, "styles": "",
                "srs": "EPSG:4326", "bbox": "-1.9,47.9,-1.4,48.3", "width": "32", "height": "32",
                "format": "image/png"}
        assert centre_pixel(http.get("/wms", params={**base, "sld_body": red}).content)[:3] == (0xE3, 0x1A, 0x1C)
        refused = [({"sld": "http://169.254.169.254/style.sld"}, "sld"),
                   ({"sld_body": named}, "sld_body"),  # a named style the layer lacks
                   ({"sld_body": red.replace(f"<Name>{ds}</Name>", "<Name>other</Name>")}, "sld_body"),
                   ({"sld_body": red.replace("<ElseFilter/>", '<ElseFilter/><PointSymbolizer><Graphic><ExternalGraphic>'
                                             '<OnlineResource xlink:href="file:///etc/passwd"/></ExternalGraphic>'
                                             '</Graphic></PointSymbolizer>')}, "sld_body"),
                   ({"sld_body": "<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>"}, "sld_body")]
        for extra, locator in refused:
            r = http.get("/wms", params={**base, **extra})
            assert r.status_code == 400 and f'locator="{locator}"'.encode() in r.content, (extra, r.content)
        assert b"StyleNotDefined" in http.get("/wms", params={**base, "sld_body": named}).content
