"""GeoServer's people and rules, read from ``security/`` and resolved as GeoServer resolves them.

- users and groups: ``usergroup/default/users.xml`` (enabled flags, ``email``/``fullName`` properties);
- roles: ``role/default/roles.xml``, with ``parentID`` inheritance (holding a role holds its parents), given to
  users directly and through their enabled groups;
- data rules: ``layers.properties`` (``ws.layer.r|w|a=ROLE,…``; ``*`` is everyone); for each layer and access
  mode the most specific rule wins (layer, then workspace, then global), and no rule at all lets everyone in;
- service rules: ``services.properties``, read to be reported (Kartenn has no rights per service).

>>> security = read_security(Path("geoserver/data"))                # doctest: +SKIP
>>> sorted(security.roles_of("rtanguy"))                            # doctest: +SKIP
['ROLE_AGENT']
>>> security.rule("topp", "departements", "r")                      # doctest: +SKIP
['ROLE_AGENT', 'ROLE_EDITEUR']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kartenn.services.migration.geoserver import Note, read_xml

ADMIN_ROLES = {"ADMIN", "ROLE_ADMINISTRATOR"}  # GeoServer's administrators: Kartenn platform administrators
GROUP_ADMIN_ROLES = {"GROUP_ADMIN", "ROLE_GROUP_ADMIN"}
EVERYONE = {"*", "ROLE_ANONYMOUS"}
AUTHENTICATED = "ROLE_AUTHENTICATED"
MODES = {"r": "read", "w": "write", "a": "admin"}


@dataclass
class Account:
    name: str
    enabled: bool
    password: str  # as stored: digest1:…, plain:…, crypt1:…, empty
    email: str = ""
    full_name: str = ""


@dataclass
class Role:
    id: str
    parent: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class Security:
    users: dict[str, Account] = field(default_factory=dict)
    groups: dict[str, tuple[bool, list[str]]] = field(default_factory=dict)  # name → (enabled, members)
    roles: dict[str, Role] = field(default_factory=dict)
    user_roles: dict[str, set[str]] = field(default_factory=dict)
    group_roles: dict[str, set[str]] = field(default_factory=dict)
    rules: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)  # (ws, layer, r|w|a) → roles
    mode: str = "HIDE"
    service_rules: list[tuple[str, str]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def roles_of(self, user: str) -> set[str]:
        """Every role ``user`` holds: given to it, to its enabled groups, and the parents of those."""
        held = set(self.user_roles.get(user, set()))
        for group, (enabled, members) in self.groups.items():
            if enabled and user in members:
                held |= self.group_roles.get(group, set())
        todo = list(held)
        while todo:
            parent = self.roles.get(todo.pop(), Role("")).parent
            if parent and parent not in held:
                held.add(parent)
                todo.append(parent)
        return held

    def holders(self, role: str) -> set[str]:
        return {user for user in self.users if role in self.roles_of(user)}

    def groups_of(self, user: str) -> list[str]:
        return sorted(g for g, (_, members) in self.groups.items() if user in members)

    def rule(self, workspace: str, layer: str, mode: str) -> list[str] | None:
        """The roles of the most specific rule for ``mode`` on ``workspace:layer`` (None: no rule, everyone)."""
        for key in ((workspace, layer, mode), (workspace, "*", mode), ("*", "*", mode)):
            if key in self.rules:
                return self.rules[key]
        return None


def org_id(role: str) -> str:
    """The organisation a role becomes.

    >>> org_id("ROLE_EDITEUR")
    'role_editeur'
    """
    return re.sub(r"[^a-z0-9_-]+", "-", role.lower()).strip("-")[:80] or "role"


def read_security(root: Path) -> Security:
    security = Security()
    base = root / "security"
    users = read_xml(root, base / "usergroup" / "default" / "users.xml", "users", security.notes)
    if users is not None:
        for user in users.iterfind("{*}users/{*}user"):
            props = {p.get("name"): (p.text or "").strip() for p in user.iterfind("{*}property")}
            name = user.get("name") or ""
            if name:
                security.users[name] = Account(name, user.get("enabled", "true") != "false", user.get("password", ""),
                                               props.get("email", ""), props.get("fullName", ""))
        for group in users.iterfind("{*}groups/{*}group"):
            security.groups[group.get("name") or ""] = (
                group.get("enabled", "true") != "false",
                [m.get("username") or "" for m in group.iterfind("{*}member")])
    roles = read_xml(root, base / "role" / "default" / "roles.xml", "roles", security.notes)
    if roles is not None:
        for role in roles.iterfind("{*}roleList/{*}role"):
            props = {p.get("name"): (p.text or "").strip() for p in role.iterfind("{*}property")}
            security.roles[role.get("id") or ""] = Role(role.get("id") or "", role.get("parentID") or None, props)
        for held in roles.iterfind("{*}userList/{*}userRoles"):
            security.user_roles[held.get("username") or ""] = {r.get("roleID") for r in held.iterfind("{*}roleRef")}
        for held in roles.iterfind("{*}groupList/{*}groupRoles"):
            security.group_roles[held.get("groupname") or ""] = {r.get("roleID") for r in held.iterfind("{*}roleRef")}
    for key, value in _properties(security, base / "layers.properties"):
        if key == "mode":
            security.mode = value.upper()
            continue
        parts = _split(key)
        if len(parts) != 3 or parts[2] not in MODES:
            security.notes.append(Note("layers.properties", f"rule {key}={value} is not ws.layer.r|w|a: ignored"))
            continue
        security.rules[(parts[0], parts[1], parts[2])] = [r.strip() for r in value.split(",") if r.strip()]
    security.service_rules = _properties(security, base / "services.properties")
    return security


def _properties(security: Security, path: Path) -> list[tuple[str, str]]:
    """The key=value lines of a Java properties file (comments and blank lines left out)."""
    try:
        text = path.read_text(encoding="latin-1")  # Java properties files are ISO-8859-1
    except FileNotFoundError:
        return []
    except OSError as exc:
        security.notes.append(Note(path.name, f"cannot be read ({exc.strerror})"))
        return []
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"((?:\\.|[^=:\s\\])+)\s*[=:]?\s*(.*)", line)
        if match:
            found.append((match.group(1).replace("\\", ""), match.group(2).strip()))
    return found


def _split(key: str) -> list[str]:
    """``ws.layer.r`` in three; a name may keep a dot escaped as ``\\.`` (already unescaped: split from the ends)."""
    head, _, mode = key.rpartition(".")
    workspace, _, layer = head.partition(".")
    return [workspace, layer, mode] if head else [key]


@dataclass
class Grants:
    """Who may do what on one layer, in Kartenn's principals."""

    public: bool = False
    orgs: dict[str, set[str]] = field(default_factory=dict)  # action → organisations
    users: dict[str, set[str]] = field(default_factory=dict)  # action → users
    notes: list[str] = field(default_factory=list)

    def pairs(self) -> set[tuple[str, str, str]]:
        """(principal, id, action) of every grant."""
        found = {("public", "", a) for a in ("view", "download")} if self.public else set()
        found |= {("org", o, a) for a, orgs in self.orgs.items() for o in orgs}
        found |= {("user", u, a) for a, users in self.users.items() for u in users}
        return found


def layer_grants(security: Security, workspace: str, layer: str) -> Grants:
    """The grants that let the same people see and change ``workspace:layer`` as in GeoServer. Reading gives view
    and download, writing edit, administering publish; a role's organisation gets the grant when all its members
    also read the layer, else each member who does (GeoServer hides a layer from who cannot read it)."""
    grants = Grants()
    read = security.rule(workspace, layer, "r")
    readers = _people(security, read, grants)
    grants.public = readers is None
    for mode, actions in (("r", ("view", "download")), ("w", ("edit",)), ("a", ("publish",))):
        roles = security.rule(workspace, layer, mode)
        if roles is None or (mode != "r" and any(r in EVERYONE for r in roles)):
            if mode != "r" and roles is not None:
                grants.notes.append(f"{MODES[mode]} access for everyone has no equivalent: give edit rights to "
                                    "organisations")
            continue
        if mode == "r" and readers is None:
            continue
        for role in roles:
            if role in ADMIN_ROLES or role in EVERYONE:
                continue
            members = security.holders(role) if role != AUTHENTICATED else set(security.users)
            allowed = members if readers is None else members & readers
            for action in actions:
                if role != AUTHENTICATED and allowed == members and role in security.roles:
                    grants.orgs.setdefault(action, set()).add(org_id(role))
                else:
                    grants.users.setdefault(action, set()).update(allowed)
    return grants


def _people(security: Security, roles: list[str] | None, grants: Grants) -> set[str] | None:
    """The users a read rule lets in (None: everyone, anonymous included)."""
    if roles is None or any(r in EVERYONE for r in roles):
        return None
    people: set[str] = set()
    for role in roles:
        if role == AUTHENTICATED:
            people |= set(security.users)
        elif role not in security.roles and role not in ADMIN_ROLES:
            grants.notes.append(f"the rule names role {role}, which roles.xml does not define")
        else:
            people |= security.holders(role)
    return people
