"""The one place that says who may do what: ``allowed(identity, action, kind, id)`` and, for lists and
searches, ``permitted(identity, action, kind)`` (a SELECT of ids, or None when everything is).

Rules: platform admins may do everything. A grant to the public, an organisation or a user gives its
action and the weaker ones (publish ⊃ edit ⊃ download ⊃ view). The owning user, and the owning
organisation's members, see a resource; its editors and admins edit it. Edits need a write scope.

Catalogue records have a status (draft → submitted → published). Only published records are seen through
grants; records not published are seen by their owning user and by the editors, reviewers and admins of
their owning organisation (``unpublished_permitted``); a reviewer or admin of that organisation approves
them (``may_review``). Changes of a published record are published as they are made only by those who may
review it or were given ``publish`` on it by a grant (``publishes_changes``); others' wait for review.

>>> allowed(ANONYMOUS, "view", "dataset", "regions", accounts)   # doctest: +SKIP
True
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from kartenn.domain.security import ANONYMOUS, Identity
from kartenn.stores.accounts import Accounts

__all__ = ["ANONYMOUS", "allowed", "permitted", "unpublished_permitted", "may_review", "publishes_changes",
           "WORKFLOW_ROLES"]

WORKFLOW_ROLES = ("editor", "reviewer", "admin")  # who sees an organisation's records before publication
REVIEW_ROLES = ("reviewer", "admin")

# Answers are kept a moment: a page of tiles or features asks the same question many times a second.
# A grant given or taken back takes effect within CACHE_SECONDS.
CACHE_SECONDS = 2.0
# Per accounts store (a site): a store closed and another opened at the same address share nothing.
_recent: weakref.WeakKeyDictionary[Accounts, dict[tuple, tuple[float, bool]]] = weakref.WeakKeyDictionary()


def permitted(identity: Identity, action: str, kind: str, accounts: Accounts) -> Any:
    """None when ``identity`` may ``action`` every ``kind`` resource; else a SELECT of the ids it may."""
    if identity.admin and (identity.scope == "write" or action in ("view", "download")):
        return None
    return accounts.permitted(identity, kind, action)


def allowed(identity: Identity, action: str, kind: str, resource_id: str, accounts: Accounts) -> bool:
    key = (identity.user, identity.admin, tuple(sorted(identity.roles.items())), identity.scope, action, kind,
           resource_id)
    now = time.monotonic()
    recent = _recent.setdefault(accounts, {})
    hit = recent.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    ids = permitted(identity, action, kind, accounts)
    if ids is None:
        return True
    found = accounts.among(ids, resource_id)
    if len(recent) > 10_000:
        recent.clear()
    recent[key] = (now, found)
    return found


def unpublished_permitted(identity: Identity, kind: str) -> Any:
    """None when ``identity`` sees every record that is not published; else a SELECT of the ids of the
    ``kind`` resources (record, or dataset for the records of datasets) whose drafts it sees."""
    if identity.admin:
        return None
    return Accounts.owned_by(kind, identity.user, [o for o, r in identity.roles.items() if r in WORKFLOW_ROLES])


def may_review(identity: Identity, kind: str, resource_id: str, accounts: Accounts) -> bool:
    """Whether ``identity`` may approve (publish) or reject a submitted record."""
    if identity.user is None or identity.scope != "write":
        return False
    if identity.admin:
        return True
    owner = accounts.owner_of(kind, resource_id)
    return bool(owner and owner.get("org_id") and identity.roles.get(owner["org_id"]) in REVIEW_ROLES)


def publishes_changes(identity: Identity, kind: str, resource_id: str, accounts: Accounts) -> bool:
    """Whether ``identity``'s changes of a published record are published as made: platform admins, reviewers of
    the owning organisation, and the users or organisations a grant gives ``publish`` on it (owning a record, or
    editing for its organisation, does not)."""
    if may_review(identity, kind, resource_id, accounts):
        return True
    if identity.user is None or identity.scope != "write":
        return False
    return accounts.has_grant(identity.user, list(identity.roles), kind, resource_id, "publish")
