"""Dataset, Record and Job as plain dataclasses: what the stores keep and the services return."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

Bounds = tuple[float, float, float, float]


@dataclass
class Field:
    """One attribute of a vector dataset. ``type`` is one of string, integer, number, boolean, date, datetime."""

    name: str
    type: str


@dataclass
class Dataset:
    id: str
    title: str
    kind: str  # vector | raster
    crs: str  # "EPSG:2154", or WKT when no EPSG code matches
    srid: int | None  # EPSG code when one matches
    extent: Bounds | None  # native CRS
    extent_wgs84: Bounds | None
    count: int | None = None  # features (vector)
    geometry_type: str | None = None
    fields: list[Field] = field(default_factory=list)
    storage: str = ""  # table name or file path, relative to the store
    source: str = ""  # the file it was ingested from
    style: dict[str, Any] = field(default_factory=dict)
    raster: dict[str, Any] = field(default_factory=dict)  # width, height, bands, dtype, nodata, resolution
    record_id: str = ""
    created: datetime | None = None
    updated: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("created", "updated"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


@dataclass
class Record:
    """A catalogue entry. The full ISO model comes with the catalogue; here, what publication fills in."""

    id: str
    title: str
    abstract: str = ""
    dataset_id: str | None = None
    state: str = "published"  # draft | submitted | published | retired
    language: str = "fre"
    keywords: list[str] = field(default_factory=list)
    extent_wgs84: Bounds | None = None
    crs: str | None = None
    attributes: list[Field] = field(default_factory=list)
    lineage: str = ""
    created: datetime | None = None
    updated: datetime | None = None


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


@dataclass
class Job:
    id: str
    kind: str
    state: JobState = JobState.queued
    progress: float = 0.0
    message: str = ""
    log: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    created: datetime | None = None
    updated: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        for key in ("created", "updated"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data
