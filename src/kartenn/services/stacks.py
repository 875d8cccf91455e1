"""Raster time stacks: a raster dataset with one Cloud Optimized GeoTIFF per time step.

The catalogue entry keeps the steps in ``dataset.raster``: ``times`` (ISO 8601, UTC, oldest first) and ``steps``
(the file of each time). ``dataset.storage`` names the latest step, so whatever asks for no time sees it.

>>> step = step_at(dataset, "2000-02")                 # doctest: +SKIP
>>> step.time, step.dataset.storage                    # doctest: +SKIP
('2000-02-15T16:29:06Z', 'coads_sst_1a2b3c4d.t0001.tif')
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from kartenn.domain import Dataset
from kartenn.errors import InvalidDimensionValue, InvalidInput

# A date in a file name: 2020-01-15, 20200115, 2020-01 (a month), optionally with THHMM[SS] or THH:MM[:SS].
NAME_DATE = re.compile(
    r"(?<!\d)(?P<y>\d{4})(?:-(?P<m1>\d{2})(?:-(?P<d1>\d{2}))?|(?P<m2>\d{2})(?P<d2>\d{2}))"
    r"(?:T(?P<H>\d{2}):?(?P<M>\d{2})(?::?(?P<S>\d{2}))?Z?)?(?!\d)")


def times(dataset: Dataset) -> list[str]:
    """The times of a stack, oldest first; [] for a raster without time."""
    return list(dataset.raster.get("times") or []) if dataset.kind == "raster" else []


def iso(when: datetime) -> str:
    """An instant as ISO 8601 in UTC, to the second.

    >>> iso(datetime(2020, 1, 15, tzinfo=UTC))
    '2020-01-15T00:00:00Z'
    """
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def date_in_name(name: str) -> datetime | None:
    """The date a file's name carries, in UTC; None when it carries none (or an impossible one).

    >>> [iso(date_in_name(name)) for name in ("sst_2020-01.tif", "20200115.tif")]
    ['2020-01-01T00:00:00Z', '2020-01-15T00:00:00Z']
    """
    found = list(NAME_DATE.finditer(name))
    if len(found) != 1:  # none, or two dates: which one is the time step's is a guess
        return None
    g = found[0].groupdict()
    try:
        return datetime(int(g["y"]), int(g["m1"] or g["m2"]), int(g["d1"] or g["d2"] or 1), int(g["H"] or 0),
                        int(g["M"] or 0), int(g["S"] or 0), tzinfo=UTC)
    except ValueError:
        return None


def name_without_date(name: str) -> str:
    """A file's name without its date.

    >>> name_without_date("sst_2020-01")
    'sst'
    """
    return NAME_DATE.sub("", name).strip("_-. ")


def decode_cf_times(values: list[float], units: str, calendar_name: str | None, label: str) -> list[datetime]:
    """CF time coordinates ("hours since 1800-01-01", "days since 1-1-1"…) as UTC datetimes, to the second.

    cftime reads them in their calendar (the "standard" one is Julian before 1582-10-15); a date that is not one of
    the Gregorian calendar (February 30th of a 360-day year) is refused."""
    import cftime

    calendar_name = calendar_name or "standard"
    try:
        decoded = cftime.num2date(values, units, calendar=calendar_name, only_use_cftime_datetimes=True)
        out = [datetime(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=UTC)
               for d in decoded]
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{label}: its times ({units!r}, calendar {calendar_name}) cannot be read "
                           f"as dates: {exc}") from None
    return [(when + timedelta(microseconds=500_000)).replace(microsecond=0) for when in out]


# which step a request means ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """The time step a request asked for: its time, and the dataset as it was at that time."""

    time: str
    dataset: Dataset
    nearest: bool = False  # the time asked for is not a step; this is the nearest one


def period(text: str, locator: str = "time") -> tuple[datetime, datetime]:
    """The first and last instant an ISO 8601 value covers: a year, a month, a day or an instant (UTC).

    >>> [iso(t) for t in period("2020-02")]
    ['2020-02-01T00:00:00Z', '2020-02-29T23:59:59Z']
    """
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            year = int(text)
            return datetime(year, 1, 1, tzinfo=UTC), datetime(year, 12, 31, 23, 59, 59, tzinfo=UTC)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            year, month = int(text[:4]), int(text[5:])
            last = calendar.monthrange(year, month)[1]
            return (datetime(year, month, 1, tzinfo=UTC),
                    datetime(year, month, last, 23, 59, 59, tzinfo=UTC))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return day, day + timedelta(days=1, seconds=-1)
        when = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidDimensionValue(f"{text!r} is not an ISO 8601 time", locator=locator) from None
    when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    return when, when


def steps_between(dataset: Dataset, start: datetime | None, end: datetime | None) -> list[int]:
    """Indexes of the steps within [start, end] (an open end when None)."""
    return [k for k, t in enumerate(times(dataset))
            if (start is None or parse_time(t) >= start.replace(microsecond=0))
            and (end is None or parse_time(t) <= end)]


def at_index(dataset: Dataset, index: int, nearest: bool = False) -> Step:
    """The dataset as it was at its ``index``-th step."""
    stack = times(dataset)
    steps = dataset.raster["steps"]
    return Step(stack[index], replace(dataset, storage=steps[index]), nearest)


def step_at(dataset: Dataset, value: str | None, *, nearest: bool = False, locator: str = "time") -> Step | None:
    """The step TIME=``value`` names: an instant or a reduced precision (``2020``, ``2020-01``) matching a step,
    or ``start/end`` holding one (the latest of those in it). Absent or ``current``: the latest. With ``nearest``,
    a value between steps gets the step nearest to it. None for a dataset without time; InvalidDimensionValue
    for a time it does not have."""
    stack = times(dataset)
    if not stack:
        return None
    if value is None or value.strip() in ("", "current", "now"):
        return at_index(dataset, len(stack) - 1)
    parts = value.split("/")
    start: datetime | None
    end: datetime | None
    if len(parts) == 1:
        start, end = period(parts[0], locator)
    elif len(parts) in (2, 3):
        start = period(parts[0], locator)[0] if parts[0].strip() not in ("", "..") else None
        end = period(parts[1], locator)[1] if parts[1].strip() not in ("", "..") else None
        if start and end and start > end:
            raise InvalidDimensionValue("the time starts after it ends", locator=locator)
    else:
        raise InvalidDimensionValue(f"time must be an instant or start/end, not {value!r}", locator=locator)
    found = steps_between(dataset, start, end)
    if found:
        return at_index(dataset, found[-1])
    if nearest:
        return at_index(dataset, nearest_index(stack, start or end), nearest=True)  # type: ignore[arg-type]
    raise InvalidDimensionValue(f"layer {dataset.id!r} has no data at {value!r}; its times are "
                                f"{_listing(stack)}", locator=locator)


def nearest_wanted(settings: object, asked: str | None) -> bool:
    """Nearest match: the request's ``nearest=true|false`` when it says, else the site's ``time_nearest``."""
    if asked is not None and asked.strip():
        return asked.strip().lower() in ("true", "1", "yes")
    return bool(getattr(settings, "time_nearest", False))


def warning(steps: list[Step]) -> str | None:
    """The HTTP Warning header of an answer drawn at nearest times (as GeoServer writes it), or None."""
    used = [f"time={s.time}" for s in steps if s.nearest]
    return f"99 Nearest value used: {', '.join(used)} ISO8601" if used else None


def nearest_index(stack: list[str], when: datetime) -> int:
    instants = [parse_time(t) for t in stack]
    k = bisect_left(instants, when)
    candidates = [c for c in (k - 1, k) if 0 <= c < len(instants)]
    return min(candidates, key=lambda c: abs(instants[c] - when))


def _listing(stack: list[str]) -> str:
    return ", ".join(stack) if len(stack) <= 12 else f"{', '.join(stack[:3])} … {stack[-1]} ({len(stack)} times)"
