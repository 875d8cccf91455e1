"""A GeoServer 2.x data directory read into plain dataclasses: workspaces, stores, layers, styles, layer groups.

Nothing is written and nothing reached but the directory's own files; XML goes through the project's safe parser.
What cannot be read (a missing or malformed file) becomes a ``Note`` and the rest is read on.

>>> data = read_data_directory(Path("geoserver/data"))   # doctest: +SKIP
>>> [layer.qualified for layer in data.layers]           # doctest: +SKIP
['ne:countries', 'ne:populated_places', 'sf:dtm', 'topp:departements']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kartenn.errors import KartennError
from kartenn.xml import parse_xml

RESOURCE_FILES = {"featuretype.xml": "vector", "coverage.xml": "raster", "wmslayer.xml": "wms",
                  "wmtslayer.xml": "wmts"}
STORE_FILES = ("datastore.xml", "coveragestore.xml", "wmsstore.xml", "wmtsstore.xml")


@dataclass
class Note:
    """A warning about one source object, named as GeoServer names it."""

    source: str
    message: str


@dataclass
class Store:
    id: str
    name: str
    workspace: str
    type: str
    params: dict[str, str]
    url: str | None  # coverage stores
    enabled: bool
    xml: bytes

    @property
    def qualified(self) -> str:
        return f"{self.workspace}:{self.name}"


@dataclass
class Style:
    id: str
    name: str
    workspace: str | None
    sld: Path | None
    format: str
    xml: bytes

    @property
    def label(self) -> str:
        return f"style {self.workspace}:{self.name}" if self.workspace else f"style {self.name}"


@dataclass
class Layer:
    id: str
    name: str
    workspace: str
    kind: str  # vector | raster | wms | wmts
    native_name: str
    title: str
    abstract: str
    keywords: list[str]
    srs: str | None
    projection_policy: str
    bbox: tuple[float, float, float, float] | None  # native
    store: Store
    default_style: str | None  # style ids
    styles: list[str]
    enabled: bool
    resource_xml: bytes

    @property
    def qualified(self) -> str:
        return f"{self.workspace}:{self.name}"


@dataclass
class LayerGroup:
    id: str
    name: str
    workspace: str | None
    title: str
    abstract: str
    mode: str
    entries: list[tuple[str, str, str | None]]  # (layer | layerGroup, id, style id or None)
    xml: bytes

    @property
    def qualified(self) -> str:
        return f"{self.workspace}:{self.name}" if self.workspace else self.name


@dataclass
class DataDirectory:
    root: Path
    workspaces: list[str] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    styles: dict[str, Style] = field(default_factory=dict)  # by id
    groups: list[LayerGroup] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def layer_by_id(self, layer_id: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.id == layer_id), None)


def read_data_directory(root: Path) -> DataDirectory:
    """Everything the migration takes from ``root``; raises KartennError only when ``root`` is no data directory."""
    from kartenn.errors import InvalidInput

    if not (root / "workspaces").is_dir():
        raise InvalidInput(f"{root} is not a GeoServer data directory (it has no workspaces folder)")
    data = DataDirectory(root=root)
    workspace_ids: dict[str, str] = {}
    for folder in sorted(p for p in (root / "workspaces").iterdir() if p.is_dir()):
        ws = _xml(data, folder / "workspace.xml", folder.name)
        name = _text(ws, "name") if ws is not None else None
        if ws is None or not name:
            continue
        workspace_ids[_text(ws, "id") or name] = name
        data.workspaces.append(name)
        _read_styles(data, folder / "styles", name)
    _read_styles(data, root / "styles", None)
    for folder in sorted(p for p in (root / "workspaces").iterdir() if p.is_dir() and p.name in data.workspaces):
        for store_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in ("styles", "layergroups")):
            store = _read_store(data, store_dir, folder.name)
            if store is not None:
                for layer_dir in sorted(p for p in store_dir.iterdir() if p.is_dir()):
                    _read_layer(data, layer_dir, store)
        _read_groups(data, folder / "layergroups", folder.name)
    _read_groups(data, root / "layergroups", None)
    return data


def _xml(data: DataDirectory, path: Path, source: str, *, quiet: bool = False) -> Any:
    return read_xml(data.root, path, source, data.notes, quiet=quiet)


def read_xml(root: Path, path: Path, source: str, notes: list[Note], *, quiet: bool = False) -> Any:
    """The root element of ``path`` (a file of the data directory ``root``), or None with a note naming the file
    by its path in the data directory (none when ``quiet`` and the file is absent).

    >>> read_xml(root, root / "security/role/default/roles.xml", "roles", notes)   # doctest: +SKIP
    >>> notes[-1].message                                                         # doctest: +SKIP
    'security/role/default/roles.xml: malformed XML: …'
    """
    relative = path.relative_to(root) if path.is_relative_to(root) else path
    try:
        return parse_xml(path.read_bytes())
    except FileNotFoundError:
        if not quiet:
            notes.append(Note(source, f"{relative} is missing"))
    except OSError as exc:
        notes.append(Note(source, f"{relative} cannot be read ({exc.strerror})"))
    except KartennError as exc:
        notes.append(Note(source, f"{relative}: {exc.message}"))
    return None


def _text(element: Any, path: str) -> str:
    return (element.findtext(path) or "").strip()


def _read_styles(data: DataDirectory, folder: Path, workspace: str | None) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.xml")):
        root = _xml(data, path, f"style {path.stem}")
        if root is None or root.tag != "style":
            continue
        filename = _text(root, "filename")
        style = Style(id=_text(root, "id"), name=_text(root, "name") or path.stem, workspace=workspace,
                      sld=folder / filename if filename else None, format=_text(root, "format") or "sld",
                      xml=path.read_bytes())
        data.styles[style.id] = style


def _read_store(data: DataDirectory, folder: Path, workspace: str) -> Store | None:
    path = next((folder / name for name in STORE_FILES if (folder / name).exists()), None)
    if path is None:
        data.notes.append(Note(f"{workspace}:{folder.name}", f"{folder.relative_to(data.root)} has no store file"))
        return None
    root = _xml(data, path, f"{workspace}:{folder.name}")
    if root is None:
        return None
    params = {e.get("key"): (e.text or "").strip() for e in root.iterfind("connectionParameters/entry")}
    kind = {"datastore.xml": None, "coveragestore.xml": None, "wmsstore.xml": "WMS", "wmtsstore.xml": "WMTS"}
    return Store(id=_text(root, "id"), name=_text(root, "name") or folder.name, workspace=workspace,
                 type=_text(root, "type") or kind[path.name] or "unknown", params=params,
                 url=_text(root, "url") or None, enabled=_text(root, "enabled") != "false", xml=path.read_bytes())


def _read_layer(data: DataDirectory, folder: Path, store: Store) -> None:
    found = next(((folder / name, kind) for name, kind in RESOURCE_FILES.items() if (folder / name).exists()), None)
    label = f"{store.workspace}:{folder.name}"
    if found is None:
        if (folder / "layer.xml").exists():
            data.notes.append(Note(label, f"{folder.relative_to(data.root)} has a layer.xml but no resource file"))
        return
    path, kind = found
    resource = _xml(data, path, label)
    layer = _xml(data, folder / "layer.xml", label)
    if resource is None or layer is None:
        return
    name = _text(layer, "name") or _text(resource, "name") or folder.name
    data.layers.append(Layer(
        id=_text(layer, "id"), name=name, workspace=store.workspace, kind=kind,
        native_name=_text(resource, "nativeName") or _text(resource, "name") or name,
        title=_text(resource, "title"),
        abstract=_text(resource, "abstract") or _text(resource, "description"),
        keywords=[(k.text or "").strip() for k in resource.iterfind("keywords/string") if (k.text or "").strip()],
        srs=_text(resource, "srs") or None, projection_policy=_text(resource, "projectionPolicy") or "NONE",
        bbox=_bbox(resource.find("nativeBoundingBox")), store=store,
        default_style=_text(layer, "defaultStyle/id") or None,
        styles=[_text(s, "id") for s in layer.iterfind("styles/style") if _text(s, "id")],
        enabled=_text(layer, "enabled") != "false" and _text(resource, "enabled") != "false",
        resource_xml=path.read_bytes()))


def _bbox(element: Any) -> tuple[float, float, float, float] | None:
    if element is None:
        return None
    try:
        return tuple(float(element.findtext(k)) for k in ("minx", "miny", "maxx", "maxy"))  # type: ignore[return-value]
    except (TypeError, ValueError):
        return None


def _read_groups(data: DataDirectory, folder: Path, workspace: str | None) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.xml")):
        label = f"{workspace}:{path.stem}" if workspace else path.stem
        root = _xml(data, path, label)
        if root is None:
            continue
        published = list(root.iterfind("publishables/published"))
        styles = list(root.iterfind("styles/style"))
        entries = []
        for i, item in enumerate(published):
            style = _text(styles[i], "id") if i < len(styles) else ""
            entries.append((item.get("type") or "layer", _text(item, "id"), style or None))
        data.groups.append(LayerGroup(
            id=_text(root, "id"), name=_text(root, "name") or path.stem, workspace=workspace,
            title=_text(root, "title"), abstract=_text(root, "abstractTxt") or _text(root, "abstract"),
            mode=_text(root, "mode") or "SINGLE", entries=entries, xml=path.read_bytes()))


def resolve_path(data_dir: Path, value: str) -> Path:
    """A store's ``file:`` URL or path as a path: relative ones are in the data directory, as GeoServer reads them.

    >>> resolve_path(Path("/gs"), "file:data/ne/natural_earth.gpkg")
    PosixPath('/gs/data/ne/natural_earth.gpkg')
    >>> resolve_path(Path("/gs"), "file:///srv/dtm.tif"), resolve_path(Path("/gs"), "file:/srv/dtm.tif")
    (PosixPath('/srv/dtm.tif'), PosixPath('/srv/dtm.tif'))
    """
    from urllib.parse import unquote

    text = unquote(value.strip())
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif text.startswith("file:"):
        text = text[len("file:"):]
    path = Path(text)
    return path if path.is_absolute() else data_dir / path
