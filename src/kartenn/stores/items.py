"""Features for OGC API Features and WFS, from either store: filtered, sorted, paged, reprojected.

Only bound parameters reach SQL; column names come from the dataset's own field list. Coordinates, in
and out, follow the axis order their CRS defines (EPSG:4326 and EPSG:3035 are north first, CRS84 and
EPSG:2154 east first), as OGC API Features Part 2 and WFS 2.0 want; ``xy=True`` makes them all east first.

>>> page = query_items(site.features, dataset, ItemQuery(bbox=(-5, 47, -1, 49), limit=10))  # doctest: +SKIP
>>> page.matched, len(page.rows)                                                           # doctest: +SKIP
(1, 1)
>>> for rows in iter_items(site.features, dataset, ItemQuery(limit=None)): ...              # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from kartenn.domain import Dataset
from kartenn.errors import InvalidInput
from kartenn.stores.base import GEOMETRY_COLUMN, FeatureStore
from kartenn.stores.dialect import POSTGRESQL, SQLITE, Dialect
from kartenn.stores.filters import FeatureFields, spatial_literals, to_condition
from kartenn.stores.geopackage import LAYER, GeoPackageStore
from kartenn.stores.postgis import FID, SCHEMA, PostGISStore
from kartenn.stores.refusals import refused_filters

Box = tuple[float, float, float, float]
ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
CRS84 = CRS.from_user_input("OGC:CRS84")
CHUNK = 2000
# A spatial predicate with the literal first, so a prepared literal does the work.
LITERAL_FIRST = {"intersects": "intersects", "disjoint": "disjoint", "contains": "within", "within": "contains",
                 "touches": "touches", "crosses": "crosses", "overlaps": "overlaps", "equals": "equals"}


@dataclass
class ItemQuery:
    bbox: Box | None = None  # min, min, max, max in bbox_crs's axis order
    bbox_crs: CRS | None = None  # None: CRS84
    equals: dict[str, Any] = field(default_factory=dict)  # field name → value of the field's type
    filter: Any = None  # a pygeofilter AST (CQL2, FES)
    filter_crs: CRS | None = None  # of the filter's geometries; None: CRS84
    fid: int | None = None
    fids: list[int] | None = None
    sortby: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    properties: list[str] | None = None  # None: every field
    skip_geometry: bool = False
    crs: CRS | None = None  # of the output; None: CRS84
    xy: bool = False  # east/north order for every CRS (older WFS clients, GeoJSON files)
    offset: int = 0
    limit: int | None = 10  # None: no limit (streams)
    after: int | None = None  # keyset paging: features whose fid is above (only when not sorted)
    count: bool = True
    geojson: bool = False  # rows may carry "geometry_json" (GeoJSON text written by the database) instead


@dataclass
class Page:
    matched: int | None
    rows: list[dict[str, Any]]  # fid, properties, geometry (shapely, in the query's CRS)


def query_items(store: FeatureStore, dataset: Dataset, query: ItemQuery) -> Page:
    """One page and how many features match in all."""
    plan = _plan(store, dataset, query)
    return plan.page()


def iter_items(store: FeatureStore, dataset: Dataset, query: ItemQuery, chunk: int = CHUNK) -> Iterator[list[dict]]:
    """Every matching feature, a list of rows at a time, with bounded memory (a server-side cursor)."""
    plan = _plan(store, dataset, query)
    yield from plan.stream(chunk)


def count_items(store: FeatureStore, dataset: Dataset, query: ItemQuery) -> int:
    plan = _plan(store, dataset, query)
    return plan.count()


def _plan(store: FeatureStore, dataset: Dataset, query: ItemQuery) -> _Plan:
    known = {f.name for f in dataset.fields}
    for name in [*(query.properties or []), *(s for s, _ in query.sortby), *query.equals]:
        if name not in known:
            raise KeyError(name)  # the web layers check names first; this guards the SQL
    if isinstance(store, PostGISStore):
        return _PostGISPlan(store, dataset, query)
    if isinstance(store, GeoPackageStore):
        return _GeoPackagePlan(store, dataset, query)
    raise TypeError(f"unknown feature store {type(store).__name__}")


class _Plan:
    dialect: Dialect

    def __init__(self, store: Any, ds: Dataset, q: ItemQuery) -> None:
        self.store, self.ds, self.q = store, ds, q
        self.native = CRS.from_user_input(ds.crs)
        self.fields = [f.name for f in ds.fields if q.properties is None or f.name in q.properties]
        self.where: list[str] = []
        self.params: list[Any] = []
        self.filtered = False
        self.swap_output = _north_first(q.crs or CRS84) and not q.xy and not q.skip_geometry
        self._build()

    # shared ------------------------------------------------------------------------------------------

    def _build(self) -> None:
        q = self.q
        if q.bbox is not None:
            box = q.bbox
            if _north_first(q.bbox_crs or CRS84) and not q.xy:
                box = (box[1], box[0], box[3], box[2])
            area = _to_crs(shapely.box(*box), q.bbox_crs or CRS84, self.native)
            self.add_spatial("intersects", area, native=True)
        for name, value in q.equals.items():
            self.add(f"{self.column(name)} = {self.dialect.mark}", [value])
        if q.fid is not None:
            self.add(f"{self.fid_column} = {self.dialect.mark}", [q.fid])
        if q.fids is not None:
            marks = ", ".join([self.dialect.mark] * len(q.fids)) or "NULL"
            self.add(f"{self.fid_column} IN ({marks})", list(q.fids))
        if q.filter is not None:
            for literal, crs_name in spatial_literals(q.filter):
                self.add_index_box(self.literal(literal, crs_name).bounds)
            types = {f.name: f.type for f in self.ds.fields}
            columns = {name: self.sql_column(name) for name in types}
            condition = to_condition(q.filter, FeatureFields(types, columns, self.dialect, self.spatial_test))
            self.add(*self.dialect.compile(condition))

    def literal(self, geometry: Any, crs_name: str | None = None) -> Any:
        """A filter's geometry to the native CRS: from the CRS it names (east/north, as GML parsers give it),
        or from the filter CRS in that CRS's axis order."""
        if crs_name:
            try:
                source = _named_crs(crs_name)
            except CRSError:
                raise InvalidInput(f"unknown CRS {crs_name!r} in the filter", locator="filter") from None
        else:
            source = self.q.filter_crs or CRS84
            if _north_first(source) and not self.q.xy:
                geometry = shapely.transform(geometry, lambda xy: xy[:, ::-1])
        native = _to_crs(geometry, source, self.native)
        if not np.isfinite(shapely.get_coordinates(native)).all():
            raise InvalidInput("a geometry of the filter lies outside the area of the data's CRS", locator="filter")
        return native

    def add(self, condition: str, params: list[Any]) -> None:
        self.where.append(condition)
        self.params += params
        self.filtered = True

    def column(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def condition(self) -> str:
        return " AND ".join(self.where) or "1 = 1"

    def order(self) -> str:
        keys = [f"{self.column(n)} {'DESC' if desc else 'ASC'}" for n, desc in self.q.sortby]
        return ", ".join([*keys, self.fid_column])

    def paging(self) -> tuple[str, list[Any], str, list[Any]]:
        """Extra condition (keyset) and LIMIT/OFFSET with their parameters."""
        q, mark = self.q, self.dialect.mark
        keyset, keyset_params, offset = "", [], q.offset
        if q.after is not None and not q.sortby:
            keyset, keyset_params, offset = f" AND {self.fid_column} > {mark}", [q.after], 0
        limit = f" LIMIT {mark} OFFSET {mark}" if q.limit is not None else (f" OFFSET {mark}" if offset else "")
        limit_params = [q.limit, offset] if q.limit is not None else ([offset] if offset else [])
        if q.limit is None and offset and isinstance(self, _GeoPackagePlan):
            limit, limit_params = f" LIMIT -1 OFFSET {mark}", [offset]
        return keyset, keyset_params, limit, limit_params

    def page(self) -> Page:
        matched = self.count() if self.q.count else None
        rows: list[dict] = []
        for chunk in self.stream(CHUNK):
            rows += chunk
        return Page(matched, rows)

    def count(self) -> int:
        if not self.filtered and self.ds.count is not None:
            return self.ds.count  # known since publishing: no scan
        return self.run_count()

    def output_transformer(self) -> Transformer | None:
        target = self.q.crs or CRS84
        if self.q.skip_geometry or _same(target, self.native):
            return None
        return Transformer.from_crs(self.native, target, always_xy=True)

    def row(self, fid: int, wkb: bytes | None, values: tuple, transformer: Transformer | None) -> dict[str, Any]:
        geom = None
        if wkb and not self.q.skip_geometry:
            geom = shapely.from_wkb(wkb)
            if transformer is not None:
                geom = shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
            if self.swap_output:
                geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        props = {name: _json_value(v) for name, v in zip(self.fields, values, strict=True)}
        return {"fid": fid, "properties": props, "geometry": geom}

    def json_row(self, fid: int, geometry_json: str | None, values: tuple) -> dict[str, Any]:
        props = {name: _json_value(v) for name, v in zip(self.fields, values, strict=True)}
        return {"fid": fid, "properties": props, "geometry": None, "geometry_json": geometry_json}

    # per store ---------------------------------------------------------------------------------------

    fid_column = "fid"

    def sql_column(self, name: str) -> Any:
        """A field's column, for conditions written with SQLAlchemy."""
        raise NotImplementedError

    def spatial_test(self, op: str, geometry: Any, crs_name: str | None) -> Any:
        """A spatial predicate between the features' geometry and one of the filter's geometries."""
        raise NotImplementedError

    def add_spatial(self, op: str, geometry: Any, native: bool) -> None:
        raise NotImplementedError

    def add_index_box(self, bounds: Box) -> None:
        """An index-only prefilter; the exact test is in the filter itself."""

    def run_count(self) -> int:
        raise NotImplementedError

    def stream(self, chunk: int) -> Iterator[list[dict]]:
        raise NotImplementedError


# PostGIS --------------------------------------------------------------------------------------------------


class _PostGISPlan(_Plan):
    dialect = POSTGRESQL
    fid_column = f'"{FID}"'

    def sql_column(self, name: str) -> Any:
        return sa.column(name)

    def spatial_test(self, op: str, geometry: Any, crs_name: str | None) -> Any:
        native = self.literal(geometry, crs_name)
        literal = sa.func.ST_GeomFromWKB(sa.literal(shapely.to_wkb(native)), sa.literal(self.ds.srid or 0))
        return getattr(sa.func, f"ST_{op.capitalize()}")(sa.column(GEOMETRY_COLUMN), literal)

    def add_spatial(self, op: str, geometry: Any, native: bool) -> None:
        wkb = shapely.to_wkb(geometry)
        srid = self.ds.srid or 0
        self.add(f'"{GEOMETRY_COLUMN}" && ST_GeomFromWKB(%s, %s) AND '
                 f'ST_{op.capitalize()}("{GEOMETRY_COLUMN}", ST_GeomFromWKB(%s, %s))', [wkb, srid, wkb, srid])

    def table(self) -> str:
        return f"{super().column(SCHEMA)}.{super().column(self.ds.storage)}"

    def run_count(self) -> int:
        text = f"SELECT count(*) FROM {self.table()} WHERE {self.condition()}"
        with self.store.engine.connect() as conn:
            with conn.connection.driver_connection.cursor() as cur, refused_filters():
                return cur.execute(text.encode(), self.params).fetchone()[0]

    def stream(self, chunk: int) -> Iterator[list[dict]]:
        keyset, keyset_params, limit, limit_params = self.paging()
        target = self.q.crs or CRS84
        geom = f'"{GEOMETRY_COLUMN}"'
        transformer = None
        epsg = 4326 if target == CRS84 else _epsg(target)
        in_sql = _same(target, self.native) or bool(epsg and self.ds.srid)
        expr = geom if _same(target, self.native) else f"ST_Transform({geom}, {int(epsg or 0)})"
        as_json = self.q.geojson and in_sql and not self.q.skip_geometry
        if self.q.skip_geometry:
            wkb = "NULL"
        elif as_json:
            # PostGIS writes the GeoJSON: no WKB parsing nor serialising in Python for a page.
            wkb = f"ST_AsGeoJSON({'ST_FlipCoordinates(' + expr + ')' if self.swap_output else expr}, 9)"
        elif in_sql:
            wkb = f"ST_AsBinary({expr})"
        else:
            wkb, transformer = f"ST_AsBinary({geom})", self.output_transformer()
        columns = "".join(f", {self.column(n)}" for n in self.fields)
        text = (f"SELECT {self.fid_column}, {wkb}{columns} FROM {self.table()} "
                f"WHERE {self.condition()}{keyset} ORDER BY {self.order()}{limit}")
        params = [*self.params, *keyset_params, *limit_params]
        # A named cursor streams from the server; a page is one round trip with a plain one.
        streaming = self.q.limit is None or self.q.limit > chunk
        with self.store.engine.connect() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor(name="kartenn_items") if streaming else raw.cursor() as cur:
                with refused_filters():
                    cur.execute(text.encode(), params)
                while rows := cur.fetchmany(chunk):
                    if as_json:
                        yield [self.json_row(r[0], r[1], r[2:]) for r in rows]
                    else:
                        yield [self.row(r[0], bytes(r[1]) if r[1] is not None else None, r[2:], transformer)
                               for r in rows]


# GeoPackage -------------------------------------------------------------------------------------------


class _GeoPackagePlan(_Plan):
    dialect = SQLITE

    def column(self, name: str) -> str:
        return "f." + super().column(name)

    fid_column = "f.fid"

    def sql_column(self, name: str) -> Any:
        return sa.table("f", sa.column(name)).c[name]

    def spatial_test(self, op: str, geometry: Any, crs_name: str | None) -> Any:
        native = self.literal(geometry, crs_name)
        column = sa.table("f", sa.column(GEOMETRY_COLUMN)).c[GEOMETRY_COLUMN]
        return getattr(sa.func, f"kartenn_{op}")(column, sa.literal(shapely.to_wkb(native)))

    def add_index_box(self, bounds: Box) -> None:
        xmin, ymin, xmax, ymax = bounds
        self.add(f"f.fid IN (SELECT id FROM rtree_{LAYER}_{GEOMETRY_COLUMN} "
                 "WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?)", [xmin, xmax, ymin, ymax])

    def add_spatial(self, op: str, geometry: Any, native: bool) -> None:
        self.add_index_box(geometry.bounds)
        exact = f"kartenn_{op}(f.{GEOMETRY_COLUMN}, ?)"
        if op == "intersects" and geometry.equals(shapely.box(*geometry.bounds)):
            # A feature whose envelope lies inside the box intersects it: only the features across the box's
            # edge need the exact test (for points, none do).
            xmin, ymin, xmax, ymax = geometry.bounds
            inside = (f"f.fid IN (SELECT id FROM rtree_{LAYER}_{GEOMETRY_COLUMN} "
                      "WHERE minx >= ? AND maxx <= ? AND miny >= ? AND maxy <= ?)")
            self.add(f"({inside} OR {exact})", [xmin, xmax, ymin, ymax, shapely.to_wkb(geometry)])
        else:
            self.add(exact, [shapely.to_wkb(geometry)])

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.store.path(self.ds.storage)}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA case_sensitive_like = ON")  # CQL2 LIKE is case-sensitive, as in PostgreSQL
        for op in LITERAL_FIRST:
            conn.create_function(f"kartenn_{op}", 2, _sqlite_predicate(op), deterministic=True)
        return conn

    def run_count(self) -> int:
        conn = self.connect()
        try:
            with refused_filters():
                return conn.execute(f"SELECT count(*) FROM {LAYER} f WHERE {self.condition()}",
                                    self.params).fetchone()[0]
        finally:
            conn.close()

    def stream(self, chunk: int) -> Iterator[list[dict]]:
        keyset, keyset_params, limit, limit_params = self.paging()
        geom = "NULL" if self.q.skip_geometry else f"f.{GEOMETRY_COLUMN}"
        columns = "".join(f", {self.column(n)}" for n in self.fields)
        text = (f"SELECT f.fid, {geom}{columns} FROM {LAYER} f WHERE {self.condition()}{keyset} "
                f"ORDER BY {self.order()}{limit}")
        transformer = self.output_transformer()
        conn = self.connect()
        try:
            with refused_filters():
                cursor = conn.execute(text, [*self.params, *keyset_params, *limit_params])
            while rows := cursor.fetchmany(chunk):
                yield [self.row(r[0], _gpkg_wkb(r[1]), r[2:], transformer) for r in rows]
        finally:
            conn.close()


def _sqlite_predicate(op: str) -> Any:
    predicate = getattr(shapely, LITERAL_FIRST[op])

    def test(blob: bytes | None, literal: bytes) -> int | None:
        if blob is None:
            return None
        return int(predicate(_prepared(literal), shapely.from_wkb(_gpkg_wkb(blob))))
    return test


@lru_cache(maxsize=64)
def _prepared(wkb: bytes) -> Any:
    geometry = shapely.from_wkb(wkb)
    shapely.prepare(geometry)
    return geometry


def _gpkg_wkb(blob: bytes | None) -> bytes | None:
    """The WKB inside a GeoPackage geometry blob (header: 'GP', version, flags, srs id, envelope)."""
    if blob is None:
        return None
    flags = blob[3]
    return bytes(blob[8 + ENVELOPE_BYTES[(flags >> 1) & 0b111]:])


def _to_crs(geometry: Any, source: CRS, target: CRS) -> Any:
    """A geometry from one CRS to another (x/y order), densified so straight edges follow the projection."""
    if _same(source, target):
        return geometry
    t = _transformer(source.to_wkt(), target.to_wkt())
    dense = shapely.segmentize(geometry, _segment_length(geometry)) if geometry.geom_type != "Point" else geometry
    return shapely.transform(dense, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def _segment_length(geometry: Any) -> float:
    xmin, ymin, xmax, ymax = geometry.bounds
    return max(xmax - xmin, ymax - ymin, 1e-9) / 20


def _same(a: CRS, b: CRS) -> bool:
    """Same coordinates (x/y order): EPSG:4326 and CRS84 need no transformation."""
    return a is b or a.equals(b, ignore_axis_order=True)


@lru_cache(maxsize=64)
def _named_crs(name: str) -> CRS:
    if name.upper().endswith("CRS84"):
        return CRS84
    return CRS.from_user_input(name)


@lru_cache(maxsize=64)
def _north_first(crs: CRS) -> bool:
    axes = crs.axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


@lru_cache(maxsize=64)
def _epsg(crs: CRS) -> int | None:
    return crs.to_epsg()


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(source), CRS.from_wkt(target), always_xy=True)


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
