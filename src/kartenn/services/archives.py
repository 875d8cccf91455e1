"""Safe unpacking of uploaded archives: no path escapes, no bombs, no nested archives."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from kartenn.errors import UnsafeArchive

ARCHIVE_SUFFIXES = {".zip", ".kmz", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz"}
IGNORED_PREFIXES = ("__MACOSX/",)


def check_zip(path: Path, *, max_bytes: int, max_ratio: int, max_members: int) -> list[zipfile.ZipInfo]:
    """The members worth extracting, after refusing anything unsafe. Raises UnsafeArchive."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise UnsafeArchive(f"{path.name}: not a readable zip archive ({exc})") from exc
    with archive:
        infos = [i for i in archive.infolist() if not i.filename.startswith(IGNORED_PREFIXES)]
    if len(infos) > max_members:
        raise UnsafeArchive(f"{path.name}: {len(infos)} members, more than the {max_members} allowed")
    total = 0
    compressed = max(path.stat().st_size, 1)
    for info in infos:
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or info.filename.startswith("/") or ":" in name.parts[0]:
            raise UnsafeArchive(f"{path.name}: member {info.filename!r} would be written outside the archive")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchive(f"{path.name}: member {info.filename!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"{path.name}: member {info.filename!r} is encrypted")
        if not info.is_dir() and name.suffix.lower() in ARCHIVE_SUFFIXES:
            raise UnsafeArchive(
                f"{path.name}: nested archive {info.filename!r}; unpack it and upload its content instead"
            )
        total += info.file_size
    if total > max_bytes:
        raise UnsafeArchive(f"{path.name}: unpacks to {total} bytes, more than the {max_bytes} allowed")
    if total / compressed > max_ratio:
        raise UnsafeArchive(
            f"{path.name}: compression ratio {total // compressed}:1 is above {max_ratio}:1 (zip bomb?)"
        )
    return [i for i in infos if not i.is_dir()]


def extract_zip(path: Path, target: Path, *, max_bytes: int, max_ratio: int, max_members: int) -> Path:
    """Unpack a checked archive into ``target``, counting real bytes as they come (headers can lie)."""
    members = check_zip(path, max_bytes=max_bytes, max_ratio=max_ratio, max_members=max_members)
    written = 0
    with zipfile.ZipFile(path) as archive:
        for info in members:
            dest = target.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise UnsafeArchive(f"{path.name}: unpacks to more than the {max_bytes} bytes allowed")
                    out.write(chunk)
    return target
