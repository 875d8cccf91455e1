"""Read any metadata document we understand: ISO 19139, ISO 19115-3 or Dublin Core (csw:Record).

>>> [r.schema for r in read_records(open("record.xml", "rb").read())]   # doctest: +SKIP
['iso19139']
"""

from __future__ import annotations

from lxml import etree

from kartenn.domain import Record
from kartenn.errors import InvalidInput
from kartenn.formats.dublin_core import is_dublin_core, parse_dublin_core
from kartenn.formats.iso19115_3 import is_iso19115_3, parse_iso19115_3
from kartenn.formats.iso19139 import is_iso19139, parse_iso19139
from kartenn.xml import parse_xml, to_bytes


def record_from_element(el: etree._Element) -> Record | None:
    """The record of one metadata element, keeping that element as the original XML; None if not metadata."""
    if is_iso19115_3(el):
        rec = parse_iso19115_3(el)
    elif is_iso19139(el):
        rec = parse_iso19139(el)
    elif is_dublin_core(el):
        rec = parse_dublin_core(el)
    else:
        return None
    if not rec.id:
        raise InvalidInput("the record has no identifier (fileIdentifier, metadataIdentifier or dc:identifier)")
    rec.xml = to_bytes(el)
    return rec


def read_records(data: bytes) -> list[Record]:
    """Every record of a document: the root itself, or the records a CSW response or a batch wraps."""
    root = parse_xml(data)
    rec = record_from_element(root)
    if rec is not None:
        return [rec]
    found = [r for r in (record_from_element(el) for el in root.iterchildren() if isinstance(el.tag, str))
             if r is not None]
    if not found:
        for holder in root.iter():
            if holder is not root and isinstance(holder.tag, str) and etree.QName(holder).localname in (
                    "SearchResults", "Insert"):
                found += [r for r in (record_from_element(el) for el in holder.iterchildren()
                                      if isinstance(el.tag, str)) if r is not None]
    if not found:
        raise InvalidInput(f"not a metadata record: <{etree.QName(root).localname}> is neither ISO 19139, "
                           "ISO 19115-3 nor Dublin Core")
    return found
