"""GetFeatureInfo: the features under one pixel of the map, as GeoJSON, HTML, plain text or GML."""

from __future__ import annotations

import re
from typing import Any

import orjson
from jinja2 import Environment
from lxml import etree
from starlette.responses import Response

from kartenn.services.featureinfo import feature_info
from kartenn.site import Site
from kartenn.web.ows.common import OWSError, integer
from kartenn.web.ows.wms_map import map_request, requested_layers

INFO_FORMATS = ["application/json", "application/geo+json", "text/html", "application/vnd.ogc.gml", "text/xml",
                "text/plain"]


def get_feature_info(site: Site, params: dict[str, str], version: str) -> Response:
    req = map_request(site, params, version, image=False)
    queried = requested_layers(site, params, "query_layers")
    shown = {layer.dataset.id for layer in req.layers}
    for ds in queried:
        if ds.id not in shown:
            raise OWSError("LayerNotQueryable", f"layer {ds.id!r} is not in LAYERS", "query_layers")
    ik, jk = ("i", "j") if version == "1.3.0" else ("x", "y")
    i, j = integer(params, ik, low=0), integer(params, jk, low=0)
    if i >= req.width or j >= req.height:
        raise OWSError("InvalidPoint", f"pixel ({i}, {j}) is outside the {req.width}×{req.height} map", ik)
    count = integer(params, "feature_count", low=1, high=1000) if "feature_count" in params else 1
    info_format = params.get("info_format", "text/html").lower()
    if info_format not in INFO_FORMATS and not info_format.startswith("application/vnd.ogc.gml"):
        raise OWSError("InvalidFormat", f"unsupported INFO_FORMAT {info_format!r}", "info_format")
    features = []
    times = {layer.dataset.id: layer.time for layer in req.layers}
    at_time = {layer.dataset.id: layer.dataset for layer in req.layers}  # a stack's step as drawn
    for ds in queried:
        ds = at_time.get(ds.id, ds)
        found = feature_info(site, ds, req.crs, req.bbox, req.width, req.height, i, j,
                             count=count if times.get(ds.id) is None else 1000,
                             tolerance=site.settings.map_pixel_tolerance)
        step = next((s for s in req.steps if s.dataset.id == ds.id), None)
        if step is not None:  # the value at the time drawn
            found = [{**f, "properties": {**f["properties"], "time": step.time}} for f in found]
        when = times.get(ds.id)
        if when is not None:
            found = [f for f in found if when.contains(f["properties"].get(when.field))][:count]
        features += found
    if info_format in ("application/json", "application/geo+json"):
        body = orjson.dumps({"type": "FeatureCollection", "features": features})
        return Response(body, media_type=info_format)
    if info_format == "text/html":
        return Response(_HTML.render(features=features), media_type="text/html")
    if info_format == "text/plain":
        lines = [f"{f['layer']} {f['id']}: " + ", ".join(f"{k}={v}" for k, v in f["properties"].items())
                 for f in features]
        return Response("\n".join(lines) + "\n", media_type="text/plain")
    return Response(_gml(features), media_type="application/vnd.ogc.gml" if "gml" in info_format else "text/xml")


_HTML = Environment(autoescape=True).from_string(
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feature info</title></head><body>"
    "{% for f in features %}<table class='feature' data-layer='{{ f.layer }}' data-id='{{ f.id }}'>"
    "<caption>{{ f.layer }} {{ f.id }}</caption>"
    "{% for k, v in f.properties.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>"
    "{% else %}<p>No feature here.</p>{% endfor %}</body></html>")


def _gml(features: list[dict[str, Any]]) -> bytes:
    gml = "http://www.opengis.net/gml"
    root = etree.Element("FeatureCollection", nsmap={"gml": gml})
    for f in features:
        member = etree.SubElement(root, f"{{{gml}}}featureMember")
        name = re.sub(r"[^A-Za-z0-9_]", "_", f["layer"])
        el = etree.SubElement(member, name if name[:1].isalpha() else f"l_{name}", fid=str(f["id"]))
        for key, value in f["properties"].items():
            tag = re.sub(r"[^A-Za-z0-9_]", "_", key)
            child = etree.SubElement(el, tag if tag[:1].isalpha() else f"a_{tag}")
            child.text = "" if value is None else str(value)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
