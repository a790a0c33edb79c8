"""An nginx edge's access logs, tailed into the `cdn` topic: each line becomes the same `hit`,
`miss` or `fill` event the Python edge publishes, so analytics, steering and the Network view need
not know which engine served.

A line is nginx's fixed-field, tab-separated `LOG_FIELDS` (nginx escapes tabs and controls inside a
value as a \\x escape and writes `-` for an empty one), parsed with one `split`: no JSON per request.

The tailer reads only complete lines and remembers its offset (in memory and in `<log>.offset`), so an
nginx stop/start (which appends to the same file) or a restart of the app neither loses nor doubles a
line. Logs are rotated (log_rotation.py): the saved position names the file's inode too, so a
renamed log is read to its end before the new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from server.background import Worker
from server.cdn.edge_http import SESSION
from server.cdn.log_rotation import Position, finish, forget, locate

log = logging.getLogger(__name__)
POLL_S = 0.1
READ_BYTES = 1 << 20
SERVED = frozenset({"200", "206", "304"})
FETCHED = frozenset({"MISS", "EXPIRED", "BYPASS"})      # the bytes came from the origin just now
STALE = frozenset({"STALE", "UPDATING"})
# the order of the fields in a log line (nginx_conf.LOG_FORMAT writes them, parse_line reads them)
LOG_FIELDS = ("msec", "status", "upstream_cache_status", "body_bytes_sent", "upstream_response_length",
              "request_completion", "http_x_miniflix_fill", "arg_session", "request_time", "uri")


class Served(NamedTuple):
    """One logged request for a player object of a title: `at` when it was logged (its last byte
    went out), `arrived` when it came in (its events' time, as the Python edge stamps them)."""

    at: float
    key: str
    video_id: str
    status: str              # nginx's $upstream_cache_status ("" when answered without the cache)
    sent: int
    upstream_bytes: int
    complete: bool
    session: str
    fill: bool
    arrived: float

    @property
    def fetched(self) -> bool:
        return self.status in FETCHED


def parse_line(line: str) -> Served | None:
    """The request of one log line, or None for lines that are no served object (403, 404, junk).
    Kept lean: it runs once per request the edge serves (thousands a second)."""
    fields = line.split("\t", 9)
    try:
        if len(fields) == 9:             # written by a build before $request_time was logged
            fields.insert(8, "0")
        at, status, cache, sent, upstream, complete, fill, session, took, uri = fields
        if status not in SERVED:
            return None
        parts = uri.split("/", 4)        # "", "t", token, "videos", "<id>/<rest>"
        if len(parts) < 5 or parts[3] != "videos":
            return None
        logged = float(at)
        return Served(logged, "videos/" + parts[4], parts[4].partition("/")[0], _value(cache),
                      _int(sent), _int(upstream), complete == "OK",
                      session if session != "-" and SESSION.fullmatch(session) else "", fill == "1",
                      logged - float(took))
    except ValueError:
        log.warning("skipped an access log line that is not one of ours: %.200r", line)
        return None


def _value(field: str) -> str:
    return "" if field == "-" else field


def hit_event(edge: str, region: str, served: Served) -> dict[str, Any]:
    """The `hit` event of a request answered from the cache (the Python edge's shape)."""
    event = {"type": "hit", "edge": edge, "region": region, "video_id": served.video_id,
             "object": served.key, "bytes": served.sent, "at": served.arrived}
    if served.status in STALE:
        event["stale"] = True
    if not served.complete:
        event["aborted"] = True
    if served.session:
        event["session"] = served.session
    return event


def _int(value: str) -> int:
    """nginx writes "-" for no value and "a, b" when it asked several upstreams: sum the numbers."""
    if value.isdigit():
        return int(value)
    if value == "-":
        return 0
    return sum(int(v) for v in value.replace(",", " ").split() if v.isdigit())


def _lower_priority() -> None:
    """Run this thread at the lowest CPU priority (Linux: a thread has its own nice value): when the
    machine is busy, nginx serving viewers comes first and the tail catches up after, from the file."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class LogTailer:
    """Follows one access log from a daemon thread and hands the complete lines to `on_lines`, a
    batch at a time; the offset moves past a batch only once `on_lines` returned (at least once)."""

    def __init__(self, path: Path, on_lines: Callable[[list[str]], None],
                 on_poll: Callable[[], None] | None = None) -> None:
        self.path, self.on_lines, self.on_poll = path, on_lines, on_poll
        self._offset_file = path.with_name(path.name + ".offset")
        self.position = self._saved_position()
        self._lock = threading.Lock()        # one reader at a time: the thread or a drain()
        self._worker = Worker(f"tail-{path.parent.parent.name}", self._run, join_timeout_s=5)

    def start(self) -> None:
        self._worker.start()

    def drain(self) -> int:
        """Hand over every complete line written so far (call after nginx stopped); lines handed."""
        with self._lock:
            return self._read_new()

    def close(self) -> None:
        """Stop the thread after a last drain (idempotent)."""
        self._worker.stop()
        self.drain()

    def _run(self) -> None:
        _lower_priority()
        while not self._worker.stopping.wait(POLL_S):
            try:
                self.drain()
                if self.on_poll is not None:
                    self.on_poll()
            except Exception:       # a bad line or a full disk must not end the tail
                log.exception("tailing %s failed", self.path.name)

    def _read_new(self) -> int:
        handed = 0
        while True:
            path, self.position = locate(self.path, self.position)
            handed += self._read_lines(path)
            if path == self.path:
                break
            moved = finish(self.path, self.position.offset)
            if moved is None:                 # nginx may still write the renamed log
                break
            self.position = moved
            self._save_position()
            forget(self.path, moved)
        if handed:
            self._save_position()
        return handed

    def _read_lines(self, path: Path) -> int:
        """Hand over the complete lines of `path` after the position, if `path` is still the file
        the position belongs to (the edge may rename it after `locate`: then nothing this time)."""
        try:
            f = open(path, "rb")  # noqa: SIM115 (closed below; a missing log is not an error)
        except FileNotFoundError:
            return 0
        with f:
            stat = os.fstat(f.fileno())
            if self.position.inode is not None and stat.st_ino != self.position.inode:
                return 0
            offset = self.position.offset if stat.st_size >= self.position.offset else 0  # truncated
            handed = 0
            while stat.st_size > offset:
                f.seek(offset)
                chunk = f.read(READ_BYTES)
                end = chunk.rfind(b"\n") + 1
                if end == 0:                  # half a line: nginx is still writing it
                    break
                lines = chunk[:end].decode("utf-8", "replace").splitlines()
                self.on_lines(lines)
                handed += len(lines)
                offset += end
                self.position = Position(offset, self.position.inode)
        return handed

    def _saved_position(self) -> Position:
        """Where the last run stopped ("offset inode"; an older "offset" alone means the current log);
        a new log starts at 0, an old log without a mark at its end."""
        with contextlib.suppress(OSError, ValueError):
            words = self._offset_file.read_text().split()
            return Position(int(words[0]), int(words[1]) if len(words) > 1 else None)
        with contextlib.suppress(OSError):
            return Position(self.path.stat().st_size)
        return Position(0)

    def _save_position(self) -> None:
        temp = self._offset_file.with_suffix(".tmp")
        at = self.position
        temp.write_text(f"{at.offset} {at.inode}" if at.inode is not None else str(at.offset))
        os.replace(temp, self._offset_file)
