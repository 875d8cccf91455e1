"""SLD 1.0 and SE 1.1 import into the neutral style model: GeoServer-like documents, round trips, refusals,
and imported styles drawn by the renderer on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyproj import Transformer

from conftest import shared
from kartenn.domain.style import Fill, Label, Line, Marker, parse_style
from kartenn.errors import InvalidInput
from kartenn.formats.sld import to_sld
from kartenn.formats.sld_import import from_sld
from kartenn.services import render
from kartenn.services.publish import publish_file
from test_styles import _pixel

SLDS = Path(__file__).parent / "sld"


def sld(name: str) -> bytes:
    return (SLDS / name).read_bytes()


def test_geoserver_default_styles():
    (polygon,) = from_sld(sld("polygon.sld")).styles
    assert polygon.name == "default_polygon" and polygon.title == "Default Polygon"
    fill = polygon.rules[0].symbolizers[0]
    assert isinstance(fill, Fill) and (fill.color, fill.outline_color, fill.outline_width) == ("#aaaaaa", "#000000", 1)
    assert polygon.rules[0].title == "Gray Polygon with Black Outline"

    (line,) = from_sld(sld("line.sld")).styles
    solid, dashed = (r.symbolizers[0] for r in line.rules)
    assert isinstance(solid, Line) and (solid.color, solid.width) == ("#0000ff", 1)
    assert isinstance(dashed, Line) and dashed.dash == [5, 2] and dashed.opacity == 0.5 and dashed.width == 2
    assert line.rules[1].max_scale == 50000 and line.rules[1].min_scale is None

    (point,) = from_sld(sld("point.sld")).styles
    square = point.rules[0].symbolizers[0]
    assert isinstance(square, Marker) and (square.shape, square.color, square.radius) == ("square", "#ff0000", 3)
    star, label = point.rules[1].symbolizers
    assert isinstance(star, Marker) and (star.shape, star.radius, star.rotation) == ("star", 6, 45)
    assert star.outline_color == "#000000" and star.outline_width == 0.5
    assert isinstance(label, Label) and (label.field, label.size, label.halo_radius) == ("name", 12, 2)
    assert label.halo_color == "#ffffff" and label.placement == "point"


def test_se_11_with_svg_parameters():
    imported = from_sld(sld("se-1.1.sld"))
    (style,) = imported.styles
    rule = style.rules[0]
    assert (rule.name, rule.title, rule.min_scale, rule.max_scale) == ("Single symbol", "Points of interest", 1000,
                                                                       250000)
    marker, label = rule.symbolizers
    assert isinstance(marker, Marker) and (marker.shape, marker.color, marker.radius) == ("triangle", "#e15989", 3.5)
    assert isinstance(label, Label) and (label.color, label.halo_color, label.size) == ("#323232", "#fafafa", 13)


def test_categorised_with_like_and_else_and_typed_literals():
    fields = {"code": "string", "nom": "string"}
    imported = from_sld(sld("regions-categorised.sld"), fields)
    (style,) = imported.styles
    assert style.name == "by_code" and [r.name for r in style.rules] == ["bretagne", "south", "ile", "other"]
    bretagne, south, ile, other = style.rules
    assert bretagne.filter.model_dump(exclude_defaults=True) == {"op": "=", "property": "code", "value": "53"}
    assert south.filter.op == "or" and [a.value for a in south.filter.args] == ["76", "75"]
    assert ile.filter.op == "like" and ile.filter.value == "%le-de-%"
    assert other.else_filter and other.filter is None and other.symbolizers[0].opacity == 0.5
    # Attributes the dataset lacks are refused when the fields are known.
    with pytest.raises(InvalidInput, match="unknown attributes: code"):
        from_sld(sld("regions-categorised.sld"), {"nom": "string"})
    # Numbers are typed by the field's type: the graduated style compares numbers.
    (graduated,) = from_sld(sld("boroughs-graduated.sld"), {"Shape_Area": "number", "BoroName": "string"}).styles
    assert graduated.rules[0].filter.value == 1e9 and graduated.rules[1].filter.value == [1e9, 2e9]
    fill, dashed, label = graduated.rules[2].symbolizers
    assert isinstance(fill, Fill) and fill.outline_color is None  # the dashed outline is its own line
    assert isinstance(dashed, Line) and dashed.dash == [4, 2] and isinstance(label, Label)


def test_raster_colour_map():
    (dem,) = from_sld(sld("dem.sld")).styles
    assert dem.kind == "ramp" and dem.ramp_mode == "intervals" and dem.opacity == 0.8
    assert dem.ramp[0].color == "#00000000" and dem.ramp[-1].value == 1400 and (dem.min, dem.max) == (-500, 1400)
    again = from_sld(to_sld("dem", dem)).styles[0]
    assert again.ramp == dem.ramp and again.ramp_mode == "intervals"


@pytest.mark.parametrize("name", sorted(p.name for p in SLDS.glob("*.sld")))
def test_export_then_import_keeps_the_rules(name):
    (style,) = from_sld(sld(name)).styles
    again = from_sld(to_sld("layer", style)).styles[0]
    assert again.name == style.name and len(again.rules) == len(style.rules)
    for a, b in zip(style.rules, again.rules, strict=True):
        assert (a.name, a.title, a.min_scale, a.max_scale, a.else_filter) == (b.name, b.title, b.min_scale,
                                                                              b.max_scale, b.else_filter)
        assert (a.filter is None) == (b.filter is None)
        if a.filter is not None:
            assert a.filter.properties() == b.filter.properties()
        assert [s.kind for s in a.symbolizers] == [s.kind for s in b.symbolizers]
        for x, y in zip(a.symbolizers, b.symbolizers, strict=True):
            assert x.color == y.color


def test_a_model_style_through_sld_and_back_is_the_same():
    model = parse_style({"name": "m", "title": "M", "rules": [
        {"name": "a", "filter": {"op": "and", "args": [{"op": ">=", "property": "n", "value": 2},
                                                      {"op": "like", "property": "s", "value": "A%"}]},
         "min_scale": 100, "symbolizers": [{"kind": "fill", "color": "#112233", "opacity": 0.5,
                                            "outline_color": "#445566", "outline_width": 2}]},
        {"name": "b", "else_filter": True, "symbolizers": [
            {"kind": "marker", "shape": "cross", "color": "#ff0000", "radius": 5, "rotation": 30},
            {"kind": "label", "field": "s", "size": 9, "color": "#000000", "halo_color": None, "halo_radius": 0}]}]})
    back = from_sld(to_sld("l", model), {"n": "integer", "s": "string"}).styles[0]
    assert back.model_dump() == model.model_dump()


def test_refusals_and_warnings():
    base = sld("polygon.sld").decode()
    with pytest.raises(InvalidInput, match="DOCTYPE"):
        from_sld('<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.org/x.dtd">' + base.split("?>", 1)[1])
    with pytest.raises(InvalidInput, match="DOCTYPE|entities"):
        from_sld('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    external = base.replace("<Mark>", "").replace(
        "<PolygonSymbolizer>", '<PointSymbolizer><Graphic><ExternalGraphic><OnlineResource xlink:type="simple" '
        'xlink:href="http://169.254.169.254/latest"/><Format>image/png</Format></ExternalGraphic></Graphic>'
        '</PointSymbolizer><PolygonSymbolizer>')
    with pytest.raises(InvalidInput, match="ExternalGraphic.*no remote"):
        from_sld(external)
    with pytest.raises(InvalidInput, match="href"):
        from_sld(base.replace("<Title>Default Polygon</Title>", '<Title xlink:href="file:///etc/passwd">t</Title>'))
    with pytest.raises(InvalidInput, match="not an SLD"):
        from_sld(b"<html><body>no</body></html>")
    with pytest.raises(InvalidInput, match="malformed"):
        from_sld(b"<StyledLayerDescriptor")
    with pytest.raises(InvalidInput, match="no UserStyle"):
        from_sld(b'<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" version="1.0.0"/>')
    # Unknown symbolizers and unknown marks are warnings; the rest of the style stays.
    odd = base.replace("</PolygonSymbolizer>", "</PolygonSymbolizer><HeatmapSymbolizer/>")
    imported = from_sld(odd)
    assert imported.styles[0].rules[0].symbolizers[0].kind == "fill"
    assert any("HeatmapSymbolizer" in w for w in imported.warnings)
    spatial = sld("regions-categorised.sld").decode().replace(
        "<ogc:PropertyIsEqualTo>\n              <ogc:PropertyName>code</ogc:PropertyName>\n"
        "              <ogc:Literal>53</ogc:Literal>\n            </ogc:PropertyIsEqualTo>",
        "<ogc:BBOX><ogc:PropertyName>geom</ogc:PropertyName><gml:Box xmlns:gml='http://www.opengis.net/gml'>"
        "<gml:coordinates>0,0 1,1</gml:coordinates></gml:Box></ogc:BBOX>")
    imported = from_sld(spatial)
    assert [r.name for r in imported.styles[0].rules] == ["south", "ile", "other"]
    assert any("bretagne" in w for w in imported.warnings)


def test_imported_styles_render_on_the_store(site):
    (outcome,) = publish_file(site, shared("france-admin-express-2018/regions.geojson"))
    regions = site.catalog.get_dataset(outcome.dataset.id)
    fields = {f.name: f.type for f in regions.fields}
    (style,) = from_sld(sld("regions-categorised.sld"), fields).styles
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    bbox = (-600_000.0, 5_000_000.0, 1_100_000.0, 6_700_000.0)
    png = render.render_map(site, [render.MapLayer(regions, style)], "EPSG:3857", bbox, 256, 256)
    assert _pixel(png, *to_merc.transform(-1.68, 48.11), bbox)[:3] == (0xE3, 0x1A, 0x1C)  # Rennes: code 53
    assert _pixel(png, *to_merc.transform(1.44, 43.6), bbox)[:3] == (0x1F, 0x78, 0xB4)  # Toulouse: code 76
    assert _pixel(png, *to_merc.transform(2.35, 48.86), bbox)[:3] == (0x6A, 0x3D, 0x9A)  # Paris: Île-de-France (like)
    lyon = _pixel(png, *to_merc.transform(4.85, 45.76), bbox)  # else: green at half opacity
    assert lyon[3] in range(120, 136) and lyon[1] > lyon[0]


def test_marker_shapes_render(site):
    (outcome,) = publish_file(site, shared("osm-poi-portugal/poi_portugal.gpkg"))
    bbox = (-9.2, 38.7, -9.1, 38.75)
    counts = {}
    for shape in ("circle", "square", "star", "x"):
        style = parse_style({"rules": [{"symbolizers": [{"kind": "marker", "shape": shape, "color": "#ff0000",
                                                         "radius": 6, "rotation": 20}]}]})
        png = render.render_map(site, [render.MapLayer(outcome.dataset, style)], "EPSG:4326", bbox, 400, 200)
        import io

        import numpy as np
        from PIL import Image

        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
        counts[shape] = int(((pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 3] > 200)).sum())
    assert all(c > 50 for c in counts.values()), counts
    bold = parse_style({"rules": [{"symbolizers": [{"kind": "label", "field": "name", "size": 10, "bold": True,
                                                    "italic": True, "color": "#000000"}]}]})
    png = render.render_map(site, [render.MapLayer(outcome.dataset, bold)], "EPSG:4326", bbox, 400, 200)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert ((pixels[..., :3].sum(axis=2) < 150) & (pixels[..., 3] > 200)).sum() > 20  # bold italic glyphs
    assert counts["square"] > counts["circle"] > counts["x"], counts  # the shapes differ in area


def test_interval_colour_maps_in_tiles_and_maps():
    from lxml import etree

    from kartenn.formats.mapnik_style import raster_symbolizer
    from kartenn.services.tiles import _colormap

    (dem,) = from_sld(sld("dem.sld")).styles
    low, high, table = _colormap(dem)
    assert (low, high) == (-500, 1400)
    level = round((500 - low) / (high - low) * 255)  # 500 m: below the 1000 m entry, above the 0 m one
    assert table[level] == (0x00, 0xFF, 0x00, 255) and table[255][3] == 0  # past the last entry: not drawn
    assert table[round((-100 - low) / (high - low) * 255)] == (0xAA, 0xFF, 0xAA, 255)
    stops = raster_symbolizer(dem).find("RasterColorizer")
    assert stops.get("default-mode") == "discrete" and stops.get("default-color") == "rgba(0,0,0,0.0)"
    assert [(s.get("value"), s.get("color")) for s in stops][:2] == [("-500.0", "#aaffaa"), ("0.0", "#00ff00")]
    assert etree.tostring(stops).count(b"<stop") == 5


def test_legends_draw_the_mark_shapes():
    import io

    import numpy as np
    from PIL import Image

    from kartenn.services.legend import legend_image

    def red(shape: str) -> int:
        style = parse_style({"rules": [{"title": shape, "symbolizers": [
            {"kind": "marker", "shape": shape, "color": "#ff0000", "radius": 8}]}]})
        pixels = np.asarray(Image.open(io.BytesIO(legend_image(style))).convert("RGBA"))
        return int(((pixels[..., 0] > 200) & (pixels[..., 1] < 50) & (pixels[..., 3] > 200)).sum())

    assert red("square") > red("circle") > red("triangle") > red("star") > 0


def test_older_layouts_as_geoserver_keeps_them():
    imported = from_sld(sld("legacy-latin1.sld"), {"nom": "string", "code": "string"})
    (style,) = imported.styles
    assert (style.name, style.title) == ("Regions_old_style", "Régions")
    idf, outline = style.rules
    assert idf.filter.model_dump(exclude_defaults=True) == {"op": "=", "property": "nom", "value": "Île-de-France"}
    fill, label = idf.symbolizers
    assert (fill.color, fill.opacity, label.field, label.size, label.halo_color) == ("#ffaa00", 1, "nom", 10, None)
    assert (outline.symbolizers[0].color, outline.symbolizers[0].width) == ("#000000", 1)  # an empty Stroke
    assert imported.warnings == ["label options the model does not have were left out: VendorOption maxDisplacement"]


def test_styles_from_the_command_line(site, settings):
    from conftest import kartenn

    (outcome,) = publish_file(site, shared("france-admin-express-2018/regions.geojson"))
    ds, where = outcome.dataset.id, ("--data-dir", str(settings.data_dir))
    done = kartenn("style", "put", ds, "by_code", str(SLDS / "regions-categorised.sld"), "--default", *where,
                   settings=settings, check=True)
    assert "Created style by_code" in done.stdout
    listed = kartenn("style", "list", ds, *where, settings=settings, check=True).stdout.splitlines()
    assert listed[0].startswith("by_code\tRegions by code\t") and listed[0].endswith("default")
    assert listed[1].startswith("default\t")
    sld = kartenn("style", "get", ds, "by_code", *where, settings=settings, check=True).stdout
    assert "<ogc:PropertyIsLike" in sld and from_sld(sld.encode()).styles[0].name == "by_code"
    # A site without the internet names its own fonts server for MapLibre labels.
    conf = settings.data_dir / "kartenn.toml"
    conf.write_text('glyphs_url = "https://fonts.example.org/{fontstack}/{range}.pbf"\n' + conf.read_text())
    kartenn("style", "put", ds, "labels", str(SLDS / "legacy-latin1.sld"), *where, settings=settings, check=True)
    mapbox = json.loads(kartenn("style", "get", ds, "labels", "--format", "mapbox", *where, settings=settings,
                                check=True).stdout)
    assert mapbox["glyphs"] == "https://fonts.example.org/{fontstack}/{range}.pbf"
    bad = kartenn("style", "put", ds, "x", str(SLDS / "boroughs-graduated.sld"), *where, settings=settings)
    assert bad.returncode == 1 and "unknown attributes" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert kartenn("style", "delete", ds, "by_code", *where, settings=settings).returncode == 1  # the default
    assert kartenn("style", "delete", ds, "default", *where, settings=settings, check=True).returncode == 0
    assert "style.update" in kartenn("audit", *where, settings=settings, check=True).stdout


def test_computed_values_are_warnings():
    doc = sld("point.sld").replace(b"<Rotation>45</Rotation>",
                                   b"<Rotation><ogc:PropertyName>angle</ogc:PropertyName></Rotation>")
    doc = doc.replace(b'<CssParameter name="font-size">12</CssParameter>',
                      b'<CssParameter name="font-size">12px</CssParameter>')
    imported = from_sld(doc)
    star, label = imported.styles[0].rules[1].symbolizers
    assert star.rotation == 0 and label.size == 12
    commented = from_sld(sld("polygon.sld").replace(b"#AAAAAA", b"<!-- grey -->#AAAAAA<!-- 50% -->"))
    assert commented.styles[0].rules[0].symbolizers[0].color == "#aaaaaa"
    assert imported.warnings == ["the computed value of Rotation was left out"]


def test_exact_value_colour_maps_in_tiles():
    from kartenn.services.tiles import _colormap

    style = parse_style({"kind": "ramp", "ramp_mode": "values", "ramp": [{"value": 0, "color": "#ff0000"},
                                                                          {"value": 10, "color": "#0000ff80"}]})
    _, _, table = _colormap(style)
    assert table[0] == (255, 0, 0, 255) and table[255] == (0, 0, 255, 128) and table[128][3] == 0
    ramp = parse_style({"kind": "ramp", "ramp": [{"value": 0, "color": "#00000000"}, {"value": 1, "color": "#ffffff"}]})
    assert _colormap(ramp)[2][255] == (255, 255, 255, 255) and _colormap(ramp)[2][0][3] == 0  # alpha blends too


def test_bold_and_italic_labels():
    from kartenn.formats.mapnik_style import symbolizers

    doc = sld("point.sld").replace(b'<CssParameter name="font-family">Arial</CssParameter>',
                                   b'<CssParameter name="font-weight">bold</CssParameter>'
                                   b'<CssParameter name="font-style">italic</CssParameter>')
    label = from_sld(doc).styles[0].rules[1].symbolizers[1]
    assert label.bold and label.italic
    assert symbolizers(label)[0].get("face-name") == "DejaVu Sans Bold Oblique"
    assert from_sld(to_sld("l", from_sld(doc).styles[0])).styles[0].rules[1].symbolizers[1] == label
    assert not from_sld(sld("point.sld")).styles[0].rules[1].symbolizers[1].bold


GEOSERVER_STYLES = "migration/geoserver-datadir"


def test_geoserver_label_rules_keep_their_conditions_and_scales():
    imported = from_sld(shared(f"{GEOSERVER_STYLES}/workspaces/ne/styles/countries.sld").read_bytes())
    (style,) = imported.styles
    labels = [(r.filter.model_dump(exclude_defaults=True) if r.filter else None, r.min_scale, r.max_scale,
               r.symbolizers[0].field, r.symbolizers[0].size, r.symbolizers[0].bold)
              for r in style.rules if r.symbolizers[0].kind == "label"]
    short, first = {"op": "<", "property": "NAME_LEN", "value": 8}, {"op": "<", "property": "MIN_ZOOM", "value": 2}
    assert labels == [  # if_then_else(NAME_LEN < 8, the name, ABBREV): one rule per branch
        ({"op": "and", "args": [first, short]}, 14e7, None, "NAME", 10, False),
        ({"op": "and", "args": [first, {"op": "not", "args": [short]}]}, 14e7, None, "ABBREV", 10, False),
        ({"op": "<", "property": "MIN_ZOOM", "value": 3}, 7e7, 14e7, "NAME", 12, False),
        ({"op": "<", "property": "MIN_ZOOM", "value": 50}, 3.5e7, 7e7, "NAME", 14, True),
        (None, None, 3.5e7, "NAME", 16, True)]
    assert {s.color for r in style.rules for s in r.symbolizers if s.kind == "label"} == {"#777777"}
    assert imported.warnings == [
        "a PolygonSymbolizer drawn only in GeoServer's legend (inclusion legendOnly) was left out",
        "rule 'Countries' has nothing the model can draw and was left out",
        "the computed value of 'fill' was left out",
        "labels in the language of the request are drawn in one: NAME, the default",
        "label options the model does not have were left out: Priority, VendorOption maxDisplacement, VendorOption "
        "spaceAround, VendorOption charSpacing, VendorOption autoWrap, VendorOption goodnessOfFit"]
    # pophatch: its label keeps its white halo (GeoServer's 0xRRGGBB colours)
    (pophatch,) = from_sld(shared(f"{GEOSERVER_STYLES}/styles/pophatch.sld").read_bytes()).styles
    line, label = pophatch.rules[-1].symbolizers
    assert (label.field, label.size, label.halo_color, label.halo_radius) == ("STATE_ABBR", 14, "#ffffff", 2)


def test_a_lenient_import_leaves_out_the_rules_on_attributes_the_data_lacks():
    doc = shared(f"{GEOSERVER_STYLES}/styles/pophatch.sld").read_bytes()
    with pytest.raises(InvalidInput, match="unknown attributes: PERSONS, STATE_ABBR"):
        from_sld(doc, {"nom": "string"})
    imported = from_sld(doc, {"nom": "string"}, lenient=True)  # what GeoServer draws on such data: the lines
    assert [(r.title, [s.kind for s in r.symbolizers]) for r in imported.styles[0].rules] == [("Boundary", ["line"])]
    assert imported.warnings[-4:] == ["rule '< 2M' left out: the data has no attribute PERSONS",
                                      "rule '2M - 4M' left out: the data has no attribute PERSONS",
                                      "rule '> 4M' left out: the data has no attribute PERSONS",
                                      "a label of rule 'Boundary' left out: the data has no attribute STATE_ABBR"]
    imported = from_sld(doc, {"PERSONS": "number"}, lenient=True)
    assert [r.title for r in imported.styles[0].rules] == ["< 2M", "2M - 4M", "> 4M", "Boundary"]
    assert [s.kind for s in imported.styles[0].rules[-1].symbolizers] == ["line"]
    assert "a label of rule 'Boundary' left out: the data has no attribute STATE_ABBR" in imported.warnings
    imported = from_sld(doc, {"STATE_ABBR": "string"}, lenient=True)
    assert [r.title for r in imported.styles[0].rules] == ["Boundary"]
    assert "rule '< 2M' left out: the data has no attribute PERSONS" in imported.warnings


def test_label_rules_render_at_their_scales_only(site, tmp_path):
    """A feature of MIN_ZOOM 2.5: labelled between 1:35M and 1:140M (the rules of MIN_ZOOM < 3 and < 50 and the
    last one), not above (MIN_ZOOM < 2)."""
    data = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "NAME": "Atlantis", "NAME_LEN": 8, "ABBREV": "Atl.", "MIN_ZOOM": 2.5},
        "geometry": {"type": "Polygon", "coordinates": [[[-30, -20], [30, -20], [30, 20], [-30, 20], [-30, -20]]]}}]}
    path = tmp_path / "atlantis.geojson"
    path.write_text(json.dumps(data))
    dataset = publish_file(site, path)[0].dataset
    fields = {f.name: f.type for f in dataset.fields}
    (style,) = from_sld(shared(f"{GEOSERVER_STYLES}/workspaces/ne/styles/countries.sld").read_bytes(), fields).styles
    unlabelled = style.model_copy(update={"rules": [r for r in style.rules if r.symbolizers[0].kind != "label"]})

    def drawn(scale: float, with_labels: bool) -> bytes:
        half = scale * 0.00028 * 256 / 2  # Mapnik's scale denominator: metres per pixel / 0.28 mm
        return render.render_map(site, [render.MapLayer(dataset, style if with_labels else unlabelled)],
                                 "EPSG:3857", (-half, -half, half, half), 256, 256)

    for scale, labelled in ((2e8, False), (1e8, True), (5e7, True), (2e7, True)):
        assert (drawn(scale, True) != drawn(scale, False)) is labelled, scale
