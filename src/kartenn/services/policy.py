"""The one place that says who may do what: ``allowed(identity, action, kind, id)`` and, for lists and
searches, ``permitted(identity, action, kind)`` (a SELECT of ids, or None when everything is).

Rules: platform admins may do everything. A grant to the public, an organisation or a user gives its
action and the weaker ones (publish ⊃ edit ⊃ download ⊃ view). The owning user, and the owning
organisation's members, see a resource; its editors and admins edit it. Edits need a write scope.

>>> allowed(ANONYMOUS, "view", "dataset", "regions", accounts)   # doctest: +SKIP
True
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from kartenn.domain.security import ANONYMOUS, Identity
from kartenn.stores.accounts import Accounts

__all__ = ["ANONYMOUS", "allowed", "permitted"]

# Answers are kept a moment: a page of tiles or features asks the same question many times a second.
# A grant given or taken back takes effect within CACHE_SECONDS.
CACHE_SECONDS = 2.0
_recent: dict[tuple, tuple[float, bool]] = {}


def permitted(identity: Identity, action: str, kind: str, accounts: Accounts) -> Any:
    """None when ``identity`` may ``action`` every ``kind`` resource; else a SELECT of the ids it may."""
    if identity.admin and (identity.scope == "write" or action in ("view", "download")):
        return None
    return accounts.permitted(identity, kind, action)


def allowed(identity: Identity, action: str, kind: str, resource_id: str, accounts: Accounts) -> bool:
    key = (identity.user, identity.admin, tuple(sorted(identity.roles.items())), identity.scope, action, kind,
           resource_id, id(accounts))
    now = time.monotonic()
    hit = _recent.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    ids = permitted(identity, action, kind, accounts)
    if ids is None:
        return True
    subquery = ids.subquery()
    with accounts.engine.connect() as conn:
        found = conn.execute(select(subquery.c[0]).where(subquery.c[0] == resource_id).limit(1)).first()
    if len(_recent) > 10_000:
        _recent.clear()
    _recent[key] = (now, found is not None)
    return found is not None
