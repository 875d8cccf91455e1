"""Harvested records are the source's: they change only by harvesting it again.

>>> refuse_harvested(view, ["urn:sextant:123"])   # doctest: +SKIP
Traceback (most recent call last):
kartenn.errors.Conflict: record 'urn:sextant:123' is harvested from 'sextant': change it at the source
"""

from __future__ import annotations

from typing import Any

from kartenn.errors import Conflict
from kartenn.stores import harvests


def refuse_harvested(site: Any, ids: list[str]) -> None:
    """Conflict (409) when one of ``ids`` is a harvested record."""
    if not ids:
        return
    with site.catalog.engine.connect() as conn:
        found = harvests.origins(conn, ids)
    for record_id in ids:
        if record_id in found:
            raise Conflict(f"record {record_id!r} is harvested from {found[record_id].source!r}: it is read-only "
                           "here; change it at the source")
