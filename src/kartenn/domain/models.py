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
    """A catalogue entry: ISO 19115 content as structured fields, plus the original XML when imported.

    Nested parts are plain dicts so they store as JSON as they are:
    ``keyword_sets`` [{"thesaurus", "type", "keywords": [...]}], ``contacts`` [{"organisation", "individual",
    "role", "email", "scope": "metadata" | "resource"}], ``links`` [{"url", "protocol", "name", "description"}],
    ``dates`` {"creation" | "publication" | "revision": "YYYY-MM-DD"}.
    """

    id: str
    title: str
    abstract: str = ""
    dataset_id: str | None = None
    state: str = "published"  # draft | submitted | published | retired
    language: str = "fre"
    keywords: list[str] = field(default_factory=list)  # every keyword, flat, for search and facets
    extent_wgs84: Bounds | None = None
    crs: str | None = None
    attributes: list[Field] = field(default_factory=list)
    lineage: str = ""
    created: datetime | None = None
    updated: datetime | None = None
    type: str = "dataset"  # ISO hierarchy level (dataset, series, service…) or a DCMI type for Dublin Core
    schema: str = ""  # iso19139 | iso19115-3 | dc when imported, "" when made here
    keyword_sets: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    time_begin: str | None = None
    time_end: str | None = None
    dates: dict[str, str] = field(default_factory=dict)
    modified: str | None = None  # metadata date stamp
    formats: list[str] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)  # INSPIRE themes
    topics: list[str] = field(default_factory=list)  # ISO topic categories
    parent_id: str | None = None
    xml: bytes | None = None  # the original document, served back as is
    working_copy: bool = False  # a pending change of a published record (stores/working_copies.py)

    @property
    def organisation(self) -> str | None:
        """The organisation responsible for the resource (else for the metadata)."""
        for scope in ("resource", "metadata"):
            for c in self.contacts:
                if c.get("scope") == scope and c.get("organisation"):
                    return str(c["organisation"])
        return None

    @property
    def year(self) -> int | None:
        for key in ("publication", "revision", "creation"):
            if self.dates.get(key, "")[:4].isdigit():
                return int(self.dates[key][:4])
        return int(self.modified[:4]) if self.modified and self.modified[:4].isdigit() else None


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
