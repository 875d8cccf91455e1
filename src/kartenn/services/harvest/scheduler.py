"""Scheduled harvests: the server runs the sources whose next run is due, with nobody at the keyboard.

Every process of a site may run a scheduler. A due source is claimed in the database before it runs
(stores/harvests.py ``claim``, only while it is due), so only one process runs a given harvest and it runs once
for each due time. The server's scheduler hands each claimed source to the job runner (services/jobs.py): the run
has its own process with the jobs' limits, and shows among the jobs.

>>> [r.source for r in run_due(site)]   # doctest: +SKIP
['sextant']
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kartenn.domain.security import OPERATOR
from kartenn.services import harvest
from kartenn.stores import harvests
from kartenn.stores.catalog import _now
from kartenn.stores.harvests import HarvestRun

log = logging.getLogger("kartenn.harvest")
CHECK_SECONDS = 30.0


def claim_due(site: Any) -> list[tuple[str, str]]:
    """Claim every due source that no process holds: (source, holder) of those claimed here."""
    operator = site.seen_by(OPERATOR)
    with operator.catalog.engine.connect() as conn:
        names = harvests.due(conn, _now())
    claimed = []
    for name in names:
        me = f"{harvest.holder()}:{name}"
        with operator.catalog.begin() as conn:
            if harvests.claim(conn, name, me, harvest.hold(operator), due=True):
                claimed.append((name, me))
    return claimed


def run_due(site: Any) -> list[HarvestRun]:
    """Run every due source once, here (those another process holds are left to it)."""
    operator = site.seen_by(OPERATOR)
    return [harvest.run(operator, name, me) for name, me in claim_due(site)]


class Scheduler:
    """A thread that, every ``every`` seconds until ``stop()``, claims the due sources and ``submit``s a harvest
    job for each (``submit(kind, params)``, the job runner's)."""

    def __init__(self, site: Any, submit: Callable[[str, dict[str, Any]], Any], every: float = CHECK_SECONDS) -> None:
        self.site, self.submit, self.every = site, submit, every
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
                for name, me in claim_due(self.site):
                    self.submit("harvest", {"source": name, "claimed_by": me, "created_by": ""})
                    log.info("harvest %s: scheduled run queued", name)
            except Exception:  # a failing database or a bug: keep the scheduler for the next check
                log.exception("scheduled harvests could not be started")
