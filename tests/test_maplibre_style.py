"""MapLibre style JSON export, checked with MapLibre's own validator (gl-style-validate, from tests/maplibre)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kartenn.domain.style import categorised, graduated, parse_style
from kartenn.formats.maplibre_style import expression, to_maplibre, zoom_of
from kartenn.formats.sld_import import from_sld
from kartenn.services.styles import default_vector_style

VALIDATOR = Path(__file__).parent / "maplibre" / "node_modules" / ".bin" / "gl-style-validate"
TILEJSON = "http://127.0.0.1:8000/ogc/collections/regions/tiles/WebMercatorQuad/tilejson"


def validate(doc: dict, tmp_path: Path) -> str:
    """The validator's complaints ('' when the style is valid)."""
    assert VALIDATOR.exists(), "run scripts/install-test-deps.sh (npm ci in tests/maplibre)"
    path = tmp_path / "style.json"
    path.write_text(json.dumps(doc))
    done = subprocess.run([str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=60)
    return (done.stdout + done.stderr).strip() if done.returncode else ""


def test_the_validator_catches_errors(tmp_path):
    assert "filter" in validate({"version": 8, "sources": {}, "layers": [
        {"id": "x", "type": "fill", "source": "s", "filter": ["=", ["get", "a"], 1]}]}, tmp_path)


def test_styles_compile_to_valid_maplibre_documents(tmp_path):
    fill = {"kind": "fill", "color": "#000000", "outline_color": "#ffffff80", "outline_width": 0.5}
    styles = [parse_style(default_vector_style(kind)) for kind in ("MultiPolygon", "LineString", "Point")]
    styles.append(parse_style(categorised("code", {"53": "#ff0000", "84": "#0000ff"}, fill)))
    styles.append(parse_style(graduated("pop", [0, 10, 100], ["#eeeeee", "#333333"], fill)))
    for name in ("point.sld", "line.sld", "regions-categorised.sld", "boroughs-graduated.sld", "se-1.1.sld"):
        styles += from_sld((Path(__file__).parent / "sld" / name).read_bytes()).styles
    styles.append(parse_style({"rules": [
        {"filter": {"op": "in", "property": "k", "value": ["a", "b"]}, "symbolizers": [fill]},
        {"filter": {"op": "in", "property": "k", "value": [1, "b"]}, "symbolizers": [fill]},
        {"filter": {"op": "not", "args": [{"op": "is_null", "property": "k"}]},
         "symbolizers": [{"kind": "label", "field": "k", "placement": "line", "halo_color": None, "bold": True}]}]}))
    for style in styles:
        doc, _ = to_maplibre(style, "regions", TILEJSON)
        assert validate(doc, tmp_path) == "", (style.name, json.dumps(doc)[:2000])
        assert doc["sources"] == {"regions": {"type": "vector", "url": TILEJSON}}
        assert doc["layers"] and all(layer["source-layer"] == "regions" for layer in doc["layers"])


def test_rules_filters_and_zooms():
    (style,) = from_sld((Path(__file__).parent / "sld" / "regions-categorised.sld").read_bytes(),
                        {"code": "string", "nom": "string"}).styles
    doc, warnings = to_maplibre(style, "regions", TILEJSON)
    layers = doc["layers"]
    # bretagne: fill + outline; south: fill; ile (a like filter): left out; other (else): fill.
    assert [(layer["id"], layer["type"]) for layer in layers] == [
        ("regions-0-0-0", "fill"), ("regions-0-0-1", "line"), ("regions-1-0-0", "fill"), ("regions-3-0-0", "fill")]
    assert layers[0]["filter"] == ["==", ["get", "code"], "53"] and layers[0]["paint"]["fill-color"] == "#e31a1c"
    assert layers[2]["filter"] == ["any", ["==", ["get", "code"], "76"], ["==", ["get", "code"], "75"]]
    assert layers[3]["filter"] == ["!", ["any", layers[0]["filter"], layers[2]["filter"]]]
    assert layers[3]["paint"]["fill-opacity"] == 0.5
    assert any("'ile'" in w and "like" in w for w in warnings)
    # Scale denominators → zooms: MapLibre's zoom z is the 256-pixel zoom z + 1.
    assert zoom_of(559082264.0287178 / 2 ** 10) == 9
    (line,) = from_sld((Path(__file__).parent / "sld" / "line.sld").read_bytes()).styles
    dashed = to_maplibre(line, "roads", TILEJSON)[0]["layers"][1]
    assert dashed["minzoom"] == zoom_of(50000) and "maxzoom" not in dashed
    assert dashed["paint"]["line-dasharray"] == [2.5, 1] and dashed["paint"]["line-opacity"] == 0.5
    assert expression(parse_style({"rules": [{"filter": {"op": "is_null", "property": "x"}, "symbolizers": [
        {"kind": "fill", "color": "#000000"}]}]}).rules[0].filter) == ["!", ["has", "x"]]


def test_else_rules_exclude_every_other_rule():
    fill = {"kind": "fill", "color": "#000000"}
    style = parse_style({"rules": [
        {"else_filter": True, "symbolizers": [fill]},
        {"filter": {"op": "=", "property": "a", "value": 1}, "symbolizers": [fill]},
        {"filter": {"op": "like", "property": "b", "value": "x%"}, "symbolizers": [fill]}]})
    layers, warnings = to_maplibre(style, "l", TILEJSON)
    assert [layer["filter"] for layer in layers["layers"]] == [["!", ["any", ["==", ["get", "a"], 1]]],
                                                              ["==", ["get", "a"], 1]]
    assert len(warnings) == 1 and "like" in warnings[0]
    catch_all = parse_style({"rules": [{"else_filter": True, "symbolizers": [fill]}, {"symbolizers": [fill]}]})
    layers, warnings = to_maplibre(catch_all, "l", TILEJSON)
    assert len(layers["layers"]) == 1 and "never applies" in warnings[0]
