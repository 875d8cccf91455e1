"""What a source lists: its records as read, with their date stamps, and the entries that could not be read.

Every reader (csw.py, oai.py, ows.py…) returns one ``Listing`` of the whole source, or raises SourceError: a
listing is complete, so records it lacks may be removed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from kartenn.domain import Record
from kartenn.errors import InvalidInput
from kartenn.formats.records import record_from_element
from kartenn.services.harvest.fetch import SourceError


@dataclass
class Listing:
    records: list[Record] = field(default_factory=list)
    stamps: dict[str, str] = field(default_factory=dict)  # record id → date stamp at the source
    failures: list[str] = field(default_factory=list)  # entries that are not a record we read, with the reason
    max_records: int = 100_000

    def add(self, element: etree._Element, stamp: str | None = None, where: str = "") -> None:
        """Read one metadata element; an unreadable one is a failure of the run, not of the listing."""
        try:
            rec = record_from_element(element)
        except InvalidInput as exc:
            self.failures.append(f"{where}: {exc.message}" if where else exc.message)
            return
        if rec is None:
            name = etree.QName(element)
            self.failures.append(f"{where}: <{name.localname}> in {{{name.namespace}}} is not a metadata record"
                                 if where else f"<{name.localname}> is not a metadata record")
            return
        self.append(rec, stamp)

    def append(self, rec: Record, stamp: str | None = None) -> None:
        if len(self.records) >= self.max_records:
            raise SourceError(f"the source has more than {self.max_records} records (harvest_max_records)")
        self.records.append(rec)
        self.stamps[rec.id] = stamp or rec.modified or ""

    @property
    def read(self) -> int:
        return len(self.records) + len(self.failures)
