"""The values of a record every export can write, and what had to be left out.

Records come from many hands: a language ``eng; CAN``, a date ``circa 1990``, a link ``www example org``, a box
beyond the poles. Each exporter writes ``exportable(rec).record``; the validation report lists ``left_out``.

>>> found = exportable(Record(id="a", title="Lacs", dates={"creation": "circa 1990"}))
>>> found.record.dates, found.left_out[0]["path"]
({}, 'dates.creation')
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from kartenn.domain import Record

# Characters XML 1.0 cannot carry or that are invisible controls: C0 (but tab, line feed, carriage return),
# DEL and C1, lone surrogates, U+FFFE and U+FFFF.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
EMAIL = re.compile(r"[^@\s<>\"(),;:\\\[\]]+@[^@\s<>\"(),;:\\\[\]]+\.[^@\s<>\"(),;:\\\[\]]+")
URL_SCHEMES = {"http", "https", "ftp", "ftps", "sftp", "s3"}
URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"
TEXT_FIELDS = ("title", "abstract", "lineage", "type", "crs", "parent_id", "language")
TEXT_LISTS = ("keywords", "themes", "topics", "formats", "constraints")
log = logging.getLogger("kartenn.exports")
T = TypeVar("T")


@dataclass
class Exportable:
    record: Record
    left_out: list[dict[str, str]] = field(default_factory=list)


def clean_text(value: str) -> str:
    """``value`` without the characters no export can carry."""
    return CONTROLS.sub("", value)


def valid_date(value: str | None) -> bool:
    """An ISO 8601 year, year-month, date or date-time (what xsd:gYear … xsd:dateTime accept)."""
    if not value or not isinstance(value, str):
        return False
    value = value.strip()
    if DATE.fullmatch(value):
        parts = [int(p) for p in value.split("-")] + [1, 1]
        try:
            date(parts[0], parts[1], parts[2])
        except ValueError:
            return False
        return True
    if "T" not in value or not DATE.fullmatch(value.split("T", 1)[0]) or len(value.split("T", 1)[0]) != 10:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def clean_url(value: Any) -> str | None:
    """An absolute URL (http, https, ftp…) with unsafe characters percent-encoded; None for anything else."""
    if not isinstance(value, str):
        return None
    value = clean_text(value).strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc or any(c.isspace() for c in parts.netloc):
        return None
    if parts.port is None and ":" in parts.netloc.rsplit("@", 1)[-1].strip("[]").split("]")[-1]:
        return None  # a colon without a port number
    return quote(value, safe=URL_SAFE)


def valid_email(value: Any) -> bool:
    return isinstance(value, str) and EMAIL.fullmatch(value.strip()) is not None


def valid_extent(box: Any) -> bool:
    """Four finite numbers within WGS 84, south below north (west above east crosses the antimeridian)."""
    try:
        w, s, e, n = (float(v) for v in box)
    except (TypeError, ValueError):
        return False
    return (all(math.isfinite(v) for v in (w, s, e, n)) and -180 <= w <= 180 and -180 <= e <= 180
            and -90 <= s <= n <= 90)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def exportable(rec: Record) -> Exportable:
    """A copy of ``rec`` holding only values every export can write, and one note per value left out."""
    from kartenn.formats.ogc_record import language_code

    left_out: list[dict[str, str]] = []

    def leave(path: str, value: Any, why: str) -> None:
        left_out.append({"level": "warning", "path": path,
                         "message": f"left out of the exports: {clean_text(str(value))[:80]!r} {why}"})

    def controls(path: str) -> None:
        left_out.append({"level": "warning", "path": path,
                         "message": "control characters left out of the exports (XML cannot carry them)"})

    changes: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = getattr(rec, name)
        if isinstance(value, str) and CONTROLS.search(value):
            changes[name] = clean_text(value)
            controls(name)
    for name in TEXT_LISTS:
        values = [v for v in getattr(rec, name) if isinstance(v, str)]
        kept = [c for c in (clean_text(v) for v in values) if c.strip()]
        if kept != getattr(rec, name):
            changes[name] = kept
        if any(CONTROLS.search(v) for v in values):
            controls(name)
    if rec.language and not language_code(rec.language):
        leave("language", rec.language, "is not a language code")
    dates = {}
    for key, value in rec.dates.items():
        if valid_date(value):
            dates[key] = value.strip()
        else:
            leave(f"dates.{key}", value, "is not an ISO 8601 date")
    if dates != rec.dates:
        changes["dates"] = dates
    for name in ("modified", "time_begin", "time_end"):
        value = getattr(rec, name)
        if value is not None and not valid_date(value):
            changes[name] = None
            if value:
                leave(name, value, "is not an ISO 8601 date")
        elif value is not None and value != value.strip():
            changes[name] = value.strip()
    if rec.extent_wgs84 is not None and not valid_extent(rec.extent_wgs84):
        changes["extent_wgs84"] = None
        leave("extent_wgs84", list(rec.extent_wgs84), "is not a box in WGS 84 (west, south, east, north)")
    links = []
    for i, link in enumerate(rec.links):
        url = clean_url(link.get("url"))
        if url is None:
            leave(f"links[{i}].url", link.get("url"), "is not an absolute http(s) or ftp URL")
            continue
        links.append({**_clean(link), "url": url})
    if links != rec.links:
        changes["links"] = links
    contacts = []
    for i, contact in enumerate(rec.contacts):
        contact = _clean(contact)
        if contact.get("email") and not valid_email(contact["email"]):
            leave(f"contacts[{i}].email", contact["email"], "is not an e-mail address")
            contact["email"] = None
        elif contact.get("email"):
            contact["email"] = contact["email"].strip()
        if contact.get("url"):
            url = clean_url(contact["url"])
            if url is None:
                leave(f"contacts[{i}].url", contact["url"], "is not an absolute http(s) or ftp URL")
            contact["url"] = url
        contacts.append(contact)
    if contacts != rec.contacts:
        changes["contacts"] = contacts
    keyword_sets = _clean(rec.keyword_sets)
    if keyword_sets != rec.keyword_sets:
        changes["keyword_sets"] = keyword_sets
    return Exportable(replace(rec, **changes) if changes else rec, left_out)


def each_record(records: Iterable[Any], render: Callable[[Any], T]) -> list[T]:
    """``render`` of each record, in order; a record whose export fails is left out of the list and logged, so
    that one record never fails a feed, a list or a search page."""
    out = []
    for rec in records:
        try:
            out.append(render(rec))
        except Exception:  # any exporter's failure: the others still go out
            log.exception("record %r left out of a list: its export failed", getattr(rec, "id", None))
    return out


__all__ = ["Exportable", "clean_text", "clean_url", "each_record", "exportable", "valid_date", "valid_email",
           "valid_extent"]
