"""Long work as jobs: kept in the catalogue (state, progress, log, result), run in a thread pool.

A job that was running when the process died is marked failed on the next start; publication is
atomic, so such a job left nothing behind. Queued jobs are started again.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kartenn.domain import Job, JobState
from kartenn.domain.security import Sharing
from kartenn.errors import InvalidInput, KartennError
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
                                progress=report.progress, sharing=sharing)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    datasets, errors = [], []
    for outcome in outcomes:
        for line in outcome.log:
            report.write(f"{outcome.source}: {line}")
        if outcome.error:
            report.write(f"{outcome.source}: error: {outcome.error}")
            errors.append({"source": outcome.source, "error": outcome.error})
        elif outcome.dataset:
            datasets.append(outcome.dataset.id)
    for dataset_id in datasets:
        site.accounts.log(params.get("created_by") or "system", "publish", f"dataset:{dataset_id}",
                          org=params.get("org"), public=params.get("public") == "true")
    if not datasets:
        raise InvalidInput(errors[0]["error"] if errors else "nothing was published")
    return {"datasets": datasets, "errors": errors}


HANDLERS: dict[str, Handler] = {"ingest": run_ingest}


class JobRunner:
    def __init__(self, site: Site, workers: int = 1) -> None:
        self.site = site
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="kartenn-job")
        self._lock = threading.Lock()

    def submit(self, kind: str, params: dict[str, Any]) -> Job:
        job = Job(id=secrets.token_hex(8), kind=kind, params=params, message="queued")
        self.site.catalog.add_job(job)
        self.pool.submit(self._run, job.id)
        return job

    def recover(self) -> None:
        """Fail the jobs a dead process was running; start again the ones still queued."""
        for job in self.site.catalog.list_jobs(JobState.running, limit=10_000):
            job.state = JobState.failed
            job.message = "interrupted: the server stopped while this job ran; nothing was published"
            job.log.append(job.message)
            self.site.catalog.save_job(job)
        for job in self.site.catalog.list_jobs(JobState.queued, limit=10_000):
            self.pool.submit(self._run, job.id)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job_id: str) -> None:
        job = self.site.catalog.get_job(job_id)
        if job.state != JobState.queued:
            return
        job.state, job.message = JobState.running, "running"
        self.site.catalog.save_job(job)
        report = Reporter(self.site, job)
        try:
            job.result = HANDLERS[job.kind](self.site, job, report)
            job.state, job.progress, job.message = JobState.succeeded, 1.0, "done"
        except KartennError as exc:
            job.state, job.message = JobState.failed, exc.message
            job.log.append(f"error: {exc.message}")
        except Exception:  # a bug: keep the trace in the server log, not in the job
            log.exception("job %s failed", job_id)
            job.state, job.message = JobState.failed, "internal error; the server log has the details"
            job.log.append("error: internal error")
        self.site.catalog.save_job(job)
