"""CSW 2.0.2 (KVP and XML POST): GetCapabilities, DescribeRecord, GetRecords, GetRecordById, GetDomain.

Protocol logic lives in ``handle_kvp`` / ``handle_xml``, which return (status, XML bytes) and know nothing of
the web framework; the routes at the end bind them to /csw. Errors are OWS 1.0 exception reports.

>>> status, body = handle_kvp(site, {"service": "CSW", "request": "GetCapabilities"}, "http://h/csw")  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from lxml import etree
from lxml.builder import ElementMaker

from kartenn import __version__
from kartenn.errors import Forbidden, InvalidInput, KartennError, NotFound, Unauthorized
from kartenn.filter_check import FilterLimits, check_size
from kartenn.formats.atom import render_atom_entry
from kartenn.formats.dublin_core import CSW, DC, DCT, OWS, render_csw_record
from kartenn.formats.exportable import each_record
from kartenn.formats.iso19139 import GMD, build_iso19139
from kartenn.services import record_edits
from kartenn.services import records as service
from kartenn.services.record_search import queryable
from kartenn.services.service_links import with_service_links
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.errors import challenge
from kartenn.web.ows import csw_params
from kartenn.web.ows.common import CSW as CSW_REPORT
from kartenn.web.ows.common import OWSError, kvp, report, versions
from kartenn.web.ows.csw_filter import cql_filter, fes_filter
from kartenn.web.ows.csw_params import ATOM, ELEMENT_SETS, GML, OGC, OPERATIONS, XLINK, XSI
from kartenn.web.ows.registry import register
from kartenn.xml import parse_xml, to_bytes

NSMAP = {"csw": CSW, "dc": DC, "dct": DCT, "ows": OWS, "ogc": OGC, "gmd": GMD, "gml": GML, "xsi": XSI,
         "xlink": XLINK}
SCHEMA_LOCATION = f"{CSW} http://schemas.opengis.net/csw/2.0.2/CSW-discovery.xsd"
PUBLICATION_LOCATION = f"{CSW} http://schemas.opengis.net/csw/2.0.2/CSW-publication.xsd"
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


def exception_report(code: str, message: str, locator: str | None = None) -> bytes:
    return report(OWSError(code, message, locator), CSW_REPORT, NSMAP)


def _xml(root: etree._Element) -> tuple[int, bytes]:
    return 200, to_bytes(root)


# dispatch -------------------------------------------------------------------------------------------------


def handle_kvp(site: Site, params: dict[str, str], url: str) -> tuple[int, bytes]:
    p = kvp(params.items())
    try:
        return _dispatch_kvp(site, p, url)
    except OWSError as exc:
        return 400, exception_report(exc.code, exc.message, exc.locator)
    except KartennError as exc:
        return (404 if isinstance(exc, NotFound) else 400), exception_report(
            "InvalidParameterValue" if exc.status == 400 else "NoApplicableCode", exc.message, exc.locator)


def _dispatch_kvp(site: Site, p: dict[str, str], url: str) -> tuple[int, bytes]:
    request = p.get("request")
    if not request:
        raise OWSError("MissingParameterValue", "missing parameter request", "request")
    if "service" not in p:
        raise OWSError("MissingParameterValue", "missing parameter service", "service")
    if p["service"].upper() != "CSW":
        raise OWSError("InvalidParameterValue", "service must be CSW", "service")
    if request not in OPERATIONS:
        raise OWSError("OperationNotSupported", f"operation {request!r} is not supported", "request")
    if request == "GetCapabilities":
        formats = p.get("acceptformats")
        if formats and not {"application/xml", "text/xml"} & {f.strip() for f in formats.split(",")}:
            raise OWSError("InvalidParameterValue", f"acceptFormats {formats!r}: only application/xml",
                           "acceptformats")
        accept = p.get("acceptversions")
        if accept and "2.0.2" not in versions(accept):
            raise OWSError("VersionNegotiationFailed", f"only 2.0.2 is offered, not {accept}", "acceptversions")
        return _xml(capabilities(url))
    if p.get("version", "2.0.2") != "2.0.2":
        raise OWSError("InvalidParameterValue", f"version {p['version']!r}: only 2.0.2 is offered", "version")
    if "version" not in p:
        raise OWSError("MissingParameterValue", "missing parameter version", "version")
    if request == "DescribeRecord":
        return _xml(describe_record([n for n in (p.get("typename") or "").split(",") if n.strip()],
                                    p.get("schemalanguage"), p.get("outputformat")))
    if request == "GetDomain":
        return _xml(get_domain(site, p.get("propertyname"), p.get("parametername")))
    schema = csw_params.output_schema(p.get("outputschema"))
    element_set = csw_params.element_set(p.get("elementsetname"))
    csw_params.output_format(p.get("outputformat"))
    if request == "GetRecordById":
        if not p.get("id"):
            raise OWSError("MissingParameterValue", "missing parameter id", "id")
        return _xml(get_record_by_id(site, [i.strip() for i in p["id"].split(",") if i.strip()], schema,
                                     element_set, url))
    where = None
    if p.get("constraint"):
        language = p.get("constraintlanguage", "").upper()
        if language not in ("FILTER", "CQL_TEXT"):
            raise OWSError("MissingParameterValue" if not language else "InvalidParameterValue",
                           "constraintlanguage must be FILTER or CQL_TEXT", "constraintlanguage")
        limits = FilterLimits.of(site.settings)
        check_size(p["constraint"], limits, "constraint")
        where = (cql_filter(p["constraint"], limits) if language == "CQL_TEXT"
                 else fes_filter(parse_xml(p["constraint"]), limits))
    csw_params.type_names(p.get("typenames", "csw:Record"))
    return _xml(get_records(site, where=where, schema=schema, element_set=element_set,
                            result_type=p.get("resulttype", "hits"),
                            start=csw_params.number(p.get("startposition"), 1, "startposition"),
                            limit=csw_params.number(p.get("maxrecords"), 10, "maxrecords"),
                            sort=csw_params.kvp_sort(p.get("sortby")), url=url))


def handle_xml(site: Site, body: bytes, url: str) -> tuple[int, bytes]:
    try:
        root = parse_xml(body)
        if etree.QName(root).namespace != CSW:
            raise OWSError("InvalidParameterValue", "not a CSW 2.0.2 request", "request")
        name = etree.QName(root).localname
        if name not in OPERATIONS and name != "Transaction":
            raise OWSError("OperationNotSupported", f"operation {name!r} is not supported", "request")
        if root.get("service", "CSW") != "CSW":
            raise OWSError("InvalidParameterValue", "service must be CSW", "service")
        if name == "GetCapabilities":
            return _xml(capabilities(url))
        if root.get("version", "2.0.2") != "2.0.2":
            raise OWSError("InvalidParameterValue", "only version 2.0.2 is offered", "version")
        if name == "DescribeRecord":
            return _xml(describe_record([e.text or "" for e in root.iterfind(f"{{{CSW}}}TypeName")],
                                        root.get("schemaLanguage"), root.get("outputFormat")))
        if name == "Transaction":
            return _xml(transaction(site, root))
        if name == "GetDomain":
            return _xml(get_domain(site, root.findtext(f"{{{CSW}}}PropertyName"),
                                   root.findtext(f"{{{CSW}}}ParameterName")))
        schema = csw_params.output_schema(root.get("outputSchema"))
        csw_params.output_format(root.get("outputFormat"))
        if name == "GetRecordById":
            ids = [(e.text or "").strip() for e in root.iterfind(f"{{{CSW}}}Id")]
            element_set = csw_params.element_set(root.findtext(f"{{{CSW}}}ElementSetName"))
            return _xml(get_record_by_id(site, ids, schema, element_set, url))
        query = root.find(f"{{{CSW}}}Query")
        if query is None:
            raise OWSError("MissingParameterValue", "GetRecords needs a csw:Query", "Query")
        csw_params.type_names(query.get("typeNames", ""))
        where = None
        constraint = query.find(f"{{{CSW}}}Constraint")
        if constraint is not None:
            flt = constraint.find(f"{{{OGC}}}Filter")
            cql = constraint.findtext(f"{{{CSW}}}CqlText")
            limits = FilterLimits.of(site.settings)
            where = fes_filter(flt, limits) if flt is not None else cql_filter(cql or "", limits)
        sort = []
        for prop in query.iterfind(f"{{{OGC}}}SortBy/{{{OGC}}}SortProperty"):
            sort.append((csw_params.sort_field(prop.findtext(f"{{{OGC}}}PropertyName") or ""),
                         (prop.findtext(f"{{{OGC}}}SortOrder") or "ASC").strip().upper() != "DESC"))
        return _xml(get_records(site, where=where, schema=schema,
                                element_set=csw_params.element_set(query.findtext(f"{{{CSW}}}ElementSetName")),
                                result_type=root.get("resultType", "hits"),
                                start=csw_params.number(root.get("startPosition"), 1, "startPosition"),
                                limit=csw_params.number(root.get("maxRecords"), 10, "maxRecords"), sort=sort, url=url))
    except OWSError as exc:
        return 400, exception_report(exc.code, exc.message, exc.locator)
    except (Unauthorized, Forbidden) as exc:
        return exc.status, exception_report("NoApplicableCode", exc.message, exc.locator)
    except KartennError as exc:
        return 400, exception_report("InvalidParameterValue" if exc.status < 500 else "NoApplicableCode",
                                     exc.message, exc.locator)


# operations -----------------------------------------------------------------------------------------------


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


def _constraint(holder: etree._Element) -> Any:
    constraint = holder.find(f"{{{CSW}}}Constraint")
    if constraint is None:
        raise OWSError("MissingParameterValue", "an update or a delete needs a csw:Constraint", "Constraint")
    flt = constraint.find(f"{{{OGC}}}Filter")
    if flt is not None:
        return fes_filter(flt)
    return cql_filter(constraint.findtext(f"{{{CSW}}}CqlText") or "")


def transaction(site: Site, root: etree._Element) -> etree._Element:
    """csw:Transaction: Insert, Update (a whole record, or csw:RecordProperty) and Delete, all or nothing."""
    record_edits.require_editor(site)  # before reading the records: who may not write learns nothing more
    tx = record_edits.Transaction()
    actions = [a for a in root.iterchildren() if isinstance(a.tag, str)]
    if not actions:
        raise OWSError("MissingParameterValue", "the transaction has no Insert, Update or Delete", "Transaction")
    for action in actions:
        kind = etree.QName(action).localname if etree.QName(action).namespace == CSW else ""
        if kind == "Insert":
            found = record_edits.records_of(action)
            if not found:
                raise OWSError("MissingParameterValue", "csw:Insert holds no record", "Insert")
            tx.inserts += found
        elif kind == "Update":
            found = record_edits.records_of(action)
            if len(found) > 1:
                raise OWSError("InvalidParameterValue", "one record per csw:Update", "Update")
            if found:
                tx.updates.append(record_edits.Update(record=found[0]))
                continue
            properties = {}
            for prop in action.iterfind(f"{{{CSW}}}RecordProperty"):
                prop_name = (prop.findtext(f"{{{CSW}}}Name") or "").strip()
                if not prop_name:
                    raise OWSError("MissingParameterValue", "csw:RecordProperty needs a csw:Name", "RecordProperty")
                properties[prop_name] = prop.findtext(f"{{{CSW}}}Value") or ""
            if not properties:
                raise OWSError("MissingParameterValue", "csw:Update needs a record or csw:RecordProperty", "Update")
            tx.updates.append(record_edits.Update(properties=properties, where=_constraint(action)))
        elif kind == "Delete":
            tx.deletes.append(_constraint(action))
        else:
            raise OWSError("InvalidParameterValue", f"<{etree.QName(action).localname}> is not a transaction action",
                           "Transaction")
    result = record_edits.transact(site, tx)
    summary = csw.TransactionSummary(csw.totalInserted(str(len(result.inserted))),
                                     csw.totalUpdated(str(result.updated)), csw.totalDeleted(str(result.deleted)))
    if root.get("requestId"):
        summary.set("requestId", root.get("requestId"))
    response = csw.TransactionResponse(summary, version="2.0.2")
    if result.inserted:
        response.append(csw.InsertResult(*[render_csw_record(r, "brief") for r in result.inserted]))
    response.set(f"{{{XSI}}}schemaLocation", PUBLICATION_LOCATION)
    return response


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


# routes ---------------------------------------------------------------------------------------------------

router = APIRouter(tags=["csw"])
XML_MEDIA = "application/xml; charset=UTF-8"


def _respond(result: tuple[int, bytes]) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="Kartenn", Bearer'} if result[0] == 401 else None
    return Response(result[1], status_code=result[0], media_type=XML_MEDIA, headers=headers)


@router.get("/csw", include_in_schema=False)
def csw_get(request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    return _respond(handle_kvp(site, dict(request.query_params), f"{base_url(request)}/csw"))


@router.post("/csw", include_in_schema=False)
async def csw_post(request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    body = await request.body()
    if len(body) > 10 * 1024**2:
        return _respond((400, exception_report("InvalidParameterValue", "request body too large")))
    return _respond(handle_xml(site, body, f"{base_url(request)}/csw"))


async def handle(request: Request) -> Response:
    """The /ows entry for service=CSW."""
    try:
        site: Site = get_site(request)  # type: ignore[assignment]
    except KartennError as exc:
        return Response(exception_report(exc.code, exc.message), status_code=exc.status,
                        media_type="application/xml", headers=challenge(exc))
    url = f"{base_url(request)}/csw"
    if request.method == "POST":
        body = await request.body()
        if len(body) > 10 * 1024**2:
            return _respond((400, exception_report("InvalidParameterValue", "request body too large")))
        return _respond(handle_xml(site, body, url))
    return _respond(handle_kvp(site, dict(request.query_params), url))


register("CSW", handle)

__all__ = ["router", "handle_kvp", "handle_xml", "InvalidInput"]
