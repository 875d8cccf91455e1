"""Who is asking: an identity with its roles per organisation.

>>> Identity(user="anne", roles={"iuem": "editor"}).role_in("iuem")
'editor'
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("member", "editor", "reviewer", "admin")
ACTIONS = ("view", "download", "edit", "publish")


@dataclass(frozen=True)
class Identity:
    user: str | None = None  # None: anonymous
    admin: bool = False  # platform administrator
    roles: dict[str, str] = field(default_factory=dict)  # organisation → role
    scope: str = "write"  # an API token's scope: "read" tokens never edit

    def role_in(self, org: str) -> str | None:
        return self.roles.get(org)

    @property
    def name(self) -> str:
        return self.user or "anonymous"


ANONYMOUS = Identity()
# Whoever runs kartenn's commands on the site's machine (records import, ingest, style put, user add…): a
# platform administrator, named "cli" in the audit log and in record versions.
OPERATOR = Identity(user="cli", admin=True)


@dataclass(frozen=True)
class Sharing:
    """Who owns a new resource and whether the public may see it (and download it)."""

    org: str | None = None
    user: str | None = None
    public: bool = True
