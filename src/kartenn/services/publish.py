"""Publication: one file in, datasets with records, styles and services out — atomically.

>>> datasets = publish_file(site, Path("communes.gpkg"))   # doctest: +SKIP
>>> datasets[0].count
35357
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS, Transformer

from kartenn.domain import Dataset, Field, Record
from kartenn.domain.security import Sharing
from kartenn.errors import Conflict, InvalidInput, KartennError, TooLarge
from kartenn.formats.online_resources import dataset_links
from kartenn.services.geometry import GeometryStats, conform, target_type
from kartenn.services.limits import IngestLimits, check_file, check_sources
from kartenn.services.readers import Source, discover
from kartenn.services.record_owner import owner_contacts, sync_owner
from kartenn.services.safe_open import open_raster, raster_env
from kartenn.services.series_publish import StationData, read_measurements
from kartenn.services.styles import default_raster_style, default_vector_style
from kartenn.site import Site
from kartenn.stores import display
from kartenn.stores.base import GEOMETRY_COLUMN, LayerSpec

if TYPE_CHECKING:
    import rasterio
    from sqlalchemy.engine import Connection

# (done, total or None, message) — total is a feature count for vectors
Progress = Callable[[int, int | None, str], None]
RESERVED = {"fid", GEOMETRY_COLUMN}


@dataclass
class Outcome:
    """What publishing one source gave: the dataset, or the error that stopped it."""

    source: str
    dataset: Dataset | None = None
    error: str | None = None
    log: list[str] = field(default_factory=list)


def publish_file(site: Site, path: Path, *, title: str | None = None, crs: str | None = None,
                 replace: str | None = None, label: str | None = None,
                 progress: Progress | None = None, sharing: Sharing | None = None,
                 dataset_id: str | None = None, record_id: str | None = None,
                 variable: str | None = None, series: str | None = None) -> list[Outcome]:
    """Publish every dataset found in ``path``; each is atomic on its own, with its audit line. Raises for an
    unreadable file. ``dataset_id`` and ``record_id`` name a new dataset and its record (a single input only;
    default: from the layer's name, a new UUID). ``variable`` publishes only that variable of a NetCDF file.
    ``series`` reads ``path`` as measurements: one station dataset, its columns named as
    ``series_publish.parse_naming`` reads them."""
    if replace:
        site.catalog.get_dataset(replace)  # an unknown id is an error before any work
    if dataset_id and dataset_id in site.catalog.dataset_ids() | RESERVED_IDS:
        raise Conflict(f"dataset {dataset_id!r} exists already")
    if record_id and not replace:
        with site.catalog.engine.connect() as conn:
            if site.catalog.record_origins(conn, [record_id]):
                raise Conflict(f"record {record_id!r} exists already")
    limits = IngestLimits.of(site.settings)
    if path.exists():
        check_file(path, label or path.name, limits)
    with site.staging.area(f"ingest-{secrets.token_hex(6)}") as work:
        also: Callable[[Connection, Dataset], None] | None = None
        if series is not None:
            stations = read_measurements(path, label=label or path.name, naming=series, crs=crs, workdir=work,
                                         limits=limits.archive)
            sources = [stations.source]
            also = partial(_store_series, site, stations)
        else:
            sources = discover(path, workdir=work, label=label or path.name, crs=crs, limits=limits.archive,
                               variable=variable)
        check_sources(sources, limits)
        if (replace or dataset_id) and len(sources) != 1:
            raise InvalidInput(f"{label or path.name}: holds {len(sources)} datasets; --replace (or an id) takes one")
        outcomes = []
        for source in sources:
            outcome = Outcome(source=source.label if len(sources) == 1 else f"{source.label}:{source.name}")
            try:
                outcome.dataset = publish_source(site, source, title=title if len(sources) == 1 else None,
                                                 replace=replace, progress=progress, log=outcome.log,
                                                 sharing=sharing, dataset_id=dataset_id, record_id=record_id,
                                                 also=also)
            except KartennError as exc:
                outcome.error = exc.message
            else:
                _audit_publish(site, outcome.dataset, sharing)
            outcomes.append(outcome)
        return outcomes


def _actor(site: Site, sharing: Sharing | None) -> str:
    """Who publishes: the uploader, else the caller, else "system"."""
    caller = getattr(site, "identity", None)
    return (sharing.user if sharing else None) or (caller.name if caller else "system")


def _audit_publish(site: Site, dataset: Dataset, sharing: Sharing | None) -> None:
    site.accounts.log(_actor(site, sharing), "publish", f"dataset:{dataset.id}", org=sharing.org if sharing else None,
                      public=sharing.public if sharing else True)


def publish_source(site: Site, source: Source, *, title: str | None = None, replace: str | None = None,
                   progress: Progress | None = None, log: list[str] | None = None,
                   sharing: Sharing | None = None, dataset_id: str | None = None,
                   record_id: str | None = None, also: Callable[[Connection, Dataset], None] | None = None) -> Dataset:
    """Publish one source. A new dataset gets ``sharing`` (default: public), the id ``dataset_id`` and the record
    ``record_id`` (default: an id made from the source's name, a new UUID); a replaced one keeps its ids and
    rights. ``also`` stores more of a vector dataset in its publication's transaction (a station dataset's
    measurements)."""
    log = log if log is not None else []
    log.extend(source.notes)
    old = site.catalog.get_dataset(replace) if replace else None
    if old is None and dataset_id is not None and dataset_id in site.catalog.dataset_ids() | RESERVED_IDS:
        raise Conflict(f"a dataset {dataset_id!r} exists already")
    dataset_id = old.id if old else dataset_id or _unique_id(site, source.name)
    record_id = old.record_id if old else record_id or str(uuid4())
    storage = _storage_name(dataset_id)
    with site.staging.publishing(storage):  # clean-up in other processes leaves this storage alone until it is done
        if source.kind == "raster":
            dataset = _publish_raster(site, source, dataset_id, storage, title, old, progress, log, record_id)
        else:
            dataset = _publish_vector(site, source, dataset_id, storage, title, old, progress, log, record_id, also)
    if old is None:
        share(site, "dataset", dataset.id, sharing or Sharing())
    _version(site, dataset, sharing, "update" if old else "insert")
    return dataset


def _version(site: Site, dataset: Dataset, sharing: Sharing | None, action: str) -> None:
    """A version of the dataset's record, by whoever publishes."""
    from kartenn.stores import record_versions

    with site.catalog.begin() as conn:
        record_versions.save(conn, site.catalog.get_record(dataset.record_id, conn), _actor(site, sharing), action,
                             comment=f"data from {dataset.source}")


def share(site: Site, kind: str, resource_id: str, sharing: Sharing) -> None:
    """Owner and public grants of a new resource. Written after it: a crash in between leaves it private."""
    with site.catalog.begin() as conn:
        site.accounts.set_owner(conn, kind, resource_id, sharing.org, sharing.user)
        if sharing.public:
            for action in ("view", "download"):
                site.accounts.grant(conn, kind, resource_id, "public", "", action)
        if kind == "dataset":
            sync_owner(site, conn, resource_id)


def delete_dataset(site: Site, dataset_id: str) -> Dataset:
    """Remove a dataset: its catalogue entry, record, owner and grants in one transaction, then its data."""
    with site.catalog.begin() as conn:
        dataset = site.catalog.get_dataset(dataset_id, conn)
        site.catalog.delete_dataset(conn, dataset_id)
        site.accounts.forget(conn, "dataset", dataset_id)
    _drop(site, dataset)
    return dataset


# vector -------------------------------------------------------------------------------------------------


def _publish_vector(site: Site, source: Source, dataset_id: str, storage: str, title: str | None,
                    old: Dataset | None, progress: Progress | None, log: list[str], record_id: str,
                    also: Callable[[Connection, Dataset], None] | None = None) -> Dataset:
    assert source.read is not None and source.crs is not None
    raw = source.read(site.settings.ingest_batch_size)
    first = next(raw, None)
    if first is None:
        raise InvalidInput(f"{source.label}: {source.name!r} has no features to publish")
    columns = [n for n in first.schema.names if n != GEOMETRY_COLUMN] if first is not None else []
    fields, renames = _fields(first.schema if first is not None else pa.schema([]), columns)
    sample = shapely.from_wkb(_wkb(first)) if first is not None else np.array([], dtype=object)
    geometry_type = target_type(source.geometry_type, sample)
    has_z = bool(shapely.has_z(sample[~shapely.is_missing(sample)]).any()) if len(sample) else False
    srid = source.crs.to_epsg(min_confidence=70)
    spec = LayerSpec(storage=storage, fields=fields, geometry_type=geometry_type, has_z=has_z, srid=srid,
                     crs_wkt=source.crs.to_wkt())
    stats = GeometryStats()
    max_features = site.settings.ingest_max_features

    def batches() -> Iterator[pa.RecordBatch]:
        if first is None:
            return
        for batch in chain([first], raw):
            parsed = shapely.from_wkb(_wkb(batch))
            geoms = conform(parsed, geometry_type, stats, stats.count)
            if stats.count > max_features:
                raise TooLarge(f"{source.label}: {source.name!r} has more than the {max_features} features allowed")
            if has_z:  # 2D features in a 3D layer get z = 0: PostGIS refuses mixed dimensions
                geoms = shapely.force_3d(geoms)
            arrays = [_normalise(batch.column(c), f.type) for c, f in zip(columns, fields, strict=True)]
            if geoms is parsed and (has_z or not shapely.has_z(parsed).any()):
                # Nothing was repaired or cast: the input's WKB is already what the store needs.
                arrays.append(batch.column(GEOMETRY_COLUMN).cast(pa.binary()))
            else:
                wkb = shapely.to_wkb(geoms, output_dimension=3 if has_z else 2)
                arrays.append(pa.array(wkb, type=pa.binary()))
            yield pa.RecordBatch.from_arrays(arrays, names=[f.name for f in fields] + [GEOMETRY_COLUMN])
            if progress:
                progress(stats.count, source.count_hint, source.name)

    try:
        with site.catalog.begin() as conn:
            site.features.load(conn, spec, batches())
            extent = stats.extent()
            now = datetime.now(UTC)
            dataset = Dataset(
                id=dataset_id,
                title=title or (old.title if old else _title(source.name)),
                kind="vector",
                crs=f"EPSG:{srid}" if srid else source.crs.to_wkt(),
                srid=srid,
                extent=extent,
                extent_wgs84=_wgs84(extent, source.crs),
                count=stats.count,
                geometry_type=geometry_type,
                fields=fields,
                storage=storage,
                source=source.label,
                style=old.style if old else default_vector_style(geometry_type),
                record_id=record_id,
                created=old.created if old else None,
            )
            if stats.repaired:
                log.append(f"{stats.repaired} invalid geometries repaired (make_valid)")
            if renames:
                log.append("renamed columns: " + ", ".join(f"{a} → {b}" for a, b in renames.items()))
            _save(site, conn, dataset, old, now)
            if also:
                also(conn, dataset)
            elif old:
                site.catalog.put_series(conn, dataset.id, None)
    except BaseException:
        site.features.discard(storage)
        raise
    if old:
        _drop(site, old)
    log.append(f"{dataset.count} features published as {dataset.id}")
    return dataset


def _wkb(batch: pa.RecordBatch) -> np.ndarray:
    return batch.column(GEOMETRY_COLUMN).to_numpy(zero_copy_only=False)


def planned_fields(source: Source) -> list[Field]:
    """The attributes publishing a vector ``source`` gives its dataset (named as publication names them), from its
    first feature; nothing is written."""
    if source.read is None:
        return []
    batches = source.read(1)
    first = next(batches, None)
    getattr(batches, "close", lambda: None)()  # the reader's file, at once
    if first is None:
        return []
    return _fields(first.schema, [n for n in first.schema.names if n != GEOMETRY_COLUMN])[0]


def _fields(schema: pa.Schema, columns: list[str]) -> tuple[list[Field], dict[str, str]]:
    fields, renames, seen = [], {}, set()
    for name in columns:
        clean = name.strip()[:60] or "field"
        while clean.lower() in RESERVED or display.COLUMN_NAMES.fullmatch(clean.lower()) or clean.lower() in seen:
            clean = f"{clean}_1"
        seen.add(clean.lower())
        if clean != name:
            renames[name] = clean
        fields.append(Field(name=clean, type=_field_type(schema.field(name).type)))
    return fields, renames


def _field_type(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "datetime"
    if pa.types.is_time(t):
        return "time"
    return "string"


ARROW = {"boolean": pa.bool_(), "integer": pa.int64(), "number": pa.float64(), "date": pa.date32(),
         "datetime": pa.timestamp("us", tz="UTC"), "time": pa.time64("us"), "string": pa.string()}


def _normalise(column: pa.Array, kind: str) -> pa.Array:
    """Cast to the one Arrow type each field kind has, so every store sees the same columns."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    target = ARROW[kind]
    if column.type == target:
        return column
    if kind == "datetime" and column.type.tz is None:
        column = pc.assume_timezone(column.cast(pa.timestamp("us")), "UTC")
        return column
    if kind == "string" and not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            return pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())
        if pa.types.is_nested(column.type):
            return pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
    return column.cast(target)



def _store_series(site: Site, stations: StationData, conn: Connection, dataset: Dataset) -> None:
    """A station dataset's measurements beside its points, and what it measures in the catalogue."""
    site.features.load_series(conn, dataset.storage, stations.measurements)
    site.catalog.put_series(conn, dataset.id, stations.info)


# raster -------------------------------------------------------------------------------------------------


def _publish_raster(site: Site, source: Source, dataset_id: str, storage: str, title: str | None,
                    old: Dataset | None, progress: Progress | None, log: list[str], record_id: str) -> Dataset:
    import rasterio
    import rasterio.shutil

    assert source.crs is not None
    if source.steps:
        return _publish_stack(site, source, dataset_id, storage, title, old, progress, log, record_id)
    name = f"{storage}.tif"
    src_path = source.layer or str(source.path)
    with site.staging.area(storage) as work:
        cog = work / "cog.tif"
        if progress:
            progress(0, None, f"{source.name}: converting to Cloud Optimized GeoTIFF")
        with raster_env(GDAL_NUM_THREADS="ALL_CPUS"):
            with open_raster(src_path) as src:
                # Small rasters get 256-pixel tiles so they still have an overview level.
                block = "512" if max(src.width, src.height) >= 2048 else "256"
                if src.crs is None or src.crs.to_wkt() != source.crs.to_wkt():
                    tagged = work / "tagged.tif"
                    rasterio.shutil.copy(src, tagged, driver="GTiff", TILED="YES", BIGTIFF="IF_SAFER")
                    with rasterio.open(tagged, "r+") as dst:
                        dst.crs = rasterio.crs.CRS.from_wkt(source.crs.to_wkt())
                    src_path = str(tagged)
            with open_raster(src_path) as src:
                rasterio.shutil.copy(src, cog, driver="COG", COMPRESS="DEFLATE", OVERVIEWS="AUTO",
                                     BLOCKSIZE=block, BIGTIFF="IF_SAFER")
        with rasterio.open(cog) as r:
            info = _raster_info(r)
            extent = tuple(float(v) for v in r.bounds)
        try:
            with site.catalog.begin() as conn:
                site.files.put(cog, name)
                now = datetime.now(UTC)
                dataset = _raster_dataset(source, dataset_id, title, old, extent, name, info, record_id)
                _save(site, conn, dataset, old, now)
        except BaseException:
            site.files.delete(name)
            raise
    if old:
        _drop(site, old)
    log.append(f"raster {info['width']}×{info['height']}, {info['bands']} band(s), published as {dataset.id}")
    return dataset


def _publish_stack(site: Site, source: Source, dataset_id: str, storage: str, title: str | None,
                   old: Dataset | None, progress: Progress | None, log: list[str], record_id: str) -> Dataset:
    """A raster time stack: one COG per step, all put in the file store before the catalogue entry that lists
    them commits (then none is left behind if it fails)."""
    import rasterio
    import rasterio.shutil

    assert source.crs is not None
    names = [f"{storage}.t{k:04d}.tif" for k in range(len(source.steps))]
    crs = rasterio.crs.CRS.from_wkt(source.crs.to_wkt())
    with site.staging.area(storage) as work:
        cogs = []
        for k, step in enumerate(source.steps):
            if progress:
                progress(k, len(source.steps), f"{source.name}: {step.time} to Cloud Optimized GeoTIFF")
            plain, cog = work / f"plain{k}.tif", work / f"cog{k}.tif"
            with raster_env(GDAL_NUM_THREADS="ALL_CPUS"):
                with open_raster(step.raster) as src:
                    block = "512" if max(src.width, src.height) >= 2048 else "256"
                    _copy_band(src, step.band, plain, crs)
                    if k == 0:  # what the values are, as the source says (a NetCDF variable's units, long_name)
                        first = (step.band or 1) - 1
                        about = {"units": src.units[first] or None,
                                 "long_name": src.tags(first + 1).get("long_name") or src.descriptions[first]}
                with open_raster(plain) as src:
                    rasterio.shutil.copy(src, cog, driver="COG", COMPRESS="DEFLATE", OVERVIEWS="AUTO",
                                         BLOCKSIZE=block, BIGTIFF="IF_SAFER")
            plain.unlink()
            cogs.append(cog)
        infos = []
        for cog in cogs:
            with rasterio.open(cog) as r:
                infos.append(_raster_info(r))
                extent = tuple(float(v) for v in r.bounds)
        info = infos[-1]
        # One colour ramp for every step: the stack's range, so that colours compare across time.
        lows = [i["stats"][0][0] for i in infos if i["stats"]]
        highs = [i["stats"][0][1] for i in infos if i["stats"]]
        info["stats"] = [(min(lows), max(highs))] if lows else []
        info["times"] = [step.time for step in source.steps]
        info["steps"] = names
        info.update({key: value for key, value in about.items() if value})
        if source.layer:  # NETCDF:"file.nc":SST — the variable, as EDR names the stack's parameter
            info["variable"] = source.layer.rsplit(":", 1)[-1]
        try:
            with site.catalog.begin() as conn:
                for cog, name in zip(cogs, names, strict=True):
                    site.files.put(cog, name)
                now = datetime.now(UTC)
                # the latest step as its storage: what a request without time shows
                dataset = _raster_dataset(source, dataset_id, title, old, extent, names[-1], info, record_id)
                _save(site, conn, dataset, old, now)
        except BaseException:
            for name in names:
                site.files.delete(name)
            raise
    if old:
        _drop(site, old)
    log.append(f"raster time stack of {len(names)} steps ({info['times'][0]} to {info['times'][-1]}), "
               f"{info['width']}×{info['height']}, published as {dataset.id}")
    return dataset


def _raster_dataset(source: Source, dataset_id: str, title: str | None, old: Dataset | None, extent: tuple,
                    storage: str, info: dict, record_id: str) -> Dataset:
    """The catalogue entry of a raster (or time stack) published from ``source`` into ``storage``."""
    assert source.crs is not None
    srid = source.crs.to_epsg(min_confidence=70)
    return Dataset(
        id=dataset_id,
        title=title or (old.title if old else _title(source.name)),
        kind="raster",
        crs=f"EPSG:{srid}" if srid else source.crs.to_wkt(),
        srid=srid,
        extent=extent,  # type: ignore[arg-type]
        extent_wgs84=_wgs84(extent, source.crs),  # type: ignore[arg-type]
        storage=storage,
        source=source.label,
        style=old.style if old else default_raster_style(info["bands"], info["dtype"], info["stats"]),
        raster=info,
        record_id=record_id,
        created=old.created if old else None,
    )


def _copy_band(src: rasterio.DatasetReader, band: int | None, path: Path, crs: rasterio.crs.CRS) -> None:
    """One band of ``src`` (every band when None) as a tiled GeoTIFF in ``crs``, block by block."""
    import rasterio

    bands = [band] if band else list(range(1, src.count + 1))
    profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": len(bands),
               "dtype": src.dtypes[bands[0] - 1], "crs": crs, "transform": src.transform,
               "nodata": src.nodatavals[bands[0] - 1], "tiled": True, "blockxsize": 256, "blockysize": 256,
               "BIGTIFF": "IF_SAFER"}
    with rasterio.open(path, "w", **profile) as dst:
        for _, window in dst.block_windows(1):
            dst.write(src.read(bands, window=window), window=window)
        for k, b in enumerate(bands, start=1):
            if src.descriptions[b - 1]:
                dst.set_band_description(k, src.descriptions[b - 1])
            if src.units[b - 1]:
                dst.set_band_unit(k, src.units[b - 1])  # a NetCDF variable's units: what EDR says of its values
        if band is None:
            dst.colorinterp = src.colorinterp


def _raster_info(r: rasterio.DatasetReader) -> dict:
    stats = []
    # Statistics from the smallest overview: cheap, and enough for a default colour ramp.
    level = r.overviews(1)[-1] if r.overviews(1) else 1
    shape = (max(1, r.height // level), max(1, r.width // level))
    for band in range(1, min(r.count, 4) + 1):
        data = r.read(band, out_shape=shape, masked=True)
        if data.count():
            stats.append((float(data.min()), float(data.max())))
    return {
        "width": r.width,
        "height": r.height,
        "bands": r.count,
        "dtype": r.dtypes[0],
        "nodata": r.nodata,
        "resolution": [abs(r.res[0]), abs(r.res[1])],
        "overviews": r.overviews(1),
        "stats": stats,
    }


# shared -------------------------------------------------------------------------------------------------


INGESTED = "Ingested from"  # how lineage written here starts


def _save(site: Site, conn, dataset: Dataset, old: Dataset | None, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """The dataset's row and its record. A replace keeps what people wrote in the record (abstract, keywords,
    lineage, topics, language, constraints, other contacts, its creation date) and refreshes what the data says;
    an imported record, which keeps its document, is kept whole."""
    today = now.date().isoformat()
    record = Record(
        id=dataset.record_id,
        title=dataset.title,
        dataset_id=dataset.id,
        extent_wgs84=dataset.extent_wgs84,
        crs=dataset.crs,
        attributes=dataset.fields,
        lineage=f"{INGESTED} {dataset.source} on {today}",
        keywords=[],
        contacts=owner_contacts(site, conn, dataset.id),
        dates={"creation": today, "revision": today},
        modified=today,
        time_begin=(dataset.raster.get("times") or [None])[0],  # a raster time stack's span
        time_end=(dataset.raster.get("times") or [None])[-1],
        # stored, so the format facet counts dataset records (the links themselves are made when read)
        formats=[link["format"] for link in dataset_links(dataset, "") if link.get("format")],
    )
    if old:
        previous = site.catalog.get_record(old.record_id)
        if previous.xml:  # an imported record (a catalogue's, attached): its document is kept as it is
            site.catalog.update_dataset(conn, dataset)
            return
        record.abstract, record.keywords, record.language = previous.abstract, previous.keywords, previous.language
        record.keyword_sets, record.topics, record.themes = previous.keyword_sets, previous.topics, previous.themes
        record.constraints, record.state = previous.constraints, previous.state
        if previous.lineage and not previous.lineage.startswith(INGESTED):
            record.lineage = previous.lineage
        record.dates["creation"] = previous.dates.get("creation", today)
        record.contacts += [c for c in previous.contacts if c.get("source") != "owner"]
        site.catalog.update_dataset(conn, dataset)
    else:
        site.catalog.add_dataset(conn, dataset)
    site.catalog.put_record(conn, record)


def _drop(site: Site, old: Dataset) -> None:
    """Remove the data a replaced dataset pointed to, from the store of its kind (a replace may change it)."""
    if old.kind == "raster":
        for name in {old.storage, *old.raster.get("steps", [])}:
            site.files.delete(name)
    else:
        site.features.drop(old.storage)


def _wgs84(extent: tuple[float, float, float, float] | None, crs: CRS) -> tuple[float, float, float, float] | None:
    if extent is None:
        return None
    if crs.to_epsg() == 4326:
        return extent
    transformer = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    bounds = transformer.transform_bounds(*extent, densify_pts=21)
    return tuple(round(v, 7) for v in bounds)  # type: ignore[return-value]


RESERVED_IDS = {"catalog"}  # /ogc/collections/catalog is the catalogue (OGC API Records)


def slugify(text: str) -> str:
    """
    >>> slugify("Communes de Bretagne (2018)")
    'communes-de-bretagne-2018'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60].strip("-") or "dataset"


def _unique_id(site: Site, name: str) -> str:
    base = slugify(name)
    taken = site.catalog.dataset_ids() | RESERVED_IDS
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _storage_name(dataset_id: str) -> str:
    return f"{dataset_id.replace('-', '_')[:48]}_{secrets.token_hex(4)}"


def _title(name: str) -> str:
    text = re.sub(r"[_\-]+", " ", name).strip()
    return text[:1].upper() + text[1:] if text else name
