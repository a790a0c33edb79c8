"""Free disk space: the check before a job starts, and telling "disk full" apart from other failures.

A full disk rarely says so on its own: ffmpeg's segment muxers stop writing without an error at
`-loglevel error`, and the step after them then finds a broken file. So besides recognising the
errno and ffmpeg's and SQLite's wording, a failure is also blamed on the disk when too little space
is left for what the job still had to write.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from server.errors import DiskFull

MB = 1024 * 1024
OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
OUT_OF_SPACE_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the disk holding `path`."""
    return shutil.disk_usage(_existing(path)).free


def disk_full(path: Path, *, needed_mb: float | None = None) -> DiskFull:
    """The user-facing error for `path`'s disk, with how much is free (and needed, when known)."""
    free = free_bytes(path) / MB
    need = f"; this needs at least {needed_mb:.0f} MB" if needed_mb is not None else ""
    return DiskFull(f"Out of disk space in {path} ({_mb(free)} MB free{need}).",
                    hint="free some space on that disk (or move the data dir to a bigger one with "
                         "MINIFLIX_DATA_DIR), then retry")


def require_free(path: Path, needed_mb: float) -> None:
    """Raise DiskFull unless `path`'s disk has `needed_mb` free: refuse a job before it fills it."""
    if free_bytes(path) < needed_mb * MB:
        raise disk_full(path, needed_mb=needed_mb)


def is_out_of_space(exc: BaseException) -> bool:
    """Whether `exc`, or any exception it was raised from, says the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFull) or _says_out_of_space(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_sqlite_out_of_space(exc: sqlite3.Error, path: Path) -> bool:
    """SQLite reports a full disk as "database or disk is full", or, when it cannot even grow its
    shared-memory index, as a bare "disk I/O error": that one counts only if the disk is full."""
    text = str(exc).lower()
    if "disk is full" in text:
        return True
    return "disk i/o error" in text and free_bytes(path) < MB


def _says_out_of_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE_ERRNOS:
        return True
    text = str(exc).lower()
    return any(phrase in text for phrase in OUT_OF_SPACE_TEXTS)


def _existing(path: Path) -> Path:
    """`path` or its nearest existing parent (a data dir being created has none of its folders yet)."""
    path = Path(path)
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _mb(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def tree_size(root: Path) -> int:
    """Bytes in the files under `root` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
