"""Find the datasets in an uploaded file and read them as Arrow batches.

>>> [s.name for s in discover(Path("communes.gpkg"), workdir=Path("/tmp/w"))]   # doctest: +SKIP
['communes']
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from charset_normalizer import from_bytes
from pyproj import CRS
from pyproj.exceptions import CRSError

from kartenn.errors import InvalidInput, MissingCRS, UnsupportedFormat
from kartenn.services.archives import extract_zip
from kartenn.services.safe_open import (
    RASTER_DRIVERS,
    check_crs_text,
    check_file,
    check_folder,
    check_subdataset,
    offline,
    open_raster,
    raster_env,
)
from kartenn.services.stacks import date_in_name, decode_cf_times, iso, name_without_date

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

RASTER_SUFFIXES = {".tif", ".tiff", ".nc", ".jp2", ".img", ".asc", ".hdf", ".h5", ".grib", ".grb", ".grb2"}
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj", ".sbn", ".sbx", ".qix", ".shp.xml", ".xml"}
IGNORED_SUFFIXES = {".md", ".txt", ".pdf", ".html", ".htm", ".xml", ".qmd", ".qml", ".sld", ".lyr", ".aux", ".ovr"}
# Drivers that read only the file they are given (no VRT-style indirection to other paths or URLs).
VECTOR_DRIVERS = {
    "GPKG", "ESRI Shapefile", "GeoJSON", "GeoJSONSeq", "FlatGeobuf", "KML", "LIBKML", "GML", "GPX",
    "TopoJSON", "OpenFileGDB", "MapInfo File", "SQLite", "OSM", "JSONFG", "ODS", "XLSX", "DXF",
}
OPEN_OPTIONS = {"GML": {"DOWNLOAD_SCHEMA": "NO"}}

X_NAMES = ("x", "lon", "lng", "long", "longitude", "easting", "xcoord", "coord_x", "coordx", "x_coord")
Y_NAMES = ("y", "lat", "latitude", "northing", "ycoord", "coord_y", "coordy", "y_coord")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "geometrie", "shape")


@dataclass
class Source:
    """One dataset found in a file: a vector layer or a raster."""

    name: str
    kind: str  # vector | raster
    path: Path
    label: str  # what the user gave, for messages and lineage
    crs: CRS | None = None
    layer: str | None = None
    geometry_type: str = "Unknown"
    count_hint: int | None = None
    read: Callable[[int], Iterator[pa.RecordBatch]] | None = None  # batch size → batches, WKB in "geom"
    notes: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)  # a raster time stack: its times, oldest first


@dataclass(frozen=True)
class Step:
    """One time step of a raster stack: when, the raster to read (a file or a subdataset) and its band."""

    time: str  # ISO 8601, UTC
    raster: str
    band: int | None = None  # None: every band


def discover(path: Path, *, workdir: Path, label: str | None = None, crs: str | None = None,
             limits: dict[str, int] | None = None, variable: str | None = None) -> list[Source]:
    """Every dataset in ``path`` (a data file, a folder or a zip of them). Raises a clear InvalidInput otherwise.
    ``variable`` keeps only that variable of a NetCDF file."""
    label = label or path.name
    override = parse_crs(crs) if crs else None
    if not path.exists():
        raise InvalidInput(f"{label}: no such file")
    if path.is_dir():
        check_folder(path, label)
        return _only(_discover_folder(path, label, override), variable, label)
    if path.stat().st_size == 0:
        raise InvalidInput(f"{label}: the file is empty")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        limits = limits or {}
        folder = extract_zip(path, workdir / "unzipped", **limits)
        check_folder(folder, label)
        return _only(_discover_folder(folder, label, override), variable, label)
    if suffix in {".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz"}:
        raise UnsupportedFormat(f"{label}: {suffix} archives are not supported; send a .zip")
    return _only(_discover_file(path, label, override), variable, label)


def _only(sources: list[Source], variable: str | None, label: str) -> list[Source]:
    """The source of one NetCDF variable, when one is named."""
    if not variable:
        return sources
    found = [s for s in sources if s.layer and s.layer.rsplit(":", 1)[-1] == variable]
    if not found:
        named = [s.layer.rsplit(":", 1)[-1] for s in sources if s.layer]
        raise InvalidInput(f"{label}: no variable {variable!r}" + (f"; it has {', '.join(named)}" if named else ""))
    return found


def _discover_folder(folder: Path, label: str, override: CRS | None) -> list[Source]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    by_stem: dict[str, set[str]] = {}
    for p in files:
        if p.suffix.lower() in {".shp", ".shx", ".dbf"}:
            by_stem.setdefault(str(p.with_suffix("")).lower(), set()).add(p.suffix.lower())
    for stem, parts in by_stem.items():
        missing = {".shp", ".shx", ".dbf"} - parts
        if missing:
            name = Path(stem).name
            raise InvalidInput(
                f"{label}: Shapefile {name!r} lacks {', '.join(sorted(missing))}; "
                "a Shapefile needs its .shp, .shx and .dbf (and .prj for its CRS)"
            )
    sources: list[Source] = []
    dated = _dated_rasters(files)
    if dated:
        sources.append(_dated_stack(dated, label, override))
        files = [p for p in files if p not in dated]
    for p in files:
        low = p.name.lower()
        suffix = p.suffix.lower()
        if suffix != ".shp" and (suffix in SHAPEFILE_PARTS or low.endswith(".shp.xml")):
            continue  # read through its .shp
        if suffix in IGNORED_SUFFIXES or low.startswith(("readme", "licen", "._")):
            continue
        sources.extend(_discover_file(p, f"{label}/{p.relative_to(folder)}", override))
    if not sources:
        raise InvalidInput(f"{label}: the archive holds no dataset Kartenn can read")
    return sources


def _discover_file(path: Path, label: str, override: CRS | None) -> list[Source]:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return [_csv_source(path, label, override)]
    if suffix in RASTER_SUFFIXES:
        return _raster_sources(path, label, override)
    if suffix == ".vrt":
        raise UnsupportedFormat(f"{label}: VRT files are not accepted (they can point to other files)")
    return _vector_sources(path, label, override)


# vector, through GDAL ---------------------------------------------------------------------------------


def _vector_sources(path: Path, label: str, override: CRS | None) -> list[Source]:
    import pyogrio

    check_file(path, label)
    try:
        with offline():
            layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise UnsupportedFormat(f"{label}: not a format Kartenn can read ({_first_line(exc, path)})") from exc
    encoding = _shapefile_encoding(path) if path.suffix.lower() == ".shp" else None
    sources = []
    for layer_name, _ in layers:
        try:
            with offline():
                info = pyogrio.read_info(path, layer=layer_name, encoding=encoding)
        except Exception as exc:
            raise UnsupportedFormat(f"{label}: layer {layer_name!r} cannot be read ({_first_line(exc, path)})") from exc
        driver = info.get("driver") or ""
        if driver not in VECTOR_DRIVERS:
            raise UnsupportedFormat(f"{label}: the {driver} format is not accepted")
        if info.get("geometry_type") in (None, "None"):
            continue  # attribute-only tables (e.g. GeoPackage non-spatial tables)
        check_crs_text(info.get("crs") or "", label)
        crs = override or _layer_crs(info.get("crs"))
        if crs is not None:
            check_crs_text(crs.to_wkt(), label)
        if crs is None:
            hint = " (its .prj is missing)" if path.suffix.lower() == ".shp" else ""
            raise MissingCRS(
                f"{label}: layer {layer_name!r} has no coordinate reference system{hint}; "
                "give one with --crs EPSG:XXXX (or crs=EPSG:XXXX in the upload)"
            )
        name = path.stem if len(layers) == 1 else f"{layer_name}"
        count = info.get("features")
        sources.append(
            Source(
                name=name,
                kind="vector",
                path=path,
                label=label,
                crs=crs,
                layer=layer_name,
                geometry_type=info.get("geometry_type") or "Unknown",
                count_hint=count if count and count > 0 else None,
                read=_ogr_reader(path, layer_name, encoding, OPEN_OPTIONS.get(driver), label),
                notes=[f"encoding {encoding}"] if encoding else [],
            )
        )
    if not sources:
        raise InvalidInput(f"{label}: no layer with geometries")
    return sources


def _ogr_reader(path: Path, layer: str, encoding: str | None, options: dict[str, str] | None,
                label: str) -> Callable[[int], Iterator[pa.RecordBatch]]:
    import pyogrio

    def read(batch_size: int) -> Iterator[pa.RecordBatch]:
        kwargs = {"encoding": encoding} if encoding else {}
        try:
            with offline(), pyogrio.open_arrow(path, layer=layer, batch_size=batch_size, use_pyarrow=True,
                                               **kwargs, **(options or {})) as (meta, reader):
                geom_name = meta.get("geometry_name") or "wkb_geometry"
                for batch in reader:
                    yield _rename(batch, geom_name)
        except Exception as exc:  # a damaged or truncated file fails in GDAL while it is read
            raise InvalidInput(f"{label}: cannot be read to the end ({_first_line(exc, path)})") from exc

    return read


def _rename(batch: pa.RecordBatch, geom_name: str) -> pa.RecordBatch:
    names = ["geom" if n == geom_name else n for n in batch.schema.names]
    return pa.RecordBatch.from_arrays(batch.columns, names=names)


def _layer_crs(value: str | None) -> CRS | None:
    if not value:
        return None
    try:
        return CRS.from_user_input(value)
    except CRSError:
        return None


def _shapefile_encoding(path: Path) -> str | None:
    """None when GDAL can tell (a .cpg or the DBF language byte); otherwise UTF-8 or CP1252 by content."""
    if any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return None
    dbf = next((path.with_suffix(s) for s in (".dbf", ".DBF") if path.with_suffix(s).exists()), None)
    if dbf is None:
        return None
    with open(dbf, "rb") as f:
        head = f.read(32)
        if len(head) > 29 and head[29] != 0:
            return None
        sample = f.read(16 << 20)
    try:
        sample.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError as exc:
        # A cut at the sample's end is not evidence of another encoding.
        if exc.start >= len(sample) - 4:
            return "UTF-8"
        return "CP1252"


# CSV ----------------------------------------------------------------------------------------------------


def _fold(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().strip()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _detect_encoding(sample: bytes) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:
            return "utf-8"
    best = from_bytes(sample).best()
    found = (best.encoding if best else "cp1252").lower()
    # Western European files are CP1252 far more often than the other single-byte guesses.
    return "cp1252" if found in {"latin_1", "iso8859_1", "iso8859_15", "cp1250", "cp1252", "mac_roman"} else found


def _csv_source(path: Path, label: str, override: CRS | None) -> Source:
    with open(path, "rb") as f:
        sample = f.read(1 << 20)
    encoding = _detect_encoding(sample)
    text = sample.decode(encoding, errors="replace")
    lines = text.splitlines()
    if not lines:
        raise InvalidInput(f"{label}: the file is empty")
    header = lines[0]
    # WKT polygons easily pass the csv module's default 128 kB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), len(sample) + 1))
    delimiter = max([",", ";", "\t", "|"], key=header.count)
    columns = next(csv.reader([header], delimiter=delimiter))
    folded = [_fold(c) for c in columns]

    def find(candidates: tuple[str, ...]) -> str | None:
        for cand in candidates:
            if cand in folded:
                return columns[folded.index(cand)]
        return None

    x, y, wkt = find(X_NAMES), find(Y_NAMES), find(WKT_NAMES)
    if not ((x and y) or wkt):
        raise InvalidInput(
            f"{label}: no coordinates found; name the columns x/y, lon/lat, longitude/latitude "
            "(or a WKT column named wkt or geometry)"
        )
    use_xy = bool(x and y)
    rows = list(csv.reader(lines[1:200], delimiter=delimiter))
    decimal = ","
    if use_xy:
        xi, yi = columns.index(x), columns.index(y)  # type: ignore[arg-type]
        values = [r[i] for r in rows for i in (xi, yi) if len(r) > max(xi, yi) and r[i]]
        if not any(re.fullmatch(r"-?\d+,\d+", v) for v in values):
            decimal = "."
    else:
        decimal = "."
    # Codes such as "01" or "05021" (INSEE, postcodes) are text: as numbers they would lose their zeros.
    codes = {c for i, c in enumerate(columns) if c not in (x, y, wkt)
             and any(len(r) > i and re.fullmatch(r"0\d+", r[i]) for r in rows)}
    crs = override
    if crs is None:
        crs = _guess_csv_crs(label, rows, columns, x, y, wkt, use_xy, decimal)

    def read(batch_size: int) -> Iterator[pa.RecordBatch]:
        types: dict[str, pa.DataType] = {x: pa.float64(), y: pa.float64()} if use_xy else {wkt: pa.string()}  # type: ignore[dict-item]
        types.update({c: pa.string() for c in codes})
        reader = _csv_blocks(label, lambda: pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=32 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=types, decimal_point=decimal,
                                                 null_values=[""], strings_can_be_null=True),  # "NA" is Namibia
        ))
        done = 0
        for big in reader:
            for offset in range(0, big.num_rows, batch_size):
                batch = big.slice(offset, batch_size)
                if use_xy:
                    xs = batch.column(x).to_numpy(zero_copy_only=False)
                    ys = batch.column(y).to_numpy(zero_copy_only=False)
                    geoms = shapely.points(xs, ys)
                    geoms[np.isnan(xs) | np.isnan(ys)] = None
                    keep = [n for n in batch.schema.names if n not in (x, y)]
                else:
                    texts = np.asarray(batch.column(wkt).to_pylist(), dtype=object)
                    geoms = shapely.from_wkt(texts, on_invalid="ignore")
                    bad = np.flatnonzero(shapely.is_missing(geoms) & (texts != None))  # noqa: E711
                    if len(bad):
                        value = str(texts[bad[0]])
                        raise InvalidInput(f"{label}: row {done + offset + int(bad[0]) + 1}: "
                                           f"{value[:40]!r} in column {wkt} is not valid WKT")
                    keep = [n for n in batch.schema.names if n != wkt]
                arrays = [batch.column(n) for n in keep]
                arrays.append(pa.array(shapely.to_wkb(geoms), type=pa.binary()))
                yield pa.RecordBatch.from_arrays(arrays, names=[*keep, "geom"])
            done += big.num_rows

    return Source(
        name=path.stem,
        kind="vector",
        path=path,
        label=label,
        crs=crs,
        geometry_type="Point" if use_xy else "Unknown",
        count_hint=None,
        read=read,
        notes=[f"CSV: delimiter {delimiter!r}, decimal {decimal!r}, encoding {encoding}"],
    )


def _csv_blocks(label: str, open_reader: Callable[[], pacsv.CSVStreamingReader]) -> Iterator[pa.RecordBatch]:
    """The CSV's blocks; a value Arrow cannot convert (a word among coordinates) becomes a clear InvalidInput."""
    try:
        yield from open_reader()
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{label}: {str(exc).strip().splitlines()[0][:200]}") from exc


def _guess_csv_crs(label: str, rows: list[list[str]], columns: list[str], x: str | None, y: str | None,
                   wkt: str | None, use_xy: bool, decimal: str) -> CRS:
    def num(v: str) -> float | None:
        try:
            return float(v.replace(",", ".") if decimal == "," else v)
        except ValueError:
            return None

    if use_xy:
        xi, yi = columns.index(x), columns.index(y)  # type: ignore[arg-type]
        pairs = [(num(r[xi]), num(r[yi])) for r in rows if len(r) > max(xi, yi)]
    else:
        wi = columns.index(wkt)  # type: ignore[arg-type]
        pairs = []
        for r in rows:
            if len(r) > wi and r[wi]:
                try:
                    b = shapely.from_wkt(r[wi]).bounds
                    pairs += [(b[0], b[1]), (b[2], b[3])]
                except shapely.errors.GEOSException:
                    continue
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None and not np.isnan(a)]
    lonlat = all(-180 <= a <= 180 and -90 <= b <= 90 for a, b in pairs)
    if pairs and lonlat:
        return CRS.from_epsg(4326)
    raise MissingCRS(
        f"{label}: the coordinates are not longitude/latitude and the file does not say its CRS; "
        "give one with --crs EPSG:XXXX (or crs=EPSG:XXXX in the upload)"
    )


# rasters ------------------------------------------------------------------------------------------------


def _raster_sources(path: Path, label: str, override: CRS | None) -> list[Source]:
    import rasterio

    check_file(path, label)
    try:
        with raster_env(), open_raster(path) as src:
            driver = src.driver
            subdatasets = list(src.subdatasets)
            crs = src.crs
    except rasterio.errors.RasterioIOError as exc:
        raise UnsupportedFormat(f"{label}: not a raster Kartenn can read ({_first_line(exc, path)})") from exc
    if driver not in RASTER_DRIVERS:
        raise UnsupportedFormat(f"{label}: the {driver} raster format is not accepted")
    paths = subdatasets or [str(path)]
    sources = []
    for sub in paths:
        if subdatasets:
            check_subdataset(sub, path, label)
        name = path.stem if len(paths) == 1 else f"{path.stem}-{sub.rsplit(':', 1)[-1]}"
        with raster_env(), open_raster(sub) as src:
            crs = src.crs
            steps = _cf_steps(src, sub, label) if driver == "netCDF" else []
        chosen = override or (CRS.from_user_input(crs.to_wkt()) if crs else None)
        if chosen is not None:
            check_crs_text(chosen.to_wkt(), label)
        if chosen is None and subdatasets:
            chosen = CRS.from_epsg(4326)  # CF grids without grid_mapping are longitude/latitude
        if chosen is None:
            raise MissingCRS(
                f"{label}: the raster has no coordinate reference system; give one with --crs EPSG:XXXX"
            )
        sources.append(Source(name=name, kind="raster", path=Path(sub) if not subdatasets else path,
                              label=label, crs=chosen, layer=sub if subdatasets else None, steps=steps))
    return sources


def _cf_steps(src: DatasetReader, raster: str, label: str) -> list[Step]:
    """The time steps of a NetCDF variable with a CF time axis (one band per time); [] when it has none."""
    tags = src.tags()
    extra = [d for d in tags.get("NETCDF_DIM_EXTRA", "").strip("{}").split(",") if d]
    axes = [d for d in extra if " since " in tags.get(f"{d}#units", "")]
    if not axes:
        return []
    if len(extra) > 1:
        others = ", ".join(d for d in extra if d not in axes[:1])
        raise UnsupportedFormat(f"{label}: {raster.rsplit(':', 1)[-1]} has dimensions besides time and space "
                                f"({others}); publish a variable with time only")
    axis = axes[0]
    values = []
    for band in range(1, src.count + 1):
        try:
            values.append(float(src.tags(band)[f"NETCDF_DIM_{axis}"]))
        except (KeyError, ValueError):
            raise InvalidInput(f"{label}: band {band} has no {axis} value") from None
    when = decode_cf_times(values, tags[f"{axis}#units"], tags.get(f"{axis}#calendar"), label)
    if len(set(when)) != len(when):
        raise InvalidInput(f"{label}: {raster.rsplit(':', 1)[-1]} has the same time twice")
    return sorted((Step(iso(t), raster, band) for band, t in enumerate(when, start=1)), key=lambda s: s.time)


def _dated_rasters(files: list[Path]) -> list[Path]:
    """GeoTIFFs of a folder named by date (``sst_2020-01.tif``, ``20200115.tif``): a time stack when there are
    two or more and every GeoTIFF there has a date; [] otherwise."""
    tiffs = [p for p in files if p.suffix.lower() in (".tif", ".tiff")]
    if len(tiffs) < 2 or any(date_in_name(p.stem) is None for p in tiffs):
        return []
    return tiffs


def _dated_stack(files: list[Path], label: str, override: CRS | None) -> Source:
    """One time-stacked source of dated GeoTIFFs; they must share their grid, bands and CRS."""
    dated = sorted(((date_in_name(p.stem), p) for p in files), key=lambda pair: pair[0])  # type: ignore[arg-type, return-value]
    seen = [d for d, _ in dated]
    if len(set(seen)) != len(seen):
        twice = sorted({iso(d) for d in seen if seen.count(d) > 1})  # type: ignore[arg-type]
        raise InvalidInput(f"{label}: two GeoTIFFs are named by the same date ({', '.join(twice)})")
    first = None
    for _, p in dated:
        source = _raster_sources(p, f"{label}/{p.name}", override)[0]
        with raster_env(), open_raster(p) as src:
            grid = (src.width, src.height, src.count, src.dtypes[0], tuple(src.transform)[:6], source.crs)
        if first is None:
            first, crs = grid, source.crs
        elif grid != first:
            raise InvalidInput(f"{label}: {p.name} differs from {dated[0][1].name} in size, bands, type, "
                               "grid or CRS; the GeoTIFFs of a time stack share them")
    stems = {name_without_date(p.stem) for _, p in dated}
    name = stems.pop() if len(stems) == 1 and "" not in stems else Path(label).stem
    steps = [Step(iso(d), str(p)) for d, p in dated]  # type: ignore[arg-type]
    return Source(name=name or "stack", kind="raster", path=dated[-1][1], label=label, crs=crs, steps=steps,
                  notes=[f"{len(steps)} GeoTIFFs named by date, from {steps[0].time} to {steps[-1].time}"])


# shared -------------------------------------------------------------------------------------------------


def parse_crs(value: str) -> CRS:
    check_crs_text(value, "crs")
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise InvalidInput(f"unknown coordinate reference system {value!r}") from exc


def _first_line(exc: BaseException, path: Path) -> str:
    """The first line of a library's message, without server paths."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    line = line.replace(str(path), path.name).split("; It might help")[0]
    return line[:200]


