"""ISO 19139 (gmd, gmi and national profiles such as che) ↔ Record.

>>> rec = parse_iso19139(parse_xml(open("record.xml", "rb").read()))   # doctest: +SKIP
>>> render_iso19139(rec)[:38]                                           # doctest: +SKIP
b"<?xml version='1.0' encoding='UTF-8'?>"
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lxml import etree
from lxml.builder import ElementMaker

from kartenn.domain import Record
from kartenn.formats.exportable import exportable
from kartenn.formats.iso import code, extent_element, first_text, record_from_iso
from kartenn.xml import to_bytes

GMD = "http://www.isotc211.org/2005/gmd"
GCO = "http://www.isotc211.org/2005/gco"
GMI = "http://www.isotc211.org/2005/gmi"
SRV = "http://www.isotc211.org/2005/srv"
GML = "http://www.opengis.net/gml"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"gmd": GMD, "gco": GCO, "srv": SRV, "gml": GML, "xsi": XSI}
CODELISTS = "http://standards.iso.org/iso/19139/resources/gmxCodelists.xml"
ROOTS = {"MD_Metadata", "MI_Metadata", "CHE_MD_Metadata"}


def is_iso19139(root: etree._Element) -> bool:
    q = etree.QName(root)
    return q.localname in ROOTS and q.namespace not in (None, "") and "standards.iso.org" not in q.namespace


def parse_iso19139(root: etree._Element) -> Record:
    return record_from_iso(
        root,
        schema="iso19139",
        identifier=first_text(root, "{*}fileIdentifier"),
        language=code(root.find("{*}language")),
        scope=code(root.find("{*}hierarchyLevel")),
        parent=first_text(root, "{*}parentIdentifier"),
        modified=first_text(root, "{*}dateStamp"),
        lineage=first_text(root, "{*}dataQualityInfo//{*}lineage//{*}statement"),
    )


# rendering -------------------------------------------------------------------------------------------------

g = ElementMaker(namespace=GMD, nsmap=NSMAP)
c = ElementMaker(namespace=GCO, nsmap=NSMAP)


def _cs(value: str) -> etree._Element:
    return c.CharacterString(value)


def _code(tag: str, value: str, maker: Callable[..., etree._Element] = g) -> etree._Element:
    return getattr(maker, tag)(value, codeList=f"{CODELISTS}#{tag}", codeListValue=value)


def _date(value: str) -> etree._Element:
    return c.DateTime(value) if "T" in value else c.Date(value)


def _contact(contact: dict) -> etree._Element:
    party = g.CI_ResponsibleParty()
    if contact.get("individual"):
        party.append(g.individualName(_cs(contact["individual"])))
    if contact.get("organisation"):
        party.append(g.organisationName(_cs(contact["organisation"])))
    info = g.CI_Contact()
    if contact.get("email"):
        info.append(g.address(g.CI_Address(g.electronicMailAddress(_cs(contact["email"])))))
    if contact.get("url"):
        info.append(g.onlineResource(g.CI_OnlineResource(g.linkage(g.URL(contact["url"])))))
    if len(info):
        party.append(g.contactInfo(info))
    party.append(g.role(_code("CI_RoleCode", contact.get("role") or "pointOfContact")))
    return party


def render_iso19139(rec: Record) -> bytes:
    """An ISO 19139 document for a record; an imported ISO 19139 record is served back as it came."""
    if rec.xml and rec.schema == "iso19139":
        return rec.xml
    return to_bytes(build_iso19139(rec))


def build_iso19139(rec: Record) -> etree._Element:
    rec = exportable(rec).record
    stamp = rec.modified or (rec.updated or datetime.now(UTC)).date().isoformat()
    md = g.MD_Metadata(
        g.fileIdentifier(_cs(rec.id)),
        g.language(_code("LanguageCode", rec.language or "fre")),
        g.characterSet(_code("MD_CharacterSetCode", "utf8")),
    )
    md.set(f"{{{XSI}}}schemaLocation", f"{GMD} http://schemas.opengis.net/iso/19139/20060504/gmd/gmd.xsd")
    if rec.parent_id:
        md.append(g.parentIdentifier(_cs(rec.parent_id)))
    md.append(g.hierarchyLevel(_code("MD_ScopeCode", rec.type or "dataset")))
    meta_contacts = [x for x in rec.contacts if x.get("scope") == "metadata"] or [{"role": "pointOfContact"}]
    for contact in meta_contacts:
        md.append(g.contact(_contact(contact)))
    md.append(g.dateStamp(_date(stamp)))
    if rec.crs:
        md.append(g.referenceSystemInfo(g.MD_ReferenceSystem(g.referenceSystemIdentifier(
            g.RS_Identifier(g.code(_cs(rec.crs)))))))
    md.append(g.identificationInfo(_identification(rec, stamp)))
    if rec.formats or rec.links:
        dist = g.MD_Distribution()
        for fmt in rec.formats:
            dist.append(g.distributionFormat(g.MD_Format(g.name(_cs(fmt)), g.version(_cs("")))))
        if rec.links:
            options = g.MD_DigitalTransferOptions()
            for link in rec.links:
                res = g.CI_OnlineResource(g.linkage(g.URL(link["url"])))
                if link.get("protocol"):
                    res.append(g.protocol(_cs(link["protocol"])))
                if link.get("name"):
                    res.append(g.name(_cs(link["name"])))
                if link.get("description"):
                    res.append(g.description(_cs(link["description"])))
                if link.get("function"):
                    res.append(g.function(_code("CI_OnLineFunctionCode", link["function"])))
                options.append(g.onLine(res))
            dist.append(g.transferOptions(options))
        md.append(g.distributionInfo(dist))
    if rec.lineage:
        md.append(g.dataQualityInfo(g.DQ_DataQuality(
            g.scope(g.DQ_Scope(g.level(_code("MD_ScopeCode", rec.type or "dataset")))),
            g.lineage(g.LI_Lineage(g.statement(_cs(rec.lineage)))))))
    return md


def _identification(rec: Record, stamp: str) -> etree._Element:
    dates = rec.dates or {"publication": stamp}
    citation = g.CI_Citation(g.title(_cs(rec.title or rec.id)))
    for kind, value in dates.items():
        citation.append(g.date(g.CI_Date(g.date(_date(value)), g.dateType(_code("CI_DateTypeCode", kind)))))
    ident = g.MD_DataIdentification(g.citation(citation), g.abstract(_cs(rec.abstract or rec.title or rec.id)))
    for contact in (x for x in rec.contacts if x.get("scope") == "resource"):
        ident.append(g.pointOfContact(_contact(contact)))
    sets = rec.keyword_sets or ([{"keywords": rec.keywords}] if rec.keywords else [])
    for kw in sets:
        block = g.MD_Keywords(*[g.keyword(_cs(k)) for k in kw["keywords"]])
        if kw.get("type"):
            block.append(g.type(_code("MD_KeywordTypeCode", kw["type"])))
        if kw.get("thesaurus"):
            block.append(g.thesaurusName(g.CI_Citation(g.title(_cs(kw["thesaurus"])),
                                                       g.date(g.CI_Date(g.date(c.Date("2008-06-01")),
                                                                        g.dateType(_code("CI_DateTypeCode",
                                                                                         "publication")))))))
        ident.append(g.descriptiveKeywords(block))
    for text in rec.constraints:
        ident.append(g.resourceConstraints(g.MD_LegalConstraints(g.otherConstraints(_cs(text)))))
    ident.append(g.language(_code("LanguageCode", rec.language or "fre")))
    for topic in rec.topics:
        ident.append(g.topicCategory(g.MD_TopicCategoryCode(topic)))
    extent = extent_element(rec, g, c.Decimal, ElementMaker(namespace=GML, nsmap=NSMAP), GML)
    if extent is not None:
        ident.append(g.extent(extent))
    return ident
