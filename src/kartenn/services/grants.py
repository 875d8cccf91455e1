"""Rights on datasets: managed by whoever may publish the dataset (its organisation's editors, admins).

>>> add_grant(site.seen_by(editor), "regions", "org", "iuem", "download")   # doctest: +SKIP
{'principal': 'org', 'id': 'iuem', 'action': 'download'}
"""

from __future__ import annotations

from typing import Any

from kartenn.domain.security import ACTIONS
from kartenn.errors import InvalidInput


def check_grant(principal: str, principal_id: str, action: str) -> tuple[str, str, str]:
    """The grant's (principal, principal id, action), or InvalidInput; the public has no id."""
    if principal not in ("public", "org", "user"):
        raise InvalidInput("principal must be public, org or user", locator="principal")
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", locator="action")
    principal_id = "" if principal == "public" else principal_id
    if principal != "public" and not principal_id:
        raise InvalidInput("id names the organisation or the user", locator="id")
    return principal, principal_id, action


def _publisher(site: Any, dataset_id: str) -> None:
    site.catalog.get_dataset(dataset_id)
    site.require("publish", "dataset", dataset_id)


def grants_of(site: Any, dataset_id: str) -> dict[str, Any]:
    """The dataset's owner and grants."""
    _publisher(site, dataset_id)
    rows = site.accounts.grants_of("dataset", dataset_id)
    return {"owner": site.accounts.owner_of("dataset", dataset_id),
            "grants": [{"principal": g["principal"], "id": g["principal_id"], "action": g["action"]} for g in rows]}


def change_grant(site: Any, dataset_id: str, principal: str, principal_id: str, action: str, *,
                 revoke: bool = False) -> dict[str, Any]:
    """Give (or, with ``revoke``, take back) ``action`` on the dataset to the principal."""
    _publisher(site, dataset_id)
    principal, principal_id, action = check_grant(principal, principal_id, action)
    with site.catalog.begin() as conn:
        change = site.accounts.revoke if revoke else site.accounts.grant
        change(conn, "dataset", dataset_id, principal, principal_id, action)
    site.accounts.log(site.identity.name, "grant.revoke" if revoke else "grant.add", f"dataset:{dataset_id}",
                      principal=principal, principal_id=principal_id, action=action)
    return {"principal": principal, "id": principal_id, "action": action}
