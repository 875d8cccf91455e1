"""The neutral style model: validation, compilation to Mapnik (rendered on both stores) and SLD 1.0 export."""

from __future__ import annotations

import io

import numpy as np
import pytest
from lxml import etree
from PIL import Image
from pyproj import Transformer

from conftest import shared
from kartenn.domain.style import Filter, categorised, graduated, parse_style
from kartenn.errors import InvalidInput
from kartenn.formats.mapnik_style import LayerXml, expression, map_xml
from kartenn.formats.sld import OGC, SLD, to_sld
from kartenn.services import render
from kartenn.services.publish import publish_file
from kartenn.services.styles import default_raster_style, default_vector_style

FILL = {"kind": "fill", "color": "#000000"}


def test_invalid_styles_are_refused():
    with pytest.raises(InvalidInput, match="color"):
        parse_style({"rules": [{"symbolizers": [{"kind": "fill", "color": "red"}]}]})
    with pytest.raises(InvalidInput, match="kind"):
        parse_style({"rules": [{"symbolizers": [{"kind": "sparkle", "color": "#ff0000"}]}]})
    with pytest.raises(InvalidInput, match="unknown attributes: population"):
        parse_style(graduated("population", [0, 1, 2], ["#ffffff", "#000000"], FILL), fields=["nom"])
    with pytest.raises(InvalidInput, match="name"):
        parse_style({"name": "a b/../c", "rules": []})
    for geometry in ("MultiPolygon", "LineString", "Point"):
        parse_style(default_vector_style(geometry))
    parse_style(default_raster_style(1, "float32", [(0.0, 10.0)]))


def test_filters_compile_to_mapnik_expressions():
    assert expression(Filter(op="=", property="nom", value="L'Île")) == "([nom] = 'L\\'Île')"
    assert expression(Filter(op="between", property="pop", value=[1, 5])) == "([pop] >= 1 and [pop] <= 5)"
    assert expression(Filter(op="not", args=[Filter(op="is_null", property="x")])) == "(not ([x] = null))"
    with pytest.raises(InvalidInput):
        expression(Filter(op="=", property="a] or [b", value=1))
    style = parse_style({"rules": [{"min_scale": 1000, "max_scale": 5e6, "filter": {"op": "<", "property": "n",
                                                                                     "value": 3},
                                    "symbolizers": [{"kind": "line", "color": "#ff000080", "width": 2,
                                                     "dash": [4, 2]},
                                                    {"kind": "label", "field": "name"}]}]})
    root = etree.fromstring(map_xml([LayerXml("l", "epsg:4326", {"type": "ogr", "file": "x"}, style)]))
    rule = root.find("Style/Rule")
    assert rule.findtext("Filter") == "([n] < 3)"
    assert rule.findtext("MinScaleDenominator") == "1000.0" and rule.findtext("MaxScaleDenominator") == "5000000.0"
    assert rule.find("LineSymbolizer").get("stroke-dasharray") == "4.0,2.0"
    assert rule.find("TextSymbolizer").text == "[name]"


def _pixel(image: bytes, x: float, y: float, bbox: tuple, _size: int = 0) -> tuple[int, ...]:
    pixels = np.asarray(Image.open(io.BytesIO(image)).convert("RGBA"))
    height, width = pixels.shape[:2]
    i = int((x - bbox[0]) / (bbox[2] - bbox[0]) * width)
    j = int((bbox[3] - y) / (bbox[3] - bbox[1]) * height)
    return tuple(int(v) for v in pixels[j, i])


def test_categorised_and_graduated_styles_render_on_the_store(site):
    (outcome,) = publish_file(site, shared("france-admin-express-2018/regions.geojson"))
    regions = outcome.dataset
    bretagne = site.catalog.get_dataset(regions.id)  # as the catalogue gives it back
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    bbox = (-600_000.0, 5_000_000.0, 1_100_000.0, 6_700_000.0)
    # Representative points: Rennes (Bretagne, code 53), Lyon (Auvergne-Rhône-Alpes, 84), Paris (11).
    rennes, lyon, paris = to_merc.transform(-1.68, 48.11), to_merc.transform(4.85, 45.76), to_merc.transform(2.35,
                                                                                                           48.86)
    style = parse_style(categorised("code", {"53": "#ff0000", "84": "#0000ff"}, {**FILL, "opacity": 1.0}),
                        fields=[f.name for f in regions.fields])
    png = render.render_map(site, [render.MapLayer(bretagne, style)], "EPSG:3857", bbox, 256, 256)
    assert _pixel(png, *rennes, bbox, 256) == (255, 0, 0, 255)
    assert _pixel(png, *lyon, bbox, 256) == (0, 0, 255, 255)
    assert _pixel(png, *paris, bbox, 256)[3] == 0  # no class for Île-de-France

    # A scale range: the rule disappears when zoomed out beyond it.
    ranged = parse_style({"rules": [{"max_scale": 1_000_000, "symbolizers": [FILL]}]})
    far = render.render_map(site, [render.MapLayer(bretagne, ranged)], "EPSG:3857", bbox, 256, 256)
    assert _pixel(far, *rennes, bbox, 256)[3] == 0
    near_box = (rennes[0] - 20_000, rennes[1] - 20_000, rennes[0] + 20_000, rennes[1] + 20_000)
    near = render.render_map(site, [render.MapLayer(bretagne, ranged)], "EPSG:3857", near_box, 256, 256)
    assert _pixel(near, *rennes, near_box, 256)[3] == 255


def test_points_lines_labels_render(site):
    (outcome,) = publish_file(site, shared("osm-poi-portugal/poi_portugal.gpkg"))
    poi = outcome.dataset
    style = parse_style({"rules": [{"symbolizers": [
        {"kind": "marker", "color": "#ff0000", "radius": 5, "outline_color": "#ff0000"},
        {"kind": "label", "field": "name", "size": 10}]}]})
    bbox = (-9.2, 38.7, -9.1, 38.75)
    png = render.render_map(site, [render.MapLayer(poi, style)], "EPSG:4326", bbox, 400, 200)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 3] > 200)
    assert red.sum() > 50
    dark = (pixels[..., :3].sum(axis=2) < 150) & (pixels[..., 3] > 200)  # label glyphs
    assert dark.sum() > 20


def test_sld_export():
    style = parse_style({
        "name": "classes", "title": "Classes",
        "rules": [{"name": "big", "title": "Big", "min_scale": 1000,
                   "filter": {"op": "and", "args": [{"op": ">=", "property": "pop", "value": 10},
                                                    {"op": "in", "property": "kind", "value": ["a", "b"]}]},
                   "symbolizers": [{"kind": "fill", "color": "#2f7ebc", "opacity": 0.5, "outline_color": "#16425b",
                                    "outline_width": 2},
                                   {"kind": "label", "field": "nom"}]},
                  {"symbolizers": [{"kind": "marker", "color": "#ff0000", "radius": 3},
                                   {"kind": "line", "color": "#00ff00", "width": 1.5, "dash": [3, 1]}]}]})
    root = etree.fromstring(to_sld("regions", style))
    ns = {"sld": SLD, "ogc": OGC}
    assert root.tag == f"{{{SLD}}}StyledLayerDescriptor" and root.get("version") == "1.0.0"
    assert root.findtext("sld:NamedLayer/sld:Name", namespaces=ns) == "regions"
    rules = root.findall(".//sld:Rule", ns)
    assert len(rules) == 2 and rules[0].findtext("sld:MinScaleDenominator", namespaces=ns) == "1000"
    assert rules[0].find("ogc:Filter/ogc:And/ogc:PropertyIsGreaterThanOrEqualTo", ns) is not None
    assert len(rules[0].findall("ogc:Filter/ogc:And/ogc:Or/ogc:PropertyIsEqualTo", ns)) == 2
    fill = {c.get("name"): c.text for c in rules[0].findall("sld:PolygonSymbolizer/sld:Fill/sld:CssParameter", ns)}
    assert fill == {"fill": "#2f7ebc", "fill-opacity": "0.5"}
    assert rules[0].findtext("sld:TextSymbolizer/sld:Label/ogc:PropertyName", namespaces=ns) == "nom"
    assert rules[1].findtext("sld:PointSymbolizer/sld:Graphic/sld:Size", namespaces=ns) == "6"
    ramp = etree.fromstring(to_sld("dtm", parse_style(default_raster_style(1, "float32", [(0.0, 100.0)]))))
    entries = ramp.findall(".//sld:ColorMap/sld:ColorMapEntry", ns)
    assert float(entries[0].get("quantity")) == 0 and float(entries[-1].get("quantity")) == 100


def test_wms_getstyles_returns_sld(site, server):
    (outcome,) = publish_file(site, shared("france-admin-express-2018/regions.geojson"))
    with server.client() as http:
        r = http.get("/ows", params={"service": "WMS", "version": "1.3.0", "request": "GetStyles",
                                     "layers": outcome.dataset.id})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.ogc.sld+xml")
    root = etree.fromstring(r.content)
    assert root.find(f".//{{{SLD}}}PolygonSymbolizer") is not None


def test_graduated_classes_on_numbers(site):
    (outcome,) = publish_file(site, shared("nyc-boroughs/nybb_16a.zip"))
    style = parse_style(graduated("BoroCode", [1, 3, 5], ["#ff0000", "#0000ff"], {**FILL, "opacity": 1.0}),
                        fields=[f.name for f in outcome.dataset.fields])
    bbox = (-74.3, 40.45, -73.65, 40.95)
    png = render.render_map(site, [render.MapLayer(outcome.dataset, style)], "CRS:84", bbox, 400, 300)
    assert _pixel(png, -73.97, 40.78, bbox, 400)[:3] == (255, 0, 0)  # Manhattan, BoroCode 1
    assert _pixel(png, -73.95, 40.65, bbox, 400)[:3] == (0, 0, 255)  # Brooklyn, BoroCode 3


def test_explicit_ramp_stops_make_a_tile_colour_map():
    from kartenn.services.tiles import _colormap

    style = parse_style({"kind": "ramp", "ramp": [{"value": 10, "color": "#ff0000"}, {"value": 0, "color": "#000000"}]})
    low, high, table = _colormap(style)
    assert (low, high) == (0, 10) and table[0] == (0, 0, 0, 255) and table[255] == (255, 0, 0, 255)
    assert table[128][0] == 128
