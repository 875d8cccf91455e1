"""Reading WFS requests: KVP parameters or an XML document become one ``WFSRequest``, with the version it is
answered in (2.0.0 or 1.1.0; capabilities also in 1.0.0)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from kartenn.web.ows.common import OWSError, integer, negotiate, version_failed, versions


@dataclass
class WFSRequest:
    operation: str
    version: str
    type_names: list[str] = field(default_factory=list)
    count: int | None = None
    start: int = 0
    result_type: str = "results"
    output_format: str | None = None
    srs_name: str | None = None
    bbox: str | None = None
    filter: Any = None  # an XML element or text, for every type
    filters: list[Any] | None = None  # or one per type name, in the same order
    resource_ids: list[str] | None = None
    sortby: list[tuple[str, bool]] = field(default_factory=list)  # (XML name, descending)
    property_names: list[str] | None = None
    stored_query: str | None = None
    stored_id: str | None = None
    value_reference: str | None = None
    kvp: dict[str, str] | None = None  # the KVP request, for next/previous links


SERVED = [("2.0", "2.0.0"), ("1.", "1.1.0")]  # 1.0.0 requests are answered as 1.1.0
SERVED_CAPABILITIES = [("1.0", "1.0.0"), *SERVED]


def request_version(value: str | None, accept: str | None = None) -> str:
    """The version a request is answered in: VERSION, else the first served in AcceptVersions, else 2.0.0."""
    return negotiate([value, *versions(accept)], SERVED) or "2.0.0"


def _capabilities_version(value: str | None, accept: str | None) -> str:
    """The capabilities' version: 2.0.0, 1.1.0 or 1.0.0 (asked for by VERSION or first in AcceptVersions)."""
    return negotiate([value, *versions(accept)], SERVED_CAPABILITIES) or "2.0.0"


def _check_version(version: str | None, accept: str | None, operation: str) -> None:
    """2.0.x and 1.1.x are served (1.0.0 is answered as 1.1.0); GetCapabilities negotiates with AcceptVersions."""
    if operation.lower() == "getcapabilities":
        if accept and versions(accept) and negotiate(accept, SERVED) is None:
            raise version_failed(accept, ["2.0.0", "1.1.0"])
    elif version and not negotiate([version], SERVED):
        raise OWSError("InvalidParameterValue", f"version {version!r} is not served; use 2.0.0 or 1.1.0", "version")


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    return integer({name: value}, name, low=0)  # type: ignore[dict-item]


def _sortby(text: str | None) -> list[tuple[str, bool]]:
    keys = []
    for part in (text or "").split(","):
        words = part.split()
        if not words:
            continue
        direction = words[1].upper() if len(words) > 1 else "ASC"
        if direction not in ("ASC", "DESC", "A", "D"):
            raise OWSError("InvalidParameterValue", f"sort order must be ASC or DESC, not {words[1]!r}", "sortBy")
        keys.append((words[0], direction in ("DESC", "D")))
    return keys


def _names(text: str) -> list[str]:
    """``a,b`` or ``(a,b)(c)`` (one list per query type) → [a, b, c]."""
    return [n.strip() for n in re.split(r"[,()]", text) if n.strip()]


def _filter_list(text: str | None, names: str) -> list[str] | None:
    """``FILTER=(<Filter>…</Filter>)(<Filter>…</Filter>)``: one filter per type name."""
    text = (text or "").strip()
    if not (text.startswith("(") and text.endswith(")")):
        return None
    parts = re.split(r"\)\s*\(\s*(?=<)", text[1:-1])
    if len(parts) != len(_names(names)):
        raise OWSError("InvalidParameterValue", "give one filter in parentheses for each type name", "filter")
    return parts


def read_kvp(p: dict[str, str]) -> WFSRequest:
    operation = p.get("request", "")
    if not operation:
        raise OWSError("MissingParameterValue", "the REQUEST parameter is missing", "request")
    _check_version(p.get("version"), p.get("acceptversions"), operation)
    version = request_version(p.get("version"), p.get("acceptversions"))
    if operation.lower() == "getcapabilities":
        version = _capabilities_version(p.get("version"), p.get("acceptversions"))
    if operation.lower() != "getcapabilities" and p.get("service", "WFS").upper() != "WFS":
        raise OWSError("InvalidParameterValue", "SERVICE must be WFS", "service")
    names = p.get("typenames") or p.get("typename") or ""
    properties = p.get("propertyname")
    ids = p.get("resourceid") or p.get("featureid")
    return WFSRequest(
        operation=operation, version=version,
        type_names=_names(names),
        count=_int(p.get("count") or p.get("maxfeatures"), "count"),
        start=_int(p.get("startindex"), "startIndex") or 0,
        result_type=(p.get("resulttype") or "results").lower(),
        output_format=p.get("outputformat"), srs_name=p.get("srsname"), bbox=p.get("bbox"),
        filter=p.get("filter"), filters=_filter_list(p.get("filter"), names),
        resource_ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None,
        sortby=_sortby(p.get("sortby")),
        property_names=_names(properties) if properties else None,
        stored_query=p.get("storedquery_id"), stored_id=p.get("id"),
        value_reference=p.get("valuereference"), kvp=p)


def read_xml(root: etree._Element) -> WFSRequest:
    operation = etree.QName(root).localname
    accept = ",".join(root.xpath("//*[local-name()='AcceptVersions']/*[local-name()='Version']/text()"))
    _check_version(root.get("version"), accept, operation)
    version = request_version(root.get("version"), accept)
    if operation == "GetCapabilities":
        version = _capabilities_version(root.get("version"), accept)
    req = WFSRequest(operation=operation, version=version,
                     count=_int(root.get("count") or root.get("maxFeatures"), "count"),
                     start=_int(root.get("startIndex"), "startIndex") or 0,
                     result_type=(root.get("resultType") or "results").lower(),
                     output_format=root.get("outputFormat"), value_reference=root.get("valueReference"))
    if operation == "DescribeFeatureType":
        req.type_names = [t.text.strip() for t in root if etree.QName(t).localname == "TypeName" and t.text]
    for query in root:
        if not isinstance(query.tag, str):
            continue
        kind = etree.QName(query).localname
        if kind == "Query":
            names = [n for n in (query.get("typeNames") or query.get("typeName") or "").replace(",", " ").split()]
            req.type_names += names
            req.srs_name = query.get("srsName") or req.srs_name
            req.filters = [*(req.filters or []), *([None] * len(names))]
            for child in query:
                if not isinstance(child.tag, str):
                    continue
                name = etree.QName(child).localname
                if name == "Filter":
                    req.filters[-len(names):] = [child] * len(names)
                elif name == "SortBy":
                    for prop in child:
                        ref = next((c.text for c in prop if etree.QName(c).localname in
                                    ("ValueReference", "PropertyName")), None)
                        order = next((c.text for c in prop if etree.QName(c).localname == "SortOrder"), "ASC")
                        if ref:
                            req.sortby += _sortby(f"{ref.strip()} {(order or 'ASC').strip()}")
                elif name == "PropertyName" and child.text:
                    req.property_names = [*(req.property_names or []), child.text.strip()]
        elif kind == "StoredQuery":
            req.stored_query = query.get("id")
            for param in query:
                if isinstance(param.tag, str) and param.get("name", "").upper() == "ID":
                    req.stored_id = (param.text or "").strip()
    return req
