"""What WFS tells of itself: the capabilities (1.0.0, 1.1.0, 2.0.0, from templates), DescribeFeatureType's
schemas, and the list and description of the stored queries."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader
from lxml import etree
from starlette.responses import Response

from kartenn.domain import Dataset
from kartenn.errors import NotFound
from kartenn.formats import gml
from kartenn.site import Site
from kartenn.web.ows.wfs_features import GET_FEATURE_BY_ID
from kartenn.web.ows.wfs_query import OUTPUT_FORMATS
from kartenn.web.ows.wfs_request import WFSRequest
from kartenn.web.ows.wfs_types import dataset_named, default_crs, type_name, urn, vector_datasets

WFS20 = gml.WFS20
GMD = "http://www.isotc211.org/2005/gmd"
OTHER_EPSG = [4326, 3857, 2154, 4258, 3035]
OPERATIONS = {"2.0.0": ["GetCapabilities", "DescribeFeatureType", "GetFeature", "GetPropertyValue",
                        "ListStoredQueries", "DescribeStoredQueries"],
              "1.1.0": ["GetCapabilities", "DescribeFeatureType", "GetFeature"],
              "1.0.0": ["GetCapabilities", "DescribeFeatureType", "GetFeature"]}
CONSTRAINTS = [("ImplementsBasicWFS", "TRUE"), ("ImplementsTransactionalWFS", "FALSE"),
               ("ImplementsLockingWFS", "FALSE"), ("KVPEncoding", "TRUE"), ("XMLEncoding", "TRUE"),
               ("SOAPEncoding", "FALSE"), ("ImplementsInheritance", "FALSE"), ("ImplementsRemoteResolve", "FALSE"),
               ("ImplementsResultPaging", "TRUE"), ("ImplementsStandardJoins", "FALSE"),
               ("ImplementsSpatialJoins", "FALSE"), ("ImplementsTemporalJoins", "FALSE"),
               ("ImplementsFeatureVersioning", "FALSE"), ("ManageStoredQueries", "FALSE")]
FILTER_CONSTRAINTS = [("ImplementsQuery", "TRUE"), ("ImplementsAdHocQuery", "TRUE"), ("ImplementsFunctions", "FALSE"),
                      ("ImplementsResourceId", "TRUE"), ("ImplementsMinStandardFilter", "TRUE"),
                      ("ImplementsStandardFilter", "TRUE"), ("ImplementsMinSpatialFilter", "TRUE"),
                      ("ImplementsSpatialFilter", "TRUE"), ("ImplementsMinTemporalFilter", "TRUE"),
                      ("ImplementsTemporalFilter", "TRUE"), ("ImplementsVersionNav", "FALSE"),
                      ("ImplementsSorting", "TRUE"), ("ImplementsExtendedOperators", "FALSE"),
                      ("ImplementsMinimumXPath", "TRUE"), ("ImplementsSchemaElementFunc", "FALSE")]
COMPARISON = ["PropertyIsEqualTo", "PropertyIsNotEqualTo", "PropertyIsLessThan", "PropertyIsGreaterThan",
              "PropertyIsLessThanOrEqualTo", "PropertyIsGreaterThanOrEqualTo", "PropertyIsLike", "PropertyIsNull",
              "PropertyIsBetween"]
COMPARISON_110 = ["EqualTo", "NotEqualTo", "LessThan", "GreaterThan", "LessThanEqualTo", "GreaterThanEqualTo",
                  "Like", "NullCheck", "Between"]
SPATIAL = ["BBOX", "Equals", "Disjoint", "Intersects", "Touches", "Crosses", "Within", "Contains", "Overlaps"]
# AnyInteracts is read in filters too, but the capabilities schema has no name for it.
TEMPORAL = ["After", "Before", "Begins", "BegunBy", "TContains", "During", "TEquals", "TOverlaps", "Meets",
            "OverlappedBy", "MetBy", "EndedBy", "Ends"]
# Filter 1.1 lists only the first four (its schema has no multi-geometries here).
GEOMETRY_OPERANDS = ["Envelope", "Point", "LineString", "Polygon", "MultiPoint", "MultiCurve", "MultiSurface"]
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
                        autoescape=True)


def capabilities(site: Site, version: str, online: str) -> bytes:
    """Transaction is offered (with the types' Insert, Update and Delete) to callers who may edit a type."""
    types = []
    for d in vector_datasets(site):
        default = default_crs(d)
        other = [urn(c) for c in OTHER_EPSG if urn(c) != default]
        bbox = [round(v, 6) for v in d.extent_wgs84] if d.extent_wgs84 else None
        types.append({"name": type_name(d), "title": d.title, "default_crs": default, "other_crs": other,
                      "srs": f"EPSG:{d.srid}" if d.srid else "EPSG:4326", "bbox": bbox,
                      "editable": site.may("edit", "dataset", d.id), **_description(site, d, online)})
    editable = any(t["editable"] for t in types)
    constraints = [(name, "TRUE" if name == "ImplementsTransactionalWFS" and editable else value)
                   for name, value in CONSTRAINTS]
    template = TEMPLATES.get_template(f"wfs_capabilities_{version.replace('.', '')}.xml")
    return template.render(
        title=site.settings.title, online=online, prefix=gml.PREFIX, namespace=gml.NAMESPACE,
        operations=[*OPERATIONS[version], *(["Transaction"] if editable else [])],
        output_formats=OUTPUT_FORMATS[version], constraints=constraints,
        filter_constraints=FILTER_CONSTRAINTS, comparison=COMPARISON, comparison_110=COMPARISON_110,
        spatial=SPATIAL, temporal=TEMPORAL, geometry_operands=GEOMETRY_OPERANDS, feature_types=types,
        count_default=site.settings.wfs_max_features).encode("utf-8")


def _description(site: Site, d: Dataset, online: str) -> dict[str, Any]:
    """Abstract, keywords and the link to the ISO record, from the dataset's published catalogue record."""
    try:
        record = site.catalog.get_record(d.record_id) if d.record_id else None
    except NotFound:
        record = None
    if record is None or record.state != "published":
        return {}
    query = {"service": "CSW", "version": "2.0.2", "request": "GetRecordById", "id": record.id,
             "outputSchema": GMD, "elementSetName": "full"}
    return {"abstract": record.abstract, "keywords": list(dict.fromkeys(k for k in record.keywords if k)),
            "metadata_url": f"{online.rsplit('/', 1)[0]}/csw?{urlencode(query)}"}


def describe_feature_type(site: Site, req: WFSRequest) -> Response:
    datasets = [dataset_named(site, n) for n in req.type_names] if req.type_names else vector_datasets(site)
    body = gml.schema(req.version, [(type_name(d), d.geometry_type, [(gml.xml_name(f.name), f.name, f.type)
                                                                       for f in d.fields]) for d in datasets])
    media = "application/gml+xml; version=3.2" if req.version == "2.0.0" else "text/xml; subtype=gml/3.1.1"
    return Response(body, media_type=media)


def list_stored_queries(site: Site) -> bytes:
    root = etree.Element(f"{{{WFS20}}}ListStoredQueriesResponse", nsmap={"wfs": WFS20, gml.PREFIX: gml.NAMESPACE})
    query = etree.SubElement(root, f"{{{WFS20}}}StoredQuery", id=GET_FEATURE_BY_ID)
    etree.SubElement(query, f"{{{WFS20}}}Title").text = "Get a feature by its identifier"
    for d in vector_datasets(site):
        etree.SubElement(query, f"{{{WFS20}}}ReturnFeatureType").text = f"{gml.PREFIX}:{type_name(d)}"
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def describe_stored_queries() -> bytes:
    root = etree.Element(f"{{{WFS20}}}DescribeStoredQueriesResponse",
                         nsmap={"wfs": WFS20, "xsd": "http://www.w3.org/2001/XMLSchema"})
    description = etree.SubElement(root, f"{{{WFS20}}}StoredQueryDescription", id=GET_FEATURE_BY_ID)
    etree.SubElement(description, f"{{{WFS20}}}Title").text = "Get a feature by its identifier"
    etree.SubElement(description, f"{{{WFS20}}}Parameter", name="ID", type="xsd:string")
    etree.SubElement(description, f"{{{WFS20}}}QueryExpressionText", isPrivate="true", returnFeatureTypes="",
                     language="urn:ogc:def:queryLanguage:OGC-WFS::WFS_QueryExpression")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
