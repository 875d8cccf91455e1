"""WMS capabilities, 1.3.0 and 1.1.1: the service, its operations and formats, and each dataset as a layer with
its CRS, bounding boxes, time dimension and styles."""

from __future__ import annotations

import math
from typing import Any

from lxml import etree
from pyproj import Transformer

from kartenn.crs import swap
from kartenn.domain import Dataset
from kartenn.errors import KartennError
from kartenn.services import render, styles
from kartenn.services.timedim import time_extent
from kartenn.site import Site
from kartenn.web.ows.wms_errors import EXCEPTIONS_111, EXCEPTIONS_130
from kartenn.web.ows.wms_feature_info import INFO_FORMATS
from kartenn.web.ows.wms_map import IMAGE_FORMATS

WMS = "http://www.opengis.net/wms"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SLD = "http://www.opengis.net/sld"
CRS_LIST = ["EPSG:4326", "EPSG:3857", "EPSG:2154", "EPSG:4258", "EPSG:3035", "CRS:84"]


def capabilities(site: Site, version: str, online: str) -> bytes:
    datasets = site.catalog.list_datasets()
    v130 = version == "1.3.0"

    def q(tag: str) -> str:
        return f"{{{WMS}}}{tag}" if v130 else tag

    def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        el = etree.SubElement(parent, q(tag), **attrs)
        if text is not None:
            el.text = text
        return el

    def link(parent: etree._Element, href: str) -> None:
        etree.SubElement(parent, q("OnlineResource"), {f"{{{XLINK}}}type": "simple", f"{{{XLINK}}}href": href})

    if v130:
        root = etree.Element(q("WMS_Capabilities"), nsmap={None: WMS, "xlink": XLINK, "xsi": XSI, "sld": SLD},
                             version="1.3.0")
        root.set(f"{{{XSI}}}schemaLocation", f"{WMS} http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd")
    else:
        root = etree.Element("WMT_MS_Capabilities", nsmap={"xlink": XLINK}, version="1.1.1")
    service = sub(root, "Service")
    sub(service, "Name", "WMS" if v130 else "OGC:WMS")
    sub(service, "Title", site.settings.title)
    sub(service, "Abstract", f"Maps of the datasets published on {site.settings.title}")
    link(service, online)
    sub(service, "Fees", "none")
    sub(service, "AccessConstraints", "none")
    if v130:
        sub(service, "MaxWidth", str(site.settings.map_max_size))
        sub(service, "MaxHeight", str(site.settings.map_max_size))
    capability = sub(root, "Capability")
    request = sub(capability, "Request")
    operations = [("GetCapabilities", ["text/xml"] if v130 else ["application/vnd.ogc.wms_xml"]),
                  ("GetMap", list(IMAGE_FORMATS)), ("GetFeatureInfo", INFO_FORMATS)]
    for name, formats in operations:
        op = sub(request, name)
        for f in formats:
            sub(op, "Format", f)
        http = sub(sub(op, "DCPType"), "HTTP")
        link(sub(http, "Get"), online + "?")
    if v130:
        op = etree.SubElement(request, f"{{{SLD}}}GetStyles")
        sub(op, "Format", "application/vnd.ogc.sld+xml")
        link(sub(sub(sub(op, "DCPType"), "HTTP"), "Get"), online + "?")
        op = etree.SubElement(request, f"{{{SLD}}}GetLegendGraphic")
        for f in ("image/png", "image/jpeg", "image/webp"):
            sub(op, "Format", f)
        link(sub(sub(sub(op, "DCPType"), "HTTP"), "Get"), online + "?")
    exception = sub(capability, "Exception")
    for f in (EXCEPTIONS_130 if v130 else EXCEPTIONS_111):
        sub(exception, "Format", f)
    if not v130:  # SLD_BODY styles layers; remote SLD and user layers are not offered
        sub(capability, "UserDefinedSymbolization", SupportSLD="1", UserLayer="0", UserStyle="1", RemoteWFS="0")
    top = sub(capability, "Layer")
    sub(top, "Title", site.settings.title)
    for code in CRS_LIST:
        sub(top, "CRS" if v130 else "SRS", code)
    boxes = [d.extent_wgs84 for d in datasets if d.extent_wgs84]
    if boxes:
        union = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                 max(b[3] for b in boxes))
        _geographic_box(top, union, v130, q)
    try:
        all_styles = styles.styles_of_many(site, datasets)  # one query for every named style
    except KartennError:  # a style that does not parse: one by one, leaving that dataset's styles out
        all_styles = {}
        for ds in datasets:
            try:
                all_styles[ds.id] = styles.styles_of(site, ds)
            except KartennError:
                pass
    for ds in datasets:
        layer = sub(top, "Layer", queryable="1")
        sub(layer, "Name", ds.id)
        sub(layer, "Title", ds.title)
        codes = _layer_crs(ds)
        for code in codes:
            if code not in CRS_LIST:
                sub(layer, "CRS" if v130 else "SRS", code)
        if ds.extent_wgs84:
            _geographic_box(layer, ds.extent_wgs84, v130, q)
            for code in codes:
                box = _bounds_in(ds, code)
                if box is None:
                    continue
                if v130 and render.lat_first(code):
                    box = swap(box)
                attrs = {"CRS" if v130 else "SRS": code, "minx": _n(box[0]), "miny": _n(box[1]),
                         "maxx": _n(box[2]), "maxy": _n(box[3])}
                sub(layer, "BoundingBox", **attrs)
        extent = time_extent(site, ds)
        if extent is not None:
            values, default = extent
            nearest = {"nearestValue": "1"} if ds.kind == "raster" and site.settings.time_nearest else {}
            if v130:
                sub(layer, "Dimension", values, name="time", units="ISO8601", default=default, **nearest)
            else:
                sub(layer, "Dimension", name="time", units="ISO8601")
                sub(layer, "Extent", values, name="time", default=default, **nearest)
        named = all_styles.get(ds.id)
        if named is None:
            continue
        for style in named.values():
            el = sub(layer, "Style")
            sub(el, "Name", style.name)
            sub(el, "Title", style.title or style.name)
            legend_url = sub(el, "LegendURL", width="20", height="20")
            sub(legend_url, "Format", "image/png")
            link(legend_url, f"{online}?service=WMS&version=1.3.0&request=GetLegendGraphic&format=image/png"
                             f"&layer={ds.id}&style={style.name}")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _bounds_in(ds: Dataset, code: str) -> tuple[float, float, float, float] | None:
    """The dataset's extent in ``code``, x/y order; None when it does not project there."""
    if ds.extent_wgs84 is None:
        return None
    if ds.srid and code == f"EPSG:{ds.srid}" and ds.extent:
        return ds.extent
    west, south, east, north = ds.extent_wgs84
    if code == "EPSG:3857":
        south, north = max(south, -85.05), min(north, 85.05)
    try:
        t = Transformer.from_crs("OGC:CRS84", render.parse_crs(code), always_xy=True)
        box = t.transform_bounds(west, south, east, north, densify_pts=21)
    except Exception:
        return None
    return box if all(math.isfinite(v) for v in box) else None


def _layer_crs(ds: Dataset) -> list[str]:
    codes = list(CRS_LIST)
    if ds.srid and f"EPSG:{ds.srid}" not in codes:
        codes.insert(0, f"EPSG:{ds.srid}")
    return codes


def _geographic_box(parent: etree._Element, box: tuple[float, ...], v130: bool, q: Any) -> None:
    west, south, east, north = box
    if v130:
        el = etree.SubElement(parent, q("EX_GeographicBoundingBox"))
        for tag, value in (("westBoundLongitude", west), ("eastBoundLongitude", east),
                           ("southBoundLatitude", south), ("northBoundLatitude", north)):
            etree.SubElement(el, q(tag)).text = _n(value)
    else:
        etree.SubElement(parent, "LatLonBoundingBox", minx=_n(west), miny=_n(south), maxx=_n(east), maxy=_n(north))


def _n(value: float) -> str:
    return f"{value:.10g}"
