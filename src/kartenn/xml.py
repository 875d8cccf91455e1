"""The one safe XML parser: no entity expansion, no DTD loading, no network, no huge trees.

>>> parse_xml(b"<a><b>1</b></a>").findtext("b")
'1'
>>> parse_xml(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
Traceback (most recent call last):
...
kartenn.errors.InvalidInput: XML with a DOCTYPE declaring entities is refused
"""

from __future__ import annotations

import re

from lxml import etree

from kartenn.errors import InvalidInput


def xml_parser() -> etree.XMLParser:
    """A fresh parser with every dangerous feature off (lxml parsers are not thread-safe: one per call)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           dtd_validation=False, remove_comments=False, remove_pis=True)


def parse_xml(data: bytes | str) -> etree._Element:
    """Parse a document and return its root element; raise InvalidInput for malformed or unsafe XML."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data.strip():
        raise InvalidInput("empty XML document")
    try:
        root = etree.fromstring(data, parser=xml_parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"malformed XML: {exc.msg}") from None
    if root is None:
        raise InvalidInput("empty XML document")
    doc = root.getroottree().docinfo
    # Entities are never needed in metadata or OGC requests; refusing them stops XXE and billion laughs.
    dtd = doc.internalDTD
    if dtd is not None and (list(dtd.iterentities()) or dtd.elements()):
        raise InvalidInput("XML with a DOCTYPE declaring entities is refused")
    if b"<!ENTITY" in data[:4096].upper():
        raise InvalidInput("XML with a DOCTYPE declaring entities is refused")
    return root


def to_bytes(element: etree._Element, *, declaration: bool = True) -> bytes:
    return etree.tostring(element, xml_declaration=declaration, encoding="UTF-8", pretty_print=True)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML cannot carry (a message may quote what a client sent)."""
    return _NOT_XML.sub("\ufffd", text)
