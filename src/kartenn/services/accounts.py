"""Organisations, users and their roles, and the audit log: platform administrators only. Each change is
checked here and written to the audit log here, whoever asks (JSON API, command line).

>>> add_user(site.seen_by(OPERATOR), "anne", org="iuem", role="editor")   # doctest: +SKIP
{'id': 'anne', 'org': 'iuem', 'role': 'editor'}
"""

from __future__ import annotations

from typing import Any

from kartenn.domain.security import ROLES
from kartenn.errors import Forbidden, InvalidInput, Unauthorized
from kartenn.services.identity import hash_password


def require_admin(site: Any) -> None:
    """Unauthorized for anonymous callers, Forbidden (and an audit line) for anyone but a writing admin."""
    if site.identity.user is None:
        raise Unauthorized("log in as an administrator")
    if not site.identity.admin or site.identity.scope != "write":
        site.accounts.log(site.identity.name, "access.denied", "admin")
        raise Forbidden("administrators only")


def list_organisations(site: Any) -> list[dict[str, Any]]:
    require_admin(site)
    return [{"id": o["id"], "name": o["name"]} for o in site.accounts.list_organisations()]


def add_organisation(site: Any, org_id: str, name: str | None = None) -> dict[str, Any]:
    require_admin(site)
    if not org_id.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput("id must be letters, digits, - or _", locator="id")
    site.accounts.add_organisation(org_id, name)
    site.accounts.log(site.identity.name, "org.create", f"org:{org_id}")
    return {"id": org_id, "name": name or org_id}


def list_users(site: Any) -> list[dict[str, Any]]:
    require_admin(site)
    return site.accounts.list_users()  # type: ignore[no-any-return]


def add_user(site: Any, user_id: str, *, org: str | None = None, role: str = "member", email: str = "",
             password: str | None = None) -> dict[str, Any]:
    """A new account, with ``role`` in ``org`` (role admin: a platform administrator, org optional)."""
    require_admin(site)
    if not user_id:
        raise InvalidInput("id is required", locator="id")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", locator="role")
    if role != "admin" and not org:
        raise InvalidInput("org is required for a member, editor or reviewer", locator="org")
    if org and not site.accounts.has_organisation(org):
        raise InvalidInput(f"no organisation {org!r}", locator="org")
    password_hash = hash_password(password) if password is not None else None
    site.accounts.add_user(user_id, email=email, password_hash=password_hash, admin=role == "admin")
    if org:
        site.accounts.set_membership(user_id, org, role)
    site.accounts.log(site.identity.name, "user.create", f"user:{user_id}", org=org, role=role)
    return {"id": user_id, "org": org, "role": role}


def set_active(site: Any, user_id: str, active: bool) -> dict[str, Any]:
    """Enable an account, or disable it (its sessions end, its tokens stop working)."""
    require_admin(site)
    site.accounts.set_active(user_id, active)
    site.accounts.log(site.identity.name, "user.enable" if active else "user.disable", f"user:{user_id}")
    return {"id": user_id, "active": active}


def set_role(site: Any, user_id: str, org: str, role: str | None) -> dict[str, Any]:
    """The user's role in ``org``; None removes it."""
    require_admin(site)
    if role is None:
        site.accounts.remove_membership(user_id, org)
        site.accounts.log(site.identity.name, "role.remove", f"user:{user_id}", org=org)
    else:
        site.accounts.get_user(user_id)
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}", locator="role")
        site.accounts.set_membership(user_id, org, role)
        site.accounts.log(site.identity.name, "role.set", f"user:{user_id}", org=org, role=role)
    return {"id": user_id, "org": org, "role": role}


def list_signups(site: Any) -> list[dict[str, Any]]:
    require_admin(site)
    return site.accounts.list_signups()  # type: ignore[no-any-return]


def audit_log(site: Any, *, event: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    require_admin(site)
    return site.accounts.audit_log(event=event, limit=limit)  # type: ignore[no-any-return]
