"""How a job's end is told: a full disk by name (even when a step only found a broken file), a bug
as a bug without server paths, a crash loop cut short; and the space a job needs to start."""

from __future__ import annotations

import logging
from pathlib import Path

from server import config
from server.diskspace import MB, disk_full, free_bytes, is_out_of_space, tree_size
from server.errors import DiskFull, JobError, MediaError, MiniflixError

log = logging.getLogger(__name__)


def failure_reason(exc: Exception, what: str, data_root: Path, scratch: Path) -> MiniflixError:
    """What to tell the user about `exc`, raised by the job on `what` whose scratch dir is
    `scratch`: a full disk by name, a bug as a bug, else `exc` itself."""
    if isinstance(exc, DiskFull):
        return exc
    if is_out_of_space(exc) or (not isinstance(exc, MediaError) and short_of_space(data_root, scratch)):
        log.warning("ingest of %s failed on a full disk: %s", what, exc)
        return disk_full(data_root)
    if isinstance(exc, MiniflixError):
        return exc
    log.error("ingest of %s crashed", what, exc_info=exc)
    return JobError(f"The ingest of {what} failed unexpectedly: {describe(exc)}.",
                    hint="this is a bug worth reporting; the server log has the details")


def in_users_words(error: MiniflixError, stored: Path, original_name: str) -> MiniflixError:
    """`error` with the stored file's name (an upload is kept as `<random>-<name>`) replaced by the
    name the user gave it, so a message says which of *their* files failed."""
    if stored.name == original_name:
        return error
    error.message = _renamed(error.message, stored, original_name)
    error.hint = _renamed(error.hint, stored, original_name) if error.hint else error.hint
    error.args = (error.message,)
    return error


def _renamed(text: str, stored: Path, original_name: str) -> str:
    return text.replace(str(stored), original_name).replace(stored.name, original_name)


def short_of_space(data_root: Path, scratch: Path) -> bool:
    """Whether the disk is now below the floor a job starts with, or too full for the encoded
    chunks in `scratch` to be packaged: then a write failed for want of space, whatever the error
    said (ffmpeg's segment muxers stop writing silently, and the next step finds a broken file)."""
    free = free_bytes(data_root)
    return free < config.get("min_free_mb") * MB or free < tree_size(scratch)


def crash_loop_error(what: str, crashes: int) -> JobError:
    return JobError(f"The ingest of {what} stopped unexpectedly {crashes} times (the process running "
                    "it crashed or was killed); it is not resumed again by itself.",
                    hint="retry the job once the cause is found (the server log may tell)")


def space_needed_mb(source: Path, origin: Path) -> float:
    """MB a job must find free to start: the `min_free_mb` floor, plus the source when it will be
    copied beside the title (it lives on another disk, so no hard link)."""
    copied = source.stat().st_size if _other_disk(source, origin) else 0
    return float(config.get("min_free_mb")) + copied / MB


def describe(exc: Exception) -> str:
    """An exception as the user sees it, without the server paths an OSError carries."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({Path(str(exc.filename)).name})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}"


def _other_disk(path: Path, target: Path) -> bool:
    try:
        return path.stat().st_dev != target.stat().st_dev
    except OSError:
        return True
