"""Administration through the JSON API: organisations, users and roles, grants on datasets, the audit log.

Platform admins manage organisations, users and the audit log; a dataset's grants are managed by whoever
may publish it (its organisation's editors, admins).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from kartenn.domain.security import ROLES
from kartenn.errors import InvalidInput
from kartenn.services import accounts, grants
from kartenn.services.access import SiteView
from kartenn.services.identity import approve_signup, reject_signup
from kartenn.web.deps import get_site

router = APIRouter(tags=["admin"])
Site = Annotated[SiteView, Depends(get_site)]


@router.get("/organisations")
def organisations(site: Site) -> dict[str, Any]:
    return {"organisations": accounts.list_organisations(site)}


@router.post("/organisations", status_code=201)
def add_organisation(site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    accounts.require_admin(site)
    return accounts.add_organisation(site, str(body.get("id") or ""), body.get("name"))


@router.get("/users")
def users(site: Site) -> dict[str, Any]:
    return {"users": accounts.list_users(site)}


@router.post("/users", status_code=201)
def add_user(site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"id", "org", "role", "email", "password"}``; role admin makes a platform administrator."""
    accounts.require_admin(site)
    if body.get("password") is not None and not isinstance(body["password"], str):
        raise InvalidInput("password must be a string", locator="password")
    return accounts.add_user(site, str(body.get("id") or ""), org=body.get("org"), role=body.get("role", "member"),
                             email=str(body.get("email") or ""), password=body.get("password") or None)


@router.patch("/users/{user_id}")
def change_user(user_id: str, site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"active": false}`` disables an account and ends its sessions; ``{"active": true}`` enables it."""
    accounts.require_admin(site)
    if not isinstance(body.get("active"), bool):
        raise InvalidInput("active must be true or false", locator="active")
    return accounts.set_active(site, user_id, body["active"])


@router.put("/users/{user_id}/roles/{org}")
def set_role(user_id: str, org: str, site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"role": "editor"}``: the user's role in ``org`` (member, editor, reviewer, admin)."""
    role = body.get("role")
    if not isinstance(role, str):
        accounts.require_admin(site)
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", locator="role")
    return accounts.set_role(site, user_id, org, role)


@router.delete("/users/{user_id}/roles/{org}", status_code=204)
def remove_role(user_id: str, org: str, site: Site) -> None:
    accounts.set_role(site, user_id, org, None)


@router.get("/signups")
def signups(site: Site) -> dict[str, Any]:
    """Account requests waiting for approval."""
    return {"signups": accounts.list_signups(site)}


@router.post("/signups/{signup_id}/approve", status_code=201)
def approve(signup_id: str, site: Site, body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    """``{"org", "role"}`` (both optional: the organisation asked for, as a member)."""
    accounts.require_admin(site)
    body = body or {}
    role = body.get("role", "member")
    if role not in ROLES or role == "admin":
        raise InvalidInput("role must be member, editor or reviewer", locator="role")
    return approve_signup(site, signup_id, site.identity.name, org=body.get("org"), role=role)


@router.delete("/signups/{signup_id}", status_code=204)
def reject(signup_id: str, site: Site) -> None:
    accounts.require_admin(site)
    reject_signup(site, signup_id, site.identity.name)


@router.get("/datasets/{dataset_id}/grants")
def grants_of(dataset_id: str, site: Site) -> dict[str, Any]:
    return grants.grants_of(site, dataset_id)


@router.post("/datasets/{dataset_id}/grants", status_code=201)
def add_grant(dataset_id: str, site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return grants.change_grant(site, dataset_id, body.get("principal", "public"), str(body.get("id") or ""),
                               body.get("action", "view"))


@router.delete("/datasets/{dataset_id}/grants", status_code=204)
def revoke_grant(dataset_id: str, site: Site, principal: str = "public", id: str = "",  # noqa: A002
                 action: str = "view") -> None:
    grants.change_grant(site, dataset_id, principal, id, action, revoke=True)


@router.get("/audit")
def audit(site: Site, event: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return {"events": accounts.audit_log(site, event=event, limit=limit)}
