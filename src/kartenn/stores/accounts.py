"""Accounts and rights in the catalogue database: organisations, users, memberships, API tokens, owners,
grants and the audit log (SQLite or PostgreSQL, through SQLAlchemy Core).

>>> accounts = Accounts(catalog.engine)                       # doctest: +SKIP
>>> accounts.add_organisation("iuem", "IUEM")                 # doctest: +SKIP
>>> accounts.add_user("anne", org="iuem", role="editor")      # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from kartenn.domain.security import ROLES, Identity
from kartenn.errors import Conflict, InvalidInput, NotFound
from kartenn.stores.catalog import _aware, _now, metadata

organisations = Table(
    "organisations", metadata,
    Column("id", String(80), primary_key=True),
    Column("name", Text, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
)
users = Table(
    "users", metadata,
    Column("id", String(80), primary_key=True),  # the login name
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("password", Text),  # argon2id hash; NULL for accounts that only log in through OpenID Connect
    Column("admin", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("locked_until", DateTime(timezone=True)),  # no longer used: wrong passwords slow addresses instead
    Column("created", DateTime(timezone=True), nullable=False),
)
memberships = Table(
    "memberships", metadata,
    Column("user_id", String(80), nullable=False),
    Column("org_id", String(80), nullable=False),
    Column("role", String(16), nullable=False),
    PrimaryKeyConstraint("user_id", "org_id"),
)
tokens = Table(
    "tokens", metadata,
    Column("id", String(32), primary_key=True),  # the public part of the token
    Column("user_id", String(80), nullable=False, index=True),
    Column("digest", String(64), nullable=False),  # SHA-256 of the secret part
    Column("name", Text, nullable=False),
    Column("scope", String(16), nullable=False),  # read | write
    Column("expires", DateTime(timezone=True)),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("last_used", DateTime(timezone=True)),
)
owners = Table(
    "owners", metadata,
    Column("kind", String(16), nullable=False),  # dataset | record
    Column("resource_id", String(255), nullable=False),
    Column("org_id", String(80)),
    Column("user_id", String(80)),
    PrimaryKeyConstraint("kind", "resource_id"),
)
grants = Table(
    "grants", metadata,
    Column("kind", String(16), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("principal", String(8), nullable=False),  # public | org | user
    Column("principal_id", String(80), nullable=False),  # "" for public
    Column("action", String(16), nullable=False),  # view | download | edit | publish
    PrimaryKeyConstraint("kind", "resource_id", "principal", "principal_id", "action"),
)
audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(80), nullable=False),
    Column("event", String(32), nullable=False, index=True),
    Column("resource", String(255), nullable=False),
    Column("detail", JSON, nullable=False),
)
sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the cookie's secret
    Column("user_id", String(80), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("claims", JSON, nullable=False),  # roles and admin granted by the OpenID provider at login
    Column("id_token", Text),  # kept for RP-initiated logout (id_token_hint)
    Column("created", DateTime(timezone=True), nullable=False),
    Column("expires", DateTime(timezone=True), nullable=False),
    Column("seen", DateTime(timezone=True), nullable=False),
)
login_flows = Table(  # OpenID Connect logins under way: state → nonce, PKCE verifier, where to go back
    "login_flows", metadata,
    Column("state", String(64), primary_key=True),
    Column("nonce", String(64), nullable=False),
    Column("verifier", String(128), nullable=False),
    Column("next", Text, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
)
login_failures = Table(  # failed logins per client address, for the rate limit
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ip", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
account_failures = Table(  # failed logins per account and client address: the address is slowed, not the account
    "account_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(80), nullable=False),
    Column("ip", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
signups = Table(  # sign-up requests waiting for an administrator
    "signups", metadata,
    Column("id", String(80), primary_key=True),  # the login name asked for
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("password", Text, nullable=False),  # argon2id hash
    Column("org", String(80)),  # the organisation asked for
    Column("message", Text, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
)


class Accounts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # organisations and users ------------------------------------------------------------------------------

    def add_organisation(self, org_id: str, name: str | None = None) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(organisations.c.id).where(organisations.c.id == org_id)).first():
                raise Conflict(f"organisation {org_id!r} exists already")
            conn.execute(insert(organisations).values(id=org_id, name=name or org_id, created=_now()))

    def list_organisations(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(organisations).order_by(organisations.c.id))]

    def has_organisation(self, org_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(organisations.c.id).where(organisations.c.id == org_id)).first() is not None

    def add_user(self, user_id: str, *, name: str = "", email: str = "", password_hash: str | None = None,
                 admin: bool = False, active: bool = True) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.id == user_id)).first():
                raise Conflict(f"user {user_id!r} exists already")
            conn.execute(insert(users).values(id=user_id, name=name or user_id, email=email, password=password_hash,
                                              admin=admin, active=active, failures=0, created=_now()))

    def get_user(self, user_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            raise NotFound(f"no user {user_id!r}")
        return dict(row._mapping)

    def list_users(self) -> list[dict[str, Any]]:
        """Users with their memberships (organisation → role)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(users.c.id, users.c.name, users.c.email, users.c.admin, users.c.active)
                                .order_by(users.c.id))
            found = [{**dict(r._mapping), "roles": {}} for r in rows]
            by_id = {u["id"]: u for u in found}
            for m in conn.execute(select(memberships)):
                if m.user_id in by_id:
                    by_id[m.user_id]["roles"][m.org_id] = m.role
        return found

    def set_membership(self, user_id: str, org_id: str, role: str) -> None:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}", locator="role")
        if not self.has_organisation(org_id):
            raise NotFound(f"no organisation {org_id!r}")
        with self.engine.begin() as conn:
            conn.execute(delete(memberships).where(and_(memberships.c.user_id == user_id,
                                                        memberships.c.org_id == org_id)))
            conn.execute(insert(memberships).values(user_id=user_id, org_id=org_id, role=role))

    def remove_membership(self, user_id: str, org_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(memberships).where(and_(memberships.c.user_id == user_id,
                                                        memberships.c.org_id == org_id)))

    def set_active(self, user_id: str, active: bool) -> None:
        """Enable or disable an account; disabling ends its sessions."""
        self.get_user(user_id)
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(active=active))
            if not active:
                conn.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def set_password(self, user_id: str, password_hash: str | None) -> None:
        """Replace the stored password hash (None: no local password)."""
        self.get_user(user_id)
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(password=password_hash))

    def update_user(self, user_id: str, *, name: str, email: str, admin: bool) -> None:
        self.get_user(user_id)
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(name=name or user_id, email=email,
                                                                            admin=admin))

    def identity(self, user_id: str, scope: str = "write") -> Identity:
        user = self.get_user(user_id)
        with self.engine.connect() as conn:
            roles = {r.org_id: r.role for r in conn.execute(select(memberships).where(
                memberships.c.user_id == user_id))}
        return Identity(user=user_id, admin=bool(user["admin"]), roles=roles, scope=scope)

    # tokens ------------------------------------------------------------------------------------------------

    def add_token(self, token_id: str, user_id: str, digest: str, name: str, scope: str,
                  expires: datetime | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(tokens).values(id=token_id, user_id=user_id, digest=digest, name=name, scope=scope,
                                               expires=expires, created=_now()))

    def get_token(self, token_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
        if row is None:
            return None
        data = dict(row._mapping)
        data["expires"] = _aware(data["expires"])
        return data

    # owners and grants -------------------------------------------------------------------------------------

    def set_owner(self, conn: Connection, kind: str, resource_id: str, org_id: str | None,
                  user_id: str | None) -> None:
        conn.execute(delete(owners).where(and_(owners.c.kind == kind, owners.c.resource_id == resource_id)))
        conn.execute(insert(owners).values(kind=kind, resource_id=resource_id, org_id=org_id, user_id=user_id))

    def set_owners(self, conn: Connection, kind: str, resource_ids: list[str], org_id: str | None,
                   user_id: str | None) -> None:
        """``set_owner`` of many resources at once."""
        for i in range(0, len(resource_ids), 500):
            chunk = resource_ids[i:i + 500]
            conn.execute(delete(owners).where(and_(owners.c.kind == kind, owners.c.resource_id.in_(chunk))))
            conn.execute(insert(owners), [{"kind": kind, "resource_id": r, "org_id": org_id, "user_id": user_id}
                                          for r in chunk])

    def grant_many(self, conn: Connection, kind: str, resource_ids: list[str], principal: str, principal_id: str,
                   action: str) -> None:
        """``grant`` of one right on many resources at once."""
        for i in range(0, len(resource_ids), 500):
            chunk = list(dict.fromkeys(resource_ids[i:i + 500]))
            held = set(conn.execute(select(grants.c.resource_id).where(and_(
                grants.c.kind == kind, grants.c.resource_id.in_(chunk), grants.c.principal == principal,
                grants.c.principal_id == principal_id, grants.c.action == action))).scalars())
            missing = [{"kind": kind, "resource_id": r, "principal": principal, "principal_id": principal_id,
                        "action": action} for r in chunk if r not in held]
            if missing:
                conn.execute(insert(grants), missing)

    def grant(self, conn: Connection, kind: str, resource_id: str, principal: str, principal_id: str,
              action: str) -> None:
        key = and_(grants.c.kind == kind, grants.c.resource_id == resource_id, grants.c.principal == principal,
                   grants.c.principal_id == principal_id, grants.c.action == action)
        if conn.execute(select(grants.c.kind).where(key)).first() is None:
            conn.execute(insert(grants).values(kind=kind, resource_id=resource_id, principal=principal,
                                               principal_id=principal_id, action=action))

    def revoke(self, conn: Connection, kind: str, resource_id: str, principal: str, principal_id: str,
               action: str) -> None:
        conn.execute(delete(grants).where(and_(
            grants.c.kind == kind, grants.c.resource_id == resource_id, grants.c.principal == principal,
            grants.c.principal_id == principal_id, grants.c.action == action)))

    def forget(self, conn: Connection, kind: str, resource_id: str) -> None:
        """Owner and grants of a deleted resource."""
        conn.execute(delete(owners).where(and_(owners.c.kind == kind, owners.c.resource_id == resource_id)))
        conn.execute(delete(grants).where(and_(grants.c.kind == kind, grants.c.resource_id == resource_id)))

    def known(self, conn: Connection, kind: str) -> set[str]:
        """Ids of ``kind`` resources that have an owner or a grant."""
        owned = select(owners.c.resource_id).where(owners.c.kind == kind)
        granted = select(grants.c.resource_id).where(grants.c.kind == kind)
        return set(conn.execute(owned.union(granted)).scalars())

    def grants_of(self, kind: str, resource_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(grants).where(and_(grants.c.kind == kind, grants.c.resource_id == resource_id)))
            return [dict(r._mapping) for r in rows]

    def owners_and_public(self, kind: str, ids: list[str]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """For many resources at once: their owners by id, and the ids of those granted to the public."""
        if not ids:
            return {}, set()
        with self.engine.connect() as conn:
            owned = {row.resource_id: dict(row._mapping) for row in conn.execute(
                select(owners).where(owners.c.kind == kind, owners.c.resource_id.in_(ids)))}
            public = set(conn.execute(select(grants.c.resource_id).where(
                grants.c.kind == kind, grants.c.resource_id.in_(ids), grants.c.principal == "public")).scalars())
        return owned, public

    def owner_of(self, kind: str, resource_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(owners).where(and_(owners.c.kind == kind,
                                                         owners.c.resource_id == resource_id))).first()
        return dict(row._mapping) if row else None

    def among(self, ids: Any, resource_id: str) -> bool:
        """Whether the SELECT of ids ``ids`` yields ``resource_id``."""
        subquery = ids.subquery()
        with self.engine.connect() as conn:
            return conn.execute(select(subquery.c[0]).where(subquery.c[0] == resource_id).limit(1)).first() is not None

    def owner_name(self, conn: Connection, kind: str, resource_id: str) -> str | None:
        """The name of the organisation that owns a resource."""
        return conn.execute(
            select(organisations.c.name)
            .join(owners, owners.c.org_id == organisations.c.id)
            .where(and_(owners.c.kind == kind, owners.c.resource_id == resource_id))
        ).scalar()

    def permitted(self, identity: Identity, kind: str, action: str) -> Any:
        """A SELECT of the ids of ``kind`` resources ``identity`` may ``action`` (not for admins: all)."""
        orgs = list(identity.roles)
        editing = action in ("edit", "publish")
        principal = [and_(grants.c.principal == "public", grants.c.principal_id == "")] if not editing or \
            identity.user is None else []
        if identity.user is not None:
            principal.append(and_(grants.c.principal == "user", grants.c.principal_id == identity.user))
            if orgs:
                principal.append(and_(grants.c.principal == "org", grants.c.principal_id.in_(orgs)))
        # A grant of a stronger action includes the weaker ones: edit includes view and download.
        actions = {"view": ["view", "download", "edit", "publish"], "download": ["download", "edit", "publish"],
                   "edit": ["edit", "publish"], "publish": ["publish"]}[action]
        by_grant = select(grants.c.resource_id).where(and_(grants.c.kind == kind, grants.c.action.in_(actions),
                                                           or_(*principal) if principal else False))
        if identity.user is None or (editing and identity.scope != "write"):
            return by_grant if not editing else select(grants.c.resource_id).where(False)
        # Owners: the owning user; the owning organisation's members see, its editors and admins edit.
        org_roles = [o for o, r in identity.roles.items() if not editing or r in ("editor", "admin")]
        mine = [owners.c.user_id == identity.user]
        if org_roles:
            mine.append(owners.c.org_id.in_(org_roles))
        by_owner = select(owners.c.resource_id).where(and_(owners.c.kind == kind, or_(*mine)))
        return by_grant.union(by_owner)

    def has_grant(self, user: str, orgs: list[str], kind: str, resource_id: str, action: str) -> bool:
        """Whether a grant gives ``action`` itself (not a stronger one) on a resource to ``user`` or one of
        ``orgs``."""
        mine = [and_(grants.c.principal == "user", grants.c.principal_id == user)]
        if orgs:
            mine.append(and_(grants.c.principal == "org", grants.c.principal_id.in_(orgs)))
        query = select(grants.c.resource_id).where(grants.c.kind == kind, grants.c.resource_id == resource_id,
                                                   grants.c.action == action, or_(*mine)).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    @staticmethod
    def owned_by(kind: str, user: str | None, orgs: list[str]) -> Any:
        """A SELECT of the ids of ``kind`` resources owned by ``user`` or one of ``orgs`` (none without a user)."""
        if user is None:
            return select(owners.c.resource_id).where(False)
        mine = [owners.c.user_id == user]
        if orgs:
            mine.append(owners.c.org_id.in_(orgs))
        return select(owners.c.resource_id).where(and_(owners.c.kind == kind, or_(*mine)))

    # sessions, login flows, failures and sign-ups ------------------------------------------------------

    def add_session(self, values: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires < _now()))
            conn.execute(insert(sessions).values(**values))

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.id == session_id)).first()
        if row is None:
            return None
        data = dict(row._mapping)
        for key in ("created", "expires", "seen"):
            data[key] = _aware(data[key])
        return data

    def touch_session(self, session_id: str, seen: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.id == session_id).values(seen=seen))

    def end_session(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.id == session_id))

    def end_sessions_of(self, user_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def add_login_flow(self, state: str, nonce: str, verifier: str, next_url: str, older_than: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(login_flows).where(login_flows.c.created < older_than))
            conn.execute(insert(login_flows).values(state=state, nonce=nonce, verifier=verifier, next=next_url,
                                                    created=_now()))

    def take_login_flow(self, state: str, newer_than: datetime) -> dict[str, Any] | None:
        """The flow of ``state``, used once: it is deleted as it is read."""
        with self.engine.begin() as conn:
            row = conn.execute(select(login_flows).where(login_flows.c.state == state)).first()
            conn.execute(delete(login_flows).where(login_flows.c.state == state))
        if row is None or _aware(row.created) < newer_than:
            return None
        return dict(row._mapping)

    def add_login_failure(self, ip: str, user_id: str | None = None) -> None:
        """A failed login from ``ip``, and for ``user_id`` from ``ip`` when an account was named."""
        with self.engine.begin() as conn:
            conn.execute(insert(login_failures).values(ip=ip, at=_now()))
            if user_id:
                conn.execute(insert(account_failures).values(user_id=user_id[:80], ip=ip, at=_now()))

    def login_failures_since(self, ip: str, since: datetime, user_id: str | None = None) -> tuple[int, datetime | None]:
        """How many failures from ``ip`` (for ``user_id`` only, when given) since ``since``, and the oldest."""
        table = account_failures if user_id else login_failures
        where = and_(table.c.ip == ip, table.c.at >= since)
        if user_id:
            where = and_(where, account_failures.c.user_id == user_id[:80])
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.at < since))
            row = conn.execute(select(func.count(), func.min(table.c.at)).where(where)).first()
        return (row[0], _aware(row[1])) if row else (0, None)

    def add_signup(self, values: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            taken = conn.execute(select(users.c.id).where(users.c.id == values["id"])).first() or \
                conn.execute(select(signups.c.id).where(signups.c.id == values["id"])).first()
            if taken:
                raise Conflict(f"the name {values['id']!r} is taken")
            conn.execute(insert(signups).values(**values, created=_now()))

    def list_signups(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(signups.c.id, signups.c.name, signups.c.email, signups.c.org,
                                       signups.c.message, signups.c.created).order_by(signups.c.created))
            return [{**dict(r._mapping), "created": _aware(r.created).isoformat()} for r in rows]

    def take_signup(self, signup_id: str) -> dict[str, Any]:
        with self.engine.begin() as conn:
            row = conn.execute(select(signups).where(signups.c.id == signup_id)).first()
            if row is None:
                raise NotFound(f"no sign-up request {signup_id!r}")
            conn.execute(delete(signups).where(signups.c.id == signup_id))
        return dict(row._mapping)

    def has_signup(self, signup_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(signups.c.id).where(signups.c.id == signup_id)).first() is not None

    # audit ------------------------------------------------------------------------------------------------

    def log(self, actor: str, event: str, resource: str = "", **detail: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(audit).values(at=_now(), actor=actor, event=event, resource=resource, detail=detail))

    def log_many(self, conn: Connection, actor: str, entries: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Audit lines (event, resource, detail) written with the change they describe, in its transaction."""
        if entries:
            now = _now()
            conn.execute(insert(audit), [{"at": now, "actor": actor, "event": e, "resource": r, "detail": d}
                                         for e, r, d in entries])

    def audit_log(self, *, event: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        if event:
            query = query.where(audit.c.event == event)
        with self.engine.connect() as conn:
            return [{**dict(r._mapping), "at": _aware(r.at).isoformat()} for r in conn.execute(query)]
