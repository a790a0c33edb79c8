"""Child process for tests/studio/test_player.py: play in a real backend, then close it.

A player that freezes on close is stuck in native code, often holding Python's GIL, where no
in-process timeout can end it; the tests run these scenarios in a child process and read a child
that never finishes as a frozen window. Each scenario prints "closed" once the player is shut.

    python -m tests.studio.player_probe python-on-another-thread SERVER_URL TITLE_JSON
    python -m tests.studio.player_probe stalled-edge BACKEND SERVER_URL VIDEO_ID
"""

from __future__ import annotations

import faulthandler
import json
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Slot
from PySide6.QtMultimedia import QMediaPlayer
from PySide6.QtWidgets import QApplication, QWidget

from studio.player.backend import PLAYING, PlaybackBackend

WAIT_S = 30.0       # for playback to start: far more than it takes
WATCHDOG_S = 80.0   # then print every thread's stack and exit 1 (the parent waits longer)
STALL_FROM_SEGMENT = 2


def wait_until(app: QCoreApplication, done: Callable[[], bool], what: str) -> None:
    """Run the Qt event loop until `done()`; exit 2 naming `what` when it never happens."""
    deadline = time.monotonic() + WAIT_S
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"probe: {what} did not happen within {WAIT_S:.0f} s")
        app.processEvents()
        time.sleep(0.01)


def playing(backend: PlaybackBackend, beyond_s: float = 0.3) -> Callable[[], bool]:
    return lambda: backend.last.state == PLAYING and backend.last.position_s > beyond_s


class PythonOnAnotherThread(QObject):
    """Answers the player's state signal in Python on its own thread, and the player waits for the
    answer: what FFmpeg's audio renderer thread does when it tears down while the GUI thread stops."""

    def __init__(self) -> None:
        super().__init__()
        self.thread_ = QThread()
        self.moveToThread(self.thread_)
        self.thread_.start()
        self.answered: list[Any] = []

    @Slot(QMediaPlayer.PlaybackState)
    def answer(self, state: Any) -> None:
        self.answered.append(state)

    def end(self) -> None:
        self.thread_.quit()
        self.thread_.wait()


def python_on_another_thread(server_url: str, title_json: str) -> None:
    """The user's path with the QtMultimedia backend: open a title, play, close the player view."""
    from studio.client import ApiClient
    from studio.player.qt_backend import QtBackend
    from studio.views.player import PlayerView

    app = QApplication.instance() or QApplication([])
    client = ApiClient(server_url)
    backend = QtBackend()
    view = PlayerView(client, backend=backend)
    view.open_title(json.loads(title_json))
    wait_until(app, playing(backend), "playback")
    other = PythonOnAnotherThread()
    backend.player.playbackStateChanged.connect(other.answer, Qt.ConnectionType.BlockingQueuedConnection)
    view.shutdown()
    print("closed", flush=True)
    other.end()
    print(f"answered {len(other.answered)}", flush=True)
    client.close()


class StallingEdge(ThreadingHTTPServer):
    """An edge on loopback that serves a title from the origin but never answers a request for
    segment `STALL_FROM_SEGMENT` or later (the connection stays open): a stalled, not a stopped, edge."""

    daemon_threads = True

    def __init__(self, origin: str) -> None:
        super().__init__(("127.0.0.1", 0), _StallingHandler)
        self.origin = origin
        self.stalled: list[str] = []
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def end(self) -> None:
        self.release.set()
        self.shutdown()


class _StallingHandler(BaseHTTPRequestHandler):
    server: StallingEdge

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        if name.startswith("seg_") and int(name[4:9]) >= STALL_FROM_SEGMENT:
            self.server.stalled.append(self.path)
            self.server.release.wait()
            return
        with urllib.request.urlopen(self.server.origin + self.path, timeout=10) as response:
            body = response.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def stalled_edge(backend_name: str, server_url: str, video_id: str) -> None:
    """Play from an edge that stalls mid-title, re-steer to a healthy one (a new load), then close."""
    app = QApplication.instance() or QApplication([])
    backend = _backend(backend_name)
    host = QWidget()
    backend.create_surface(host)
    edge = StallingEdge(f"{server_url}/origin/videos/{video_id}")
    backend.load(f"{edge.url}/master.m3u8")
    wait_until(app, lambda: bool(edge.stalled), "a request to the stalling edge")
    backend.load(f"{server_url}/play/{video_id}/master.m3u8")
    print("reloaded", flush=True)
    wait_until(app, playing(backend), "playback from the healthy edge")
    backend.close()
    print("closed", flush=True)
    edge.end()


def _backend(name: str) -> PlaybackBackend:
    if name == "vlc":
        from studio.player.vlc_backend import VlcBackend
        return VlcBackend()
    from studio.player.qt_backend import QtBackend
    return QtBackend()


SCENARIOS: dict[str, Callable[..., None]] = {
    "python-on-another-thread": python_on_another_thread, "stalled-edge": stalled_edge}


if __name__ == "__main__":
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    SCENARIOS[sys.argv[1]](*sys.argv[2:])
