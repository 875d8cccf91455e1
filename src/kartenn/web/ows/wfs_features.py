"""GetFeature, its GetFeatureById stored query and GetPropertyValue: counting, then writing the members as
GML 3.2, GML 3.1.1 or GeoJSON, streamed for GetFeature."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode

import orjson
from lxml import etree
from pyproj import CRS
from starlette.responses import Response, StreamingResponse

from kartenn.formats import gml
from kartenn.services import features
from kartenn.services.exports import geojson_features
from kartenn.site import Site
from kartenn.web.ows.common import OWSError
from kartenn.web.ows.wfs_query import Plan, output_kind, plan_query, split_id, spread_page
from kartenn.web.ows.wfs_request import WFSRequest
from kartenn.web.ows.wfs_types import dataset_named, field_named, urn

WFS20, WFS110 = gml.WFS20, gml.WFS110
GET_FEATURE_BY_ID = "urn:ogc:def:query:OGC-WFS::GetFeatureById"
CRS84 = CRS.from_user_input("OGC:CRS84")


def get_feature(site: Site, req: WFSRequest, online: str) -> Response:
    if req.stored_query:
        return _get_feature_by_id(site, req)
    type_names = req.type_names or list(dict.fromkeys(split_id(i)[0] for i in req.resource_ids or []))
    if not type_names or "" in type_names:
        raise OWSError("MissingParameterValue", "typeNames is missing", "typeNames")
    if req.result_type not in ("results", "hits"):
        raise OWSError("InvalidParameterValue", "resultType must be results or hits", "resultType")
    fmt = output_kind(req)
    cap = site.settings.wfs_max_features
    count = min(req.count if req.count is not None else cap, cap)
    plans = [plan_query(site, req, dataset_named(site, name), count, geojson=fmt == "json", index=i)
             for i, name in enumerate(type_names)]
    counts = [features.count(site, p.dataset, p.query) for p in plans]
    matched = sum(counts)
    returned = 0 if req.result_type == "hits" else spread_page(plans, counts, req.start, count)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    if fmt == "json":
        if req.result_type == "hits":
            return Response(orjson.dumps({"type": "FeatureCollection", "features": [], "numberMatched": matched,
                                          "numberReturned": 0}), media_type="application/geo+json")
        return StreamingResponse(_json_stream(site, plans, matched, returned, stamp),
                                 media_type="application/geo+json")
    if req.version == "2.0.0":
        attrs = {"numberMatched": str(matched), "numberReturned": str(returned), "timeStamp": stamp}
        if req.kvp and req.result_type == "results" and req.start + returned < matched:
            attrs["next"] = f"{online}?{urlencode({**req.kvp, 'startindex': req.start + count})}"
        if req.kvp and req.start > 0 and req.result_type == "results":
            attrs["previous"] = f"{online}?{urlencode({**req.kvp, 'startindex': max(0, req.start - count)})}"
        media = "application/gml+xml; version=3.2"
    else:
        attrs = {"numberOfFeatures": str(returned if req.result_type == "results" else matched),
                 "timeStamp": stamp}
        media = "text/xml; subtype=gml/3.1.1"
    head = _collection_head(req.version, attrs, online, type_names)
    if req.result_type == "hits":
        return Response(head + b"/>", media_type=media)
    return StreamingResponse(_gml_stream(site, plans, head), media_type=media)


def _collection_head(version: str, attrs: dict[str, str], online: str, names: list[str]) -> bytes:
    wfs, gml_ns = (WFS20, gml.GML32) if version == "2.0.0" else (WFS110, gml.GML311)
    location = ("http://www.opengis.net/wfs/2.0 http://schemas.opengis.net/wfs/2.0/wfs.xsd" if version == "2.0.0"
                else "http://www.opengis.net/wfs http://schemas.opengis.net/wfs/1.1.0/wfs.xsd")
    query = {"service": "WFS", "version": version, "request": "DescribeFeatureType", "typeNames": ",".join(names)}
    describe = f"{online}?{urlencode(query)}"
    root = etree.Element(f"{{{wfs}}}FeatureCollection", nsmap={"wfs": wfs, "gml": gml_ns, gml.PREFIX: gml.NAMESPACE,
                                                               "xsi": "http://www.w3.org/2001/XMLSchema-instance"})
    root.set("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", f"{gml.NAMESPACE} {describe} {location}")
    for key, value in attrs.items():
        root.set(key, value)
    text = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return text[:-2]  # without "/>": members follow


def _gml_stream(site: Site, plans: list[Plan], head: bytes) -> Iterator[bytes]:
    yield head + b">"
    for plan in plans:
        if not plan.query.limit:
            continue
        for rows in features.stream(site, plan.dataset, plan.query):
            geometries = gml.geometry_jsons(rows) if plan.writer.with_geometry else [None] * len(rows)
            members = b"".join(gml.member(r, g, plan.writer) for r, g in zip(rows, geometries, strict=True))
            yield gml.without_declarations(members, plan.writer)
    yield b"</wfs:FeatureCollection>"


def _json_stream(site: Site, plans: list[Plan], matched: int, returned: int, stamp: str) -> Iterator[bytes]:
    yield (b'{"type":"FeatureCollection","numberMatched":%d,"numberReturned":%d,"timeStamp":"%s",%s"features":['
           % (matched, returned, stamp.encode(), _json_crs(plans[0])))
    first = True
    for plan in plans:
        if not plan.query.limit:
            continue
        for rows in features.stream(site, plan.dataset, plan.query):
            chunk = b",".join(orjson.dumps(f) for f in geojson_features(rows))
            if chunk:
                yield (b"" if first else b",") + chunk
                first = False
    yield b"]}"


def _json_crs(plan: Plan) -> bytes:
    """A ``crs`` member (as GeoServer and GDAL write it) when coordinates are not longitude/latitude degrees."""
    crs = plan.query.crs
    if plan.query.skip_geometry or crs is None or crs.equals(CRS84, ignore_axis_order=True):
        return b""
    epsg = crs.to_epsg()
    name = urn(epsg) if epsg else crs.to_string()
    return b'"crs":' + orjson.dumps({"type": "name", "properties": {"name": name}}) + b","


def _get_feature_by_id(site: Site, req: WFSRequest) -> Response:
    if req.stored_query != GET_FEATURE_BY_ID:
        raise OWSError("InvalidParameterValue", f"unknown stored query {req.stored_query!r}", "storedQuery_id")
    if not req.stored_id or "." not in req.stored_id:
        raise OWSError("MissingParameterValue", "ID must name a feature, like regions.4", "id")
    type_name, _, number = req.stored_id.rpartition(".")
    d = dataset_named(site, type_name)
    if not number.isdigit():
        raise OWSError("NotFound", f"no feature {req.stored_id!r}", "id", status=404)
    by_id = WFSRequest(operation="GetFeature", version=req.version, srs_name=req.srs_name,
                       resource_ids=[number], output_format=req.output_format)
    geojson = output_kind(by_id) == "json"
    plan = plan_query(site, by_id, d, 1, geojson=geojson)
    rows = [r for chunk in features.stream(site, d, plan.query) for r in chunk]
    if not rows:
        raise OWSError("NotFound", f"no feature {req.stored_id!r}", "id", status=404)
    if geojson:
        return Response(orjson.dumps(geojson_features(rows)[0]), media_type="application/geo+json")
    member = etree.fromstring(gml.member(rows[0], gml.geometry_jsons(rows)[0], plan.writer))
    return Response(etree.tostring(member[0], xml_declaration=True, encoding="utf-8"),
                    media_type="application/gml+xml; version=3.2")


def get_property_value(site: Site, req: WFSRequest, online: str) -> Response:
    if not req.value_reference:
        raise OWSError("MissingParameterValue", "valueReference is missing", "valueReference")
    if len(req.type_names) != 1:
        raise OWSError("InvalidParameterValue", "GetPropertyValue takes one feature type", "typeNames")
    d = dataset_named(site, req.type_names[0])
    local = req.value_reference.rsplit("/", 1)[-1].split(":")[-1]
    geometry = local in ("geom", "geometry")
    name = None if geometry else field_named(d, req.value_reference, "valueReference")
    cap = site.settings.wfs_max_features
    count = min(req.count if req.count is not None else cap, cap)
    plan = plan_query(site, req, d, count)
    plan.query.properties = [] if geometry else [name]  # type: ignore[list-item]
    plan.query.skip_geometry = not geometry
    plan.writer.with_geometry = geometry
    matched = features.count(site, d, plan.query)
    root = etree.Element(f"{{{WFS20}}}ValueCollection", nsmap={"wfs": WFS20, "gml": gml.GML32,
                                                               gml.PREFIX: gml.NAMESPACE})
    rows = [r for chunk in features.stream(site, d, plan.query) for r in chunk]
    root.set("numberMatched", str(matched))
    root.set("numberReturned", str(len(rows)))
    root.set("timeStamp", datetime.now(UTC).isoformat(timespec="seconds"))
    geometries = gml.geometry_jsons(rows) if geometry else [None] * len(rows)
    for row, geom in zip(rows, geometries, strict=True):
        member = etree.SubElement(root, f"{{{WFS20}}}member")
        if geometry:
            if geom is not None:
                member.append(gml.geometry(orjson.loads(geom), f"{plan.writer.type_name}.{row['fid']}", plan.writer))
        elif row["properties"].get(name) is not None:
            member.text = gml._text(row["properties"][name])
    return Response(etree.tostring(root, xml_declaration=True, encoding="utf-8"), media_type="text/xml")
