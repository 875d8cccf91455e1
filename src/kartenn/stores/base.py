"""What every feature store offers, whichever back end is behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
from sqlalchemy.engine import Connection

from kartenn.domain import Field

GEOMETRY_COLUMN = "geom"
# PostgreSQL: the advisory lock held while a process creates or upgrades the schemas, one process at a time
SCHEMA_LOCK = 0x6B617274


@dataclass
class LayerSpec:
    """The shape of a table to create: attribute fields, one geometry column, a CRS."""

    storage: str  # table or file name, unique per dataset version
    fields: list[Field]
    geometry_type: str  # OGC name: Point, MultiPolygon, … or Geometry when mixed
    has_z: bool
    srid: int | None
    crs_wkt: str


class FeatureStore(Protocol):
    """Vector tables. ``load`` runs inside the catalogue transaction ``conn`` so publication is atomic."""

    def load(self, conn: Connection, spec: LayerSpec, batches: Iterable[pa.RecordBatch]) -> None:
        """Create ``spec.storage`` and fill it with batches (attributes + WKB ``geom``), with a spatial index."""

    def discard(self, storage: str) -> None:
        """Undo what ``load`` left outside the transaction after it failed or was rolled back."""

    def drop(self, storage: str) -> None:
        """Remove a published table (after its catalogue entry is gone or replaced)."""

    def unreferenced(self, known: set[str]) -> list[str]:
        """The tables no catalogue entry knows and no live process is writing (``Site.reconcile`` decides)."""
