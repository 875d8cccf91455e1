"""CSW 2.0.2 request parameters: the namespaces, the schemas, element sets, type names and operations offered,
and the checks that read each parameter or answer an OWS error."""

from __future__ import annotations

from kartenn.formats.dublin_core import CSW
from kartenn.formats.iso19139 import GMD
from kartenn.services.record_search import queryable
from kartenn.web.ows.common import OWSError, integer

OGC = "http://www.opengis.net/ogc"
GML = "http://www.opengis.net/gml"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XLINK = "http://www.w3.org/1999/xlink"
ATOM = "http://www.w3.org/2005/Atom"
OUTPUT_SCHEMAS = {CSW: "csw", "csw:Record": "csw", GMD: "gmd", "http://www.isotc211.org/2005/gmd": "gmd",
                  ATOM: "atom"}
ELEMENT_SETS = ("brief", "summary", "full")
TYPE_NAMES = {"csw:record", "gmd:md_metadata", "record", "md_metadata"}
OPERATIONS = ("GetCapabilities", "DescribeRecord", "GetRecords", "GetRecordById", "GetDomain")


def number(value: str | None, default: int, name: str) -> int:
    low = 1 if name.lower() == "startposition" else 0
    return integer({name: value or ""}, name, low=low, default=default)


def output_schema(value: str | None) -> str:
    if not value:
        return "csw"
    if value not in OUTPUT_SCHEMAS:
        raise OWSError("InvalidParameterValue", f"outputSchema {value!r} is not supported", "outputschema")
    return OUTPUT_SCHEMAS[value]


def output_format(value: str | None) -> None:
    if value and value not in ("application/xml", "text/xml"):
        raise OWSError("InvalidParameterValue", f"outputFormat {value!r} is not supported", "outputformat")


def element_set(value: str | None) -> str:
    value = (value or "summary").strip()
    if value not in ELEMENT_SETS:
        raise OWSError("InvalidParameterValue", f"elementSetName {value!r}: use brief, summary or full",
                       "elementsetname")
    return value


def type_names(value: str) -> None:
    names = [n.strip().lower() for n in value.replace(",", " ").split() if n.strip()]
    if not names:
        raise OWSError("MissingParameterValue", "missing typeNames", "typenames")
    for name in names:
        if name not in TYPE_NAMES:
            raise OWSError("InvalidParameterValue", f"typeName {name!r} is not offered", "typenames")


def sort_field(name: str) -> str:
    field = {"date": "modified", "organisationname": "organisation", "identifier": "identifier"}.get(
        queryable(name), queryable(name))
    from kartenn.services.record_search import SORTABLE

    if field not in SORTABLE:
        raise OWSError("InvalidParameterValue", f"cannot sort by {name!r}", "sortby")
    return field


def kvp_sort(value: str | None) -> list[tuple[str, bool]]:
    out = []
    for part in (value or "").split(","):
        if part.strip():
            name, _, order = part.strip().rpartition(":") if part.count(":") > 1 or part.endswith(
                (":A", ":D")) else (part.strip(), "", "A")
            out.append((sort_field(name), order.upper() != "D"))
    return out
