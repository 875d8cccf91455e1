"""Administration through the JSON API: organisations, users and roles, grants on datasets, the audit log.

Platform admins manage organisations, users and the audit log; a dataset's grants are managed by whoever
may publish it (its organisation's editors, admins).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from kartenn.domain.security import ACTIONS, ROLES
from kartenn.errors import Forbidden, InvalidInput, Unauthorized
from kartenn.services.access import SiteView
from kartenn.services.identity import approve_signup, hash_password, reject_signup
from kartenn.web.deps import get_site

router = APIRouter(tags=["admin"])
Site = Annotated[SiteView, Depends(get_site)]


def _admin(site: SiteView) -> None:
    if site.identity.user is None:
        raise Unauthorized("log in as an administrator")
    if not site.identity.admin or site.identity.scope != "write":
        site.accounts.log(site.identity.name, "access.denied", "admin")
        raise Forbidden("administrators only")


@router.get("/organisations")
def organisations(site: Site) -> dict[str, Any]:
    _admin(site)
    return {"organisations": [{"id": o["id"], "name": o["name"]} for o in site.accounts.list_organisations()]}


@router.post("/organisations", status_code=201)
def add_organisation(site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    _admin(site)
    org_id = str(body.get("id") or "")
    if not org_id.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput("id must be letters, digits, - or _", locator="id")
    site.accounts.add_organisation(org_id, body.get("name"))
    site.accounts.log(site.identity.name, "org.create", f"org:{org_id}")
    return {"id": org_id, "name": body.get("name") or org_id}


@router.get("/users")
def users(site: Site) -> dict[str, Any]:
    _admin(site)
    return {"users": site.accounts.list_users()}


@router.post("/users", status_code=201)
def add_user(site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"id", "org", "role", "email", "password"}``; role admin makes a platform administrator."""
    _admin(site)
    user_id, org, role = str(body.get("id") or ""), body.get("org"), body.get("role", "member")
    if not user_id:
        raise InvalidInput("id is required", locator="id")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", locator="role")
    if role != "admin" and not org:
        raise InvalidInput("org is required for a member, editor or reviewer", locator="org")
    if org and not site.accounts.has_organisation(org):
        raise InvalidInput(f"no organisation {org!r}", locator="org")
    if body.get("password") is not None and not isinstance(body["password"], str):
        raise InvalidInput("password must be a string", locator="password")
    password = hash_password(body["password"]) if body.get("password") else None
    site.accounts.add_user(user_id, email=str(body.get("email") or ""), password_hash=password, admin=role == "admin")
    if org:
        site.accounts.set_membership(user_id, org, role)
    site.accounts.log(site.identity.name, "user.create", f"user:{user_id}", org=org, role=role)
    return {"id": user_id, "org": org, "role": role}


@router.patch("/users/{user_id}")
def change_user(user_id: str, site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"active": false}`` disables an account and ends its sessions; ``{"active": true}`` enables it."""
    _admin(site)
    if not isinstance(body.get("active"), bool):
        raise InvalidInput("active must be true or false", locator="active")
    site.accounts.set_active(user_id, body["active"])
    site.accounts.log(site.identity.name, "user.enable" if body["active"] else "user.disable", f"user:{user_id}")
    return {"id": user_id, "active": body["active"]}


@router.put("/users/{user_id}/roles/{org}")
def set_role(user_id: str, org: str, site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"role": "editor"}``: the user's role in ``org`` (member, editor, reviewer, admin)."""
    _admin(site)
    site.accounts.get_user(user_id)
    role = body.get("role")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", locator="role")
    site.accounts.set_membership(user_id, org, role)
    site.accounts.log(site.identity.name, "role.set", f"user:{user_id}", org=org, role=role)
    return {"id": user_id, "org": org, "role": role}


@router.delete("/users/{user_id}/roles/{org}", status_code=204)
def remove_role(user_id: str, org: str, site: Site) -> None:
    _admin(site)
    site.accounts.remove_membership(user_id, org)
    site.accounts.log(site.identity.name, "role.remove", f"user:{user_id}", org=org)


@router.get("/signups")
def signups(site: Site) -> dict[str, Any]:
    """Account requests waiting for approval."""
    _admin(site)
    return {"signups": site.accounts.list_signups()}


@router.post("/signups/{signup_id}/approve", status_code=201)
def approve(signup_id: str, site: Site, body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    """``{"org", "role"}`` (both optional: the organisation asked for, as a member)."""
    _admin(site)
    body = body or {}
    role = body.get("role", "member")
    if role not in ROLES or role == "admin":
        raise InvalidInput("role must be member, editor or reviewer", locator="role")
    return approve_signup(site, signup_id, site.identity.name, org=body.get("org"), role=role)


@router.delete("/signups/{signup_id}", status_code=204)
def reject(signup_id: str, site: Site) -> None:
    _admin(site)
    reject_signup(site, signup_id, site.identity.name)


def _grant_args(body: dict[str, Any]) -> tuple[str, str, str]:
    principal, action = body.get("principal", "public"), body.get("action", "view")
    if principal not in ("public", "org", "user"):
        raise InvalidInput("principal must be public, org or user", locator="principal")
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", locator="action")
    principal_id = "" if principal == "public" else str(body.get("id") or "")
    if principal != "public" and not principal_id:
        raise InvalidInput("id names the organisation or the user", locator="id")
    return principal, principal_id, action


@router.get("/datasets/{dataset_id}/grants")
def grants(dataset_id: str, site: Site) -> dict[str, Any]:
    site.catalog.get_dataset(dataset_id)
    site.require("publish", "dataset", dataset_id)
    rows = site.accounts.grants_of("dataset", dataset_id)
    return {"owner": site.accounts.owner_of("dataset", dataset_id),
            "grants": [{"principal": g["principal"], "id": g["principal_id"], "action": g["action"]} for g in rows]}


@router.post("/datasets/{dataset_id}/grants", status_code=201)
def add_grant(dataset_id: str, site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    site.catalog.get_dataset(dataset_id)
    site.require("publish", "dataset", dataset_id)
    principal, principal_id, action = _grant_args(body)
    with site.catalog.begin() as conn:
        site.accounts.grant(conn, "dataset", dataset_id, principal, principal_id, action)
    site.accounts.log(site.identity.name, "grant.add", f"dataset:{dataset_id}", principal=principal,
                      principal_id=principal_id, action=action)
    return {"principal": principal, "id": principal_id, "action": action}


@router.delete("/datasets/{dataset_id}/grants", status_code=204)
def revoke_grant(dataset_id: str, site: Site, principal: str = "public", id: str = "",  # noqa: A002
                 action: str = "view") -> None:
    site.catalog.get_dataset(dataset_id)
    site.require("publish", "dataset", dataset_id)
    principal, principal_id, action = _grant_args({"principal": principal, "id": id, "action": action})
    with site.catalog.begin() as conn:
        site.accounts.revoke(conn, "dataset", dataset_id, principal, principal_id, action)
    site.accounts.log(site.identity.name, "grant.revoke", f"dataset:{dataset_id}", principal=principal,
                      principal_id=principal_id, action=action)


@router.get("/audit")
def audit(site: Site, event: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    _admin(site)
    return {"events": site.accounts.audit_log(event=event, limit=limit)}
