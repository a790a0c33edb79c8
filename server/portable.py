"""The few POSIX-only calls the engine makes, each with a Windows branch, so `server` imports anywhere.

`fcntl` and `resource` exist only on POSIX, `msvcrt` only on Windows; each is imported only on its
platform, and the rest of the engine calls these helpers instead of the modules.
"""

from __future__ import annotations

import os
import sys
import time

WINDOWS_LOCK_POLL_S = 0.01


def lock_exclusive(fd: int, wait: bool = True) -> None:
    """An exclusive advisory lock on the open file `fd` (released when it is closed or unlocked);
    with `wait=False`, OSError at once when another holder has it."""
    if sys.platform == "win32":
        _windows_lock(fd, wait)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))


def unlock(fd: int) -> None:
    """Release `lock_exclusive` before closing the file."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def _windows_lock(fd: int, wait: bool) -> None:
    """msvcrt locks the first byte; its own blocking mode gives up after 10 s, so poll instead."""
    if sys.platform == "win32":
        import msvcrt

        while True:
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                if not wait:
                    raise
                time.sleep(WINDOWS_LOCK_POLL_S)


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's finished children, e.g. ffmpeg runs; 0 on
    Windows, which does not count them, so encode cost is then reported as unknown."""
    if sys.platform == "win32":
        return 0.0
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
