"""OGC Filter Encoding (FES 2.0 and Filter 1.1) → a pygeofilter AST, or a list of feature ids.

pygeofilter reads the operators and pygml the GML geometries (turned east/north, with their srsName
kept). pygml reads every EPSG:4326 coordinate latitude first; the rule here is that of ``kartenn.crs``
(the short form EPSG:4326 is longitude first), so the geometries it read wrongly are turned back. Before
that, this module: takes resource ids out (``fes:ResourceId``, ``ogc:FeatureId``,
``ogc:GmlObjectId``), turns ``gml:Envelope`` into a polygon so its srsName and axis order are read like
any geometry's, and reduces property paths (``kartenn:regions/kartenn:nom``) to field names.

>>> parse_filter(b'<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:ResourceId rid="regions.3"/>'
...              b'</fes:Filter>', {"nom": "nom"})
(None, [3])
"""

from __future__ import annotations

import copy
from typing import Any

import shapely
from lxml import etree
from pygeofilter import ast, values
from pygeofilter.parsers.fes.v11 import FES11Parser
from pygeofilter.parsers.fes.v20 import FES20Parser
from pygml.axisorder import is_crs_yx

from kartenn.crs import canonical, north_first
from kartenn.errors import InvalidInput
from kartenn.filter_check import INT64, FilterLimits, check_size, check_tree, check_xml
from kartenn.xml import parse_xml

FES20 = "http://www.opengis.net/fes/2.0"
OGC = "http://www.opengis.net/ogc"
GML_NAMESPACES = {"http://www.opengis.net/gml/3.2", "http://www.opengis.net/gml"}
ID_ELEMENTS = {"ResourceId": "rid", "FeatureId": "fid", "GmlObjectId": "{http://www.opengis.net/gml}id"}
GEOMETRY_NAMES = {"geom", "geometry", "the_geom"}
SPATIAL_OPERATORS = ("BBOX", "Equals", "Disjoint", "Touches", "Within", "Overlaps", "Crosses", "Intersects", "Contains",
                     "DWithin", "Beyond")
REFERENCES = {FES20: "ValueReference", OGC: "PropertyName"}
COMPARISONS = {"PropertyIsEqualTo": ast.Equal, "PropertyIsNotEqualTo": ast.NotEqual,
               "PropertyIsLessThan": ast.LessThan, "PropertyIsGreaterThan": ast.GreaterThan,
               "PropertyIsLessThanOrEqualTo": ast.LessEqual, "PropertyIsGreaterThanOrEqualTo": ast.GreaterEqual}


def _keeping_case(base: Any) -> Any:
    """pygeofilter's parser of one FES version, keeping matchCase="false" of comparisons (as ``nocase``, which
    it keeps for PropertyIsLike only)."""

    class Parser(base):  # type: ignore[misc,valid-type]
        def comparison(self, node: etree._Element, lhs: Any, rhs: Any) -> Any:
            out = COMPARISONS[etree.QName(node).localname](lhs, rhs)
            out.nocase = node.get("matchCase", "true").lower() == "false"
            return out

    Parser.comparison.subiter = True  # type: ignore[attr-defined]
    # the parser maps tags to handlers when its class is made, from its direct bases only
    Parser.tag_map = {**base.tag_map, **{f"{{{base.namespace}}}{tag}": Parser.comparison for tag in COMPARISONS}}
    Parser.namespace_map = dict(base.namespace_map)
    return Parser


PARSERS = {FES20: _keeping_case(FES20Parser), OGC: _keeping_case(FES11Parser)}


def parse_fes(root: etree._Element) -> Any:
    """A fes:Filter or ogc:Filter element → pygeofilter tree."""
    return PARSERS[etree.QName(root).namespace]().parse(root)


def parse_filter(source: bytes | str | etree._Element, names: dict[str, str],
                 default_srs: str | None = None, limits: FilterLimits | None = None) -> tuple[Any, list[int] | None]:
    """(AST or None, feature ids or None). ``names`` maps the XML names of fields to the fields' names;
    geometries without srsName are in ``default_srs`` (the feature type's CRS, in its axis order). The filter
    must keep within ``limits`` (the defaults when None)."""
    limits = limits or FilterLimits()
    sized = not isinstance(source, etree._Element)
    if sized:
        check_size(source, limits)
    root = source if isinstance(source, etree._Element) else parse_xml(
        source.encode("utf-8") if isinstance(source, str) else source)
    if etree.QName(root).localname != "Filter" or etree.QName(root).namespace not in (FES20, OGC):
        raise InvalidInput("the filter must be a fes:Filter (FES 2.0) or an ogc:Filter (Filter 1.1)",
                           locator="filter")
    check_xml(root, limits, sized=sized)
    root = copy.deepcopy(root)  # rewritten below
    ids = _take_ids(root)
    if len(root) == 0:
        return None, ids
    for reference in spatial_references(root, "geometry"):
        name = (reference.text or "").strip().rsplit("/", 1)[-1].split(":")[-1]
        if name not in GEOMETRY_NAMES and name != "BoundingBox":  # OWSLib always writes ows:BoundingBox
            raise InvalidInput(f"spatial operators compare the geometry property 'geom', not {reference.text!r}",
                               locator="filter")
        reference.text = "geometry"
    for path in root.iter(f"{{{FES20}}}ValueReference", f"{{{OGC}}}PropertyName"):
        path.text = _field(path.text or "", names)
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("srsName"):
            element.set("srsName", canonical(element.get("srsName")))
    for any_interacts in list(root.iter(f"{{{FES20}}}AnyInteracts")):
        _any_interacts(any_interacts)
    for envelope in [e for e in root.iter() if _is(e, "Envelope") or _is(e, "Box")]:
        envelope.getparent().replace(envelope, _polygon(envelope))
    try:
        condition = parse_fes(root)
        check_tree(condition, limits)
        east_north(condition, default_srs)
        return condition, ids
    except InvalidInput:
        raise
    except Exception as exc:  # pygeofilter and pygml raise many kinds for what they cannot read
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        if isinstance(exc, TypeError):  # the parser's own call failed: an operator with the wrong operands
            first = "an operator has too few or too many operands"
        elif isinstance(exc, KeyError):
            first = f"unknown operator or element {exc}"[:200]
        raise InvalidInput(f"cannot read the filter: {first}", locator="filter") from None


def fid(text: str) -> int | None:
    """A feature id's number (``regions.3`` → 3), None when it has none a feature could have."""
    number = text.strip().rsplit(".", 1)[-1]
    return int(number) if number.isdigit() and int(number) < INT64 else None


def spatial_references(root: etree._Element, default: str) -> list[etree._Element]:
    """The property references of the spatial operators under ``root``. FES 2.0 and Filter 1.1 let an operator
    leave it out, meaning the geometry: such an operator gets one naming ``default``."""
    found = []
    tags = [f"{{{ns}}}{name}" for ns in REFERENCES for name in SPATIAL_OPERATORS]
    for operator in list(root.iter(*tags)):
        tag = f"{{{etree.QName(operator).namespace}}}{REFERENCES[etree.QName(operator).namespace]}"
        references = [child for child in operator if child.tag == tag]
        if not references:
            references = [etree.Element(tag)]
            references[0].text = default
            operator.insert(0, references[0])
        found += references
    return found


def _is(element: Any, localname: str) -> bool:
    return isinstance(element.tag, str) and etree.QName(element).localname == localname and \
        etree.QName(element).namespace in GML_NAMESPACES


def _take_ids(root: etree._Element) -> list[int] | None:
    found = [e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname in ID_ELEMENTS]
    if not found:
        return None
    ids = []
    for element in found:
        attribute = ID_ELEMENTS[etree.QName(element).localname]
        number = fid(element.get(attribute) or element.get("gml:id") or "")
        if number is not None:
            ids.append(number)
        element.getparent().remove(element)
    return ids


def _field(path: str, names: dict[str, str]) -> str:
    """``kartenn:regions/kartenn:nom`` or ``nom`` → nom; unknown names stay, and fail as unknown properties."""
    last = path.strip().rsplit("/", 1)[-1].split(":")[-1]
    if last in GEOMETRY_NAMES:
        return "geometry"
    return names.get(last, last)


def _polygon(envelope: etree._Element) -> etree._Element:
    """A gml:Envelope (or GML 2 gml:Box) as the gml:Polygon it covers, in the same namespace, CRS and axis order."""
    ns = etree.QName(envelope).namespace
    corners = _corners(envelope, ns)
    (a, b), (c, d) = corners[0][:2], corners[1][:2]
    ring = [(a, b), (c, b), (c, d), (a, d), (a, b)]
    polygon = etree.Element(f"{{{ns}}}Polygon", nsmap={"gml": ns})
    if envelope.get("srsName"):
        polygon.set("srsName", envelope.get("srsName"))
    if ns.endswith("3.2"):
        polygon.set(f"{{{ns}}}id", "envelope")
    exterior = etree.SubElement(polygon, f"{{{ns}}}exterior")
    linear = etree.SubElement(exterior, f"{{{ns}}}LinearRing")
    etree.SubElement(linear, f"{{{ns}}}posList").text = " ".join(f"{x!r} {y!r}" for x, y in ring)
    return polygon


def east_north(condition: Any, default_srs: str | None = None) -> None:
    """The geometries of a parsed filter east/north, as their srsName means them (see ``_fix_axis_order``)."""
    for literal in _geometries(condition):
        _fix_axis_order(literal, default_srs)


def _geometries(node: Any) -> list[values.Geometry]:
    found, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, values.Geometry):
            found.append(item)
        elif isinstance(item, ast.Node):
            stack += item.get_sub_nodes()
        elif isinstance(item, list | tuple):
            stack += item
    return found


def _fix_axis_order(literal: values.Geometry, default_srs: str | None) -> None:
    """Coordinates east/north as the filter's CRS name means them (pygml swapped by its own list), and the
    CRS named, so that the output's axis order has no say in how the filter is read."""
    crs = literal.geometry.get("crs") if isinstance(literal.geometry, dict) else None
    name = (crs or {}).get("properties", {}).get("name")
    if not name and not default_srs:
        return
    if not name:
        name, swapped = default_srs, False  # pygml had no CRS to go by
        crs = {"type": "name", "properties": {"name": canonical(default_srs)}}
    else:
        try:
            swapped = is_crs_yx(name)
        except ValueError:
            swapped = False
    geometry = shapely.geometry.shape(literal.geometry)
    if swapped != north_first(name):
        geometry = shapely.transform(geometry, lambda xy: xy[:, ::-1])
    literal.geometry = {**shapely.geometry.mapping(geometry), "crs": crs}


def _corners(envelope: etree._Element, ns: str) -> list[list[float]]:
    """Two corners from lowerCorner/upperCorner, two gml:pos, gml:coordinates ("x1,y1 x2,y2") or two gml:coord."""
    lower, upper = envelope.find(f"{{{ns}}}lowerCorner"), envelope.find(f"{{{ns}}}upperCorner")
    try:
        if lower is not None and upper is not None:
            texts = [lower.text or "", upper.text or ""]
        elif len(envelope.findall(f"{{{ns}}}pos")) == 2:
            texts = [p.text or "" for p in envelope.findall(f"{{{ns}}}pos")]
        elif (coordinates := envelope.find(f"{{{ns}}}coordinates")) is not None:
            cs, ts = coordinates.get("cs", ","), coordinates.get("ts", " ")
            texts = [t.replace(cs, " ") for t in (coordinates.text or "").strip().split(ts) if t.strip()]
        else:
            texts = [" ".join(c.findtext(f"{{{ns}}}{axis}") or "" for axis in ("X", "Y"))
                     for c in envelope.findall(f"{{{ns}}}coord")]
        corners = [[float(v) for v in text.split()] for text in texts]
    except ValueError:
        raise InvalidInput("the corners of a gml:Envelope must be numbers", locator="filter") from None
    if len(corners) != 2 or any(len(c) < 2 for c in corners):
        raise InvalidInput("a gml:Envelope needs two corners of two numbers", locator="filter")
    return corners


def _any_interacts(element: etree._Element) -> None:
    """fes:AnyInteracts (which the parser lacks) as what it means: neither Before nor After."""
    operands = [child for child in element if isinstance(child.tag, str)]
    negation = etree.Element(f"{{{FES20}}}Not")
    either = etree.SubElement(negation, f"{{{FES20}}}Or")
    for name in ("Before", "After"):
        etree.SubElement(either, f"{{{FES20}}}{name}").extend(copy.deepcopy(operands))
    element.getparent().replace(element, negation)
