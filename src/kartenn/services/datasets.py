"""Dataset use cases that are not publishing: removal, by those who may publish the dataset."""

from __future__ import annotations

from typing import Any

from kartenn.domain import Dataset
from kartenn.errors import Forbidden
from kartenn.services.publish import delete_dataset


def remove(site: Any, dataset_id: str) -> Dataset:
    """Delete a dataset and its data (its organisation's editors, admins), with an audit line."""
    site.catalog.get_dataset(dataset_id)
    site.require("publish", "dataset", dataset_id)
    if site.identity.scope != "write":
        raise Forbidden("this token is read-only")
    dataset = delete_dataset(site, dataset_id)
    site.accounts.log(site.identity.name, "delete", f"dataset:{dataset_id}")
    return dataset
