"""Tiles: tile matrix sets (morecantile), Mapbox Vector Tiles from either store, raster tiles from COGs (rio-tiler).

>>> body = vector_tile(site, dataset, "WebMercatorQuad", 10, 385, 301)  # doctest: +SKIP
>>> png = raster_tile(site, dataset, "WebMercatorQuad", 12, 1540, 1205, "png")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import morecantile
import numpy as np
import shapely
from pyproj import CRS

from kartenn.domain import Dataset
from kartenn.domain.style import Style
from kartenn.errors import InvalidInput, NotFound
from kartenn.formats import mvt
from kartenn.services import boxes, render
from kartenn.services.tile_cache import TileCache
from kartenn.services.timedim import TimeFilter
from kartenn.site import Site
from kartenn.stores.query import columns_in_box, level_for_view

if TYPE_CHECKING:
    from rio_tiler.io import Reader
    from rio_tiler.models import ImageData

EXTENT = 4096  # MVT grid
BUFFER = 64  # pixels of the grid kept around a tile, so strokes do not stop at its edge
MAX_FEATURES = 200_000  # per tile, on the GeoPackage path
# Lambert-93 over metropolitan France (the CRS's area of use), 256 px tiles, 2:1 pyramid.
LAMBERT93 = morecantile.TileMatrixSet.custom(
    (-357823.2365, 6037008.6939, 1313632.3628, 7230727.3772), CRS.from_epsg(2154), id="FranceLambert93Quad",
    title="Lambert-93 (EPSG:2154) quadtree over metropolitan France", minzoom=0, maxzoom=18)
TILE_MATRIX_SETS = {"WebMercatorQuad": morecantile.tms.get("WebMercatorQuad"),
                    "WorldCRS84Quad": morecantile.tms.get("WorldCRS84Quad"),
                    LAMBERT93.id: LAMBERT93}
WORLD_SETS = {"WebMercatorQuad", "WorldCRS84Quad"}  # from -180° to 180°


def tile_matrix_set(tms_id: str) -> morecantile.TileMatrixSet:
    tms = TILE_MATRIX_SETS.get(tms_id)
    if tms is None:
        raise NotFound(f"no tile matrix set {tms_id!r}; known: {', '.join(TILE_MATRIX_SETS)}")
    return tms


def check_tile(tms: morecantile.TileMatrixSet, z: int, row: int, col: int) -> morecantile.Tile:
    if not tms.minzoom <= z <= tms.maxzoom:
        raise NotFound(f"zoom {z} is outside {tms.id} ({tms.minzoom}–{tms.maxzoom})")
    matrix = tms.matrix(z)
    if not (0 <= row < matrix.matrixHeight and 0 <= col < matrix.matrixWidth):
        raise NotFound(f"tile {z}/{row}/{col} is outside {tms.id}")
    return morecantile.Tile(col, row, z)


def etag(dataset: Dataset, style: Style | None, *parts: object) -> str:
    """Changes whenever the data or its style changes."""
    updated = dataset.updated.isoformat() if dataset.updated else ""
    text = "|".join(map(str, (dataset.id, dataset.storage, updated, style.digest() if style else "", *parts)))
    return '"' + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:24] + '"'



def _native(dataset: Dataset) -> str:
    return f"EPSG:{dataset.srid}" if dataset.srid else dataset.crs


def vector_tile(site: Site, dataset: Dataset, tms_id: str, z: int, row: int, col: int,
                time: TimeFilter | None = None) -> bytes:
    """An MVT tile with one layer named after the dataset; empty bytes when no feature touches it.

    With ``time``, only the features of that time (read and filtered here, on either store)."""
    if dataset.kind != "vector":
        raise InvalidInput(f"{dataset.id} is a raster: ask for a PNG or WebP tile")
    tms = tile_matrix_set(tms_id)
    tile = check_tile(tms, z, row, col)
    b = tms.xy_bounds(tile)
    bounds = (b.left, b.bottom, b.right, b.top)
    pad_x, pad_y = (b.right - b.left) * BUFFER / EXTENT, (b.top - b.bottom) * BUFFER / EXTENT
    padded = (b.left - pad_x, b.bottom - pad_y, b.right + pad_x, b.top + pad_y)
    tms_crs = tms.crs._pyproj_crs.to_string()
    # Kept within the matrix set (no buffer past ±180° or a pole), split where it crosses the antimeridian.
    parts = boxes.native_boxes(tms_crs, _native(dataset), padded, tuple(tms.xy_bbox))
    if not parts:
        return b""  # the tile lies where the dataset's CRS is undefined
    fields = [f.name for f in dataset.fields]
    tms_epsg = tms.crs._pyproj_crs.to_epsg() or (4326 if tms_id == "WorldCRS84Quad" else None)
    level = tile_level(site, dataset, parts[0])
    # A database projects whole geometries: one crossing the antimeridian in the dataset's CRS would span the world.
    crossing = tms_id in WORLD_SETS and _may_cross(_native(dataset))
    if tms_epsg and dataset.srid and time is None and not crossing:
        tile = site.features.vector_tile(dataset.storage, fields, dataset.id, tms_epsg, bounds, parts, EXTENT, BUFFER,
                                         level)
        if tile is not None:
            return tile
    return _mvt_from_rows(site, dataset, tms_id, tms_crs, bounds, parts, fields, time, level)


def tile_level(site: Site, dataset: Dataset, box: tuple[float, float, float, float]) -> int:
    """The generalised level of a tile covering ``box`` (native CRS, buffer included): one within a quarter of a
    grid unit, since the encoder simplifies again by half a unit; so within half a pixel of a grid twice as fine."""
    cells = 2 * (EXTENT + 2 * BUFFER)
    return level_for_view(site.features, dataset.storage, box, cells, cells)


def _mvt_from_rows(site: Site, dataset: Dataset, tms_id: str, tms_crs: str, bounds: tuple[float, float, float, float],
                   parts: list[tuple[float, float, float, float]], fields: list[str], time: TimeFilter | None = None,
                   level: int = 0) -> bytes:
    """The tile from the rows in the boxes ``parts``, encoded here (formats.mvt: shapely and numpy over the whole
    layer)."""
    fids, columns, wkb = columns_in_box(site.features, dataset.storage, fields, parts, MAX_FEATURES, level)
    if time is not None:
        keep = [i for i, v in enumerate(columns.get(time.field, [])) if time.contains(v)]
        fids, wkb = [fids[i] for i in keep], [wkb[i] for i in keep]
        columns = {name: [values[i] for i in keep] for name, values in columns.items()}
    if not fids:
        return b""
    geoms = shapely.from_wkb(wkb)
    to_tms = boxes.transformer(_native(dataset), tms_crs)
    if to_tms.source_crs != to_tms.target_crs:
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(to_tms.transform(xy[:, 0], xy[:, 1])))
        if tms_id in WORLD_SETS and _may_cross(_native(dataset)):  # what crosses the antimeridian: on both sides
            left, _, right, _ = tile_matrix_set(tms_id).xy_bbox
            geoms = boxes.both_sides(geoms, right - left)
    grid = mvt.on_grid(geoms, bounds, EXTENT, BUFFER)
    return mvt.encode_layer(dataset.id, grid, fids, columns, EXTENT)


@lru_cache(maxsize=256)
def _may_cross(native: str) -> bool:
    """Can the geometries of a dataset in ``native`` cross the antimeridian uncut: a projected CRS whose area of
    use reaches it (a Pacific one, the world's), other than Web Mercator?"""
    crs = CRS.from_user_input(native)
    if crs.is_geographic or crs.to_epsg() == 3857:
        return False
    area = crs.area_of_use
    return area is None or area.west > area.east or area.east >= 179.9 or area.west <= -179.9


def _colormap(style: Style) -> tuple[float, float, dict[int, tuple[int, int, int, int]]]:
    """(low, high, 256-entry colour map) of a ramp style, named or given as stops."""
    from rio_tiler.colormap import cmap

    if isinstance(style.ramp, str):
        try:
            return style.min, style.max, cmap.get(style.ramp.lower())
        except Exception:
            raise InvalidInput(f"unknown colour ramp {style.ramp!r}") from None
    stops = sorted(style.ramp, key=lambda s: s.value)
    low, high = stops[0].value, stops[-1].value
    span = (high - low) or 1.0
    where = np.array([(s.value - low) / span * 255 for s in stops])
    channels = [[int(s.color[1 + 2 * c:3 + 2 * c], 16) if c < 3 or len(s.color) == 9 else 255 for s in stops]
                for c in range(4)]
    levels = np.arange(256)
    if style.ramp_mode == "ramp":
        table = np.column_stack([np.interp(levels, where, ch) for ch in channels]).round().astype(int)
    else:  # intervals: a stop colours the levels below it, from the stop before; values: only the stops' own
        index = np.searchsorted(where, levels, side="right" if style.ramp_mode == "intervals" else "left")
        exact = np.isclose(where[np.minimum(index, len(stops) - 1)], levels, atol=0.5)
        drawn = index < len(stops) if style.ramp_mode == "intervals" else exact
        table = np.column_stack([np.array(ch)[np.minimum(index, len(stops) - 1)] for ch in channels])
        table[~drawn] = 0
    return low, high, {i: tuple(int(v) for v in table[i]) for i in range(256)}  # type: ignore[misc]


def raster_tile(site: Site, dataset: Dataset, style: Style, tms_id: str, z: int, row: int, col: int,
                fmt: str) -> bytes:
    """A PNG or WebP tile of a COG, coloured by its style (RGB, or a ramp over one band)."""
    from rio_tiler.errors import TileOutsideBounds
    from rio_tiler.io import Reader

    if dataset.kind != "raster":
        raise InvalidInput(f"{dataset.id} is a vector dataset: ask for an MVT tile")
    tms = tile_matrix_set(tms_id)
    tile = check_tile(tms, z, row, col)
    indexes = style.band if style.kind == "ramp" else tuple(style.bands[:3])
    with Reader(str(site.files.path(dataset.storage)), tms=tms) as cog:
        try:
            if not cog.tile_exists(tile.x, tile.y, tile.z):
                raise TileOutsideBounds(f"{tile} is outside bounds")
            img = _partial_tile(cog, tms, tile, indexes) or cog.tile(tile.x, tile.y, tile.z, indexes=indexes,
                                                                     tilesize=256)
        except TileOutsideBounds:
            raise NotFound(f"tile {z}/{row}/{col} is outside {dataset.id}") from None
    colormap = None
    if style.kind == "ramp":
        low, high, colormap = _colormap(style)
        img.rescale(in_range=((low, high),))
    return img.render(img_format={"webp": "WEBP", "jpeg": "JPEG"}.get(fmt, "PNG"), colormap=colormap)


def _partial_tile(cog: Reader, tms: morecantile.TileMatrixSet, tile: morecantile.Tile,
                  indexes: int | tuple[int, ...], size: int = 256) -> ImageData | None:
    """A tile much larger than the raster: only the part the raster covers is warped, then placed in the tile
    (warping a whole low-zoom tile mostly outside the raster's CRS takes GDAL minutes). None otherwise."""
    from rio_tiler.models import ImageData

    b = tms.xy_bounds(tile)
    left, bottom, right, top = cog.get_geographic_bounds(tms.rasterio_crs)
    res_x, res_y = (b.right - b.left) / size, (b.top - b.bottom) / size
    c0, c1 = (max(0, min(size, round((v - b.left) / res_x))) for v in (left, right))
    r0, r1 = (max(0, min(size, round((b.top - v) / res_y))) for v in (top, bottom))
    if (c1 - c0) * (r1 - r0) > size * size // 4:
        return None
    c1, r1 = max(c1, c0 + 1), max(r1, r0 + 1)
    box = (b.left + c0 * res_x, b.top - r1 * res_y, b.left + c1 * res_x, b.top - r0 * res_y)
    part = cog.part(box, dst_crs=tms.rasterio_crs, bounds_crs=tms.rasterio_crs, indexes=indexes,
                    width=c1 - c0, height=r1 - r0)
    array = np.ma.masked_all((part.count, size, size), dtype=part.array.dtype)
    array[:, r0:r1, c0:c1] = part.array
    return ImageData(array, crs=tms.rasterio_crs, bounds=(b.left, b.bottom, b.right, b.top),
                     band_names=part.band_names)


_CACHES: dict[str, TileCache] = {}


def cache_of(site: Site) -> TileCache:
    """The tile cache of this site's data directory (one per process)."""
    key = str(site.settings.data_dir)
    found = _CACHES.get(key)
    if found is None:
        found = _CACHES[key] = TileCache.of(site.settings)
    return found


def tms_crs_code(tms: morecantile.TileMatrixSet) -> str:
    """The tile matrix set's CRS as a WMS-style code Mapnik renders in: EPSG:3857, CRS:84, EPSG:2154."""
    epsg = tms.crs._pyproj_crs.to_epsg()
    if epsg is None:
        return "CRS:84"
    return f"EPSG:{epsg}"


def map_tile(site: Site, dataset: Dataset, style: Style, tms_id: str, z: int, row: int, col: int, fmt: str,
             *, time: TimeFilter | None = None) -> bytes:
    """An image tile: Mapnik draws a vector dataset with its style, rio-tiler colours a raster."""
    tms = tile_matrix_set(tms_id)
    tile = check_tile(tms, z, row, col)
    if dataset.kind == "raster":
        try:
            return raster_tile(site, dataset, style, tms_id, z, row, col, fmt)
        except NotFound:
            return render.blank_image(256, 256, fmt)
    b = tms.xy_bounds(tile)
    matrix = tms.matrix(z)
    return render.render_map(site, [render.MapLayer(dataset, style, time)], tms_crs_code(tms),
                             (b.left, b.bottom, b.right, b.top), matrix.tileWidth, matrix.tileHeight, fmt)


def cached(site: Site, datasets: list[Dataset], tms_id: str, z: int, row: int, col: int, fmt: str,
           extra: tuple[object, ...], make: Callable[[], bytes]) -> tuple[bytes, bool]:
    """(tile, from the cache?): ``make()`` runs only when the cache has no tile for exactly this data and style."""
    cache = cache_of(site)
    return cache.fetch(cache.key(datasets, tms_id, z, row, col, fmt, *extra), make)
