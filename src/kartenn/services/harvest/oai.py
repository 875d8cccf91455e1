"""OAI-PMH sources: ListRecords in iso19139 (oai_dc when the source offers no ISO), with resumption tokens.
``query`` names a set. Records the source marks deleted are not listed (so they are removed here).

>>> read(fetcher, "https://catalogue.example.org/oai", None, 10_000).records   # doctest: +SKIP
"""

from __future__ import annotations

from lxml import etree

from kartenn.services.harvest.csw import CSW, _parse
from kartenn.services.harvest.fetch import Fetcher, SourceError
from kartenn.services.harvest.listing import Listing

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
MAX_PAGES = 100_000


def read(fetch: Fetcher, url: str, query: str | None, max_records: int) -> Listing:
    try:
        return _read(fetch, url, query, max_records, "iso19139")
    except _NoFormat:
        return _read(fetch, url, query, max_records, "oai_dc")


class _NoFormat(Exception):  # noqa: N818
    pass


def _read(fetch: Fetcher, url: str, query: str | None, max_records: int, prefix: str) -> Listing:
    listing = Listing(max_records=max_records)
    params = {"verb": "ListRecords", "metadataPrefix": prefix, **({"set": query} if query else {})}
    tokens: set[str] = set()
    with_prefix = False
    seen = 0  # entries listed, deleted ones too
    for _ in range(MAX_PAGES + 1):
        root = _parse(fetch.get(url, params, accept="application/xml"), url)
        if etree.QName(root) != etree.QName(OAI, "OAI-PMH"):
            raise SourceError(f"{url} is not an OAI-PMH repository: it answered <{etree.QName(root).localname}>")
        error = root.find(f"{{{OAI}}}error")
        if error is not None and "resumptionToken" in params and "metadataPrefix" not in params \
                and error.get("code") == "badArgument" and "metadataprefix" in (error.text or "").lower():
            params["metadataPrefix"] = prefix  # pycsw 2 wants it beside the token, against the protocol
            with_prefix = True
            continue
        if error is not None:
            code = error.get("code", "")
            if code == "noRecordsMatch":
                return listing
            if code == "cannotDisseminateFormat" and prefix == "iso19139":
                raise _NoFormat
            raise SourceError(f"{url} refused ListRecords: {code} {(error.text or '').strip()}".strip())
        page = root.find(f"{{{OAI}}}ListRecords")
        if page is None:
            raise SourceError(f"{url}: the ListRecords answer holds no ListRecords")
        for entry in page.iterfind(f"{{{OAI}}}record"):
            header = entry.find(f"{{{OAI}}}header")
            where = (header.findtext(f"{{{OAI}}}identifier") if header is not None else None) or "a record"
            seen += 1
            if header is not None and header.get("status") == "deleted":
                continue
            content = entry.find(f"{{{OAI}}}metadata")
            element = next((el for el in content.iterchildren() if isinstance(el.tag, str)), None) \
                if content is not None else None
            if element is None:
                listing.failures.append(f"{where}: no metadata")
                continue
            if etree.QName(element) == etree.QName(OAI_DC, "dc"):
                element = _as_csw_record(element)
            stamp = header.findtext(f"{{{OAI}}}datestamp") if header is not None else None
            listing.add(element, stamp, where)
        resumption = page.find(f"{{{OAI}}}resumptionToken")
        token = (resumption.text or "").strip() if resumption is not None else ""
        size = resumption.get("completeListSize", "") if resumption is not None else ""
        if not token or (size.isdigit() and seen >= int(size)):  # pycsw 2 ends with a token, "0"
            return listing
        if token in tokens:
            raise SourceError(f"{url}: ListRecords gave the same resumption token twice")
        tokens.add(token)
        params = {"verb": "ListRecords", "resumptionToken": token}
        if with_prefix:
            params["metadataPrefix"] = prefix
    raise SourceError(f"{url}: more than {MAX_PAGES} pages of ListRecords")


def _as_csw_record(dc: etree._Element) -> etree._Element:
    """An oai_dc:dc as the csw:Record holding the same Dublin Core elements."""
    record = etree.Element(f"{{{CSW}}}Record", nsmap={"csw": CSW})
    for child in dc.iterchildren():
        if isinstance(child.tag, str):
            record.append(child)
    return record
