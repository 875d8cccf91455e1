"""CSW 2.0.2 answers: the GetCapabilities, DescribeRecord, GetRecords, GetRecordById and GetDomain documents,
and each record in the csw:Record, gmd or Atom schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lxml import etree
from lxml.builder import ElementMaker

from kartenn import __version__
from kartenn.formats.atom import render_atom_entry
from kartenn.formats.dublin_core import CSW, DC, DCT, OWS, render_csw_record
from kartenn.formats.exportable import each_record
from kartenn.formats.iso19139 import GMD, build_iso19139
from kartenn.services import records as service
from kartenn.services.record_search import queryable
from kartenn.services.service_links import with_service_links
from kartenn.site import Site
from kartenn.web.ows import csw_params
from kartenn.web.ows.common import OWSError
from kartenn.web.ows.csw_params import ATOM, ELEMENT_SETS, GML, OGC, XLINK, XSI
from kartenn.xml import parse_xml

NSMAP = {"csw": CSW, "dc": DC, "dct": DCT, "ows": OWS, "ogc": OGC, "gmd": GMD, "gml": GML, "xsi": XSI,
         "xlink": XLINK}
SCHEMA_LOCATION = f"{CSW} http://schemas.opengis.net/csw/2.0.2/CSW-discovery.xsd"
RECORD_SCHEMAS = {"csw": CSW, "gmd": GMD, "atom": ATOM}
MAX_RECORDS = 1000
DOMAIN_FIELDS = {"type": "type", "format": "format", "subject": "keyword", "keywords": "keyword",
                 "organisationname": "organisation", "creator": "organisation", "publisher": "organisation",
                 "language": "language", "title": "title", "identifier": "id", "modified": "modified",
                 "date": "modified"}
PARAMETER_DOMAINS = {
    "getrecords.resulttype": ["hits", "results", "validate"],
    "getrecords.elementsetname": list(ELEMENT_SETS),
    "getrecords.outputschema": [CSW, GMD, ATOM],
    "getrecords.typenames": ["csw:Record", "gmd:MD_Metadata"],
    "getrecords.constraintlanguage": ["CQL_TEXT", "FILTER"],
    "getrecords.outputformat": ["application/xml"],
    "getrecordbyid.elementsetname": list(ELEMENT_SETS),
    "getrecordbyid.outputschema": [CSW, GMD, ATOM],
    "describerecord.typename": ["csw:Record", "gmd:MD_Metadata"],
}

csw = ElementMaker(namespace=CSW, nsmap=NSMAP)
ows = ElementMaker(namespace=OWS, nsmap=NSMAP)
ogc = ElementMaker(namespace=OGC, nsmap=NSMAP)


# gmd brief and summary element sets keep these parts of the full record (as pycsw and GeoNetwork do)
GMD_KEEP = {
    "brief": ({"fileIdentifier", "hierarchyLevel", "identificationInfo"},
              {"citation", "extent", "graphicOverview", "serviceType", "serviceTypeVersion"}, {"title"}),
    "summary": ({"fileIdentifier", "language", "characterSet", "parentIdentifier", "hierarchyLevel",
                 "hierarchyLevelName", "contact", "dateStamp", "metadataStandardName", "metadataStandardVersion",
                 "referenceSystemInfo", "identificationInfo", "distributionInfo"},
                {"citation", "abstract", "pointOfContact", "graphicOverview", "descriptiveKeywords",
                 "resourceConstraints", "spatialRepresentationType", "spatialResolution", "language",
                 "topicCategory", "extent", "serviceType", "serviceTypeVersion", "couplingType", "containsOperations"},
                None),
}


def _gmd_subset(md: etree._Element, element_set: str) -> etree._Element:
    if element_set not in GMD_KEEP:
        return md
    top, ident_parts, citation_parts = GMD_KEEP[element_set]

    def prune(parent: etree._Element, keep: set[str]) -> None:
        for child in list(parent):
            if isinstance(child.tag, str) and etree.QName(child).localname not in keep:
                parent.remove(child)

    prune(md, top)
    for ident in md.iterfind(f"{{{GMD}}}identificationInfo/*"):
        prune(ident, ident_parts)
        if citation_parts is not None:
            for citation in ident.iterfind(f"{{{GMD}}}citation/*"):
                prune(citation, citation_parts)
    return md


def _record_element(rec: Any, schema: str, element_set: str, url: str = "") -> etree._Element:
    if schema == "atom":
        return render_atom_entry(rec, url)
    if schema == "gmd":
        md = parse_xml(rec.xml) if rec.schema == "iso19139" and rec.xml else build_iso19139(rec)
        return _gmd_subset(md, element_set)
    return render_csw_record(rec, element_set)


def _linked(site: Site, rec: Any, url: str) -> Any:
    """A dataset's record with its services (OGC API, WMS, WFS, downloads) among its links; ``url`` is the
    service's address, under the site's base URL."""
    return with_service_links(site, rec, url.rsplit("/", 1)[0]) if url else rec


def get_records(site: Site, *, where: Any, schema: str, element_set: str, result_type: str, start: int,
                limit: int, sort: list[tuple[str, bool]], url: str = "") -> etree._Element:
    if result_type not in ("hits", "results", "validate"):
        raise OWSError("InvalidParameterValue", f"resultType {result_type!r}: use hits or results", "resulttype")
    limit = min(limit, MAX_RECORDS)
    query = service.RecordQuery(where=where, sort=sort, offset=start - 1,
                                limit=limit if result_type == "results" else 0)
    result = service.search_records(site, query)
    if result_type == "validate":
        ack = csw.Acknowledgement(csw.EchoedRequest(), timeStamp=_now())
        return ack
    elements = each_record(result.records,
                           lambda rec: _record_element(_linked(site, rec, url), schema, element_set, url))
    read = len(result.records)
    following = start + read if result_type == "results" and start + read <= result.matched else 0
    results = csw.SearchResults(numberOfRecordsMatched=str(result.matched),
                                numberOfRecordsReturned=str(len(elements)), nextRecord=str(following),
                                elementSet=element_set, recordSchema=RECORD_SCHEMAS[schema])
    results.extend(elements)
    root = csw.GetRecordsResponse(csw.SearchStatus(timestamp=_now()), results, version="2.0.2")
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    return root


def get_record_by_id(site: Site, ids: list[str], schema: str, element_set: str, url: str = "") -> etree._Element:
    root = csw.GetRecordByIdResponse()
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    if ids:
        found = service.search_records(site, service.RecordQuery(ids=ids, limit=len(ids)))
        by_id = {r.id: r for r in found.records}
        root.extend(each_record([by_id[i] for i in ids if i in by_id],
                                lambda rec: _record_element(_linked(site, rec, url), schema, element_set, url)))
    return root


def get_domain(site: Site, property_name: str | None, parameter_name: str | None) -> etree._Element:
    root = csw.GetDomainResponse()
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    if parameter_name:
        for name in parameter_name.split(","):
            values = PARAMETER_DOMAINS.get(name.strip().lower())
            if values is None:
                raise OWSError("InvalidParameterValue", f"unknown parameter {name!r}", "parametername")
            root.append(csw.DomainValues(csw.ParameterName(name.strip()),
                                         csw.ListOfValues(*[csw.Value(v) for v in values]), type="csw:Record"))
        return root
    if not property_name:
        raise OWSError("MissingParameterValue", "GetDomain needs PropertyName or ParameterName", "propertyname")
    for name in property_name.split(","):
        field = DOMAIN_FIELDS.get(queryable(name))
        if field is None:
            raise OWSError("InvalidParameterValue", f"no domain for property {name!r}", "propertyname")
        values = service.domain_values(site, field)
        root.append(csw.DomainValues(csw.PropertyName(name.strip()),
                                     csw.ListOfValues(*[csw.Value(v, count=str(n)) for v, n in values]),
                                     type="csw:Record"))
    return root


SCHEMA_LANGUAGES = {"http://www.w3.org/XML/Schema", "http://www.w3.org/2001/XMLSchema", "XMLSCHEMA"}


def describe_record(type_names: list[str] | None = None, schema_language: str | None = None,
                    output_format: str | None = None) -> etree._Element:
    if schema_language and schema_language.strip() not in SCHEMA_LANGUAGES:
        raise OWSError("InvalidParameterValue", f"schemaLanguage {schema_language!r}: only XML Schema",
                       "schemalanguage")
    csw_params.output_format(output_format)
    for type_name in type_names or []:
        if ":" not in type_name.strip():
            raise OWSError("InvalidParameterValue", f"typeName {type_name.strip()!r} must be qualified (csw:Record)",
                           "typename")
    xs = "http://www.w3.org/2001/XMLSchema"
    schema = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs}, targetNamespace=CSW, elementFormDefault="qualified")
    etree.SubElement(schema, f"{{{xs}}}include", schemaLocation="http://schemas.opengis.net/csw/2.0.2/record.xsd")
    root = csw.DescribeRecordResponse(csw.SchemaComponent(schema, targetNamespace=CSW,
                                                          schemaLanguage="http://www.w3.org/XML/Schema"))
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    return root


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def capabilities(url: str) -> etree._Element:
    def operation(name: str, **parameters: list[str]) -> etree._Element:
        op = ows.Operation(ows.DCP(ows.HTTP(ows.Get(**{f"{{{XLINK}}}href": url}),
                                            ows.Post(**{f"{{{XLINK}}}href": url}))), name=name)
        for pname, values in parameters.items():
            op.append(ows.Parameter(*[ows.Value(v) for v in values], name=pname))
        return op

    ops = ows.OperationsMetadata(
        operation("GetCapabilities", sections=["ServiceIdentification", "ServiceProvider", "OperationsMetadata",
                                               "Filter_Capabilities"]),
        operation("DescribeRecord", typeName=["csw:Record", "gmd:MD_Metadata"], outputFormat=["application/xml"],
                  schemaLanguage=["http://www.w3.org/XML/Schema"]),
        operation("GetRecords", typeNames=["csw:Record", "gmd:MD_Metadata"], outputFormat=["application/xml"],
                  outputSchema=[CSW, GMD, ATOM], resultType=["hits", "results", "validate"],
                  ElementSetName=list(ELEMENT_SETS), CONSTRAINTLANGUAGE=["FILTER", "CQL_TEXT"]),
        operation("GetRecordById", outputSchema=[CSW, GMD, ATOM], outputFormat=["application/xml"],
                  ElementSetName=list(ELEMENT_SETS)),
        operation("GetDomain", ParameterName=sorted(PARAMETER_DOMAINS)),
        operation("Transaction", TypeName=["csw:Record", "gmd:MD_Metadata", "mdb:MD_Metadata"]),
        ows.Parameter(ows.Value("CSW"), name="service"),
        ows.Parameter(ows.Value("2.0.2"), name="version"),
        ows.Constraint(ows.Value(str(MAX_RECORDS)), name="MaxRecordDefault"),
    )
    ident = ows.ServiceIdentification(ows.Title("Kartenn catalogue"),
                                      ows.Abstract("Catalogue of the datasets and services of this Kartenn site"),
                                      ows.ServiceType("CSW"), ows.ServiceTypeVersion("2.0.2"),
                                      ows.Fees("none"), ows.AccessConstraints("none"))
    provider = ows.ServiceProvider(ows.ProviderName("Kartenn"), ows.ServiceContact(ows.IndividualName(
        f"Kartenn {__version__}")))
    spatial = ogc.Spatial_Capabilities(
        ogc.GeometryOperands(*[ogc.GeometryOperand(g) for g in ("gml:Envelope", "gml:Point", "gml:Polygon")]),
        ogc.SpatialOperators(*[ogc.SpatialOperator(name=n) for n in (
            "BBOX", "Contains", "Disjoint", "Equals", "Intersects", "Overlaps", "Within", "Touches", "Crosses")]))
    scalar = ogc.Scalar_Capabilities(ogc.LogicalOperators(), ogc.ComparisonOperators(*[
        ogc.ComparisonOperator(n) for n in ("EqualTo", "NotEqualTo", "LessThan", "GreaterThan", "LessThanEqualTo",
                                            "GreaterThanEqualTo", "Like", "Between", "NullCheck")]))
    filters = ogc.Filter_Capabilities(spatial, scalar, ogc.Id_Capabilities(ogc.EID(), ogc.FID()))
    root = csw.Capabilities(ident, provider, ops, filters, version="2.0.2")
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    return root
