"""Saved maps: private to whoever saved them, shared with an organisation, or public. A map's layers on
datasets the caller may not see are dropped when it is read, so a shared map leaks nothing.

>>> save(site.seen_by(anne), "Coasts", body={"layers": [{"dataset": "regions"}]})   # doctest: +SKIP
{'id': 'coasts-3fa2c1', 'title': 'Coasts', ...}
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from kartenn.domain.security import Sharing
from kartenn.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from kartenn.services import policy
from kartenn.services.publish import share


def _slug(title: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "map"
    return f"{base}-{secrets.token_hex(3)}"


def _writer(site: Any) -> None:
    if site.identity.user is None:
        raise Unauthorized("log in to save maps")
    if site.identity.scope != "write":
        raise Forbidden("this token is read-only")


def _seen(site: Any, row: dict[str, Any], known: tuple[dict[str, dict[str, Any]], set[str]]) -> dict[str, Any]:
    """The row with its organisation, whether it is public and, with a body, only the layers the caller sees."""
    owned, public_ids = known
    out = {**row, "org": (owned.get(row["id"]) or {}).get("org_id"), "public": row["id"] in public_ids}
    if "body" in row:
        body = row["body"]
        out["body"] = {**body, "layers": [layer for layer in body.get("layers", [])
                                          if site.may("view", "dataset", layer["dataset"])]}
    return out


def list_maps(site: Any, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    visible = policy.permitted(site.identity, "view", "map", site.accounts)
    rows = site.maps.list(visible, limit=limit, offset=offset)
    known = site.accounts.owners_and_public("map", [r["id"] for r in rows])  # two queries for the whole page
    return [_seen(site, r, known) for r in rows]


def _visible(site: Any, map_id: str) -> dict[str, Any]:
    """The map's row; 404 for those who may not see it."""
    row = site.maps.get(map_id)
    if not site.may("view", "map", map_id):
        raise NotFound(f"no map {map_id!r}")
    return row  # type: ignore[no-any-return]


def get(site: Any, map_id: str) -> dict[str, Any]:
    return _seen(site, _visible(site, map_id), site.accounts.owners_and_public("map", [map_id]))


def save(site: Any, title: str, *, abstract: str = "", org: str | None = None, public: bool = False,
         body: dict[str, Any]) -> dict[str, Any]:
    """A new map of the caller's, shared with ``org`` (of which the caller is a member) and/or the public."""
    _writer(site)
    me = site.identity
    if org and not me.admin and org not in me.roles:
        raise Forbidden(f"you are not a member of {org!r}")
    if org and not site.accounts.has_organisation(org):
        raise InvalidInput(f"no organisation {org!r}", locator="org")
    map_id = _slug(title)
    with site.catalog.begin() as conn:
        site.maps.add(conn, map_id, title, abstract, str(me.user), body)
    share(site, "map", map_id, Sharing(org=org, user=me.user, public=public))
    site.accounts.log(me.name, "map.save", f"map:{map_id}", org=org, public=public)
    return get(site, map_id)


def replace(site: Any, map_id: str, title: str, *, abstract: str = "", public: bool = False,
            body: dict[str, Any]) -> dict[str, Any]:
    _visible(site, map_id)
    _writer(site)
    site.require("edit", "map", map_id)
    with site.catalog.begin() as conn:
        site.maps.update(conn, map_id, title=title, abstract=abstract, body=body)
        if public:
            site.accounts.grant(conn, "map", map_id, "public", "", "view")
        else:
            site.accounts.revoke(conn, "map", map_id, "public", "", "view")
    site.accounts.log(site.identity.name, "map.save", f"map:{map_id}", public=public)
    return get(site, map_id)


def delete(site: Any, map_id: str) -> None:
    _visible(site, map_id)
    _writer(site)
    site.require("edit", "map", map_id)
    with site.catalog.begin() as conn:
        site.maps.delete(conn, map_id)
        site.accounts.forget(conn, "map", map_id)
    site.accounts.log(site.identity.name, "delete", f"map:{map_id}")
