"""What a catalogue search may name, for the protocols that parse one (CSW, OGC API Records, the JSON API):
its query, the fields it sorts by, filters on and counts facets of.

>>> queryable("/csw:Record/dc:title"), "title" in SORTABLE   # doctest: +SKIP
('title', True)
"""

from __future__ import annotations

from kartenn.stores import record_filter, record_index
from kartenn.stores.record_filter import queryable
from kartenn.stores.record_index import FACETS, RecordQuery

__all__ = ["FACETS", "QUERYABLES", "SORTABLE", "SPATIAL", "RecordQuery", "queryable"]

SORTABLE = frozenset(record_index.SORTABLE)  # names of the fields a search sorts by
QUERYABLES = frozenset(record_filter.COLUMNS)  # names a filter compares
SPATIAL = frozenset(record_filter.SPATIAL)  # names of the records' footprint in a spatial filter
