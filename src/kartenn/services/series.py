"""Reading station datasets: which stations a query selects, and their series (OGC API – EDR reads through it).

A station dataset is a point dataset (its stations, served like any other) with measurements beside it in the
feature store. Rights are the dataset's: one the caller may not view does not exist here either.

>>> stations = Stations.of(site, "tide-gauges")                         # doctest: +SKIP
>>> [s.id for s in stations.within_radius(-70.2, 43.6, 10_000)]          # doctest: +SKIP
['8418150']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer

from kartenn.domain import Dataset
from kartenn.errors import InvalidInput, NotFound
from kartenn.formats.edr import StationSeries

POSITION_TOLERANCE_M = 1000.0  # a position query answers with the nearest station this close to the point
MAX_STATIONS = 100_000
MAX_VALUES = 20_000_000  # about 20 series of 10 years of hourly values in one answer
_GEOD = Geod(ellps="WGS84")
PERIODS = {"day": "D", "month": "M"}  # aggregate=: each parameter's mean, minimum and maximum per UTC day or month


@dataclass
class Station:
    id: str
    name: str | None
    lon: float
    lat: float


@dataclass
class Stations:
    """A station dataset as the caller sees it: the dataset, what it measures and where its stations are."""

    site: Any
    dataset: Dataset
    info: dict[str, Any]
    all: list[Station]

    @classmethod
    def of(cls, site: Any, dataset_id: str) -> Stations:
        dataset = site.catalog.get_dataset(dataset_id)  # NotFound for a dataset the caller may not view
        info = site.catalog.series_of([dataset.id]).get(dataset.id)
        if info is None:
            raise NotFound(f"collection {dataset_id!r} has no stations with measurements (no EDR queries)")
        return cls(site, dataset, info, _stations(site, dataset, info))

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return self.info["parameters"]

    @property
    def units(self) -> dict[str, str | None]:
        return {p["name"]: p.get("unit") for p in self.parameters}

    def parameter_names(self, value: str | None) -> list[str]:
        return asked_parameters(self.parameters, value)

    def station(self, station_id: str) -> Station:
        found = next((s for s in self.all if s.id == station_id), None)
        if found is None:
            raise NotFound(f"no location {station_id!r} in collection {self.dataset.id!r}")
        return found

    def nearest(self, lon: float, lat: float, tolerance_m: float = POSITION_TOLERANCE_M) -> list[Station]:
        """The station nearest to (lon, lat) when it is within ``tolerance_m`` metres, else none."""
        if not self.all:
            return []
        distances = self._distances(lon, lat)
        best = int(np.argmin(distances))
        return [self.all[best]] if distances[best] <= tolerance_m else []

    def within_radius(self, lon: float, lat: float, metres: float) -> list[Station]:
        if not self.all:
            return []
        distances = self._distances(lon, lat)
        return [s for s, d in zip(self.all, distances, strict=True) if d <= metres]

    def within(self, area: shapely.Geometry) -> list[Station]:
        if not self.all:
            return []
        points = shapely.points([s.lon for s in self.all], [s.lat for s in self.all])
        inside = shapely.intersects(area, points)
        return [s for s, keep in zip(self.all, inside, strict=True) if keep]

    def _distances(self, lon: float, lat: float) -> np.ndarray:
        lons = np.array([s.lon for s in self.all])
        lats = np.array([s.lat for s in self.all])
        _, _, metres = _GEOD.inv(np.full(len(lons), lon), np.full(len(lats), lat), lons, lats)
        return np.asarray(metres)

    def read(self, stations: list[Station], parameters: list[str], start: datetime | None,
             end: datetime | None) -> list[StationSeries]:
        """The series of ``parameters`` at ``stations`` between ``start`` and ``end``, in one store query."""
        if not stations:
            return []
        expected = self.expected_values(len(stations), parameters, start, end)
        if expected > MAX_VALUES:
            raise InvalidInput(f"this query would return about {expected:,} values, more than the {MAX_VALUES:,} "
                               "allowed; ask for fewer stations or parameters, or a shorter datetime",
                               locator="datetime")
        found = self.site.features.read_series(self.dataset.storage, [s.id for s in stations], parameters, start, end)
        by_station: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        for series in found:
            by_station.setdefault(series.station, {})[series.parameter] = (series.times, series.values)
        return [StationSeries(s.id, s.name, s.lon, s.lat, by_station[s.id]) for s in stations if s.id in by_station]


    def expected_values(self, stations: int, parameters: list[str], start: datetime | None,
                        end: datetime | None) -> int:
        """How many values a read would give, the measurements spread evenly over stations and time."""
        total = 0.0
        for p in self.parameters:
            if p["name"] not in parameters:
                continue
            begin, last = datetime.fromisoformat(p["begin"]), datetime.fromisoformat(p["end"])
            span = (last - begin).total_seconds()
            low, high = max(begin, start or begin), min(last, end or last)
            share = 1.0 if span <= 0 else max(0.0, (high - low).total_seconds()) / span
            total += p["count"] * share * stations / max(len(self.all), 1)
        return round(total)


def asked_parameters(parameters: list[dict[str, Any]], value: str | None) -> list[str]:
    """The parameters ``parameter-name`` asks for (all when None); an unknown one is an error."""
    known = [p["name"] for p in parameters]
    if value is None or not value.strip():
        return known
    asked = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in asked if v not in known]
    if unknown:
        raise InvalidInput(f"unknown parameter-name {', '.join(unknown)}; this collection has {', '.join(known)}",
                           locator="parameter-name")
    return asked


def _stations(site: Any, dataset: Dataset, info: dict[str, Any]) -> list[Station]:
    """Every station of the dataset, with its position in longitude and latitude."""
    fields = [info["station"]] + ([info["name"]] if info.get("name") else [])
    box = dataset.extent or (-1e300, -1e300, 1e300, 1e300)
    rows = site.features.features_in_box(dataset.storage, fields, box, MAX_STATIONS)
    if not rows:
        return []
    points = shapely.from_wkb([r["wkb"] for r in rows])
    xs, ys = shapely.get_x(points), shapely.get_y(points)
    crs = CRS.from_user_input(dataset.crs)
    if crs.to_epsg() != 4326:
        xs, ys = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True).transform(xs, ys)
    name = info.get("name")
    return [Station(str(r["properties"][info["station"]]), r["properties"].get(name) if name else None,
                    float(x), float(y)) for r, x, y in zip(rows, xs, ys, strict=True)]


def read_period(value: str | None) -> str | None:
    """``aggregate``: day or month; None for every value."""
    if value is None or not value.strip():
        return None
    if value not in PERIODS:
        raise InvalidInput(f"aggregate must be one of {', '.join(PERIODS)}, not {value!r}", locator="aggregate")
    return value


def with_extremes(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameters of an aggregated answer: each one, then its ``.min`` and ``.max``."""
    return [{**p, "name": p["name"] + suffix} for p in parameters for suffix in ("", ".min", ".max")]


def aggregate(found: list[StationSeries], period: str) -> list[StationSeries]:
    """Each series as its mean per UTC day or month (named as the parameter), minimum (``name.min``) and maximum
    (``name.max``); a period without values is left out.

    >>> times = np.array(["2020-01-01T06", "2020-01-02", "2020-02-01"], "datetime64[ms]")
    >>> (one,) = aggregate([StationSeries("a", None, 0, 0, {"t": (times, np.array([1.0, 3.0, 5.0]))})], "month")
    >>> one.series["t"][1].tolist(), one.series["t.max"][1].tolist()
    ([2.0, 5.0], [3.0, 5.0])
    """
    unit = PERIODS[period]
    out = []
    for station in found:
        series = {}
        for name, (times, values) in station.series.items():
            at, mean, low, high = _per_period(times, values, unit)
            series.update({name: (at, mean), f"{name}.min": (at, low), f"{name}.max": (at, high)})
        out.append(StationSeries(station.id, station.name, station.lon, station.lat, series))
    return out


def _per_period(times: np.ndarray, values: np.ndarray,
                unit: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(period starts, means, minima, maxima) of the values that are not NaN, by numpy datetime ``unit``."""
    keep = ~np.isnan(values)
    order = np.argsort(times[keep], kind="stable")
    times, values = times[keep][order], values[keep][order]
    if not len(values):
        return times, values, values, values
    buckets, starts = np.unique(times.astype(f"datetime64[{unit}]"), return_index=True)
    counts = np.diff(np.append(starts, len(values)))
    return (buckets.astype("datetime64[ms]"), np.add.reduceat(values, starts) / counts,
            np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts))
