"""Features of vector datasets, as every protocol reads and edits them: OGC API Features, WFS (GetFeature and
Transaction), downloads and tiles. The dataset comes from the caller's view of the catalogue
(``site.catalog.get_dataset``), so a dataset the caller may not see never gets here.

>>> page(site, dataset, ItemQuery(limit=2)).rows[0]["fid"]   # doctest: +SKIP
1
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyproj import CRS

from kartenn.domain import Dataset
from kartenn.stores import edits as _edits
from kartenn.stores import items as _items
from kartenn.stores.edits import KEEP, EditResult, FeatureEdits
from kartenn.stores.items import CHUNK, ItemQuery, Page

__all__ = ["KEEP", "EditResult", "FeatureEdits", "ItemQuery", "Page", "count", "download_chunks", "download_file",
           "edit", "page", "reproject", "stream"]


def page(site: Any, dataset: Dataset, query: ItemQuery) -> Page:
    """One page of the dataset's matching features and how many match in all."""
    return _items.query_items(site.features, dataset, query)


def stream(site: Any, dataset: Dataset, query: ItemQuery, chunk: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """Every matching feature, a list of rows at a time, with bounded memory."""
    return _items.iter_items(site.features, dataset, query, chunk)


def count(site: Any, dataset: Dataset, query: ItemQuery) -> int:
    return _items.count_items(site.features, dataset, query)


def reproject(geometry: Any, source: CRS, target: CRS) -> Any:
    """A geometry from one CRS to another (x/y order), densified so straight edges follow the projection."""
    return _items._to_crs(geometry, source, target)


def edit(site: Any, dataset: Dataset, edits: FeatureEdits) -> EditResult:
    """Apply inserts, updates and deletes in one transaction, for those who may edit the dataset; its count,
    extents and update time follow, and the audit log says what changed."""
    from kartenn.services.publish import _wgs84

    site.require("edit", "dataset", dataset.id)
    result = _edits.apply_edits(site.features, dataset, edits)
    dataset.count = result.count
    dataset.extent = result.extent
    dataset.extent_wgs84 = _wgs84(result.extent, CRS.from_user_input(dataset.crs)) if result.extent else None
    with site.catalog.begin() as conn:
        site.catalog.update_dataset(conn, dataset)
    site.accounts.log(site.identity.name, "features.edit", f"dataset:{dataset.id}", inserted=len(result.inserted),
                      updated=result.updated, deleted=result.deleted)
    return result


def download_chunks(site: Any, dataset: Dataset, query: ItemQuery, fmt: str) -> Iterator[bytes]:
    """The matching features as a stream of GeoJSON or CSV (``fmt``), for a caller who may download them."""
    from kartenn.services.exports import csv_chunks, geojson_chunks

    return (geojson_chunks if fmt == "geojson" else csv_chunks)(site.features, dataset, query)


def download_file(site: Any, dataset: Dataset, query: ItemQuery, fmt: str, folder: Path) -> Path:
    """The matching features written in ``folder`` as a file of ``fmt`` (GeoPackage, shapefile…)."""
    from kartenn.services.exports import write_file

    return write_file(site.features, dataset, query, fmt, folder)
