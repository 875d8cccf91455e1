"""Scheduled harvests: the server runs the sources whose next run is due, with nobody at the keyboard.

Every process of a site may run a scheduler: each source is claimed in the database before it runs
(stores/harvests.py ``claim``), so only one process runs a given harvest, and the others skip it.

>>> [r.source for r in run_due(site)]   # doctest: +SKIP
['sextant']
"""

from __future__ import annotations

import logging
import threading

from kartenn.domain.security import OPERATOR
from kartenn.errors import Conflict
from kartenn.services import harvest
from kartenn.stores import harvests
from kartenn.stores.catalog import _now
from kartenn.stores.harvests import HarvestRun

log = logging.getLogger("kartenn.harvest")
CHECK_SECONDS = 30.0


def run_due(site: object) -> list[HarvestRun]:
    """Run every due source once (those another process holds are left to it)."""
    operator = site.seen_by(OPERATOR)  # type: ignore[attr-defined]
    with operator.catalog.engine.connect() as conn:
        names = harvests.due(conn, _now())
    done = []
    for name in names:
        try:
            done.append(harvest.run(operator, name))
        except Conflict:
            continue  # claimed by another process meanwhile
    return done


class Scheduler:
    """A thread checking for due harvests every ``CHECK_SECONDS`` until ``stop()``."""

    def __init__(self, site: object, every: float = CHECK_SECONDS) -> None:
        self.site, self.every = site, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kartenn-harvest", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                for result in run_due(self.site):
                    log.info("harvest %s %s: %s", result.source, result.status, result.message)
            except Exception:  # a failing database or a bug: keep the scheduler for the next check
                log.exception("scheduled harvests could not be run")
