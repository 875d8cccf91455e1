"""The file store (COGs, uploads) and the staging area where work in progress lives until it is published."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

PUBLISHING = ".publishing"  # the area held while a dataset is published (StagingArea.publishing)


class StagingArea:
    """Folders for work in progress, each held by a lock while its process lives.

    A killed process releases its lock, so ``sweep`` can tell abandoned folders from live ones.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.opened: Callable[[str], None] | None = None  # told the name of each new area (a job's watcher)
        root.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def area(self, name: str) -> Iterator[Path]:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=False)
        lock = open(self.root / f"{name}.lock", "w")  # noqa: SIM115 - held for the whole block
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if self.opened:
                self.opened(name)
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            os.unlink(lock.name)
            lock.close()

    def remove(self, name: str) -> None:
        """Remove an area its dead holder left."""
        shutil.rmtree(self.root / name, ignore_errors=True)
        (self.root / f"{name}.lock").unlink(missing_ok=True)

    def size(self, name: str) -> int:
        """Bytes in an area (0 once it is gone)."""
        total = 0
        for path in (self.root / name).rglob("*"):
            try:
                total += path.stat().st_size if path.is_file() else 0
            except OSError:
                continue  # removed while counted
        return total

    def publishing(self, storage: str) -> AbstractContextManager[Path]:
        """Held from the first byte of a dataset's data until its catalogue entry commits: while it is, clean-up
        leaves the data alone; if its process dies, clean-up knows the data for a leftover."""
        return self.area(storage + PUBLISHING)

    def is_busy(self, storage: str) -> bool:
        return self.is_active(storage) or self.is_active(storage + PUBLISHING)

    def is_active(self, name: str) -> bool:
        lock_path = self.root / f"{name}.lock"
        if not lock_path.exists():
            return False
        with open(lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
        return False

    def sweep(self) -> list[str]:
        """Remove what dead processes left behind; return the names removed (storage names, once published)."""
        removed = []
        for entry in sorted(self.root.iterdir()):
            name = entry.name.removesuffix(".lock")
            if self.is_active(name):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(name.removesuffix(PUBLISHING))
        return sorted(set(removed))


class FileStore:
    """Published files (rasters as COGs) under one folder, addressed by a relative name."""

    def __init__(self, root: Path, staging: StagingArea) -> None:
        self.root = root
        self.staging = staging
        root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"{name!r} is outside the file store")
        return path

    def put(self, source: Path, name: str) -> None:
        """Move a finished file into place in one rename (same file system as the staging area)."""
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def unreferenced(self, known: set[str]) -> list[str]:
        """The files no catalogue entry names and no live process is publishing (``Site.reconcile`` decides)."""
        names = (str(path.relative_to(self.root)) for path in sorted(self.root.rglob("*")) if path.is_file())
        # A time step's file (``storage.t0003.tif``) is busy while its storage is.
        return [name for name in names if name not in known and not self.staging.is_busy(Path(name).name.split(".")[0])]
