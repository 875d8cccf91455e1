"""ISO 19115-3 (mdb 1.0 and 2.0) → Record. Imported documents are kept and served back unchanged.

>>> rec = parse_iso19115_3(parse_xml(open("record.xml", "rb").read()))   # doctest: +SKIP
"""

from __future__ import annotations

from lxml import etree

from kartenn.domain import Record
from kartenn.formats.iso import code, first_text, record_from_iso


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
