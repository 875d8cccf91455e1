"""What WMS, WMTS, WFS and CSW share: KVP parameters, version negotiation and exception reports.

KVP names are case-insensitive (``kvp`` lowers them); an error is an ``OWSError`` (its exceptionCode, a
message for people, the parameter at fault, the HTTP status), written in the form each service's
clients expect (``WMS_130``, ``WMS_111``, ``WMTS``, ``WFS_20``, ``WFS_11``, ``CSW``, ``WCS_20``, ``OWS``).

>>> p = kvp([("REQUEST", "GetMap"), ("Width", "256")])
>>> required(p, "request"), integer(p, "width", low=1)
('GetMap', 256)
>>> negotiate("1.0.0, 2.0.0", [("2.0", "2.0.0"), ("1.1", "1.1.0")])
'2.0.0'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from lxml import etree
from starlette.responses import Response

from kartenn.xml import to_bytes, xml_text

OGC = "http://www.opengis.net/ogc"
OWS10 = "http://www.opengis.net/ows"
OWS11 = "http://www.opengis.net/ows/1.1"
OWS20 = "http://www.opengis.net/ows/2.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class OWSError(Exception):
    """An OWS exception: its code, a message for people, the parameter at fault, the HTTP status."""

    def __init__(self, code: str, message: str, locator: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.locator, self.status = code, message, locator, status


# KVP parameters -------------------------------------------------------------------------------------------


def kvp(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Parameters by lower-case name (a repeated name keeps its last value)."""
    return {k.lower(): v for k, v in items}


def required(params: Mapping[str, str], name: str, locator: str | None = None) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise OWSError("MissingParameterValue", f"the {name.upper()} parameter is required", locator or name)
    return value


def integer(params: Mapping[str, str], name: str, *, low: int | None = None, high: int | None = None,
            default: int | None = None, locator: str | None = None) -> int:
    """A whole number between ``low`` and ``high``; ``default`` when it is absent (else it is required)."""
    locator = locator or name
    raw = params.get(name)
    if (raw is None or raw == "") and default is not None:
        return default
    raw = required(params, name, locator)
    try:
        value = int(raw)
    except ValueError:
        raise OWSError("InvalidParameterValue", f"{name.upper()} must be an integer, not {raw!r}", locator) from None
    if (low is not None and value < low) or (high is not None and value > high):
        limit = f"between {low} and {high}" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        raise OWSError("InvalidParameterValue", f"{name.upper()}={value} is out of range: it must be {limit}",
                       locator)
    return value


def versions(accept: str | None) -> list[str]:
    """An AcceptVersions list, ``2.0.0,1.1.0`` → ['2.0.0', '1.1.0']."""
    return [v.strip() for v in (accept or "").split(",") if v.strip()]


def negotiate(asked: str | Sequence[str | None] | None, served: Sequence[tuple[str, str]]) -> str | None:
    """The first version asked for that is served: ``served`` pairs a prefix of the version as written
    (``2.0``, ``1.``) with the version answered; None when none is."""
    candidates = versions(asked) if isinstance(asked, str) or asked is None else [
        c.strip() for c in asked if c and c.strip()]
    for candidate in candidates:
        for prefix, version in served:
            if candidate.startswith(prefix):
                return version
    return None


def version_failed(accept: str, served: Sequence[str], locator: str = "AcceptVersions") -> OWSError:
    return OWSError("VersionNegotiationFailed", f"none of {accept!r} is served; use {' or '.join(served)}", locator)


# exception reports ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportForm:
    """How one service writes its exception reports."""

    namespace: str | None  # the OWS namespace; None for WMS's ServiceExceptionReport
    version: str
    media_type: str = "application/xml"
    wms: bool = False
    nsmap: dict[str | None, str] = field(default_factory=dict)
    attributes: tuple[tuple[str, str], ...] = ()
    schema_location: str | None = None
    pretty: bool = False


WMS_130 = ReportForm(OGC, "1.3.0", "text/xml", wms=True, nsmap={None: OGC, "xsi": XSI},
                     schema_location=f"{OGC} http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd")
WMS_111 = ReportForm(None, "1.1.1", "application/vnd.ogc.se_xml", wms=True)
WMTS = ReportForm(OWS11, "1.0.0", nsmap={"ows": OWS11}, attributes=((XML_LANG, "en"),))
WFS_20 = ReportForm(OWS11, "2.0.0", nsmap={"ows": OWS11})
WFS_11 = ReportForm(OWS10, "1.0.0", nsmap={"ows": OWS10})
WCS_20 = ReportForm(OWS20, "2.0.0", nsmap={"ows": OWS20}, attributes=((XML_LANG, "en"),))
OWS = WFS_20  # for requests no service could take
CSW = ReportForm(OWS10, "1.2.0", "application/xml; charset=UTF-8", attributes=(("language", "en"),),
                 schema_location=f"{OWS10} http://schemas.opengis.net/ows/1.0.0/owsExceptionReport.xsd", pretty=True)


def report(exc: OWSError, form: ReportForm, nsmap: dict[str | None, str] | None = None) -> bytes:
    """The exception report's XML; ``nsmap`` declares more namespaces on its root."""
    ns = form.namespace
    names = {**(nsmap or {}), **form.nsmap}

    def q(tag: str) -> str:
        return f"{{{ns}}}{tag}" if ns else tag

    root = etree.Element(q("ServiceExceptionReport" if form.wms else "ExceptionReport"), nsmap=names or None,
                         version=form.version)
    for key, value in form.attributes:
        root.set(key, value)
    if form.schema_location:
        root.set(f"{{{XSI}}}schemaLocation", form.schema_location)
    if form.wms:
        node = etree.SubElement(root, q("ServiceException"), code=exc.code)
        node.text = xml_text(exc.message)
    else:
        node = etree.SubElement(root, q("Exception"), exceptionCode=exc.code)
        etree.SubElement(node, q("ExceptionText")).text = xml_text(exc.message)
    if exc.locator:
        node.set("locator", exc.locator)
    if form.pretty:
        return to_bytes(root)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def report_response(exc: OWSError, form: ReportForm, headers: Mapping[str, str] | None = None) -> Response:
    return Response(report(exc, form), status_code=exc.status, media_type=form.media_type, headers=headers)
