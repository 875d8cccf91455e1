"""From a GetFeature request to one store query per feature type: filter, resource ids, BBOX, properties,
sorting, output CRS and axis order; the output format, and one page spread over the types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from pygeofilter import ast, values
from pyproj import CRS

from kartenn.crs import canonical, north_first, parse_bbox, swap, to_crs
from kartenn.domain import Dataset
from kartenn.filter_check import FilterLimits
from kartenn.formats import gml, output
from kartenn.formats.fes import fid, parse_filter
from kartenn.services.features import ItemQuery
from kartenn.site import Site
from kartenn.web.ows.common import OWSError
from kartenn.web.ows.wfs_request import WFSRequest
from kartenn.web.ows.wfs_types import default_crs, field_named, field_names, type_name

GML32_FORMATS = {"application/gml+xml;version=3.2", "application/gmlxml;version=3.2", "text/xml;subtype=gml/3.2",
                 "gml32", "gml3.2", "text/xml;subtype=gml/3.2.1"}
GML311_FORMATS = {"text/xml;subtype=gml/3.1.1", "gml3", "gml311", "text/xml"}
OUTPUT_FORMATS = {"2.0.0": ["application/gml+xml; version=3.2", "text/xml; subtype=gml/3.2", "application/json"],
                  "1.1.0": ["text/xml; subtype=gml/3.1.1", "application/json"], "1.0.0": []}


@dataclass
class Plan:
    dataset: Dataset
    query: ItemQuery
    writer: gml.Writer


def plan_query(site: Site, req: WFSRequest, d: Dataset, count: int, geojson: bool = False, index: int = 0) -> Plan:
    """How to query one feature type; GeoJSON is always east/north (RFC 7946), whatever the srsName."""
    srs_name = req.srs_name or default_crs(d)
    output_crs = to_crs(srs_name)
    condition = None
    fids: list[int] | None = None
    source = req.filters[index] if req.filters and index < len(req.filters) else req.filter
    if source is not None and source != "":
        # Geometries without a CRS are in the query's srsName, else the type's default CRS (as GeoServer).
        condition, fids = parse_filter(source, field_names(d), srs_name, FilterLimits.of(site.settings))
    if req.resource_ids:
        numbers = [(prefix, fid(number)) for prefix, number in map(split_id, req.resource_ids)]
        fids = [n for prefix, n in numbers if n is not None and prefix in ("", type_name(d), d.id)]
    if req.bbox:
        box = _bbox_condition(req.bbox, srs_name)
        condition = box if condition is None else ast.And(condition, box)
    with_geometry = True
    properties = None
    wanted = [p.rsplit("/", 1)[-1].split(":")[-1] for p in req.property_names or []]
    if wanted and "*" not in wanted:
        with_geometry = any(w in ("geom", "geometry") for w in wanted)
        # With several types, each takes the names it has (PropertyName=(nom)(BoroName) or a flat list).
        mine = wanted if len(req.type_names) <= 1 else [w for w in wanted if w in field_names(d)]
        properties = [field_named(d, w, "propertyName") for w in mine if w not in ("geom", "geometry")]
    sortby = [(field_named(d, name, "sortBy"), desc) for name, desc in req.sortby]
    query = ItemQuery(filter=condition, filter_crs=CRS.from_user_input(d.crs), fids=fids, sortby=sortby,
                      properties=properties, skip_geometry=not with_geometry, crs=output_crs,
                      xy=geojson or not north_first(srs_name), offset=req.start, limit=count)
    fields = [(f.name, gml.xml_name(f.name)) for f in d.fields if properties is None or f.name in properties]
    return Plan(d, query, gml.Writer(req.version, type_name(d), fields, srs_name, with_geometry))


def split_id(resource_id: str) -> tuple[str, str]:
    """``kartenn:regions.4`` → (regions, 4); a bare number has no type."""
    prefix, _, number = resource_id.strip().rpartition(".")
    return prefix.split(":")[-1], number


def output_kind(req: WFSRequest) -> str:
    """gml32, gml311 or json, from outputFormat and the version."""
    fmt = (req.output_format or "").lower().replace(" ", "").replace('"', "")
    if not fmt:
        return "gml32" if req.version == "2.0.0" else "gml311"
    if (found := output.wfs_output(fmt)) is not None and found.name == "geojson":
        return "json"
    if fmt in GML32_FORMATS and req.version == "2.0.0":
        return "gml32"
    if fmt in GML311_FORMATS and req.version == "1.1.0":
        return "gml311"
    allowed = ", ".join(OUTPUT_FORMATS[req.version])
    raise OWSError("InvalidParameterValue", f"outputFormat {req.output_format!r} is not offered; use {allowed}",
                   "outputFormat")


def spread_page(plans: list[Plan], counts: list[int], start: int, count: int) -> int:
    """Spread one page (startIndex, count) over the feature types in order; the number of features it holds."""
    skip, remaining = start, count
    for plan, matched in zip(plans, counts, strict=True):
        plan.query.offset = min(skip, matched)
        plan.query.limit = max(0, min(matched - plan.query.offset, remaining))
        skip -= plan.query.offset
        remaining -= plan.query.limit
    return count - remaining


def _bbox_condition(text: str, default_srs: str) -> Any:
    box, written = parse_bbox(text, with_crs=True)
    name = default_srs if written is None else written
    a, b, c, d = swap(box) if north_first(name) else box
    if a > c or b > d:
        raise OWSError("InvalidParameterValue", "BBOX lower corner must be below and left of the upper", "bbox")
    to_crs(name)
    polygon = shapely.geometry.mapping(shapely.box(a, b, c, d))
    crs = {"type": "name", "properties": {"name": canonical(name)}}  # coordinates now east/north
    return ast.GeometryIntersects(ast.Attribute("geometry"), values.Geometry({**polygon, "crs": crs}))
