"""Long work as jobs: kept in the catalogue (state, progress, log, result), each run in its own process
with limits of time, memory and disk (see services.worker).

A job that was running when the process died is marked failed on the next start; publication is
atomic, so such a job left nothing behind. Queued jobs are started again.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kartenn.domain import Job, JobState
from kartenn.domain.security import Sharing
from kartenn.errors import InvalidInput, KartennError
from kartenn.services.worker import JobLimits, Watch
from kartenn.site import Site

log = logging.getLogger("kartenn.jobs")

Handler = Callable[[Site, Job, "Reporter"], dict[str, Any]]


class Reporter:
    """Progress and log of a running job, saved at most twice a second."""

    def __init__(self, site: Site, job: Job) -> None:
        self.site, self.job = site, job
        self._last = 0.0

    def progress(self, done: int, total: int | None, message: str) -> None:
        self.job.progress = round(min(done / total, 0.99), 3) if total else self.job.progress
        self.job.message = f"{message}: {done} features" if done else message
        now = time.monotonic()
        if now - self._last > 0.5:
            self._last = now
            self.site.catalog.save_job(self.job)

    def write(self, line: str) -> None:
        self.job.log.append(line)


def run_ingest(site: Site, job: Job, report: Reporter) -> dict[str, Any]:
    from kartenn.services.publish import publish_file

    params = job.params
    path = Path(params["path"])
    try:
        sharing = Sharing(org=params.get("org"), user=params.get("created_by"), public=params.get("public") == "true")
        outcomes = publish_file(site, path, title=params.get("title"), crs=params.get("crs"),
                                replace=params.get("replace"), label=params.get("filename"),
                                progress=report.progress, sharing=sharing, variable=params.get("variable"),
                                series=params.get("series"))
    finally:
        clean_ingest(site, job)
    datasets, errors = [], []
    for outcome in outcomes:
        for line in outcome.log:
            report.write(f"{outcome.source}: {line}")
        if outcome.error:
            report.write(f"{outcome.source}: error: {outcome.error}")
            errors.append({"source": outcome.source, "error": outcome.error})
        elif outcome.dataset:
            datasets.append(outcome.dataset.id)
    if not datasets:
        raise InvalidInput(errors[0]["error"] if errors else "nothing was published")
    return {"datasets": datasets, "errors": errors}


def clean_ingest(site: Site, job: Job) -> None:
    """What an ingest stopped from outside leaves: its upload."""
    shutil.rmtree(Path(job.params["path"]).parent, ignore_errors=True)


HANDLERS: dict[str, Handler] = {"ingest": run_ingest}
CLEANERS: dict[str, Callable[[Site, Job], None]] = {"ingest": clean_ingest}


def execute(site: Site, job: Job, limits: JobLimits | None = None) -> None:
    """Run a job (saved as running by the runner that started it) to its end and save how it ended. A limit
    passed is its own clear failure."""
    report = Reporter(site, job)
    try:
        job.result = HANDLERS[job.kind](site, job, report)
        job.state, job.progress, job.message = JobState.succeeded, 1.0, "done"
    except KartennError as exc:
        job.state, job.message = JobState.failed, (limits and limits.passed(exc)) or exc.message
    except Exception as exc:
        reason = limits and limits.passed(exc)
        if not reason:  # a bug: keep the trace in the server log, not in the job
            log.exception("job %s failed", job.id)
        job.state, job.message = JobState.failed, reason or "internal error; the server log has the details"
    if job.state == JobState.failed:
        job.log.append(f"error: {job.message}")
    site.catalog.save_job(job)


class JobRunner:
    """Runs queued jobs on ``workers`` threads, each watching a child process (see services.worker).

    A user has at most ``per_user`` jobs running: another user's job starts while one user's big job runs.
    """

    def __init__(self, site: Site, workers: int | None = None, per_user: int | None = None) -> None:
        self.site = site
        self.per_user = max(1, per_user or site.settings.job_user_workers)
        self._queue: list[tuple[str, str]] = []  # (job id, user)
        self._running: Counter[str] = Counter()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._cond = threading.Condition()
        self._stopping = False
        count = max(1, workers or site.settings.job_workers)
        self._threads = [threading.Thread(target=self._work, name=f"kartenn-job-{i}", daemon=True)
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, kind: str, params: dict[str, Any]) -> Job:
        job = Job(id=secrets.token_hex(8), kind=kind, params=params, message="queued")
        self.site.catalog.add_job(job)
        self._enqueue(job)
        return job

    def recover(self) -> None:
        """Fail the jobs a dead process was running; start again the ones still queued."""
        for job in self.site.catalog.list_jobs(JobState.running, limit=10_000):
            job.state = JobState.failed
            job.message = "interrupted: the server stopped while this job ran; nothing was published"
            job.log.append(job.message)
            self.site.catalog.save_job(job)
        for job in reversed(self.site.catalog.list_jobs(JobState.queued, limit=10_000)):  # oldest first
            self._enqueue(job)

    def shutdown(self) -> None:
        """Stop: running jobs' processes are killed (the next start marks those jobs failed)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            procs = list(self._procs.values())
        for proc in procs:
            proc.kill()

    def _enqueue(self, job: Job) -> None:
        with self._cond:
            self._queue.append((job.id, str(job.params.get("created_by") or "")))
            self._cond.notify_all()

    def _next(self) -> tuple[str, str] | None:
        with self._cond:
            while not self._stopping:
                for i, (job_id, user) in enumerate(self._queue):
                    if self._running[user] < self.per_user:
                        del self._queue[i]
                        self._running[user] += 1
                        return job_id, user
                self._cond.wait()
            return None

    def _work(self) -> None:
        while (item := self._next()) is not None:
            job_id, user = item
            try:
                self._run(job_id)
            except Exception:  # the runner itself failed: keep the thread for the next jobs
                log.exception("job %s could not be run", job_id)
            finally:
                with self._cond:
                    self._running[user] -= 1
                    self._cond.notify_all()

    def _run(self, job_id: str) -> None:
        job = self.site.catalog.get_job(job_id)
        if job.state != JobState.queued:
            return
        job.state, job.message = JobState.running, "running"
        self.site.catalog.save_job(job)
        watch = Watch(self.site, job_id, JobLimits.of(self.site.settings))
        with self._cond:
            stopping = self._stopping
            self._procs[job_id] = watch.proc
        if stopping:
            watch.proc.kill()
        try:
            reason = watch.wait()
        finally:
            with self._cond:
                self._procs.pop(job_id, None)
        if self._stopping:
            return  # killed by shutdown: the next start fails it and sweeps what it left
        job = self.site.catalog.get_job(job_id)
        if reason is None and job.state in (JobState.succeeded, JobState.failed):
            return
        watch.clean()
        CLEANERS.get(job.kind, lambda site, job: None)(self.site, job)
        if job.state in (JobState.succeeded, JobState.failed):
            return  # it ended on its own just before it was stopped
        job.state = JobState.failed
        job.message = reason or watch.died()
        job.log.append(f"error: {job.message}")
        self.site.catalog.save_job(job)
