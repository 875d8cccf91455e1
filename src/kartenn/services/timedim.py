"""The TIME dimension of a dataset: its first date or date-time field, filtered by an instant or an interval.

>>> when = time_filter(dataset, "2001-01-01/2003-12-31")   # doctest: +SKIP
>>> when.contains("2002-10-30T18:31:38Z")                  # doctest: +SKIP
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kartenn.domain import Dataset
from kartenn.errors import InvalidInput
from kartenn.stores.base import TimeBounds


@dataclass(frozen=True)
class TimeFilter:
    """Features whose ``field`` lies in [start, end] (either end open when None); times in UTC."""

    field: str
    start: datetime | None
    end: datetime | None

    @property
    def key(self) -> str:
        start, end = (v.isoformat() if v else ".." for v in (self.start, self.end))
        return f"{self.field}:{start}/{end}"

    def contains(self, value: object) -> bool:
        when = _as_datetime(value)
        if when is None:
            return False
        return (self.start is None or when >= self.start) and (self.end is None or when <= self.end)

    @property
    def bounds(self) -> TimeBounds:
        """(field, start, end): what a store turns into its own condition (stores/dialect.py)."""
        return self.field, self.start, self.end


def time_field(dataset: Dataset) -> str | None:
    """The field the TIME dimension filters on: the first date or date-time field."""
    return next((f.name for f in dataset.fields if f.type in ("date", "datetime")), None)


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _bound(text: str, end: bool) -> datetime | None:
    text = text.strip()
    if text in ("", ".."):
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            value = datetime(day.year, day.month, day.day, tzinfo=UTC)
            # A day as an end covers the whole day.
            value = value + timedelta(days=1) - timedelta(microseconds=1000) if end else value
        else:
            value = datetime.fromisoformat(text.replace("z", "Z"))
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{text!r} is not an ISO 8601 date or date-time", locator="time") from None
    if not 1000 <= value.year <= 9998:  # four-digit years, with room to move between time zones
        raise InvalidInput(f"{text!r} is outside the years 1000 to 9998", locator="time")
    return value


def time_filter(dataset: Dataset, value: str | None) -> TimeFilter | None:
    """TIME=instant or start/end (``..`` for an open end); None when absent. InvalidInput when it cannot apply."""
    if value is None or value.strip() == "":
        return None
    field = time_field(dataset)
    if field is None:
        raise InvalidInput(f"layer {dataset.id!r} has no time dimension", locator="time")
    parts = value.split("/")
    if len(parts) == 1:
        start, end = _bound(parts[0], False), _bound(parts[0], True)
    elif len(parts) in (2, 3):  # start/end[/resolution]: the resolution does not change what is shown
        start, end = _bound(parts[0], False), _bound(parts[1], True)
    else:
        raise InvalidInput(f"TIME must be an instant or start/end, not {value!r}", locator="time")
    if start and end and start > end:
        raise InvalidInput("TIME starts after it ends", locator="time")
    return TimeFilter(field, start, end)


MAX_LISTED = 100  # more distinct times than this: the extent is given as start/end/resolution


def _iso(value: object, date_only: bool) -> str | None:
    when = _as_datetime(value)
    if when is None:
        return None
    if date_only:
        return when.date().isoformat()
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def time_extent(site: Any, dataset: Dataset) -> tuple[str, str] | None:
    """(extent, default) of a dataset's time dimension for WMS capabilities; None when it has none.

    A list of the times when there are few, else a continuous range ``start/end/0``. The default is the whole
    range ``start/end``: a map asked without TIME shows every feature, as it does for layers without time.
    A raster time stack lists each of its times; its default is the latest.
    Read once per (dataset, update time).
    """
    stack = dataset.raster.get("times") if dataset.kind == "raster" else None
    if stack:  # a raster time stack: its steps, the latest by default
        return ",".join(stack), stack[-1]
    field = time_field(dataset)
    if field is None or dataset.kind != "vector":
        return None
    key = (dataset.id, dataset.storage, dataset.updated.isoformat() if dataset.updated else "")
    if key not in _EXTENTS:
        if len(_EXTENTS) > 1024:
            _EXTENTS.clear()
        _EXTENTS[key] = _read_extent(site, dataset, field)
    return _EXTENTS[key]


_EXTENTS: dict[tuple[str, str, str], tuple[str, str] | None] = {}


def _read_extent(site: Any, dataset: Dataset, field: str) -> tuple[str, str] | None:
    date_only = next(f.type for f in dataset.fields if f.name == field) == "date"
    values = site.features.distinct_values(dataset.storage, field, MAX_LISTED + 1)
    texts = [t for t in (_iso(v, date_only) for v in values) if t]
    if not texts:
        return None
    if len(texts) <= MAX_LISTED:
        return ",".join(texts), f"{texts[0]}/{texts[-1]}" if len(texts) > 1 else texts[0]
    low, high = (_iso(v, date_only) for v in site.features.value_range(dataset.storage, field))
    return f"{low}/{high}/0", f"{low}/{high}"
