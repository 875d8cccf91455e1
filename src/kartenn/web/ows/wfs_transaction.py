"""WFS-T: Transaction (Insert, Update, Delete) by XML POST, for callers allowed to edit the dataset, so
QGIS can edit a layer in place. Each dataset's edits are one database transaction; the dataset's count,
extent and record follow.

Requests of WFS 1.0.0, 1.1.0 and 2.0.0 are read, with GML 2, 3.1.1 or 3.2 geometries (``formats.gml_read``),
and answered in the request's version: 1.0.0 ``WFS_TransactionResponse`` (InsertResult, TransactionResult
with its Status), 1.1.0 and 2.0.0 ``TransactionResponse`` (TransactionSummary, InsertResults).

>>> transaction(site, root)   # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

import shapely
from lxml import etree
from pygeofilter import values
from pyproj import CRS
from starlette.responses import Response

from kartenn.crs import to_crs
from kartenn.domain import Dataset
from kartenn.errors import InvalidInput
from kartenn.formats import gml
from kartenn.formats.fes import _fix_axis_order, parse_filter
from kartenn.formats.gml_read import GMLGeometryError, read_geometry
from kartenn.services import features
from kartenn.services.features import KEEP, FeatureEdits, ItemQuery

GML_NAMESPACES = {gml.GML32, gml.GML311}
FES_NAMESPACES = {"http://www.opengis.net/fes/2.0", "http://www.opengis.net/ogc"}


class TransactionError(InvalidInput):
    code = "InvalidValue"


def _local(element: Any) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _value(dataset: Dataset, name: str, text: str | None) -> Any:
    kind = next(f.type for f in dataset.fields if f.name == name)
    if text is None or text == "":
        return None
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
        if kind == "boolean":
            return {"true": True, "1": True, "false": False, "0": False}[text.strip().lower()]
        if kind == "date":
            return date.fromisoformat(text.strip()[:10]).isoformat()
        if kind == "datetime":
            return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).isoformat()
    except (ValueError, KeyError):
        raise TransactionError(f"{name} is a {kind} field: {text!r} is not one", locator=name) from None
    return text


def _geometry(element: Any, dataset: Dataset, default_srs: str | None, east_north: bool = False) -> Any:
    """A GML geometry element → a shapely geometry in the dataset's native CRS. ``east_north`` (WFS 1.0.0):
    coordinates are east/north whatever the form of the srsName, as in GeoServer (QGIS writes them so even
    under an ``urn:ogc:def:crs:EPSG::4326`` srsName)."""
    if east_north:
        for node in element.iter():
            name = node.get("srsName") if isinstance(node.tag, str) else None
            code = _epsg(name) if name else None
            if code:
                node.set("srsName", f"EPSG:{code}")
    try:
        parsed = values.Geometry(read_geometry(element))
    except GMLGeometryError as exc:
        raise TransactionError(f"cannot read the GML geometry: {exc}", locator="geometry") from None
    _fix_axis_order(parsed, default_srs or (f"EPSG:{dataset.srid}" if dataset.srid else None))
    name = (parsed.geometry.get("crs") or {}).get("properties", {}).get("name")
    geometry = shapely.geometry.shape(parsed.geometry)
    if name:
        geometry = features.reproject(geometry, to_crs(name), CRS.from_user_input(dataset.crs))
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    return geometry


def _epsg(name: str) -> int | None:
    try:
        return to_crs(name).to_epsg()
    except Exception:  # an unknown CRS is reported when the geometry is read
        return None


def _fields(dataset: Dataset) -> dict[str, str]:
    return {gml.xml_name(f.name): f.name for f in dataset.fields}


def _feature(element: Any, dataset: Dataset, default_srs: str | None,
             east_north: bool) -> tuple[dict[str, Any], Any]:
    names = _fields(dataset)
    props: dict[str, Any] = {}
    geometry = None
    for child in element:
        name = _local(child)
        if not name:
            continue
        if len(child) and etree.QName(child[0]).namespace in GML_NAMESPACES:
            geometry = _geometry(child[0], dataset, default_srs, east_north)
        elif name in names:
            props[names[name]] = _value(dataset, names[name], child.text)
        elif name not in ("boundedBy", "name", "description"):
            raise TransactionError(f"{dataset.id} has no property {name!r}", locator=name)
    return props, geometry


def _matching(site: Any, dataset: Dataset, action: Any) -> list[int]:
    """The fids an Update or Delete's filter selects (a filter is required: no blanket edits)."""
    found = next((c for c in action if _local(c) == "Filter"), None)
    if found is None:
        raise TransactionError(f"{_local(action)} needs a Filter", locator=_local(action))
    condition, fids = parse_filter(found, _fields(dataset))
    query = ItemQuery(filter=condition, fids=fids, filter_crs=CRS.from_user_input(dataset.crs), xy=True,
                      properties=[], skip_geometry=True, limit=None, count=False)
    return [row["fid"] for rows in features.stream(site, dataset, query) for row in rows]


def transaction_version(root: Any) -> str:
    """The version a Transaction is answered in: its own (1.0.0, 1.1.0 or 2.0.0; 2.0.0 when it has none)."""
    value = (root.get("version") or "").strip()
    if value.startswith("1.0"):
        return "1.0.0"
    if value.startswith("1."):
        return "1.1.0"
    return "2.0.0"


def transaction(site: Any, root: Any, version: str, dataset_of: Any) -> Response:
    """``dataset_of(type name)`` resolves feature types as the rest of the WFS does."""
    plans: dict[str, FeatureEdits] = defaultdict(FeatureEdits)
    datasets: dict[str, Dataset] = {}
    east_north = version == "1.0.0"
    handles: list[tuple[int, str, int]] = []  # (Insert action, dataset, index of insert) for InsertResults

    def target(name: str) -> Dataset:
        dataset = dataset_of(name)
        site.require("edit", "dataset", dataset.id)
        datasets[dataset.id] = dataset
        return dataset

    for number, action in enumerate(root):
        kind = _local(action)
        if kind == "Insert":
            for element in action:
                if not _local(element):
                    continue
                dataset = target(_local(element))
                plans[dataset.id].inserts.append(_feature(element, dataset, action.get("srsName"), east_north))
                handles.append((number, dataset.id, len(plans[dataset.id].inserts) - 1))
        elif kind == "Update":
            dataset = target(action.get("typeName") or action.get("typeNames") or "")
            props: dict[str, Any] = {}
            geometry: Any = KEEP
            names = _fields(dataset)
            for prop in (c for c in action if _local(c) == "Property"):
                ref = next((c for c in prop if _local(c) in ("ValueReference", "Name")), None)
                value = next((c for c in prop if _local(c) == "Value"), None)
                if ref is None or not ref.text:
                    raise TransactionError("an Update Property needs a ValueReference", locator="Property")
                field = ref.text.strip().rsplit("/", 1)[-1].split(":")[-1]
                if field in ("geom", "geometry"):
                    geometry = _geometry(value[0], dataset, action.get("srsName"), east_north) \
                        if value is not None and len(value) else None
                elif field in names:
                    props[names[field]] = _value(dataset, names[field], value.text if value is not None else None)
                else:
                    raise TransactionError(f"{dataset.id} has no property {field!r}", locator=field)
            plans[dataset.id].updates.append((_matching(site, dataset, action), props, geometry))
        elif kind == "Delete":
            dataset = target(action.get("typeName") or action.get("typeNames") or "")
            plans[dataset.id].deletes += _matching(site, dataset, action)
        elif kind:
            raise TransactionError(f"unsupported transaction action {kind!r} (Insert, Update, Delete)",
                                   locator=kind)
    results: dict[str, Any] = {}
    totals = {"inserted": 0, "updated": 0, "deleted": 0}
    for dataset_id, edits in plans.items():
        dataset = datasets[dataset_id]
        result = features.edit(site, dataset, edits)
        results[dataset_id] = result
        totals["inserted"] += len(result.inserted)
        totals["updated"] += result.updated
        totals["deleted"] += result.deleted
    inserted = [(n, f"{gml.xml_name(datasets[d].id)}.{results[d].inserted[i]}") for n, d, i in handles]
    return _response(version, totals, inserted, root)


def _response(version: str, totals: dict[str, int], inserted: list[tuple[int, str]], root: Any) -> Response:
    """The answer in the request's version; ``inserted`` holds (index of the Insert action, feature id)."""
    if version == "1.0.0":
        return _response_100(inserted, root)
    wfs = gml.WFS20 if version == "2.0.0" else gml.WFS110
    fes = "http://www.opengis.net/fes/2.0" if version == "2.0.0" else "http://www.opengis.net/ogc"
    answer = etree.Element(f"{{{wfs}}}TransactionResponse", nsmap={"wfs": wfs, "fes" if version == "2.0.0" else
                                                                   "ogc": fes}, version=version)
    summary = etree.SubElement(answer, f"{{{wfs}}}TransactionSummary")
    for name in ("inserted", "updated", "deleted"):
        etree.SubElement(summary, f"{{{wfs}}}total{name.capitalize()}").text = str(totals[name])
    if inserted:
        results = etree.SubElement(answer, f"{{{wfs}}}InsertResults")
        for number, rid in inserted:
            feature = etree.SubElement(results, f"{{{wfs}}}Feature")
            if root[number].get("handle"):
                feature.set("handle", root[number].get("handle"))
            if version == "2.0.0":
                etree.SubElement(feature, f"{{{fes}}}ResourceId", rid=rid)
            else:
                etree.SubElement(feature, f"{{{fes}}}FeatureId", fid=rid)
    return _xml(answer)


def _response_100(inserted: list[tuple[int, str]], root: Any) -> Response:
    """WFS 1.0.0: one InsertResult per Insert action with its features' ids, then the status (all or nothing:
    a failure is an exception report)."""
    wfs, ogc = gml.WFS110, "http://www.opengis.net/ogc"
    answer = etree.Element(f"{{{wfs}}}WFS_TransactionResponse", nsmap={"wfs": wfs, "ogc": ogc}, version="1.0.0")
    results: dict[int, Any] = {}
    for number, fid in inserted:
        if number not in results:
            results[number] = etree.SubElement(answer, f"{{{wfs}}}InsertResult")
            if root[number].get("handle"):
                results[number].set("handle", root[number].get("handle"))
        etree.SubElement(results[number], f"{{{ogc}}}FeatureId", fid=fid)
    result = etree.SubElement(answer, f"{{{wfs}}}TransactionResult")
    if root.get("handle"):
        result.set("handle", root.get("handle"))
    etree.SubElement(etree.SubElement(result, f"{{{wfs}}}Status"), f"{{{wfs}}}SUCCESS")
    return _xml(answer)


def _xml(root: Any) -> Response:
    return Response(etree.tostring(root, xml_declaration=True, encoding="utf-8"), media_type="text/xml")
