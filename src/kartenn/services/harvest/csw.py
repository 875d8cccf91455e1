"""CSW 2.0.2 sources: GetRecords (KVP), ISO 19139 records (Dublin Core when the source offers no ISO), paged with
startPosition / nextRecord, with an optional CQL text constraint.

>>> read(fetcher, "https://sextant.ifremer.fr/csw", "AnyText like '%lidar%'", 10_000).records   # doctest: +SKIP
"""

from __future__ import annotations

from lxml import etree

from kartenn.errors import InvalidInput
from kartenn.services.harvest.fetch import Fetcher, SourceError
from kartenn.services.harvest.listing import Listing
from kartenn.xml import parse_xml

CSW = "http://www.opengis.net/cat/csw/2.0.2"
OWS = "http://www.opengis.net/ows"
GMD = "http://www.isotc211.org/2005/gmd"
PAGE = 50


def read(fetch: Fetcher, url: str, query: str | None, max_records: int) -> Listing:
    try:
        return _read(fetch, url, query, max_records, GMD)
    except _NoSchema:
        return _read(fetch, url, query, max_records, CSW)


class _NoSchema(Exception):  # noqa: N818
    pass


def _read(fetch: Fetcher, url: str, query: str | None, max_records: int, schema: str) -> Listing:
    listing = Listing(max_records=max_records)
    start, matched = 1, None
    while True:
        params = {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typeNames": "csw:Record",
                  "resultType": "results", "elementSetName": "full", "outputSchema": schema,
                  "startPosition": str(start), "maxRecords": str(PAGE)}
        if query:
            params |= {"constraintLanguage": "CQL_TEXT", "constraint_language_version": "1.1.0", "constraint": query}
        root = _parse(fetch.get(url, params, accept="application/xml"), url)
        if etree.QName(root).localname == "ExceptionReport":
            text = " ".join(t.strip() for t in root.itertext() if t.strip())
            if start == 1 and schema == GMD and "outputschema" in text.lower():
                raise _NoSchema
            raise SourceError(f"{url} refused GetRecords: {text[:300] or 'an exception report'}")
        results = root.find(f"{{{CSW}}}SearchResults")
        if etree.QName(root) != etree.QName(CSW, "GetRecordsResponse") or results is None:
            raise SourceError(f"{url} is not a CSW 2.0.2 catalogue: GetRecords answered "
                              f"<{etree.QName(root).localname}>")
        try:
            matched = int(results.get("numberOfRecordsMatched", ""))
            following = int(results.get("nextRecord") or 0)
        except ValueError:
            raise SourceError(f"{url}: GetRecords answered without a number of records matched") from None
        if matched > max_records:
            raise SourceError(f"{url} has {matched} records, over the {max_records} allowed (harvest_max_records)")
        children = [el for el in results.iterchildren() if isinstance(el.tag, str)]
        for i, element in enumerate(children, start):
            listing.add(element, where=f"record {i}")
        if following == 0 or following > matched or not children:
            break
        if following <= start:
            raise SourceError(f"{url}: GetRecords pages backwards (nextRecord {following} after {start})")
        start = following
    if listing.read < matched:
        raise SourceError(f"{url} announced {matched} records but listed {listing.read}: the listing is incomplete")
    return listing


def _parse(data: bytes, url: str) -> etree._Element:
    try:
        return parse_xml(data)
    except InvalidInput as exc:
        raise SourceError(f"{url} did not answer XML: {exc.message}") from None
