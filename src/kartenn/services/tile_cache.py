"""A tile cache on disk, under the data directory: ``cache/tiles/<dataset>/<tms>/<z>/<row>/<col>-<hash>.<ext>``.

The hash covers what makes a tile: the dataset's storage and update time (a replace or a WFS-T edit changes
them), the style's digest and any filter (such as a time), so a change never serves an old tile. Files are
written to a temporary name and renamed, so readers never see half a tile. Callers check rights first.

>>> cache = TileCache(settings)                                                  # doctest: +SKIP
>>> key = cache.key([dataset], "WebMercatorQuad", 10, 385, 301, "png", style.digest())  # doctest: +SKIP
>>> cache.get(key) or cache.put(key, render())                                   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from kartenn.config import Settings
from kartenn.domain import Dataset

SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class TileCache:
    """Tiles on disk, keyed by content; ``max_bytes`` caps the total (oldest files go first)."""

    def __init__(self, root: Path, max_bytes: int, enabled: bool = True) -> None:
        self.root, self.max_bytes, self.enabled = root, max_bytes, enabled
        self._written = 0  # bytes written since the last size check
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: Settings) -> TileCache:
        return cls(settings.data_dir / "cache" / "tiles", settings.tile_cache_max_mb * 1024**2,
                   settings.tile_cache)

    def key(self, datasets: Sequence[Dataset], tms: str, z: int, row: int, col: int, ext: str,
            *extra: object) -> Path:
        """Where the tile of ``datasets`` (one, or several for a multi-layer tile) is kept."""
        parts = [f"{d.id}|{d.storage}|{d.updated.isoformat() if d.updated else ''}" for d in datasets]
        digest = hashlib.sha1("|".join([*parts, *map(str, extra)]).encode(), usedforsecurity=False).hexdigest()[:20]
        folder = SAFE.sub("_", "+".join(d.id for d in datasets))[:120] or "_"
        return self.root / folder / SAFE.sub("_", tms) / str(z) / str(row) / f"{col}-{digest}.{SAFE.sub('_', ext)}"

    def get(self, path: Path) -> bytes | None:
        if not self.enabled:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    def put(self, path: Path, body: bytes) -> bytes:
        """Keep ``body`` at ``path`` (atomically) and give it back."""
        if not self.enabled:
            return body
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            os.replace(temp, path)
        except OSError:
            Path(temp).unlink(missing_ok=True)
            return body
        with self._lock:
            self._written += len(body)
            check = self._written > self.max_bytes // 10
            if check:
                self._written = 0
        if check:
            self.trim()
        return body

    def fetch(self, path: Path, make: Callable[[], bytes]) -> tuple[bytes, bool]:
        """(tile, was it cached): the cached tile, or ``make()`` kept for next time."""
        body = self.get(path)
        if body is not None:
            return body, True
        return self.put(path, make()), False

    def trim(self) -> None:
        """Remove the least recently written tiles until the cache is under 80 % of its cap."""
        files = []
        total = 0
        for dirpath, _, names in os.walk(self.root):
            for name in names:
                p = Path(dirpath) / name
                try:
                    st = p.stat()
                except OSError:
                    continue
                files.append((st.st_mtime, st.st_size, p))
                total += st.st_size
        if total <= self.max_bytes:
            return
        for _, size, p in sorted(files):
            p.unlink(missing_ok=True)
            total -= size
            if total <= self.max_bytes * 0.8:
                break
