"""Rotating an nginx edge's logs (`access.log`, `hits.log`) without losing or repeating a line.

Without rotation the logs of a long-running studio grow by ~150 bytes a request forever. The edge
(the one owner of its nginx) renames a log that outgrew `ROTATE_BYTES` to `<log>.1` and asks nginx to
reopen its logs (SIGUSR1: nginx writes its buffered lines, then opens a new file at the old name).
Each reader keeps a `Position`: an offset AND the inode of the file it belongs to, so it knows that
its file was renamed; it reads the renamed file to its end, and deletes it once no nginx process holds
it open any more (a worker writes to its old file until it handled the reopen), then goes on at the
start of the new log. A log is renamed only when its previous `.1` is gone, so at most two files of a
log exist: about twice `ROTATE_BYTES` of disk per log.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROTATE_BYTES = 32 << 20


@dataclass(frozen=True)
class Position:
    """Where a reader is: `offset` bytes into the file whose inode is `inode` (None: not known yet,
    as in a state written before rotation existed: the current log)."""

    offset: int
    inode: int | None = None


def rotated(log: Path) -> Path:
    return log.with_name(log.name + ".1")


def inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def rotate(logs: Iterable[Path], reopen: Callable[[], None], limit: int | None = None) -> list[Path]:
    """Rename each of `logs` larger than `limit` (default ROTATE_BYTES) whose last rotation was read
    and deleted, then `reopen()` once if any was renamed; the logs renamed."""
    limit = ROTATE_BYTES if limit is None else limit
    renamed = []
    for log in logs:
        with contextlib.suppress(OSError):
            if log.stat().st_size > limit and not rotated(log).exists():
                os.replace(log, rotated(log))
                renamed.append(log)
    if renamed:
        reopen()
    return renamed


def locate(log: Path, at: Position) -> tuple[Path, Position]:
    """The file a reader at `at` reads next and from where: the renamed log while it finishes it,
    else the current log (from its start when `at` belongs to a file that is gone). A renamed file
    the reader already left (it crashed between saving its new position and deleting the file) is
    deleted here."""
    old_inode, current = inode(rotated(log)), inode(log)
    if old_inode is not None and at.inode in (old_inode, None):
        return rotated(log), Position(at.offset, old_inode)
    if old_inode is not None:
        forget(log, at)
    if at.inode is None or at.inode == current:
        return log, Position(at.offset, current)
    return log, Position(0, current)


def finish(log: Path, read_to: int) -> Position | None:
    """The reader read `log`'s renamed file up to `read_to`: if that is its end and no nginx holds it
    open, the position at the start of the new log (the caller saves it, then calls `forget`); None
    while a worker may still write to it."""
    old = rotated(log)
    try:
        if old.stat().st_size > read_to or held_open(old):
            return None
        if old.stat().st_size > read_to:        # a worker wrote it and closed it between the looks
            return None
    except FileNotFoundError:
        pass
    return Position(0, inode(log))


def forget(log: Path, at: Position) -> None:
    """Delete `log`'s renamed file unless `at` still belongs to it."""
    if at.inode != inode(rotated(log)):
        with contextlib.suppress(FileNotFoundError):
            rotated(log).unlink()


def held_open(path: Path) -> bool:
    """Some nginx process still has `path` open (Linux's /proc; elsewhere nginx edges do not run)."""
    target = str(path)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not _is_nginx(proc):
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return True
    return False


def _is_nginx(proc: Path) -> bool:
    try:
        return (proc / "comm").read_text().startswith("nginx")
    except OSError:
        return False
