"""The hot half of an nginx edge's events: its cache hits (`hits.log`, buffered by nginx) turned into
`hit` events in big batches, by a separate process at the lowest CPU priority.

Why a process: on a busy machine the cores belong to nginx serving viewers; a tail thread in the app
would take the GIL (and the app with it) down to its priority, so the tail runs apart, `SCHED_IDLE`
(it runs when a core would otherwise idle), and catches up from the file afterwards. SCHED_IDLE alone
still let it run between nginx's requests (7-13 µs a hit, measured, on a loaded 2-core machine), so
it also waits while the log is growing, at most MAX_LAG_S: it publishes in the lulls, in batches of
everything written since. Events therefore lag their requests by nginx's flush second plus up to
MAX_LAG_S under a sustained load; none is lost.

`HitLog` is the reading and publishing, shared by the process and by the edge's own thread (used
when the edge's publisher is not an event log another process can open, e.g. a test's recorder or
NATS, in a frozen app, and after the process ended MAX_TAIL_STARTS times).
Its state (offset + counters) lives in `hits.log.state`, written atomically after each durable
batch under an exclusive lock, so two readers never publish the same line and a restarted tail
resumes at the first line not yet published; the state names the inode of the file its offset
belongs to, so a rotated log (log_rotation.py) is read to its end first. A tail killed between a
batch's commit and its state write (a window of microseconds) would publish that batch again.

    python -m server.cdn.hit_tail LOG EDGE REGION EVENT_LOG_FILE
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from server.cdn.access_log import FETCHED, hit_event, parse_line
from server.cdn.edge_base import THROUGHPUT_WINDOW_S
from server.cdn.log_rotation import Position, finish, forget, locate, rotated
from server.events.api import CDN as CDN_TOPIC

log = logging.getLogger(__name__)
READ_BYTES = 4 << 20          # ~30,000 lines: one read, one parse pass, one durable batch
POLL_S = 0.5
MAX_LAG_S = 5.0               # the longest a hit waits for a lull in the traffic
STOP_WAIT_S = 30.0
Publish = Callable[[list[tuple[str, dict[str, Any]]]], None]


class HitLog:
    """Reads `hits.log` from the last published line on; `drain(publish)` hands every complete
    line written so far to `publish` as `hit` events, a batch at a time."""

    def __init__(self, path: Path, edge: str, region: str) -> None:
        self.path, self.edge, self.region = path, edge, region
        self.state_file = path.with_name(path.name + ".state")
        self._lock_file = path.with_name(path.name + ".lock")

    def state(self) -> dict[str, Any]:
        """{"offset", "hits", "hit_bytes", "seconds": {second: bytes served}} as last published."""
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(self.state_file.read_text())
            if isinstance(doc, dict):
                return doc
        return {"offset": 0, "hits": 0, "hit_bytes": 0, "seconds": {}}

    def drain(self, publish: Publish, stopping: Callable[[], bool] = lambda: False) -> int:
        """Publish every complete line written so far (or until `stopping()`, checked between
        batches); lines handled."""
        with _exclusive(self._lock_file):
            state, handled = self.state(), 0
            while not stopping():
                path, at = locate(self.path, Position(state["offset"], state.get("inode")))
                state["offset"], state["inode"] = at.offset, at.inode
                lines, end = self._read(path, at)
                if lines:
                    publish(self._events(lines, state))
                    state["offset"] = end
                    self._save(state)
                    handled += len(lines)
                elif path == self.path or not self._next_log(state):
                    return handled
            return handled

    def _next_log(self, state: dict[str, Any]) -> bool:
        """The renamed log is read to its end: on to the new one once nginx let go of it."""
        moved = finish(self.path, state["offset"])
        if moved is None:
            return False
        state["offset"], state["inode"] = moved.offset, moved.inode
        self._save(state)
        forget(self.path, moved)
        return True

    @staticmethod
    def _read(path: Path, at: Position) -> tuple[list[str], int]:
        """The complete lines of `path` after `at`, if `path` is still the file `at` belongs to (the
        edge may rename it between `locate` and here: then nothing, and the next drain locates)."""
        try:
            with open(path, "rb") as f:
                stat = os.fstat(f.fileno())
                if at.inode is not None and stat.st_ino != at.inode:
                    return [], at.offset
                offset = at.offset if stat.st_size >= at.offset else 0   # truncated: start over
                f.seek(offset)
                chunk = f.read(READ_BYTES)
        except FileNotFoundError:
            return [], at.offset
        end = chunk.rfind(b"\n") + 1              # a half line waits for its end
        return chunk[:end].decode("utf-8", "replace").splitlines(), offset + end

    def _events(self, lines: list[str], state: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        events: list[tuple[str, dict[str, Any]]] = []
        seconds = {int(second): n for second, n in state["seconds"].items()}
        for served in map(parse_line, lines):
            if served is None or served.fill or served.status in FETCHED:
                continue                          # not a hit: nginx routes those to access.log
            events.append((self.edge, hit_event(self.edge, self.region, served)))
            second = int(served.at)
            seconds[second] = seconds.get(second, 0) + served.sent
            state["hit_bytes"] += served.sent
        state["hits"] += len(events)
        horizon = max(seconds, default=0) - THROUGHPUT_WINDOW_S
        state["seconds"] = {str(s): n for s, n in seconds.items() if s >= horizon}
        return events

    def _save(self, state: dict[str, Any]) -> None:
        temp = self.state_file.with_suffix(".tmp")
        temp.write_text(json.dumps(state))
        os.replace(temp, self.state_file)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One reader of a hits log at a time, across processes (nothing to lock without fcntl)."""
    try:
        import fcntl
    except ImportError:            # Windows: no nginx edges there, one reader
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class HitTailProcess:
    """Runs `python -m server.cdn.hit_tail` for one edge; `stop()` lets it finish its batch."""

    def __init__(self, hits: HitLog, event_log: Path) -> None:
        self.hits, self.event_log = hits, event_log
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @staticmethod
    def can_run() -> bool:
        """A frozen app (PyInstaller) has no interpreter to run `-m` with: the edge's thread tails."""
        return not getattr(sys, "frozen", False)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        if self._proc is not None:
            log.warning("the hit tail of edge %s ended (%s); starting it again", self.hits.edge,
                        self._proc.returncode)
        argv = [sys.executable, "-m", "server.cdn.hit_tail", str(self.hits.path), self.hits.edge,
                self.hits.region, str(self.event_log)]
        self.starts += 1
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, cwd=_project_root())
        lowest_priority(self._proc.pid)      # at once (it starts no thread before its main() does it again)

    def stop(self) -> None:
        """TERM (the tail ends after its batch, the caller publishes the rest); KILL if it does not
        end within STOP_WAIT_S (a kill inside a batch's commit-to-save window repeats that batch)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(AttributeError, OSError):     # its batch ends sooner at nice 19 alone
            os.sched_setscheduler(proc.pid, os.SCHED_OTHER, os.sched_param(0))
        proc.terminate()
        try:
            proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _project_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def lowest_priority(pid: int = 0) -> None:
    """Process `pid` (0: this one; Linux: its main thread, and the threads it starts later) only on
    cores nothing else wants."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


class Lull:
    """When to publish: the log stopped growing since the last look, hits have waited MAX_LAG_S, or
    a rotated log waits to be finished."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._size, self._waiting_since = -1, 0.0

    def now_due(self, published_to: int, now: float) -> bool:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        growing, self._size = size != self._size, size
        if rotated(self.path).exists():    # a renamed log to finish (`published_to` is in it)
            self._waiting_since = 0.0
            return True
        if size == published_to:
            self._waiting_since = 0.0
            return False
        self._waiting_since = self._waiting_since or now
        if growing and now - self._waiting_since < MAX_LAG_S:
            return False
        self._waiting_since = 0.0          # the caller publishes everything written so far
        return True


def main(argv: list[str]) -> int:
    """The tail process: drain, sleep, until TERM or until the app that started it is gone."""
    from server.events.log import EventLog

    log_path, edge, region, event_log = argv
    lowest_priority()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = os.getppid()
    hits = HitLog(Path(log_path), edge, region)
    lull = Lull(hits.path)
    with EventLog(Path(event_log)) as events:
        def publish(batch: list[tuple[str, dict[str, Any]]]) -> None:
            if batch:
                events.publish_many(CDN_TOPIC, batch)

        while not stop.wait(POLL_S) and os.getppid() == parent:
            try:
                if lull.now_due(hits.state()["offset"], time.monotonic()):
                    hits.drain(publish, stop.is_set)
            except Exception:        # a bad line or a full disk must not end the tail
                log.exception("tailing the hits of edge %s failed", edge)
        return 0                     # what is left: the edge publishes it as it closes


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="hit_tail %(levelname)s %(message)s")
    sys.exit(main(sys.argv[1:]))
