"""What ISO 19139 (gmd/gmi and profiles) and ISO 19115-3 (mdb) share: reading fields by element names.

Paths use lxml's ``{*}`` namespace wildcard, so one reader serves gmd, gmi, che, and mdb 1.0/2.0.
"""

from __future__ import annotations

import math
from typing import Any

from lxml import etree

from kartenn.domain import Record

XLINK = "http://www.w3.org/1999/xlink"
INSPIRE_THESAURUS = ("inspire themes", "inspire theme", "inspire.ec.europa.eu/theme")
_DATE_KEYS = {"creation": "creation", "publication": "publication", "revision": "revision"}


def text(el: etree._Element | None) -> str | None:
    """The value of a property: its CharacterString, Anchor, Decimal, Date… child, or its own text."""
    if el is None:
        return None
    for child in el:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name in ("CharacterString", "Anchor", "Decimal", "Date", "DateTime", "Integer", "Real", "Boolean",
                    "URL", "LocalName", "ScopedName", "Measure", "FileName", "MimeFileType"):
            value = (child.text or "").strip()
            return value or None
        if name == "PT_FreeText":
            continue
    value = (el.text or "").strip()
    return value or None


def first_text(root: etree._Element, *paths: str) -> str | None:
    for path in paths:
        for el in root.iterfind(path):
            value = text(el)
            if value:
                return value
    return None


def code(el: etree._Element | None) -> str | None:
    """A code list value (``codeListValue`` attribute), else the element's text."""
    if el is None:
        return None
    for child in el.iter():
        if isinstance(child.tag, str) and child.get("codeListValue"):
            return child.get("codeListValue")
    return text(el)


def _contact(el: etree._Element, scope: str) -> dict[str, Any]:
    """A CI_ResponsibleParty (19139) or CI_Responsibility (19115-3) as a dict."""
    org = first_text(el, ".//{*}organisationName", ".//{*}CI_Organisation/{*}name")
    person = first_text(el, ".//{*}individualName", ".//{*}CI_Individual/{*}name")
    return {
        "organisation": org,
        "individual": person,
        "role": code(el.find(".//{*}role")),
        "email": first_text(el, ".//{*}electronicMailAddress"),
        "scope": scope,
    }


def _date(el: etree._Element) -> tuple[str | None, str | None]:
    """(type, value) of a CI_Date."""
    value = first_text(el, "{*}date")
    kind = code(el.find("{*}dateType"))
    return kind, value


def _bbox(ident: etree._Element) -> tuple[float, float, float, float] | None:
    boxes = []
    for box in ident.iterfind(".//{*}EX_GeographicBoundingBox"):
        try:
            w, e, s, n = (float(first_text(box, f"{{*}}{k}") or "nan") for k in
                          ("westBoundLongitude", "eastBoundLongitude", "southBoundLatitude", "northBoundLatitude"))
        except ValueError:
            continue
        if all(math.isfinite(v) for v in (w, e, s, n)):  # neither NaN nor infinite
            boxes.append((w, s, e, n))
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _time(ident: etree._Element) -> tuple[str | None, str | None]:
    begin = end = None
    for ext in ident.iterfind(".//{*}EX_TemporalExtent"):
        b = first_text(ext, ".//{*}beginPosition", ".//{*}begin//{*}timePosition")
        e = first_text(ext, ".//{*}endPosition", ".//{*}end//{*}timePosition")
        if b is None and e is None:
            b = e = first_text(ext, ".//{*}timePosition")
        begin = min(filter(None, [begin, b]), default=None)
        end = max(filter(None, [end, e]), default=None)
    return begin, end


def _keyword_sets(ident: etree._Element) -> list[dict[str, Any]]:
    sets = []
    for kw in ident.iterfind(".//{*}descriptiveKeywords/{*}MD_Keywords"):
        words = [t for t in (text(k) for k in kw.iterfind("{*}keyword")) if t]
        anchors = [a.get(f"{{{XLINK}}}href") for a in kw.iterfind("{*}keyword/{*}Anchor")]
        thesaurus = kw.find("{*}thesaurusName")
        sets.append({
            "keywords": words,
            "type": code(kw.find("{*}type")),
            "thesaurus": first_text(thesaurus, ".//{*}title") if thesaurus is not None else None,
            "anchors": [a for a in anchors if a],
        })
    return sets


def _constraints(ident: etree._Element) -> list[str]:
    out: list[str] = []
    for rc in ident.iterfind("{*}resourceConstraints"):
        for el in rc.iter():
            if not isinstance(el.tag, str):
                continue
            name = etree.QName(el).localname
            if name in ("useLimitation", "otherConstraints", "classification", "statement"):
                value = text(el)
            elif name in ("accessConstraints", "useConstraints"):
                value = code(el)
            else:
                continue
            if value and value not in out:
                out.append(value)
    return out


def _links(root: etree._Element) -> list[dict[str, Any]]:
    links = []
    for res in root.iterfind(".//{*}distributionInfo//{*}CI_OnlineResource"):
        url = first_text(res, "{*}linkage")
        if not url:
            continue
        links.append({"url": url, "protocol": first_text(res, "{*}protocol"), "name": first_text(res, "{*}name"),
                      "description": first_text(res, "{*}description"), "function": code(res.find("{*}function"))})
    return links


def _formats(root: etree._Element) -> list[str]:
    out: list[str] = []
    for fmt in root.iterfind(".//{*}distributionInfo//{*}MD_Format"):
        name = first_text(fmt, "{*}name", "{*}formatSpecificationCitation/{*}CI_Citation/{*}title")
        if name and name not in out:
            out.append(name)
    return out


def record_from_iso(root: etree._Element, *, schema: str, identifier: str | None, language: str | None,
                    scope: str | None, parent: str | None, modified: str | None, lineage: str | None) -> Record:
    """Fill a Record from the parts the two ISO encodings share; the caller gives the few that differ."""
    ident = next((i for i in root.iterfind("{*}identificationInfo/*") if isinstance(i.tag, str)), None)
    if ident is None:
        ident = etree.Element("empty")
    citation = ident.find("{*}citation/{*}CI_Citation")
    dates: dict[str, str] = {}
    if citation is not None:
        for d in citation.iterfind("{*}date/{*}CI_Date"):
            kind, value = _date(d)
            if kind in _DATE_KEYS and value:
                dates[_DATE_KEYS[kind]] = value
    contacts = [_contact(c, "metadata") for c in root.iterfind("{*}contact/*")]
    contacts += [_contact(c, "resource") for c in ident.iterfind("{*}pointOfContact/*")]
    keyword_sets = _keyword_sets(ident)
    keywords = [k for s in keyword_sets for k in s["keywords"]]
    themes = [k for s in keyword_sets for k in s["keywords"]
              if any(t in (s["thesaurus"] or "").lower() or any(t in a.lower() for a in s["anchors"])
                     for t in INSPIRE_THESAURUS)]
    begin, end = _time(ident)
    crs = first_text(root, "{*}referenceSystemInfo//{*}code")
    abstract = first_text(ident, "{*}abstract") or ""
    return Record(
        id=identifier or "",
        title=(first_text(citation, "{*}title") if citation is not None else None) or "",
        abstract=abstract,
        language=language or "",
        keywords=list(dict.fromkeys(keywords)),
        keyword_sets=keyword_sets,
        extent_wgs84=_bbox(ident),
        crs=crs,
        lineage=lineage or "",
        type=scope or "dataset",
        schema=schema,
        contacts=contacts,
        time_begin=begin,
        time_end=end,
        dates=dates,
        modified=modified,
        formats=_formats(root),
        links=_links(root),
        constraints=_constraints(ident),
        themes=list(dict.fromkeys(themes)),
        topics=[t for t in (text(c) for c in ident.iterfind("{*}topicCategory/{*}MD_TopicCategoryCode")) if t],
        parent_id=parent,
    )


def extent_element(rec: Record, ex: Any, decimal: Any, gml: Any, gml_ns: str) -> etree._Element | None:
    """The EX_Extent of a record (box and time period), None when it has neither. ISO 19139 and ISO 19115-3 name
    its elements alike in their own namespaces: ``ex`` makes the extent elements (gmd or gex), ``decimal`` the
    gco Decimal, ``gml`` the GML ones (of namespace ``gml_ns``)."""
    if not (rec.extent_wgs84 or rec.time_begin or rec.time_end):
        return None
    extent = ex.EX_Extent()
    if rec.extent_wgs84:
        w, s, e, n = rec.extent_wgs84
        extent.append(ex.geographicElement(ex.EX_GeographicBoundingBox(
            ex.westBoundLongitude(decimal(repr(w))), ex.eastBoundLongitude(decimal(repr(e))),
            ex.southBoundLatitude(decimal(repr(s))), ex.northBoundLatitude(decimal(repr(n))))))
    if rec.time_begin or rec.time_end:
        period = gml.TimePeriod(gml.beginPosition(rec.time_begin or ""), gml.endPosition(rec.time_end or ""))
        period.set(f"{{{gml_ns}}}id", "T1")
        extent.append(ex.temporalElement(ex.EX_TemporalExtent(ex.extent(period))))
    return extent
