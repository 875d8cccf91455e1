"""Atom entries for CSW's optional Atom output schema (as pycsw writes them: one atom:entry per record).

>>> etree.QName(render_atom_entry(Record(id="a", title="Lacs"), "http://h/csw")).localname
'entry'
"""

from __future__ import annotations

from urllib.parse import urlencode

from lxml import etree
from lxml.builder import ElementMaker

from kartenn.domain import Record
from kartenn.formats.exportable import exportable

ATOM = "http://www.w3.org/2005/Atom"
GEORSS = "http://www.georss.org/georss"
GML = "http://www.opengis.net/gml"
DC = "http://purl.org/dc/elements/1.1/"
a = ElementMaker(namespace=ATOM, nsmap={"atom": ATOM, "dc": DC, "georss": GEORSS, "gml": GML})


def render_atom_entry(rec: Record, csw_url: str) -> etree._Element:
    rec = exportable(rec).record
    entry = a.entry(*[a.category(term=k) for k in rec.keywords])
    entry.append(a.id(rec.id))
    etree.SubElement(entry, f"{{{DC}}}identifier").text = rec.id
    query = urlencode({"service": "CSW", "version": "2.0.2", "request": "GetRecordById", "id": rec.id,
                       "elementsetname": "full"})
    entry.append(a.link(href=f"{csw_url}?{query}"))
    entry.append(a.title(rec.title or ""))
    stamp = rec.modified or (rec.updated.isoformat() if rec.updated else "")
    entry.append(a.updated(stamp if "T" in stamp else f"{stamp}T00:00:00Z" if stamp else ""))
    if rec.abstract:
        entry.append(a.summary(rec.abstract))
    if rec.extent_wgs84:
        w, s, e, n = rec.extent_wgs84
        where = etree.SubElement(entry, f"{{{GEORSS}}}where")
        env = etree.SubElement(where, f"{{{GML}}}Envelope", srsName="http://www.opengis.net/def/crs/EPSG/0/4326")
        etree.SubElement(env, f"{{{GML}}}lowerCorner").text = f"{s:g} {w:g}"
        etree.SubElement(env, f"{{{GML}}}upperCorner").text = f"{n:g} {e:g}"
    return entry
