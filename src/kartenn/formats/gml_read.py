"""GML geometries (GML 2, 3.1.1 and 3.2) → GeoJSON-like dicts, read by pygml.

pygml reads the GML 3 forms; the GML 2 ones (``gml:coordinates`` with its ``cs``/``ts``/``decimal``
separators, ``gml:coord``, ``outerBoundaryIs``/``innerBoundaryIs``), which WFS 1.0.0 clients such as
QGIS send, are first rewritten into them (``gml:posList``/``gml:pos``, ``exterior``/``interior``).

>>> read_geometry(etree.fromstring(
...     '<gml:Point xmlns:gml="http://www.opengis.net/gml"><gml:coordinates>1,2</gml:coordinates></gml:Point>'))
{'type': 'Point', 'coordinates': (1.0, 2.0)}
"""

from __future__ import annotations

import copy
import re
from typing import Any

from lxml import etree
from pygml import parse as parse_gml

GML_NAMESPACES = ("http://www.opengis.net/gml", "http://www.opengis.net/gml/3.2")
RENAMED = {"outerBoundaryIs": "exterior", "innerBoundaryIs": "interior"}
POINT_PARENTS = {"Point"}


class GMLGeometryError(ValueError):
    pass


def read_geometry(element: Any) -> dict[str, Any]:
    """A GML geometry element → a GeoJSON geometry dict, with a ``crs`` member when it names one."""
    if not isinstance(element.tag, str) or etree.QName(element).namespace not in GML_NAMESPACES:
        raise GMLGeometryError("not a GML geometry")
    try:
        return dict(parse_gml(_gml3(element)).geometry)
    except GMLGeometryError:
        raise
    except Exception as exc:  # pygml raises several kinds for GML it cannot read
        raise GMLGeometryError(str(exc)[:200] or type(exc).__name__) from None


def _gml3(element: Any) -> Any:
    """A copy of ``element`` with its GML 2 forms written as GML 3 ones."""
    root = copy.deepcopy(element)
    for node in list(root.iter()):
        if not isinstance(node.tag, str):
            continue
        name = etree.QName(node)
        if name.namespace not in GML_NAMESPACES:
            continue
        if name.localname in RENAMED:
            node.tag = f"{{{name.namespace}}}{RENAMED[name.localname]}"
        elif name.localname == "coordinates":
            _replace(node, [_coordinates(node)], name.namespace)
    for parent in list(root.iter()):
        coords = [c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == "coord"
                  and etree.QName(c).namespace in GML_NAMESPACES]
        if coords:
            for extra in coords[1:]:
                parent.remove(extra)
            _replace(coords[0], [[_coord(c) for c in coords]], etree.QName(coords[0]).namespace)
    return root


def _replace(node: Any, tuples: list[list[list[str]]], namespace: str) -> None:
    """``node`` replaced by a ``pos`` (in a point) or a ``posList`` of ``tuples[0]``."""
    points = tuples[0]
    if not points:
        raise GMLGeometryError("a geometry has no coordinates")
    dimension = len(points[0])
    if dimension not in (2, 3) or any(len(p) != dimension for p in points):
        raise GMLGeometryError("coordinates must all have 2 or all have 3 values")
    parent = node.getparent()
    in_point = parent is not None and etree.QName(parent).localname in POINT_PARENTS
    if in_point and len(points) != 1:
        raise GMLGeometryError("a point has one coordinate tuple")
    new = etree.Element(f"{{{namespace}}}{'pos' if in_point else 'posList'}")
    new.set("srsDimension", str(dimension))
    new.text = " ".join(v for p in points for v in p)
    new.tail = node.tail
    if parent is None:
        raise GMLGeometryError("coordinates outside a geometry")
    parent.replace(node, new)


def _number(text: str, decimal: str = ".") -> str:
    value = text.strip()
    if decimal != ".":
        value = value.replace(decimal, ".")
    try:
        return repr(float(value))
    except ValueError:
        raise GMLGeometryError(f"{text.strip()[:40]!r} is not a number") from None


def _coordinates(node: Any) -> list[list[str]]:
    """``gml:coordinates``: tuples split by ``ts`` (white space by default), values by ``cs`` (a comma)."""
    cs, ts, decimal = node.get("cs", ","), node.get("ts", " "), node.get("decimal", ".")
    if not cs or not ts or not decimal or len({cs, ts, decimal}) < 3:
        raise GMLGeometryError("gml:coordinates needs three different separators (cs, ts, decimal)")
    text = (node.text or "").strip()
    if cs.isspace():
        tuples = [t for t in text.split(ts) if t.strip()]
        return [[_number(v, decimal) for v in t.split()] for t in tuples]
    if ts.isspace():  # spaces around a comma ("1, 2 3, 4") are glued first
        tuples = re.sub(rf"\s*{re.escape(cs)}\s*", cs, text).split()
    else:
        tuples = [t for t in text.split(ts) if t.strip()]
    return [[_number(v, decimal) for v in t.split(cs)] for t in tuples]


def _coord(node: Any) -> list[str]:
    """``gml:coord`` with ``gml:X``, ``gml:Y`` and an optional ``gml:Z``."""
    values = {etree.QName(c).localname: c.text or "" for c in node if isinstance(c.tag, str)}
    if "X" not in values or "Y" not in values:
        raise GMLGeometryError("gml:coord needs gml:X and gml:Y")
    return [_number(values[k]) for k in ("X", "Y", "Z") if k in values]
