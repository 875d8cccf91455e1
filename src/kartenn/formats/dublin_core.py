"""Dublin Core as CSW 2.0.2 speaks it (csw:Record, BriefRecord, SummaryRecord) ↔ Record.

>>> etree.QName(render_csw_record(Record(id="a", title="Lacs"), "brief")).localname
'BriefRecord'
"""

from __future__ import annotations

import math

from lxml import etree
from lxml.builder import ElementMaker

from kartenn.domain import Record
from kartenn.formats.exportable import exportable
from kartenn.formats.iso import text

CSW = "http://www.opengis.net/cat/csw/2.0.2"
DC = "http://purl.org/dc/elements/1.1/"
DCT = "http://purl.org/dc/terms/"
OWS = "http://www.opengis.net/ows"
NSMAP = {"csw": CSW, "dc": DC, "dct": DCT, "ows": OWS}
# CSW 2.0.2 writes bounding boxes in EPSG:4326 with its official latitude-first axis order.
CRS_4326 = "urn:x-ogc:def:crs:EPSG:6.11:4326"
DCMI = "http://purl.org/dc/dcmitype/"
_ISO_TO_DCMI = {"dataset": "Dataset", "series": "Collection", "service": "Service", "nonGeographicDataset": "Text"}


def is_dublin_core(root: etree._Element) -> bool:
    return etree.QName(root).namespace == CSW and etree.QName(root).localname in ("Record", "SummaryRecord",
                                                                                   "BriefRecord")


def _texts(root: etree._Element, ns: str, name: str) -> list[str]:
    return [t for t in ((e.text or "").strip() for e in root.iterfind(f"{{{ns}}}{name}")) if t]


def _bbox(root: etree._Element) -> tuple[float, float, float, float] | None:
    box = root.find(f"{{{OWS}}}BoundingBox")
    lat_first = True
    if box is None:
        box, lat_first = root.find(f"{{{OWS}}}WGS84BoundingBox"), False
    if box is None:
        return None
    crs = box.get("crs") or ""
    if crs and "4326" not in crs:
        lat_first = False
    try:
        a, b = (float(v) for v in (box.findtext(f"{{{OWS}}}LowerCorner") or "").split())
        c, d = (float(v) for v in (box.findtext(f"{{{OWS}}}UpperCorner") or "").split())
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in (a, b, c, d)):
        return None  # NaN and infinities are no coordinates (nor JSON numbers)
    return (b, a, d, c) if lat_first else (a, b, c, d)


def parse_dublin_core(root: etree._Element) -> Record:
    one = lambda ns, name: next(iter(_texts(root, ns, name)), None)  # noqa: E731
    contacts = [{"organisation": v, "role": role, "scope": "resource"}
                for role, name in (("originator", "creator"), ("publisher", "publisher"), ("author", "contributor"))
                for v in _texts(root, DC, name)]
    subjects = _texts(root, DC, "subject")
    return Record(
        id=one(DC, "identifier") or "",
        title=one(DC, "title") or "",
        abstract=one(DCT, "abstract") or one(DC, "description") or "",
        language=one(DC, "language") or "",
        keywords=subjects,
        keyword_sets=[{"keywords": subjects, "type": None, "thesaurus": None, "anchors": []}] if subjects else [],
        extent_wgs84=_bbox(root),
        type=one(DC, "type") or "",
        schema="dc",
        contacts=contacts,
        modified=one(DCT, "modified") or one(DC, "date"),
        formats=_texts(root, DC, "format"),
        links=[{"url": u, "protocol": None, "name": None, "description": None}
               for u in _texts(root, DCT, "references")],
        constraints=_texts(root, DC, "rights"),
        parent_id=one(DC, "relation"),
    )


d = ElementMaker(namespace=DC, nsmap=NSMAP)
dct = ElementMaker(namespace=DCT, nsmap=NSMAP)
ows = ElementMaker(namespace=OWS, nsmap=NSMAP)
csw = ElementMaker(namespace=CSW, nsmap=NSMAP)


def dc_type(rec: Record) -> str:
    if rec.schema == "dc":
        return rec.type
    return DCMI + _ISO_TO_DCMI.get(rec.type, "Dataset") if rec.type in _ISO_TO_DCMI else rec.type


def _bounding_box(rec: Record) -> etree._Element | None:
    if not rec.extent_wgs84:
        return None
    w, s, e, n = rec.extent_wgs84
    return ows.BoundingBox(ows.LowerCorner(f"{s:g} {w:g}"), ows.UpperCorner(f"{n:g} {e:g}"), crs=CRS_4326,
                           dimensions="2")


def render_csw_record(rec: Record, element_set: str = "full") -> etree._Element:
    """csw:BriefRecord, csw:SummaryRecord or csw:Record; an imported Dublin Core record comes back whole."""
    if element_set == "full" and rec.schema == "dc" and rec.xml:
        from kartenn.xml import parse_xml

        return parse_xml(rec.xml)
    rec = exportable(rec).record
    parts: list[etree._Element | None] = [d.identifier(rec.id), d.title(rec.title or "")]
    if element_set == "brief":
        parts.append(d.type(dc_type(rec)))
        parts.append(_bounding_box(rec))
        return csw.BriefRecord(*[p for p in parts if p is not None])
    parts.append(d.type(dc_type(rec)))
    parts += [d.subject(k) for k in rec.keywords]
    parts += [d.subject(t) for t in rec.topics]
    parts += [d.format(f) for f in rec.formats]
    if rec.parent_id:
        parts.append(d.relation(rec.parent_id))
    if rec.modified:
        parts.append(dct.modified(rec.modified))
    if rec.abstract:
        parts.append(dct.abstract(rec.abstract))
    if element_set == "full":
        for c in rec.contacts:
            if c.get("scope") == "resource" and c.get("organisation"):
                name = {"publisher": "publisher", "author": "contributor"}.get(c.get("role") or "", "creator")
                parts.append(getattr(d, name)(c["organisation"]))
        if rec.language:
            parts.append(d.language(rec.language))
        parts += [d.rights(r) for r in rec.constraints]
        for key in ("publication", "revision", "creation"):
            if key in rec.dates:
                parts.append(d.date(rec.dates[key]))
                break
        parts += [dct.references(link["url"], scheme=link.get("protocol") or "WWW:LINK") for link in rec.links]
    parts.append(_bounding_box(rec))
    maker = csw.SummaryRecord if element_set == "summary" else csw.Record
    return maker(*[p for p in parts if p is not None])


__all__ = ["parse_dublin_core", "render_csw_record", "is_dublin_core", "text"]
