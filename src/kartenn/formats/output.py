"""The feature output formats: one entry each for OGC API ``f=``, ``Accept`` negotiation, downloads, the
formats records announce, and WFS ``outputFormat``.

>>> by_name("flatgeobuf").name, by_media_type("text/html, application/geopackage+sqlite3;q=0.9").name
('fgb', 'gpkg')
>>> wfs_output("application/geo+json").name
'geojson'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputFormat:
    name: str  # the f= value
    media_type: str
    extension: str
    label: str  # for people, dct:format and gmd:distributionFormat
    driver: str | None  # the GDAL driver; None for the formats written directly
    aliases: tuple[str, ...] = ()  # other f= names
    media_aliases: tuple[str, ...] = ()  # other media types asked for in Accept
    ows_names: tuple[str, ...] = ()  # WFS outputFormat values (compared lower-case, without spaces)


FEATURE_FORMATS = (
    OutputFormat("geojson", "application/geo+json", "geojson", "GeoJSON", None, aliases=("json",),
                 ows_names=("application/json", "json", "application/geo+json", "geojson")),
    OutputFormat("csv", "text/csv; charset=utf-8", "csv", "CSV", None),
    OutputFormat("gpkg", "application/geopackage+sqlite3", "gpkg", "GeoPackage", "GPKG"),
    OutputFormat("shp", "application/zip", "zip", "ESRI Shapefile", "ESRI Shapefile", aliases=("shapefile",),
                 media_aliases=("application/x-shapefile",)),
    OutputFormat("fgb", "application/flatgeobuf", "fgb", "FlatGeobuf", "FlatGeobuf", aliases=("flatgeobuf",)),
)
DOWNLOADS = {f.name: f for f in FEATURE_FORMATS}
_NAMES = {n: f for f in FEATURE_FORMATS for n in (f.name, *f.aliases)}
_MEDIA = {m: f for f in FEATURE_FORMATS for m in (f.media_type.split(";")[0], *f.media_aliases)}
_OWS = {n: f for f in FEATURE_FORMATS for n in f.ows_names}


def by_name(name: str) -> OutputFormat | None:
    """The format an ``f=`` value names (``shapefile`` and ``shp`` alike)."""
    return _NAMES.get(name)


def by_media_type(accept: str) -> OutputFormat | None:
    """The first format an ``Accept`` header lists, in its order."""
    wanted = [part.split(";")[0].strip() for part in accept.split(",")]
    return next((_MEDIA[m] for m in wanted if m in _MEDIA), None)


def wfs_output(value: str) -> OutputFormat | None:
    """The format a WFS ``outputFormat`` names, if it is one of these (GML is WFS's own)."""
    return _OWS.get(value.lower().replace(" ", "").replace('"', ""))
