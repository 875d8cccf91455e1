"""What one process changes in a dataset, the others see at their next read, on both stores: two sites opened on
the same data stand for two server processes. On PostgreSQL each keeps the rows it has read while the database
reports no change (LISTEN/NOTIFY); these tests are what would fail if a kept row outlived a change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conftest import shared
from kartenn.config import Settings
from kartenn.errors import NotFound
from kartenn.services.publish import publish_file
from kartenn.site import Site

COUNTRIES = "natural-earth/ne_110m_lakes.geojson"


@pytest.fixture
def two(settings: Settings) -> Iterator[tuple[Site, Site, str]]:
    first = Site.open(settings, create=True)
    (outcome,) = publish_file(first, shared(COUNTRIES))
    second = Site.open(settings)
    yield first, second, outcome.dataset.id
    second.close()
    first.close()


def seen(site: Site, dataset_id: str, check: Any, reads: int = 200) -> bool:
    """Whether ``check(dataset or None)`` holds within ``reads`` reads: a notification reaches the other process a
    moment after the change commits."""
    for _ in range(reads):
        try:
            found = site.catalog.get_dataset(dataset_id)
        except NotFound:
            found = None
        if check(found):
            return True
        time.sleep(0.01)
    return False


def retitle(site: Site, dataset_id: str, title: str) -> None:
    with site.catalog.begin() as conn:
        ds = site.catalog.get_dataset(dataset_id, conn)
        ds.title = title
        site.catalog.update_dataset(conn, ds)


def test_a_change_in_one_process_reaches_the_other(two: tuple[Site, Site, str]) -> None:
    first, second, dataset_id = two
    before = second.catalog.get_dataset(dataset_id)
    retitle(first, dataset_id, "Pays du monde (édition 2)")
    assert seen(second, dataset_id, lambda d: d is not None and d.title == "Pays du monde (édition 2)")
    assert second.catalog.get_dataset(dataset_id).updated > before.updated

    with first.catalog.begin() as conn:
        first.catalog.delete_dataset(conn, dataset_id)
    assert seen(second, dataset_id, lambda d: d is None)


def test_kept_rows_are_read_once_and_changed_by_their_own_process(two: tuple[Site, Site, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, dataset_id = two
    catalog = second.catalog
    fetched: list[str] = []
    fetch = catalog._fetch_dataset
    monkeypatch.setattr(catalog, "_fetch_dataset", lambda i: fetched.append(i) or fetch(i))
    for _ in range(5):
        ds = catalog.get_dataset(dataset_id)
        ds.fields.clear()  # what a caller does with its copy does not reach the kept row
    kept = second.settings.uses_postgis
    assert len(fetched) == (1 if kept else 5)
    assert catalog.get_dataset(dataset_id).fields

    retitle(second, dataset_id, "Retitré ici")  # the process that writes forgets at once, no notification awaited
    assert catalog.get_dataset(dataset_id).title == "Retitré ici"


def test_a_lost_listening_connection_keeps_nothing(two: tuple[Site, Site, str], store: str) -> None:
    if store != "postgis":
        pytest.skip("the embedded store keeps no rows: each read is in the process")
    first, second, dataset_id = two
    second.catalog.get_dataset(dataset_id)
    rows = second.catalog._rows
    assert rows is not None and rows._conn is not None
    with psycopg.connect(second.settings.database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (rows._conn.info.backend_pid,))
        # the change's notification goes nowhere: only the lost connection listened
        retitle(first, dataset_id, "Après la coupure")
    # the connection's end, not a notification, makes it forget: it comes a moment after the termination
    assert seen(second, dataset_id, lambda d: d is not None and d.title == "Après la coupure")
    assert rows._conn is None  # not tried again before RETRY_SECONDS: reads go to the database meanwhile
    retitle(first, dataset_id, "Sans écoute")
    assert second.catalog.get_dataset(dataset_id).title == "Sans écoute"
