"""The addresses of a GeoServer and a GeoNetwork that a site took over (``former_paths = true`` in kartenn.toml):
their service paths answer as Kartenn's own, so QGIS projects, web maps and harvesters set up against the old
servers go on working after a migration.

- ``/geoserver/ows``, ``/geoserver/wms``, ``/geoserver/wfs``, ``/geoserver/gwc/service/wmts`` → ``/ows``, ``/wms``…
- ``/geoserver/<ws>/ows|wms|wfs`` (GeoServer's virtual services): the same, the layer names of the request taken
  as names of that workspace (``countries`` → ``ne:countries``, which the migration recorded);
- ``/geonetwork/srv/<lang>/csw`` → ``/csw``; ``/geonetwork/srv/api/records/<uuid>`` → the record,
  ``…/formatters/xml`` → its ISO 19139 document, ``…/attachments/<name>`` (and 3.x's
  ``/geonetwork/srv/<lang>/resources.get?uuid=…&fname=…``) → the file kept with it (a thumbnail in a record's
  document keeps its address).

A pure ASGI layer: the request is passed on with the new path and, for GeoServer's service paths, the request
state ``former_names``: "" for the global services, the workspace for a virtual one. WMS capabilities then name
the migrated layers as GeoServer did (``ne:countries``; ``countries`` in the workspace's own, which lists only its
layers), so that clients matching a project's layer names against the capabilities (QGIS) find them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

SERVICES = {"ows": "/ows", "wms": "/wms", "wfs": "/wfs"}
LAYER_PARAMETERS = {"layers", "query_layers", "layer", "typename", "typenames"}
WORKSPACE = re.compile(r"^/geoserver/([A-Za-z0-9_.-]+)/(ows|wms|wfs)$")
RECORD = re.compile(r"^/geonetwork/srv/api/(?:0\.1/)?records/([^/]+)(/formatters/xml)?$")
CSW = re.compile(r"^/geonetwork/srv/[a-z]{2,3}/csw$")
ATTACHMENT = re.compile(r"^/geonetwork/srv/api/(?:0\.1/)?records/([^/]+)/attachments/([^/]+)$")
RESOURCE = re.compile(r"^/geonetwork/srv/[a-z]{2,3}/resources\.get$")


def rewrite(path: str, query: str) -> tuple[str, str, str | None] | None:
    """(new path, new query, the workspace whose names apply — "" for GeoServer's global services, None for the
    others) for a former address, or None."""
    if path.startswith("/geoserver/"):
        name = path.removeprefix("/geoserver/")
        if name in SERVICES:
            return SERVICES[name], query, ""
        if name == "gwc/service/wmts":
            return "/wmts", query, ""
        found = WORKSPACE.match(path)
        if found:
            return SERVICES[found.group(2)], _in_workspace(query, found.group(1)), found.group(1)
        return None
    if CSW.match(path):
        return "/csw", query, None
    found = ATTACHMENT.match(path)
    if found:
        return f"/api/v1/records/{found.group(1)}/files/{found.group(2)}", "", None
    if RESOURCE.match(path):
        asked = dict(parse_qsl(query))
        if asked.get("uuid") and asked.get("fname"):
            return (f"/api/v1/records/{quote(asked['uuid'], safe='')}/files/{quote(asked['fname'], safe='')}", "",
                    None)
        return None
    found = RECORD.match(path)
    if found:
        suffix = "/iso19139.xml" if found.group(2) else ""
        return f"/api/v1/records/{found.group(1)}{suffix}", query, None
    return None


def _in_workspace(query: str, workspace: str) -> str:
    """The query with each unqualified layer name of the workspace's virtual service qualified by it."""
    def qualified(value: str) -> str:
        return ",".join(n if ":" in n or not n.strip() else f"{workspace}:{n.strip()}" for n in value.split(","))

    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, qualified(v) if k.lower() in LAYER_PARAMETERS else v) for k, v in pairs])


class FormerPaths:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(("/geoserver/", "/geonetwork/")):
            found = rewrite(scope["path"], scope.get("query_string", b"").decode("latin-1"))
            if found is not None:
                path, query, workspace = found
                scope = {**scope, "path": path, "raw_path": path.encode(), "query_string": query.encode()}
                if workspace is not None:
                    scope["state"] = {**scope.get("state", {}), "former_names": workspace}
        await self.app(scope, receive, send)
