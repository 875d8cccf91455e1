"""ISO 19115-3 (mdb 1.0 and 2.0) ↔ Record. Imported documents are kept and served back unchanged; other
records (a dataset's, one imported in ISO 19139) are written in mdb 2.0.

>>> rec = parse_iso19115_3(parse_xml(open("record.xml", "rb").read()))   # doctest: +SKIP
>>> render_iso19115_3(rec)[:38]                                           # doctest: +SKIP
b"<?xml version='1.0' encoding='UTF-8'?>"
"""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree
from lxml.builder import ElementMaker

from kartenn.domain import Record
from kartenn.formats.exportable import exportable
from kartenn.formats.iso import code, extent_element, first_text, record_from_iso
from kartenn.xml import to_bytes


def is_iso19115_3(root: etree._Element) -> bool:
    q = etree.QName(root)
    return q.localname == "MD_Metadata" and (q.namespace or "").startswith("http://standards.iso.org/iso/19115/-3/mdb")


def parse_iso19115_3(root: etree._Element) -> Record:
    modified = None
    for d in root.iterfind("{*}dateInfo/{*}CI_Date"):
        value = first_text(d, "{*}date")
        if value and (modified is None or code(d.find("{*}dateType")) == "revision"):
            modified = value
    parent = first_text(root, "{*}parentMetadata//{*}code")
    if parent is None and root.find("{*}parentMetadata") is not None:
        parent = root.find("{*}parentMetadata").get("uuidref")
    return record_from_iso(
        root,
        schema="iso19115-3",
        identifier=first_text(root, "{*}metadataIdentifier//{*}code"),
        language=code(root.find("{*}defaultLocale//{*}language")),
        scope=code(root.find("{*}metadataScope//{*}resourceScope")),
        parent=parent,
        modified=modified,
        lineage=first_text(root, "{*}resourceLineage//{*}statement"),
    )


# writing ---------------------------------------------------------------------------------------------------

NS = {p: f"http://standards.iso.org/iso/19115/-3/{p}/{v}" for p, v in (
    ("mdb", "2.0"), ("cit", "2.0"), ("gco", "1.0"), ("gex", "1.0"), ("lan", "1.0"), ("mcc", "1.0"),
    ("mco", "1.0"), ("mrd", "1.0"), ("mri", "1.0"), ("mrl", "2.0"), ("mrs", "1.0"))}
NS.update(gml="http://www.opengis.net/gml/3.2", xsi="http://www.w3.org/2001/XMLSchema-instance")
CODELISTS = "http://standards.iso.org/iso/19115/resources/Codelists/cat/codelists.xml"
_make = {prefix: ElementMaker(namespace=uri, nsmap=NS) for prefix, uri in NS.items()}
mdb, cit, gco, gex, lan, mcc, mco, mrd, mri, mrl, mrs, gml = (_make[p] for p in (
    "mdb", "cit", "gco", "gex", "lan", "mcc", "mco", "mrd", "mri", "mrl", "mrs", "gml"))


def _cs(value: str) -> etree._Element:
    return gco.CharacterString(value)


def _code(maker: ElementMaker, tag: str, value: str) -> etree._Element:
    return getattr(maker, tag)(value, codeList=f"{CODELISTS}#{tag}", codeListValue=value)


def _date(kind: str, value: str) -> etree._Element:
    when = gco.DateTime(value) if "T" in value else gco.Date(value)
    return cit.CI_Date(cit.date(when), cit.dateType(_code(cit, "CI_DateTypeCode", kind)))


def _responsibility(contact: dict) -> etree._Element:
    info = cit.CI_Contact()
    if contact.get("email"):
        info.append(cit.address(cit.CI_Address(cit.electronicMailAddress(_cs(contact["email"])))))
    if contact.get("url"):
        info.append(cit.onlineResource(cit.CI_OnlineResource(cit.linkage(_cs(contact["url"])))))
    details = [cit.contactInfo(info)] if len(info) else []
    if contact.get("organisation"):
        party = cit.CI_Organisation(cit.name(_cs(contact["organisation"])), *details)
        if contact.get("individual"):
            party.append(cit.individual(cit.CI_Individual(cit.name(_cs(contact["individual"])))))
    else:
        party = cit.CI_Individual(cit.name(_cs(contact.get("individual") or "")), *details)
    return cit.CI_Responsibility(cit.role(_code(cit, "CI_RoleCode", contact.get("role") or "pointOfContact")),
                                 cit.party(party))


def _locale(language: str) -> etree._Element:
    return lan.PT_Locale(lan.language(_code(lan, "LanguageCode", language or "fre")),
                         lan.characterEncoding(_code(lan, "MD_CharacterSetCode", "utf8")))


def render_iso19115_3(rec: Record) -> bytes:
    """An ISO 19115-3 (mdb 2.0) document for a record; an imported ISO 19115-3 record is served back as it
    came."""
    if rec.xml and rec.schema == "iso19115-3":
        return rec.xml
    return to_bytes(build_iso19115_3(rec))


def build_iso19115_3(rec: Record) -> etree._Element:
    rec = exportable(rec).record
    stamp = rec.modified or (rec.updated or datetime.now(UTC)).date().isoformat()
    md = mdb.MD_Metadata(mdb.metadataIdentifier(mcc.MD_Identifier(mcc.code(_cs(rec.id)))),
                         mdb.defaultLocale(_locale(rec.language)))
    md.set(f"{{{NS['xsi']}}}schemaLocation", f"{NS['mdb']} {NS['mdb']}/mdb.xsd")
    if rec.parent_id:
        md.append(mdb.parentMetadata(uuidref=rec.parent_id))
    md.append(mdb.metadataScope(mdb.MD_MetadataScope(mdb.resourceScope(
        _code(mcc, "MD_ScopeCode", rec.type or "dataset")))))
    for contact in [x for x in rec.contacts if x.get("scope") == "metadata"] or [{"role": "pointOfContact"}]:
        md.append(mdb.contact(_responsibility(contact)))
    md.append(mdb.dateInfo(_date("revision", stamp)))
    if rec.crs:
        md.append(mdb.referenceSystemInfo(mrs.MD_ReferenceSystem(mrs.referenceSystemIdentifier(
            mcc.MD_Identifier(mcc.code(_cs(rec.crs)))))))
    md.append(mdb.identificationInfo(_identification(rec, stamp)))
    if rec.formats or rec.links:
        dist = mrd.MD_Distribution()
        for fmt in rec.formats:
            dist.append(mrd.distributionFormat(mrd.MD_Format(mrd.formatSpecificationCitation(
                cit.CI_Citation(cit.title(_cs(fmt)))))))
        if rec.links:
            options = mrd.MD_DigitalTransferOptions()
            for link in rec.links:
                res = cit.CI_OnlineResource(cit.linkage(_cs(link["url"])))
                for key in ("protocol", "name", "description"):
                    if link.get(key):
                        res.append(getattr(cit, key)(_cs(link[key])))
                if link.get("function"):
                    res.append(cit.function(_code(cit, "CI_OnLineFunctionCode", link["function"])))
                options.append(mrd.onLine(res))
            dist.append(mrd.transferOptions(options))
        md.append(mdb.distributionInfo(dist))
    if rec.lineage:
        md.append(mdb.resourceLineage(mrl.LI_Lineage(mrl.statement(_cs(rec.lineage)))))
    return md


def _identification(rec: Record, stamp: str) -> etree._Element:
    citation = cit.CI_Citation(cit.title(_cs(rec.title or rec.id)))
    for kind, value in (rec.dates or {"publication": stamp}).items():
        citation.append(cit.date(_date(kind, value)))
    ident = mri.MD_DataIdentification(mri.citation(citation), mri.abstract(_cs(rec.abstract or rec.title or rec.id)))
    for contact in (x for x in rec.contacts if x.get("scope") == "resource"):
        ident.append(mri.pointOfContact(_responsibility(contact)))
    for topic in rec.topics:
        ident.append(mri.topicCategory(mri.MD_TopicCategoryCode(topic)))
    extent = extent_element(rec, gex, gco.Decimal, gml, NS["gml"])
    if extent is not None:
        ident.append(mri.extent(extent))
    for kw in rec.keyword_sets or ([{"keywords": rec.keywords}] if rec.keywords else []):
        block = mri.MD_Keywords(*[mri.keyword(_cs(k)) for k in kw["keywords"]])
        if kw.get("type"):
            block.append(mri.type(_code(mri, "MD_KeywordTypeCode", kw["type"])))
        if kw.get("thesaurus"):
            block.append(mri.thesaurusName(cit.CI_Citation(cit.title(_cs(kw["thesaurus"])))))
        ident.append(mri.descriptiveKeywords(block))
    for text in rec.constraints:
        ident.append(mri.resourceConstraints(mco.MD_LegalConstraints(mco.otherConstraints(_cs(text)))))
    ident.append(mri.defaultLocale(_locale(rec.language)))
    return ident
