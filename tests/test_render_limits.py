"""Nobody can stall map rendering: LIKE filters match in linear time, user styles have limits, and a map past
``render_timeout`` is answered 503 with its drawing process ended — on both stores, through a real server."""

from __future__ import annotations

import io
import random
import re
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image

from conftest import LiveServer
from kartenn.domain.style import Filter, StyleLimits, parse_style
from kartenn.errors import InvalidInput
from kartenn.formats.mapnik_style import expression
from kartenn.services import render
from test_style_api import publish_regions

FRANCE = "41,-5.5,51.5,10"  # WMS 1.3.0 EPSG:4326: lat/lon
SLD_HEAD = ('<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" '
            'version="1.0.0"><NamedLayer><Name>{layer}</Name><UserStyle><Name>s</Name><FeatureTypeStyle>')
SLD_TAIL = "</FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"


def like_rule(pattern: str, color: str = "#ff0000") -> str:
    return (f'<Rule><ogc:Filter><ogc:PropertyIsLike wildCard="%" singleChar="_" escape="\\">'
            f"<ogc:PropertyName>nom</ogc:PropertyName><ogc:Literal>{pattern}</ogc:Literal></ogc:PropertyIsLike>"
            f'</ogc:Filter><PolygonSymbolizer><Fill><CssParameter name="fill">{color}</CssParameter></Fill>'
            "</PolygonSymbolizer></Rule>")


def equal_rule(value: str, color: str = "#ff0000") -> str:
    return (f"<Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>nom</ogc:PropertyName>"
            f"<ogc:Literal>{value}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter><PolygonSymbolizer><Fill>"
            f'<CssParameter name="fill">{color}</CssParameter></Fill></PolygonSymbolizer></Rule>')


def sld(layer: str, rules: list[str]) -> str:
    return SLD_HEAD.format(layer=layer) + "".join(rules) + SLD_TAIL


def map_params(layer: str, body: str, size: int = 128) -> dict[str, str]:
    return {"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": layer, "styles": "",
            "crs": "EPSG:4326", "bbox": FRANCE, "width": str(size), "height": str(size), "format": "image/png",
            "sld_body": body}


def getmap(http, layer: str, body: str, size: int = 128):
    return http.get("/wms", params=map_params(layer, body, size))


def long_getmap(base: str, layer: str, body: str) -> tuple[int, bytes]:
    """A GetMap whose URL is longer than httpx sends (64 KB)."""
    try:
        with urllib.request.urlopen(f"{base}/wms?{urllib.parse.urlencode(map_params(layer, body))}") as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def sql_like(pattern: str, value: str) -> bool:
    """SQL LIKE by the book (backtracking, for short test inputs only)."""
    out, escaped = "", False
    for c in pattern:
        if escaped:
            out, escaped = out + re.escape(c), False
        elif c == "\\":
            escaped = True
        else:
            out += ".*" if c == "%" else "." if c == "_" else re.escape(c)
    out += re.escape("\\") if escaped else ""  # a trailing escape stands for itself
    return re.fullmatch(out, value, re.DOTALL) is not None


def test_like_filters_keep_their_meaning_and_match_in_linear_time():
    ctx = render.mapnik.Context()
    ctx.push("v")
    feature = render.mapnik.Feature(ctx, 1)

    def matches(pattern: str, value: str) -> bool:
        feature["v"] = value
        return render.mapnik.Expression(expression(Filter(op="like", property="v", value=pattern))).evaluate(feature)

    rng = random.Random(7)
    for _ in range(600):
        pattern = "".join(rng.choice("ab%_%\\é.") for _ in range(rng.randint(0, 9)))
        value = "".join(rng.choice("abé.\n%_\\") for _ in range(rng.randint(0, 9)))
        assert matches(pattern, value) == sql_like(pattern, value), (pattern, value)
    for pattern, value, expected in (("Bre%", "Bretagne", True), ("%le-de-%", "Île-de-France", True),
                                     ("_le%", "Île-de-France", True), ("%%%%", "", True), ("a\\%", "a%", True),
                                     ("a\\%", "ab", False), ("%(x)%", "a(x)b", True), ("%[%", "a]", False)):
        assert matches(pattern, value) is expected, (pattern, value)
    # What made the old translation backtrack until Boost gave up with an error: thousands of % against a long
    # value (its speed is measured in bench/render_attack.py, not here).
    assert matches("%a" * 3000 + "%b", "a" * 500) is False
    assert matches("%" * 18_000 + "a" + "%" * 18_000, "a" * 500) is True


def test_style_limits_give_the_reason():
    limits = StyleLimits(bytes=100, rules=2, nodes=6, depth=3)
    fill = [{"kind": "fill", "color": "#000000"}]
    limits.check(parse_style({"rules": [{"symbolizers": fill}] * 2}))
    with pytest.raises(InvalidInput, match="3 rules: at most 2"):
        limits.check(parse_style({"rules": [{"symbolizers": fill}] * 3}))
    listed = {"op": "in", "property": "a", "value": list(range(6))}
    with pytest.raises(InvalidInput, match="7 nodes: at most 6"):
        limits.check(parse_style({"rules": [{"filter": listed, "symbolizers": fill}]}))
    deep = {"op": "not", "args": [{"op": "not", "args": [{"op": "not", "args": [
        {"op": "is_null", "property": "a"}]}]}]}
    with pytest.raises(InvalidInput, match="4 levels deep: at most 3"):
        limits.check(parse_style({"rules": [{"filter": deep, "symbolizers": fill}]}))
    with pytest.raises(InvalidInput, match="101 bytes: at most 100"):
        limits.check_size(101)


def test_hostile_like_sld_body_draws_fast_and_right(site, server):
    ds = publish_regions(site)
    # Runs of % around "Bretagne", and rules that match no region but made the former regular expressions
    # backtrack for about half a second per feature and rule (until Boost gave up): the kind of document that
    # took half a minute of CPU.
    bretagne = "%%%" + "%%%".join("Bretagne") + "%%%"
    hopeless = ["%" * 900 + "z", "%_" * 12 + "%z", "%_%" * 8 + "x"] * 6
    hostile = sld(ds, [like_rule(bretagne + "%" * 900)] + [like_rule(p, "#0000ff") for p in hopeless])
    plain = sld(ds, [equal_rule("Bretagne")])
    with server.client() as http:
        r = getmap(http, ds, hostile)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
        drawn, expected = pixels(r.content), pixels(getmap(http, ds, plain).content)
        assert (drawn[..., 3] > 0).sum() > 50  # Bretagne is drawn …
        assert np.array_equal(drawn, expected)  # … and nothing else: the same image as nom = 'Bretagne'
        # A usual LIKE style draws the regions it names, and only them.
        usual = sld(ds, [like_rule("Bre%"), like_rule("%le-de-Fr_nce", "#0000ff"), like_rule("Corse_", "#00ff00")])
        both = sld(ds, [equal_rule("Bretagne"), equal_rule("Île-de-France", "#0000ff")])
        assert np.array_equal(pixels(getmap(http, ds, usual).content), pixels(getmap(http, ds, both).content))


def test_over_limit_sld_body_is_refused_with_the_reason(site, settings):
    ds = publish_regions(site)
    deep = "<ogc:Not>" * 20 + "<ogc:PropertyIsNull><ogc:PropertyName>nom</ogc:PropertyName></ogc:PropertyIsNull>" \
        + "</ogc:Not>" * 20
    deep_rule = ("<Rule><ogc:Filter>" + deep + "</ogc:Filter><PolygonSymbolizer><Fill>"
                 '<CssParameter name="fill">#ff0000</CssParameter></Fill></PolygonSymbolizer></Rule>')
    line = "<Rule><LineSymbolizer><Stroke/></LineSymbolizer></Rule>"
    refused = {
        "201 rules: at most 200": sld(ds, [line] * 201),
        "nodes: at most 2000": sld(ds, [like_rule("%a" * 450)] * 5),
        "21 levels deep: at most 16": sld(ds, [deep_rule]),
        "bytes: at most 30000": sld(ds, [equal_rule("Bretagne")] * 130),
    }
    # A smaller document limit than the default: long URLs are refused by the HTTP server itself.
    with (settings.data_dir / "kartenn.toml").open("a") as conf:
        conf.write("\nstyle_max_bytes = 30000\n")
    live = LiveServer(settings).start()
    try:
        for reason, body in refused.items():
            status, content = long_getmap(live.url, ds, body)
            assert status == 400 and b"InvalidParameterValue" in content, (reason, content)
            assert b'locator="sld_body"' in content and reason.encode() in content, (reason, content)
    finally:
        live.stop()


def test_stored_styles_have_the_same_limits(site, server, editor_token):
    ds = publish_regions(site)
    url = f"/api/v1/datasets/{ds}/styles"
    fill = [{"kind": "fill", "color": "#ff0000"}]
    nested: dict = {"op": "is_null", "property": "nom"}
    for _ in range(400):  # far deeper than a model would read without recursing to its end
        nested = {"op": "not", "args": [nested]}
    with server.client(editor_token) as http:
        refused = [
            (http.put(f"{url}/many", content=sld(ds, [equal_rule("Bretagne")] * 201).encode(),
                      headers={"Content-Type": "application/vnd.ogc.sld+xml"}), "201 rules: at most 200"),
            (http.put(f"{url}/many", json={"rules": [{"symbolizers": fill}] * 201}), "201 rules: at most 200"),
            (http.put(f"{url}/many", json={"rules": [{"filter": {"op": "like", "property": "nom",
                                                                 "value": "%a" * 2100}, "symbolizers": fill}]}),
             "2101 nodes: at most 2000"),
            (http.put(f"{url}/many", json={"rules": [{"filter": nested, "symbolizers": fill}]}),
             "levels deep: at most 16"),
            (http.put(f"{url}/many", json={"title": "x" * 70_000, "rules": []}), "bytes: at most 65536"),
        ]
        for r, reason in refused:
            assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"), r.text
            assert reason in r.json()["detail"], (reason, r.json())
        assert http.get(f"{url}/many").status_code == 404  # nothing was stored
        hostile = {"rules": [{"filter": {"op": "like", "property": "nom", "value": "%B" + "%" * 5000 + "e%"},
                              "symbolizers": fill}]}
        assert http.put(f"{url}/hostile", json=hostile).status_code == 201
        r = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": ds,
                                     "styles": "hostile", "crs": "EPSG:4326", "bbox": FRANCE, "width": "128",
                                     "height": "128", "format": "image/png"})
        assert r.status_code == 200
        assert (pixels(r.content)[..., 3] > 0).sum() > 50  # Bretagne, Bourgogne…


def test_a_map_past_its_time_is_refused_and_its_process_ended(site, settings):
    ds = site.catalog.get_dataset(publish_regions(site))
    style = parse_style({"rules": [{"symbolizers": [{"kind": "fill", "color": "#ff0000"}]}]})
    layers = [render.MapLayer(ds, style)]
    box = (-5.5, 41.0, 10.0, 51.5)
    assert render.render_map(site, layers, "EPSG:4326", box, 64, 64)  # a drawing process is ready
    ready = list(render.RENDERERS._idle)
    settings.render_timeout = 0.001
    try:
        with pytest.raises(render.RenderTimeout, match="longer than 0.001 s"):
            render.render_map(site, layers, "EPSG:4326", box, 4096, 4096)
    finally:
        settings.render_timeout = 30.0
    stopped = [w for w in ready if not w.process.is_alive()]
    assert len(stopped) == 1  # the process drawing it was ended, not left to finish
    for _ in range(3):  # every slot is free again
        assert pixels(render.render_map(site, layers, "EPSG:4326", box, 64, 64))[32, 32, 3] > 0

    with (settings.data_dir / "kartenn.toml").open("a") as conf:
        conf.write("\nrender_timeout = 0.001\n")
    live = LiveServer(settings).start()
    try:
        with live.client() as http:
            body = sld(ds.id, [equal_rule("Bretagne")])
            r = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": ds.id,
                                         "styles": "", "crs": "EPSG:4326", "bbox": FRANCE, "width": "4096",
                                         "height": "4096", "format": "image/png", "sld_body": body})
            assert r.status_code == 503 and b"ServiceException" in r.content and b"longer than" in r.content
            r = http.get(f"/ogc/collections/{ds.id}/map", params={"width": "4096", "height": "4096"})
            assert r.status_code == 503 and "longer than" in r.json()["detail"], r.text
            r = http.get(f"/wmts/1.0.0/{ds.id}/default/WebMercatorQuad/5/11/15.png")
            assert r.status_code == 503 and b"ExceptionReport" in r.content and b"longer than" in r.content, r.text
    finally:
        live.stop()
