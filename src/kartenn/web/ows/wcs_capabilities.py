"""WCS 2.0.1 documents: the capabilities and the description of coverages (GML 3.2 and GMLCOV).

A raster time stack is described as GeoServer describes one: a two-dimensional grid bounded by an
``EnvelopeWithTimePeriod``, its times listed in a ``wcsgs:TimeDomain`` (which GDAL's WCS driver reads), and a
``time`` subset picks one (the latest by default).
"""

from __future__ import annotations

from lxml import etree

from kartenn.domain import Dataset
from kartenn.services import coverages, stacks
from kartenn.site import Site

WCS = "http://www.opengis.net/wcs/2.0"
OWS = "http://www.opengis.net/ows/2.0"
GML = "http://www.opengis.net/gml/3.2"
GMLCOV = "http://www.opengis.net/gmlcov/1.0"
SWE = "http://www.opengis.net/swe/2.0"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WCSGS = "http://www.geoserver.org/wcsgs/2.0"
CRS_EXT = "http://www.opengis.net/wcs/crs/1.0"
NSMAP = {"wcs": WCS, "ows": OWS, "gml": GML, "gmlcov": GMLCOV, "swe": SWE, "xlink": XLINK, "xsi": XSI}

PROFILES = [
    "http://www.opengis.net/spec/WCS/2.0/conf/core",
    "http://www.opengis.net/spec/WCS_protocol-binding_get-kvp/1.0/conf/get-kvp",
    "http://www.opengis.net/spec/GMLCOV/1.0/conf/gml-coverage",
    "http://www.opengis.net/spec/GMLCOV_geotiff-coverages/1.0/conf/geotiff-coverage",
    "http://www.opengis.net/spec/WCS_service-extension_crs/1.0/conf/crs",
    "http://www.opengis.net/spec/WCS_service-extension_scaling/1.0/conf/scaling",
]
OUTPUT_CRS = [4326, 3857, 2154, 4258, 3035]


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", **attrs)
    if text is not None:
        el.text = text
    return el


def served(datasets: list[Dataset]) -> list[Dataset]:
    """The rasters WCS offers: those whose CRS has an EPSG code (a coverage names its CRS by URI)."""
    return [d for d in datasets if d.kind == "raster" and d.srid and d.extent]


def capabilities(site: Site, online: str) -> bytes:
    root = etree.Element(f"{{{WCS}}}Capabilities", nsmap=NSMAP, version="2.0.1")
    root.set(f"{{{XSI}}}schemaLocation", f"{WCS} http://schemas.opengis.net/wcs/2.0/wcsAll.xsd")
    ident = _el(root, OWS, "ServiceIdentification")
    _el(ident, OWS, "Title", site.settings.title)
    _el(ident, OWS, "Abstract", f"Coverages of the rasters published on {site.settings.title}")
    _el(ident, OWS, "ServiceType", "OGC WCS", codeSpace="OGC")
    _el(ident, OWS, "ServiceTypeVersion", "2.0.1")
    for profile in PROFILES:
        _el(ident, OWS, "Profile", profile)
    _el(ident, OWS, "Fees", "none")
    _el(ident, OWS, "AccessConstraints", "none")
    provider = _el(root, OWS, "ServiceProvider")
    _el(provider, OWS, "ProviderName", site.settings.title)
    _el(provider, OWS, "ServiceContact")
    meta = _el(root, OWS, "OperationsMetadata")
    for name in ("GetCapabilities", "DescribeCoverage", "GetCoverage"):
        op = _el(meta, OWS, "Operation", name=name)
        http = _el(_el(op, OWS, "DCP"), OWS, "HTTP")
        _el(http, OWS, "Get", **{f"{{{XLINK}}}href": f"{online}?"})
    service = _el(root, WCS, "ServiceMetadata")
    for media in coverages.FORMATS:
        _el(service, WCS, "formatSupported", media)
    crs_meta = etree.SubElement(_el(service, WCS, "Extension"), f"{{{CRS_EXT}}}CrsMetadata", nsmap={"crs": CRS_EXT})
    for code in OUTPUT_CRS:
        _el(crs_meta, CRS_EXT, "crsSupported", f"{coverages.EPSG_URI}{code}")
    contents = _el(root, WCS, "Contents")
    for ds in served(site.catalog.list_datasets()):
        summary = _el(contents, WCS, "CoverageSummary")
        _el(summary, OWS, "Title", ds.title)
        if ds.extent_wgs84:
            box = _el(summary, OWS, "WGS84BoundingBox")
            _el(box, OWS, "LowerCorner", f"{_n(ds.extent_wgs84[0])} {_n(ds.extent_wgs84[1])}")
            _el(box, OWS, "UpperCorner", f"{_n(ds.extent_wgs84[2])} {_n(ds.extent_wgs84[3])}")
        _el(summary, WCS, "CoverageId", ds.id)
        _el(summary, WCS, "CoverageSubtype", "RectifiedGridCoverage")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def describe(datasets: list[Dataset]) -> bytes:
    root = etree.Element(f"{{{WCS}}}CoverageDescriptions", nsmap={**NSMAP, "wcsgs": WCSGS})
    root.set(f"{{{XSI}}}schemaLocation", f"{WCS} http://schemas.opengis.net/wcs/2.0/wcsAll.xsd")
    for ds in datasets:
        _description(root, ds)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _description(root: etree._Element, ds: Dataset) -> None:
    gid = "".join(c if c.isalnum() or c in "-_." else "_" for c in ds.id)
    axes = [a for a in coverages.axes(ds) if a.role != "time"]
    north_first = axes[0].role == "y"
    uri = coverages.crs_uri(ds)
    minx, miny, maxx, maxy = ds.extent  # type: ignore[misc]
    width, height = ds.raster["width"], ds.raster["height"]
    resx, resy = (maxx - minx) / width, (maxy - miny) / height

    def pair(x: float, y: float) -> str:
        return f"{_n(y)} {_n(x)}" if north_first else f"{_n(x)} {_n(y)}"

    cov = _el(root, WCS, "CoverageDescription", **{f"{{{GML}}}id": gid})
    times = stacks.times(ds)
    bounded = _el(cov, GML, "boundedBy")
    env = _el(bounded, GML, "EnvelopeWithTimePeriod" if times else "Envelope", srsName=uri,
              axisLabels=" ".join(a.label for a in axes), uomLabels=" ".join(a.uom for a in axes),
              srsDimension="2")
    _el(env, GML, "lowerCorner", pair(minx, miny))
    _el(env, GML, "upperCorner", pair(maxx, maxy))
    if times:
        _el(env, GML, "beginPosition", times[0])
        _el(env, GML, "endPosition", times[-1])
    _el(cov, WCS, "CoverageId", ds.id)
    if times:
        ext = _el(_el(cov, GMLCOV, "metadata"), GMLCOV, "Extension")
        domain = _el(ext, WCSGS, "TimeDomain", default=times[-1])
        for k, when in enumerate(times):
            instant = _el(domain, GML, "TimeInstant", **{f"{{{GML}}}id": f"{gid}_td_{k}"})
            _el(instant, GML, "timePosition", when)
    domain_set = _el(cov, GML, "domainSet")
    grid = _el(domain_set, GML, "RectifiedGrid", dimension="2", **{f"{{{GML}}}id": f"grid_{gid}"})
    envelope = _el(_el(grid, GML, "limits"), GML, "GridEnvelope")
    _el(envelope, GML, "low", "0 0")
    _el(envelope, GML, "high", f"{width - 1} {height - 1}")
    _el(grid, GML, "axisLabels", "i j")
    point = _el(_el(grid, GML, "origin"), GML, "Point", srsName=uri, **{f"{{{GML}}}id": f"origin_{gid}"})
    _el(point, GML, "pos", pair(minx + resx / 2, maxy - resy / 2))
    _el(grid, GML, "offsetVector", pair(resx, 0), srsName=uri)  # i: along a row, eastwards
    _el(grid, GML, "offsetVector", pair(0, -resy), srsName=uri)  # j: down a column, southwards
    record = _el(_el(cov, GMLCOV, "rangeType"), SWE, "DataRecord")
    nodata = ds.raster.get("nodata")
    for band in range(1, int(ds.raster.get("bands", 1)) + 1):
        quantity = _el(_el(record, SWE, "field", name=f"band_{band}"), SWE, "Quantity")
        _el(quantity, SWE, "description", ds.raster.get("long_name") or f"band {band} ({ds.raster.get('dtype', '')})")
        if nodata is not None:
            nil = _el(_el(quantity, SWE, "nilValues"), SWE, "NilValues")
            _el(nil, SWE, "nilValue", _n(float(nodata)), reason="http://www.opengis.net/def/nil/OGC/0/missing")
        _el(quantity, SWE, "uom", code=ds.raster.get("units") or "unity")
    params = _el(cov, WCS, "ServiceParameters")
    _el(params, WCS, "CoverageSubtype", "RectifiedGridCoverage")
    _el(params, WCS, "nativeFormat", coverages.GEOTIFF)


def _n(value: float) -> str:
    """A number as the shortest text that reads back as the same double (grid origins must not drift).

    >>> _n(-90.0), _n(300.037926675094809)
    ('-90', '300.0379266750948')
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
