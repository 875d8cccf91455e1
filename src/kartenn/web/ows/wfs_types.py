"""The feature types WFS serves: every vector dataset, with its XML name, default CRS and property names."""

from __future__ import annotations

from kartenn.domain import Dataset
from kartenn.errors import NotFound
from kartenn.formats import gml
from kartenn.services import datasets
from kartenn.site import Site
from kartenn.web.ows.common import OWSError


def vector_datasets(site: Site) -> list[Dataset]:
    return [d for d in site.catalog.list_datasets() if d.kind == "vector"]


def type_name(d: Dataset) -> str:
    return gml.xml_name(d.id)


def dataset_named(site: Site, name: str) -> Dataset:
    local = name.rsplit("}", 1)[-1].split(":")[-1]
    for d in vector_datasets(site):
        if type_name(d) == local or d.id == local:
            return d
    try:
        former = datasets.named(site, name)  # a layer's name before a migration (ne:countries)
    except NotFound:
        former = None
    if former is not None and former.kind == "vector":
        return former
    raise OWSError("InvalidParameterValue", f"unknown feature type {name!r}", "typeNames")


def urn(epsg: int) -> str:
    return f"urn:ogc:def:crs:EPSG::{epsg}"


def default_crs(d: Dataset) -> str:
    return urn(d.srid) if d.srid else "urn:ogc:def:crs:OGC:1.3:CRS84"


def field_names(d: Dataset) -> dict[str, str]:
    return {gml.xml_name(f.name): f.name for f in d.fields}


def field_named(d: Dataset, name: str, locator: str) -> str:
    local = name.rsplit("/", 1)[-1].split(":")[-1]
    names = field_names(d)
    if local in names:
        return names[local]
    raise OWSError("InvalidParameterValue", f"{d.id} has no property {name!r}", locator)
