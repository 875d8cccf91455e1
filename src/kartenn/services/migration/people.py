"""GeoServer's workspaces, roles and users as Kartenn organisations and accounts.

- a workspace becomes an organisation that owns the workspace's datasets (it has no members: GeoServer gives
  nobody rights through a workspace, only through roles);
- a role becomes an organisation (id: the role in lower case, name: its ``organisation`` property, else the role)
  whose members are the users holding the role, given directly, through a group or by inheritance; groups
  themselves are not organisations (GeoServer's rules name roles, never groups);
- ADMIN and ROLE_ADMINISTRATOR make platform administrators;
- a user keeps its ``digest1:`` hash (checked, then replaced by argon2id, at its first login); ``plain:`` passwords
  are hashed now; encrypted ones (``crypt1:``, ``crypt2:``) and empty ones cannot be carried over.
"""

from __future__ import annotations

from dataclasses import replace

from kartenn.errors import KartennError
from kartenn.services import accounts
from kartenn.services.identity import GEOSERVER_DIGEST, HASHER
from kartenn.services.migration.run import Run, digest
from kartenn.services.migration.security import ADMIN_ROLES, GROUP_ADMIN_ROLES, org_id
from kartenn.stores import migration_sources


def organisations(run: Run) -> None:
    for workspace in run.data.workspaces:
        _organisation(run, f"workspace {workspace}", org_id(workspace), workspace)
    for role in sorted(run.security.roles):
        if role in ADMIN_ROLES:
            continue
        name = run.security.roles[role].properties.get("organisation") or role
        if _organisation(run, f"role {role}", org_id(role), name):
            run.managed_orgs.add(org_id(role))
        if role in GROUP_ADMIN_ROLES and (holders := sorted(run.security.holders(role))):
            verb = "keeps" if len(holders) == 1 else "keep"
            run.report.warn(f"role {role}", f"{', '.join(holders)} {verb} the data rights GeoServer rules give {role} "
                            f"(organisation {org_id(role)}); the user and group administration it allows in "
                            "GeoServer has no Kartenn equivalent (only platform administrators manage accounts)")


def _organisation(run: Run, source: str, ident: str, name: str) -> bool:
    """Make (or find) the organisation; whether it is the migration's."""
    site, known = run.site, run.row("org", source, ident)
    if site.accounts.has_organisation(ident):
        if known is None:
            run.done("skipped", source, "org", ident, "an organisation with this id exists already: used as it is")
            run.report.warn(source, f"organisation {ident} existed before the migration: its members and rights are "
                            "added to it")
        else:
            run.done("skipped", source, "org", ident, "unchanged")
        return True
    if not run.dry_run:
        try:
            accounts.add_organisation(site, ident, name)
        except KartennError as exc:
            run.report.warn(source, exc.message)
            return False
    run.remember("org", source, ident, digest(name))
    run.done("created", source, "org", ident, name)
    return True


def users(run: Run) -> None:
    sec = run.security
    with run.site.catalog.begin() as conn:
        from_geonetwork = migration_sources.of_system(conn, "geonetwork")
    for name, account in sorted(sec.users.items()):
        source = f"user {name}"
        held = sec.roles_of(name)
        admin = bool(held & ADMIN_ROLES)
        unknown = sorted(r for r in held if r not in sec.roles and r not in ADMIN_ROLES)
        if unknown:
            run.report.warn(source, f"holds roles roles.xml does not define: {', '.join(unknown)}")
        orgs = sorted(org_id(r) for r in held if r in sec.roles and r not in ADMIN_ROLES and
                      org_id(r) in run.managed_orgs)
        fingerprint = digest(account.enabled, account.password, account.email, account.full_name, admin, orgs)
        password = _password_hash(run, source, account.password)
        detail = ", ".join(["platform administrator"] * admin + [f"member of {o}" for o in orgs] +
                           ["disabled"] * (not account.enabled)) or "no role"
        known = run.row("user", source, name)
        try:
            existing = run.site.accounts.get_user(name)
        except KartennError:
            existing = None
        merged = existing is not None and known is None and (("user", source) in from_geonetwork)
        if existing is not None and known is None and not merged:
            run.done("skipped", source, "user", name, "a Kartenn account has this name: kept as it is")
            run.report.warn(source, "a Kartenn account with this name existed before the migration: not changed")
            continue
        if merged:  # the GeoNetwork migration made it: one account, what it has where GeoServer says nothing
            account = replace(account, enabled=account.enabled and bool(existing["active"]),
                              full_name=account.full_name or existing["name"], email=account.email or existing["email"])
            admin = admin or bool(existing["admin"])
            detail = "merged with the account from GeoNetwork: " + detail
        run.managed_users.add(name)
        if existing is not None and known is not None and known.fingerprint == fingerprint:
            run.done("skipped", source, "user", name, "unchanged")
            continue
        if not run.dry_run:
            _write_user(run, name, account, password, admin, orgs, existing)
        run.remember("user", source, name, fingerprint)
        run.done("updated" if existing else "created", source, "user", name, detail)


def _password_hash(run: Run, source: str, stored: str) -> str | None:
    scheme, _, value = stored.partition(":")
    if stored.startswith(GEOSERVER_DIGEST) and value:
        return stored  # checked at the first login, then hashed again with argon2id
    if scheme == "plain" and value:
        return HASHER.hash(value)  # not a new password: the length rule of new ones does not apply
    why = {"crypt1": "is encrypted with GeoServer's keystore (crypt1)", "crypt2": "is encrypted with GeoServer's "
           "keystore (crypt2)"}.get(scheme, "is empty" if not stored else f"uses an unknown scheme ({scheme})")
    run.report.warn(source, f"its password {why} and cannot be carried over: log in through OpenID Connect or set "
                    "a password")
    return None


def _write_user(run: Run, name: str, account, password: str | None, admin: bool,  # type: ignore[no-untyped-def]
                orgs: list[str], existing: dict | None) -> None:
    store = run.site.accounts
    if existing is None:
        store.add_user(name, name=account.full_name, email=account.email, password_hash=password, admin=admin,
                       active=account.enabled)  # a disabled account is never active, not even for a moment
        event = "user.create"
    else:
        store.update_user(name, name=account.full_name, email=account.email, admin=admin)
        if existing["password"] is None or str(existing["password"]).startswith(GEOSERVER_DIGEST):
            store.set_password(name, password)  # never over a password set in Kartenn since
        event = "user.update"
    for org in orgs:
        store.set_membership(name, org, "member")
    for org, _ in store.identity(name).roles.items():
        if org in run.managed_orgs and org not in orgs:
            store.remove_membership(name, org)
    if existing is not None:
        store.set_active(name, account.enabled)
    store.log(run.site.identity.name, event, f"user:{name}", source="geoserver", admin=admin, orgs=orgs,
              active=account.enabled)
