"""A job's own process, its limits of time, memory and disk, and the watch the web process keeps on it.

The web process starts ``python -m kartenn.services.worker`` for each job and sends it the settings and the
job id on stdin. The child sets its resource limits (RLIMIT_AS for memory, RLIMIT_FSIZE for its largest
file, RLIMIT_CPU as a backstop), opens its own database connections, runs the job and saves how it ended;
it dies with its parent. The parent kills it when it passes its wall-clock time or writes more than its
disk limit in the staging area, then removes what it left: PostgreSQL rolls a killed client's transaction
back, and publication is atomic, so nothing half-made stays.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from kartenn.config import Settings
from kartenn.site import Site
from kartenn.stores.files import PUBLISHING

MB = 1024**2
PR_SET_PDEATHSIG = 1


class LimitPassed(Exception):  # noqa: N818 - not a KartennError: it stops the whole job, not one source
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class JobLimits:
    seconds: int
    memory_mb: int
    disk_mb: int

    @classmethod
    def of(cls, s: Settings) -> JobLimits:
        return cls(seconds=s.job_max_seconds, memory_mb=s.job_max_memory_mb, disk_mb=s.job_max_disk_mb)

    @property
    def time_message(self) -> str:
        return f"stopped: over the job time limit of {self.seconds} s (job_max_seconds)"

    @property
    def memory_message(self) -> str:
        return f"stopped: over the job memory limit of {self.memory_mb} MB (job_max_memory_mb)"

    @property
    def disk_message(self) -> str:
        return f"stopped: over the job disk limit of {self.disk_mb} MB (job_max_disk_mb)"

    def passed(self, exc: BaseException | None) -> str | None:
        """The limit that ``exc`` (or what caused it) shows was passed, if any."""
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            if isinstance(exc, LimitPassed):
                return exc.message
            if isinstance(exc, MemoryError) or _says_memory(exc):
                return self.memory_message
            if isinstance(exc, OSError) and exc.errno == 27:  # EFBIG: a write past RLIMIT_FSIZE
                return self.disk_message
            exc = exc.__cause__ or exc.__context__
        return _PASSED[0] if _PASSED else None

    def apply(self) -> None:
        """In the job's process: the kernel's limits, and a clear exception when one is reached."""
        cpu = self.seconds * (os.cpu_count() or 1) + 10
        resource.setrlimit(resource.RLIMIT_AS, (self.memory_mb * MB, self.memory_mb * MB))
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.disk_mb * MB, self.disk_mb * MB))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 10))
        signal.signal(signal.SIGXFSZ, _raiser(self.disk_message))
        signal.signal(signal.SIGXCPU, _raiser(self.time_message))


def _says_memory(exc: BaseException) -> bool:
    """GDAL, GEOS (std::bad_alloc) and others report a failed allocation in their own exception types."""
    from rasterio.errors import RasterioError

    text = str(exc).lower()
    return "bad_alloc" in text or "out of memory" in text or (isinstance(exc, RasterioError) and "memory" in text)


_PASSED: list[str] = []  # in the job's process: the limits its signals said were reached


def _raiser(message: str) -> Any:
    def handler(signum: int, frame: Any) -> None:
        _PASSED.append(message)
        raise LimitPassed(message)

    return handler


class Watch:
    """The web process's side: start a job's process, watch its time and staging disk, clean after a kill."""

    def __init__(self, site: Site, job_id: str, limits: JobLimits) -> None:
        self.site, self.limits = site, limits
        self.areas: list[str] = []  # staging areas the child opened, as it reports them
        # Without NO_PROXY, every HTTP request GDAL could make while reading goes to safe_open's dead proxy.
        env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
        env.update(GDAL_CACHEMAX=str(max(32, limits.memory_mb // 8)), MALLOC_ARENA_MAX="2")
        self.proc = subprocess.Popen([sys.executable, "-m", "kartenn.services.worker"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        spec = {"settings": site.settings.model_dump(mode="json"), "job": job_id, "parent": os.getpid()}
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(spec).encode())
        self.proc.stdin.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.areas.append(json.loads(line)["staging"])
            except (ValueError, KeyError, TypeError):
                continue

    def wait(self) -> str | None:
        """Wait for the child's end; kill it and say why when it passes its time or disk limit."""
        deadline = time.monotonic() + self.limits.seconds
        while True:
            try:
                self.proc.wait(timeout=0.5)
                return None
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                reason = self.limits.time_message
            elif sum(self.site.staging.size(name) for name in list(self.areas)) > self.limits.disk_mb * MB:
                reason = self.limits.disk_message
            else:
                continue
            self.proc.kill()
            self.proc.wait()
            return reason

    def died(self) -> str:
        """Why the child ended without saying how its job ended."""
        code = self.proc.returncode
        if code < 0 and -code in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL):
            # Libraries abort when an allocation fails past RLIMIT_AS.
            return f"{self.limits.memory_message} (the job's process ended with {signal.Signals(-code).name})"
        how = signal.Signals(-code).name if code < 0 else f"exit status {code}"
        return f"the job's process ended abnormally ({how}); the server log has the details"

    def clean(self) -> None:
        """After the child's death: its staging areas, and files it moved into place but never committed."""
        self._reader.join(5)
        for name in self.areas:
            self.site.staging.remove(name)
        # Only what the dead child was publishing (its areas name the storage) and no catalogue entry lists.
        self.site.drop_unlisted({name.removesuffix(PUBLISHING) for name in self.areas})


def main() -> None:
    from kartenn.services.jobs import execute

    spec = json.loads(sys.stdin.read())
    _die_with(spec["parent"])
    settings = Settings(**spec["settings"])
    limits = JobLimits.of(settings)
    limits.apply()
    site = Site(settings)
    site.staging.opened = lambda name: print(json.dumps({"staging": name}), flush=True)
    try:
        execute(site, site.catalog.get_job(spec["job"]), limits)
    finally:
        site.close()


def _die_with(parent: int) -> None:
    """Be killed when the web process dies, so no job goes on after it (its next start fails the job)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


if __name__ == "__main__":
    main()
