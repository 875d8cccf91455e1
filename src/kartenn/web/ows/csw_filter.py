"""CSW constraints: OGC Filter 1.1 (FES) and CQL text read into pygeofilter trees, within the site's filter
limits, naming only the catalogue's queryables."""

from __future__ import annotations

from typing import Any

from lxml import etree

from kartenn.filter_check import FilterLimits, check_size, check_tree, check_xml
from kartenn.formats.fes import east_north, parse_fes, spatial_references
from kartenn.services.record_search import QUERYABLES, SPATIAL, queryable
from kartenn.web.ows.common import OWSError
from kartenn.web.ows.csw_params import GML


def _swap_lat_lon(flt: etree._Element) -> None:
    """CSW 2.0.2 geometries in EPSG:4326 as a URN/URI, or with no srsName (the default CRS), are latitude
    first; the store is longitude first."""
    for geom in list(flt.iter(f"{{{GML}}}*")):
        parent = geom.getparent()
        if parent is not None and etree.QName(parent).namespace == GML:
            continue  # only whole geometries
        srs = geom.get("srsName")
        if srs is not None and not ("4326" in srs and srs.startswith(("urn:", "http"))):
            continue
        for node in geom.iter():
            if isinstance(node.tag, str) and etree.QName(node).localname in ("lowerCorner", "upperCorner", "pos",
                                                                            "posList", "coordinates"):
                numbers = (node.text or "").replace(",", " ").split()
                node.text = " ".join(f"{numbers[i + 1]} {numbers[i]}" for i in range(0, len(numbers) - 1, 2))
        geom.set("srsName", "EPSG:4326")


def fes_filter(flt: etree._Element, limits: FilterLimits | None = None) -> Any:
    limits = limits or FilterLimits()
    check_xml(flt, limits, "constraint")
    flt = etree.fromstring(etree.tostring(flt))
    _swap_lat_lon(flt)
    for reference in spatial_references(flt, "ows:BoundingBox"):  # none: the record's box is meant
        name = (reference.text or "").strip()
        if queryable(name) not in SPATIAL or queryable(name) == "spatial":
            # the CSW record's spatial queryable is ows:BoundingBox; dct:spatial is a text element
            raise OWSError("InvalidParameterValue", f"spatial operators compare ows:BoundingBox, not {name!r}",
                           "constraint")
    try:
        node = parse_fes(flt)
    except Exception as exc:  # the parser raises many kinds for malformed filters
        raise OWSError("InvalidParameterValue", f"invalid OGC filter: {exc}", "constraint") from None
    check_tree(node, limits, "constraint")
    east_north(node)  # the parser read EPSG:4326 latitude first, where _swap_lat_lon made it longitude first
    _check_properties(node)
    return node


def cql_filter(text: str, limits: FilterLimits | None = None) -> Any:
    limits = limits or FilterLimits()
    check_size(text, limits, "constraint")
    from pygeofilter.parsers.ecql import parse as parse_cql  # the grammar is built on first use

    try:
        node = parse_cql(text)
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise OWSError("InvalidParameterValue", f"invalid CQL: {first}", "constraint") from None
    check_tree(node, limits, "constraint")
    _check_properties(node)
    return node


def _check_properties(node: Any) -> None:
    from pygeofilter import ast

    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack += item
        elif isinstance(item, ast.Attribute):
            if queryable(item.name) not in QUERYABLES and queryable(item.name) not in SPATIAL:
                raise OWSError("InvalidParameterValue", f"unknown property {item.name!r}", "constraint")
        else:
            stack += getattr(item, "get_sub_nodes", lambda: [])() or []
