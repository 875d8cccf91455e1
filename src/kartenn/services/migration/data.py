"""A GeoServer layer's data as a source Kartenn publishes: Shapefiles (one, or a directory of them) read with the
store's ``charset``, GeoPackage tables, GeoTIFF coverages, and PostGIS tables copied when the database answers.

>>> source = layer_source(layer, Path("geoserver/data"), workdir)   # doctest: +SKIP
>>> source.name, source.kind                                          # doctest: +SKIP
('departements', 'vector')
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from pyproj import CRS

from kartenn.errors import MissingCRS
from kartenn.services.migration.geoserver import Layer, resolve_path
from kartenn.services.readers import Source, discover
from kartenn.stores import external_tables

SHAPEFILES = {"Shapefile", "Directory of spatial files (shapefiles)"}
GEOPACKAGE = {"GeoPackage"}
DATABASE = {"PostGIS"}  # a table copied through psycopg
RASTERS = {"GeoTIFF"}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".qix")


class NotMigrated(Exception):
    """A layer whose data cannot come across; the message says why, for the report."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def code_page(charset: str) -> str:
    """The .cpg content GDAL understands for a Java charset name.

    >>> code_page("windows-1252"), code_page("ISO-8859-1"), code_page("utf8"), code_page("ISO-8859-15")
    ('1252', '88591', 'UTF-8', '885915')
    """
    name = charset.strip().upper().replace("_", "-")
    if name in ("UTF-8", "UTF8"):
        return "UTF-8"
    if name.startswith(("WINDOWS-", "CP")) and name.split("-")[-1].removeprefix("CP").isdigit():
        return name.split("-")[-1].removeprefix("CP")
    if name.startswith(("ISO-8859-", "ISO8859-", "8859-")):
        return "8859" + name.rsplit("-", 1)[-1]
    if name in ("LATIN1", "LATIN-1", "ISO-LATIN-1"):
        return "88591"
    return charset.strip()


def data_files(layer: Layer, root: Path) -> list[Path]:
    """The files a layer reads (for its fingerprint); NotMigrated for stores whose data cannot come across."""
    store = layer.store
    if store.type in SHAPEFILES:
        return _shapefile_parts(_shapefile(layer, root))
    if store.type in GEOPACKAGE:
        return [_existing(resolve_path(root, store.params.get("database", "")), layer)]
    if store.type in RASTERS:
        return [_existing(resolve_path(root, store.url or ""), layer)]
    if store.type in DATABASE:
        _conninfo(layer)  # an unreachable database is said before anything is planned
        return []
    raise NotMigrated(f"store {store.qualified} is of type {store.type!r}, which is not migrated")


def fingerprint(layer: Layer, root: Path) -> str:
    """SHA-256 of the layer's resource and store documents and of its data files."""
    digest = hashlib.sha256(layer.resource_xml + layer.store.xml)
    if layer.store.type in DATABASE:
        schema = layer.store.params.get("schema") or "public"
        digest.update(external_tables.checksum(_conninfo(layer), schema, layer.native_name).encode())
    for path in data_files(layer, root):
        digest.update(path.name.encode())
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def layer_source(layer: Layer, root: Path, workdir: Path) -> Source:
    """The layer's data, ready for publish_source; NotMigrated (or a KartennError of the reader) otherwise."""
    store = layer.store
    label = f"GeoServer {layer.qualified}"
    if store.type in DATABASE:
        return _table_source(layer, label)
    if store.type in SHAPEFILES:
        path = _stage_shapefile(layer, _shapefile(layer, root), workdir)
    else:
        path = data_files(layer, root)[0]
    forced = layer.srs if layer.srs and layer.projection_policy == "FORCE_DECLARED" else None
    try:
        sources = discover(path, workdir=workdir, label=label, crs=forced)
    except MissingCRS:
        if not layer.srs:
            raise
        sources = discover(path, workdir=workdir, label=label, crs=layer.srs)  # the CRS GeoServer declares
    if store.type in GEOPACKAGE:
        sources = [s for s in sources if s.layer == layer.native_name]
        if not sources:
            raise NotMigrated(f"{store.params.get('database')} has no table {layer.native_name!r}")
    return sources[0]


def _existing(path: Path, layer: Layer) -> Path:
    if not path.is_file():
        raise NotMigrated(f"its data file {path} (store {layer.store.qualified}) is missing")
    return path


def _shapefile(layer: Layer, root: Path) -> Path:
    url = resolve_path(root, layer.store.params.get("url", ""))
    if url.suffix.lower() == ".shp":
        return _existing(url, layer)
    found = [p for p in (url.iterdir() if url.is_dir() else []) if p.suffix.lower() == ".shp"
             and p.stem.lower() == layer.native_name.lower()]
    if not found:
        raise NotMigrated(f"its data file {url / (layer.native_name + '.shp')} (store {layer.store.qualified}) "
                          "is missing")
    return found[0]


def _shapefile_parts(shp: Path) -> list[Path]:
    return sorted(p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix.lower() in
                  (*SHAPEFILE_PARTS, ".cpg"))


def _stage_shapefile(layer: Layer, shp: Path, workdir: Path) -> Path:
    """A copy of the Shapefile's parts whose .cpg says the store's charset (GeoServer decodes the DBF with it,
    whatever the .cpg says); without a charset the reader's own detection decides."""
    folder = workdir / "shapefile"
    folder.mkdir(parents=True, exist_ok=True)
    charset = layer.store.params.get("charset", "").strip()
    for part in _shapefile_parts(shp):
        if part.suffix.lower() == ".cpg" and charset:
            continue
        shutil.copyfile(part, folder / f"{layer.native_name}{part.suffix.lower()}")
    if charset:
        (folder / f"{layer.native_name}.cpg").write_text(code_page(charset), encoding="ascii")
    return folder / f"{layer.native_name}.shp"


def _conninfo(layer: Layer) -> dict[str, str | None]:
    """How to connect to the store's database; NotMigrated when it does not answer."""
    p = layer.store.params
    host, port, database = p.get("host", "localhost"), p.get("port", "5432"), p.get("database", "")
    conninfo = {"host": host, "port": port, "dbname": database, "user": p.get("user") or None,
                "password": p.get("passwd") or None}
    problem = external_tables.reachable(conninfo)
    if problem is not None:
        raise NotMigrated(f"cannot reach PostGIS {host}:{port}/{database} (store {layer.store.qualified}): {problem}")
    return conninfo


def _table_source(layer: Layer, label: str) -> Source:
    conninfo = _conninfo(layer)
    database = str(conninfo["dbname"])
    schema = layer.store.params.get("schema") or "public"
    info = external_tables.table_info(conninfo, schema, layer.native_name)
    return Source(name=layer.native_name, kind="vector", path=Path(database), label=label,
                  crs=CRS.from_epsg(info.srid) if info.srid > 0 else CRS.from_user_input(layer.srs or "EPSG:4326"),
                  layer=f"{schema}.{layer.native_name}", geometry_type=info.geometry_type,
                  count_hint=info.count or None,
                  read=lambda size: external_tables.read_batches(conninfo, schema, layer.native_name, info, size))
