"""CSW 2.0.2 (KVP and XML POST): GetCapabilities, DescribeRecord, GetRecords, GetRecordById, GetDomain.

Requests are read and dispatched by ``handle_kvp`` / ``handle_xml``, which return (status, XML bytes) and know
nothing of the web framework; the routes at the end bind them to /csw. Errors are OWS 1.0 exception reports.
Parameters are checked in ``csw_params``, constraints read in ``csw_filter``, answers written in ``csw_responses``
and transactions made in ``csw_transaction``.

>>> status, body = handle_kvp(site, {"service": "CSW", "request": "GetCapabilities"}, "http://h/csw")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from lxml import etree

from kartenn.errors import Forbidden, InvalidInput, KartennError, NotFound, Unauthorized
from kartenn.filter_check import FilterLimits, check_size
from kartenn.formats.dublin_core import CSW
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.errors import challenge
from kartenn.web.ows import csw_params
from kartenn.web.ows.common import CSW as CSW_REPORT
from kartenn.web.ows.common import OWSError, kvp, report, versions
from kartenn.web.ows.csw_filter import cql_filter, fes_filter
from kartenn.web.ows.csw_params import OGC, OPERATIONS
from kartenn.web.ows.csw_responses import (
    NSMAP,
    capabilities,
    describe_record,
    get_domain,
    get_record_by_id,
    get_records,
)
from kartenn.web.ows.csw_transaction import transaction
from kartenn.web.ows.registry import register
from kartenn.xml import parse_xml, to_bytes


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
