"""GeoNetwork's groups, users and profiles as Kartenn organisations, accounts and roles.

- a group (but the reserved ones) becomes an organisation: id its name, name its label;
- the reserved groups: ``all`` (1) is the public; ``intranet`` (0), which GeoNetwork gives to requests from its
  local network, becomes the organisation ``intranet`` whose members are all the GeoNetwork users (Kartenn has
  no rights by network address); ``guest`` (-1), the self-registered users, is not carried over;
- a user's profile in a group becomes its role in the group's organisation: UserAdmin → admin, Reviewer →
  reviewer, Editor → editor, RegisteredUser → member (the strongest of its profiles there); the Administrator
  profile makes a platform administrator;
- a user whose name the GeoServer migration brought already is one account: it gains its GeoNetwork
  memberships, keeps its password (GeoNetwork's API gives none, and its hashes cannot be checked by Kartenn),
  and is disabled if GeoNetwork disables it.
"""

from __future__ import annotations

from kartenn.errors import KartennError
from kartenn.services.migration.geonetwork import ALL, GUEST, INTRANET, User
from kartenn.services.migration.people import _organisation
from kartenn.services.migration.run import Run, digest
from kartenn.services.migration.security import org_id
from kartenn.stores import migration_sources

ROLES = {"RegisteredUser": "member", "Editor": "editor", "Reviewer": "reviewer", "UserAdmin": "admin"}
RANK = ("member", "editor", "reviewer", "admin")
INTRANET_ORG = "intranet"


def group_org(run: Run, group_id: str | None) -> str | None:
    """The organisation a group became (None for all, guest and unknown groups)."""
    if group_id == INTRANET:
        return INTRANET_ORG
    group = run.data.groups.get(group_id)
    if group is None or group_id in (ALL, GUEST):
        return None
    return org_id(group.name)


def organisations(run: Run) -> None:
    for group in run.data.groups.values():
        if group.id in (ALL, GUEST):
            continue
        ident = group_org(run, group.id)
        assert ident is not None
        name = "Intranet (GeoNetwork users)" if group.id == INTRANET else group.label
        if _organisation(run, f"group {group.name}", ident, name):
            run.managed_orgs.add(ident)
    guests = sorted(u.name for u in run.data.users if GUEST in run.data.memberships.get(u.id, {}))
    if guests:
        run.report.warn("group guest", f"{', '.join(guests)}: membership of guest (self-registered users) has no "
                        "Kartenn equivalent and is not carried over")


def users(run: Run) -> None:
    with run.site.catalog.begin() as conn:
        from_geoserver = migration_sources.of_system(conn, "geoserver")
    for user in run.data.users:
        source = f"user {user.name}"
        try:
            _user(run, user, source, from_geoserver)
        except KartennError as exc:
            run.report.warn(source, f"not migrated: {exc.message}")


def roles_of(run: Run, user: User) -> dict[str, str]:
    """Organisation → role, from the user's profiles in its groups (the strongest in each)."""
    found: dict[str, str] = {}
    for group_id, profiles in sorted(run.data.memberships.get(user.id, {}).items()):
        org = group_org(run, group_id)
        roles = [ROLES[p] for p in profiles if p in ROLES]
        if org is None or org not in run.managed_orgs or not roles:
            continue
        found[org] = max(roles, key=RANK.index)
    if INTRANET_ORG in run.managed_orgs and user.enabled:
        found.setdefault(INTRANET_ORG, "member")
    return found


def _user(run: Run, user: User, source: str, from_geoserver: dict) -> None:  # type: ignore[type-arg]
    site = run.site
    admin = user.profile == "Administrator"
    roles = roles_of(run, user)
    fingerprint = digest(user.enabled, user.email, user.full_name, admin, sorted(roles.items()))
    known = run.row("user", source, user.name)
    try:
        existing = site.accounts.get_user(user.name)
    except KartennError:
        existing = None
    merged = existing is not None and any(r.kartenn_id == user.name for r in from_geoserver.get(("user", source), []))
    if existing is not None and known is None and not merged:
        run.done("skipped", source, "user", user.name, "a Kartenn account has this name: kept as it is")
        run.report.warn(source, "a Kartenn account with this name existed before the migration: not changed")
        return
    run.managed_users.add(user.name)
    if "UserAdmin" in {p for ps in run.data.memberships.get(user.id, {}).values() for p in ps}:
        run.report.warn(source, "UserAdmin: becomes admin of its group's organisation (edits and reviews its "
                        "records); the user administration it allows in GeoNetwork has no Kartenn equivalent (only "
                        "platform administrators manage accounts)")
    if (existing is None or existing["password"] is None) and user.enabled:
        why = "its GeoNetwork password hash cannot be checked by Kartenn" if user.password else \
            "GeoNetwork's API does not give passwords"
        run.report.warn(source, f"no usable password ({why}): log in through OpenID Connect or set a password")
    detail = ", ".join(["platform administrator"] * admin + [f"{role} of {org}" for org, role in roles.items()] +
                       ["disabled"] * (not user.enabled)) or "no group"
    if merged and known is None:
        detail = "merged with the account from GeoServer: " + detail
    if existing is not None and known is not None and known.fingerprint == fingerprint:
        run.done("skipped", source, "user", user.name, "unchanged")
        return
    if not run.dry_run:
        _write(run, user, admin, roles, existing)
    run.remember("user", source, user.name, fingerprint)
    run.done("updated" if existing else "created", source, "user", user.name, detail)


def _write(run: Run, user: User, admin: bool, roles: dict[str, str], existing: dict | None) -> None:  # type: ignore[type-arg]
    store = run.site.accounts
    if existing is None:
        store.add_user(user.name, name=user.full_name, email=user.email, password_hash=None, admin=admin,
                       active=user.enabled)
        event = "user.create"
    else:  # what the account has already wins; the password is never touched
        name = existing["name"] if existing["name"] not in ("", user.name) else user.full_name
        store.update_user(user.name, name=name, email=existing["email"] or user.email,
                          admin=bool(existing["admin"]) or admin)
        if not user.enabled:
            store.set_active(user.name, False)
        event = "user.update"
    for org, role in roles.items():
        store.set_membership(user.name, org, role)
    for org in store.identity(user.name).roles:
        if org in run.managed_orgs and org not in roles:
            store.remove_membership(user.name, org)
    store.log(run.site.identity.name, event, f"user:{user.name}", source="geonetwork", admin=admin,
              roles=roles, active=user.enabled)
