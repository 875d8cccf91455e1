"""A GeoNetwork 3.x or 4.x export (scripts/export-geonetwork.sh) read into plain dataclasses: users, groups,
memberships with their profiles, and records (MEF archives) with their categories, files and sharing.

The folder holds ``mef/*.mef`` and the answers of GeoNetwork's API: ``api/users.json`` (GET /srv/api/users),
``api/groups.json`` (GET /srv/api/groups), ``api/users/<id>-groups.json`` (GET /srv/api/users/{id}/groups) and
``api/sharing/<uuid>.json`` (GET /srv/api/records/{uuid}/sharing). Nothing is reached but these files; XML goes
through the project's safe parser, archives through the archive checks. What cannot be read becomes a ``Note``.

>>> export = read_export(Path("geonetwork"), settings)     # doctest: +SKIP
>>> [r.uuid for r in export.records]                       # doctest: +SKIP
['955c3e47-411e-4969-b61b-3556d1b9f879', 'NS06agg', 'a2744b0c-becd-426a-95a8-46e9850ccc6d']
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kartenn.errors import InvalidInput, KartennError
from kartenn.services.archives import check_zip
from kartenn.services.migration.geoserver import Note
from kartenn.services.records import mef_files
from kartenn.stores.record_files import RecordFile
from kartenn.xml import parse_xml

OPERATIONS = ("view", "download", "editing", "notify", "dynamic", "featured")
GUEST, INTRANET, ALL = "-1", "0", "1"  # GeoNetwork's reserved groups
PROFILES = ("RegisteredUser", "Editor", "Reviewer", "UserAdmin", "Administrator")  # weakest first


@dataclass
class User:
    id: str
    name: str  # the user name
    full_name: str
    email: str
    profile: str
    enabled: bool
    password: str = ""  # GeoNetwork's API does not give it; an export that has it gives a hash Kartenn cannot check


@dataclass
class Group:
    id: str
    name: str
    label: str
    description: str = ""


@dataclass
class MefRecord:
    uuid: str
    archive: str  # the .mef file's name
    metadata: bytes
    info: bytes
    categories: list[str]
    files: list[RecordFile]
    info_privileges: dict[str, set[str]]  # group name → operations (info.xml)
    sharing: dict[str, set[str]] | None = None  # group id → operations (the API's answer, when saved)
    owner: str | None = None  # user id
    group_owner: str | None = None  # group id (a name as info.xml gives it, until read_export maps it)
    sharing_json: bytes = b""

    def privileges(self, groups: dict[str, Group]) -> dict[str, set[str]]:
        """Operations by group id: the API's sharing, else info.xml's privileges."""
        if self.sharing is not None:
            return self.sharing
        ids = {g.name: g.id for g in groups.values()}
        return {ids[name]: ops for name, ops in self.info_privileges.items() if name in ids}


@dataclass
class Export:
    root: Path
    users: list[User] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)  # by id
    memberships: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # user id → group id → profiles
    records: list[MefRecord] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def user(self, user_id: str | None) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)


def read_export(root: Path, settings: Any) -> Export:
    """Everything the migration takes from ``root``; InvalidInput only when ``root`` is no such export."""
    if not (root / "mef").is_dir() and not (root / "api" / "users.json").is_file():
        raise InvalidInput(f"{root} is not a GeoNetwork export (it has neither mef/ nor api/users.json): make one "
                           "with scripts/export-geonetwork.sh")
    export = Export(root=root)
    for item in _json(export, root / "api" / "groups.json", "groups") or []:
        group = _group(item)
        if group is not None:
            export.groups[group.id] = group
    for item in _json(export, root / "api" / "users.json", "users") or []:
        user = _user(item)
        if user is None:
            continue
        export.users.append(user)
        found: dict[str, set[str]] = {}
        path = root / "api" / "users" / f"{user.id}-groups.json"
        for link in (_json(export, path, f"user {user.name}") if _file_name(user.id) else None) or []:
            group_id, profile = _membership(link)
            if group_id is not None:
                found.setdefault(group_id, set()).add(profile)
        export.memberships[user.id] = found
    for path in sorted((root / "mef").glob("*")) if (root / "mef").is_dir() else []:
        if path.is_file() and path.suffix.lower() in (".mef", ".zip"):
            _read_mef(export, path, settings)
    by_name = {g.name: g.id for g in export.groups.values()}
    for record in export.records:
        record.group_owner = by_name.get(record.group_owner or "")  # info.xml names it
        path = root / "api" / "sharing" / f"{record.uuid}.json"
        data = _json(export, path, record.uuid, quiet=True) if _file_name(record.uuid) else None
        if isinstance(data, dict):
            record.sharing_json = json.dumps(data, sort_keys=True).encode()
            record.sharing = _sharing(data)
            record.owner = _text(data.get("owner"))
            record.group_owner = _text(data.get("groupOwner")) or record.group_owner
    return export


def _json(export: Export, path: Path, source: str, *, quiet: bool = False) -> Any:
    relative = path.relative_to(export.root)
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        if not quiet:
            export.notes.append(Note(source, f"{relative} is missing"))
    except OSError as exc:
        export.notes.append(Note(source, f"{relative} cannot be read ({exc.strerror})"))
    except ValueError as exc:
        export.notes.append(Note(source, f"{relative} is not JSON ({exc})"))
    return None


def _file_name(text: str) -> bool:
    """Whether an identifier can name a file of the export (none outside it).

    >>> _file_name("955c3e47-411e"), _file_name("../../etc/passwd"), _file_name(".hidden")
    (True, False, False)
    """
    return bool(text) and "/" not in text and "\\" not in text and not text.startswith(".")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _group(item: Any) -> Group | None:
    if not isinstance(item, dict) or item.get("id") is None or not item.get("name"):
        return None
    labels = item.get("label") if isinstance(item.get("label"), dict) else {}
    label = labels.get("eng") or next((v for v in labels.values() if v), None) or item["name"]
    return Group(str(item["id"]), str(item["name"]), str(label), str(item.get("description") or ""))


def _user(item: Any) -> User | None:
    """A user as GeoNetwork 4.x (``enabled``) or 3.x (no such field: enabled) answers it."""
    if not isinstance(item, dict) or item.get("id") is None or not item.get("username"):
        return None
    emails = item.get("emailAddresses") or []
    email = item.get("email") or (emails[0] if emails else "")
    full_name = " ".join(str(item.get(k) or "").strip() for k in ("name", "surname")).strip()
    security = item.get("security") if isinstance(item.get("security"), dict) else {}
    return User(id=str(item["id"]), name=str(item["username"]), full_name=full_name, email=str(email or ""),
                profile=str(item.get("profile") or "RegisteredUser"), enabled=item.get("enabled", True) is not False,
                password=str(item.get("password") or security.get("password") or ""))


def _membership(item: Any) -> tuple[str | None, str]:
    """(group id, profile) of one answer of /users/{id}/groups: ``{"id": {"groupId", "profile"}}`` (3.x and
    4.x), or the group and profile side by side."""
    if not isinstance(item, dict):
        return None, ""
    key = item.get("id") if isinstance(item.get("id"), dict) else item
    group = key.get("groupId")
    if group is None and isinstance(item.get("group"), dict):
        group = item["group"].get("id")
    return _text(group), str(key.get("profile") or item.get("profile") or "RegisteredUser")


def _sharing(data: dict[str, Any]) -> dict[str, set[str]]:
    """Operations by group id from a SharingResponse (``privileges``: ``group``, ``operations``)."""
    found: dict[str, set[str]] = {}
    for item in data.get("privileges") or []:
        if not isinstance(item, dict):
            continue
        group = item.get("group")
        group = group.get("id") if isinstance(group, dict) else group
        ops = item.get("operations") or {}
        if group is not None and isinstance(ops, dict):
            found[str(group)] = {op for op, allowed in ops.items() if allowed is True}
    return found


def _read_mef(export: Export, path: Path, settings: Any) -> None:
    """The records of one MEF (version 1: one record at the root; version 2: a folder per record)."""
    try:
        members = check_zip(path, max_bytes=settings.archive_max_bytes, max_ratio=settings.archive_max_ratio,
                            max_members=settings.archive_max_members)
    except KartennError as exc:
        export.notes.append(Note(path.name, exc.message))
        return
    names = [m.filename for m in members if not m.is_dir()]
    folders = sorted({str(PurePosixPath(n).parent) for n in names if PurePosixPath(n).name == "info.xml"})
    if not folders:
        export.notes.append(Note(path.name, "not a MEF archive (it has no info.xml)"))
        return
    with zipfile.ZipFile(path) as archive:
        for folder in folders:
            prefix = "" if folder == "." else f"{folder}/"
            try:
                export.records.append(_mef_record(archive, path.name, prefix, names))
            except KartennError as exc:
                export.notes.append(Note(f"{path.name}:{prefix}", exc.message))


def _mef_record(archive: zipfile.ZipFile, name: str, prefix: str, names: list[str]) -> MefRecord:
    info_bytes = archive.read(f"{prefix}info.xml")
    info = parse_xml(info_bytes)
    documents = [n for n in names if n.startswith(f"{prefix}metadata/") and n.endswith(".xml")] or \
        [n for n in names if n == f"{prefix}metadata.xml"]
    chosen = next((n for n in documents if PurePosixPath(n).name == "metadata.xml"), None) or \
        (documents[0] if documents else None)
    if chosen is None:
        raise InvalidInput("no metadata document (metadata/metadata.xml)")
    uuid = (info.findtext("general/uuid") or "").strip() or prefix.strip("/") or PurePosixPath(name).stem
    privileges: dict[str, set[str]] = {}
    group_owner = None
    for group in info.iterfind("privileges/group"):
        privileges[group.get("name", "")] = {op.get("name", "") for op in group.iterfind("operation")}
        if group.get("groupOwner") == "true":
            group_owner = group.get("name")
    files = mef_files(archive, prefix)
    categories = [c.get("name", "") for c in info.iterfind("categories/category") if c.get("name")]
    return MefRecord(uuid=uuid, archive=name, metadata=archive.read(chosen), info=info_bytes, categories=categories,
                     files=files, info_privileges=privileges, group_owner=group_owner)
