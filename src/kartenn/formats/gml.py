"""Features as GML 3.2 (WFS 2.0) or GML 3.1.1 (WFS 1.1) members; geometries encoded by pygml.

Coordinates arrive in the axis order the response needs: pygml must not swap them again, so it gets
them without a CRS and the srsName is set afterwards.

>>> member(row, writer)  # doctest: +SKIP
b'<wfs:member><kartenn:regions gml:id="regions.4">…'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from lxml import etree
from pygml.pre_v32 import encode_pre_v32
from pygml.v32 import encode_v32

GML32 = "http://www.opengis.net/gml/3.2"
GML311 = "http://www.opengis.net/gml"
WFS20 = "http://www.opengis.net/wfs/2.0"
WFS110 = "http://www.opengis.net/wfs"
NAMESPACE = "urn:x-kartenn:features"
PREFIX = "kartenn"
XSD_TYPES = {"integer": "xsd:long", "number": "xsd:double", "boolean": "xsd:boolean", "date": "xsd:date",
             "datetime": "xsd:dateTime", "time": "xsd:time", "string": "xsd:string"}
GEOMETRY_PROPERTY_TYPES = {"Point": "PointPropertyType", "MultiPoint": "MultiPointPropertyType",
                           "LineString": "CurvePropertyType", "MultiLineString": "MultiCurvePropertyType",
                           "Polygon": "SurfacePropertyType", "MultiPolygon": "MultiSurfacePropertyType"}
_NOT_NAME = re.compile(r"[^\w.\-]", re.UNICODE)


def xml_name(name: str) -> str:
    """A field or dataset name as an XML element name (an NCName)."""
    safe = _NOT_NAME.sub("_", name) or "_"
    return safe if safe[0].isalpha() or safe[0] == "_" else f"_{safe}"


@dataclass
class Writer:
    """How one response writes its members."""

    version: str  # "2.0.0" or "1.1.0"
    type_name: str  # XML name of the feature type
    fields: list[tuple[str, str]]  # (field name, XML name) in output order
    srs_name: str
    with_geometry: bool = True

    @property
    def gml(self) -> str:
        return GML32 if self.version == "2.0.0" else GML311


def member(row: dict[str, Any], geometry_json: str | None, w: Writer) -> bytes:
    """One feature as ``wfs:member`` (2.0) or ``gml:featureMember`` (1.1)."""
    gml = w.gml
    fid = f"{w.type_name}.{row['fid']}"
    feature = etree.Element(f"{{{NAMESPACE}}}{w.type_name}", nsmap={PREFIX: NAMESPACE, "gml": gml})
    feature.set(f"{{{gml}}}id", fid)
    if w.with_geometry and geometry_json is not None:
        prop = etree.SubElement(feature, f"{{{NAMESPACE}}}geom")
        prop.append(geometry(orjson.loads(geometry_json), fid, w))
    for name, element in w.fields:
        value = row["properties"].get(name)
        if value is None:
            continue
        etree.SubElement(feature, f"{{{NAMESPACE}}}{element}").text = _text(value)
    if w.version == "2.0.0":
        wrapper = etree.Element(f"{{{WFS20}}}member", nsmap={"wfs": WFS20})
    else:
        wrapper = etree.Element(f"{{{gml}}}featureMember", nsmap={"gml": gml})
    wrapper.append(feature)
    return etree.tostring(wrapper, encoding="utf-8")


def without_declarations(members: bytes, w: Writer) -> bytes:
    """Members without the namespace declarations the enclosing collection already makes (a third of the size
    for points). Only start tags are touched: a ``<`` never appears unescaped in text."""
    wrapper = b'<wfs:member xmlns:wfs="%s"' % WFS20.encode() if w.version == "2.0.0" else \
        b'<gml:featureMember xmlns:gml="%s"' % w.gml.encode()
    feature = b'<%s:%s xmlns:%s="%s"' % (PREFIX.encode(), w.type_name.encode(), PREFIX.encode(), NAMESPACE.encode())
    gml = b' xmlns:gml="%s"' % w.gml.encode()
    members = members.replace(wrapper, wrapper.split(b" ")[0])
    return members.replace(feature + gml, feature.split(b" ")[0]).replace(feature, feature.split(b" ")[0])


def geometry(geojson: dict[str, Any], fid: str, w: Writer) -> etree._Element:
    encoded = encode_v32(geojson, f"{fid}.geom") if w.version == "2.0.0" else encode_pre_v32(geojson, f"{fid}.geom")
    encoded.set("srsName", w.srs_name)
    return encoded


def geometry_jsons(rows: list[dict[str, Any]]) -> list[str | None]:
    """The rows' geometries as GeoJSON text, written by GEOS all at once."""
    import numpy as np

    return list(shapely.to_geojson(np.array([r["geometry"] for r in rows], dtype=object)))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def schema(version: str, types: list[tuple[str, str | None, list[tuple[str, str, str]]]]) -> bytes:
    """An XML Schema for feature types: (XML name, geometry type, [(field XML name, field type)])."""
    gml = GML32 if version == "2.0.0" else GML311
    xsd = "http://www.w3.org/2001/XMLSchema"
    root = etree.Element(f"{{{xsd}}}schema", nsmap={"xsd": xsd, "gml": gml, PREFIX: NAMESPACE},
                         targetNamespace=NAMESPACE, elementFormDefault="qualified", version="1.0")
    location = ("http://schemas.opengis.net/gml/3.2.1/gml.xsd" if version == "2.0.0"
                else "http://schemas.opengis.net/gml/3.1.1/base/gml.xsd")
    etree.SubElement(root, f"{{{xsd}}}import", namespace=gml, schemaLocation=location)
    for name, geometry_type, fields in types:
        complex_type = etree.SubElement(root, f"{{{xsd}}}complexType", name=f"{name}Type")
        content = etree.SubElement(complex_type, f"{{{xsd}}}complexContent")
        extension = etree.SubElement(content, f"{{{xsd}}}extension", base="gml:AbstractFeatureType")
        sequence = etree.SubElement(extension, f"{{{xsd}}}sequence")
        etree.SubElement(sequence, f"{{{xsd}}}element", name="geom", minOccurs="0", maxOccurs="1", nillable="true",
                         type="gml:" + GEOMETRY_PROPERTY_TYPES.get(geometry_type or "", "GeometryPropertyType"))
        for field_name, _, field_type in fields:
            etree.SubElement(sequence, f"{{{xsd}}}element", name=field_name, minOccurs="0", maxOccurs="1",
                             nillable="true", type=XSD_TYPES.get(field_type, "xsd:string"))
        etree.SubElement(root, f"{{{xsd}}}element", name=name, type=f"{PREFIX}:{name}Type",
                         substitutionGroup="gml:AbstractFeature" if version == "2.0.0" else "gml:_Feature")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
