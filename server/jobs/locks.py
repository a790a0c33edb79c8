"""A per-job lock file so the CLI and the server never run the same job at once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.errors import Conflict
from server.portable import lock_exclusive


@contextmanager
def job_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the duration; Conflict if another process has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            lock_exclusive(fd, wait=False)
        except OSError as exc:
            raise Conflict(f"{what} is already running in another MiniFlix process.",
                           hint="wait for it to finish, or stop that process first") from exc
        yield
    finally:
        os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether some process (this one included) holds the job lock at `path` right now."""
    if not path.exists():
        return False
    try:
        with job_lock(path, "probe"):
            return False
    except Conflict:
        return True
