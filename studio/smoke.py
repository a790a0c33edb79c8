"""`miniflix --smoke-test`: drive the real studio window offscreen, to check an installed build.

Ingests a clip through the server (POST /api/jobs, like a drop on the window), opens every view,
plays the title through the Player view until two seconds have played, and exits 0; anything else
(a failed job, a player error, no libvlc, a timeout) prints what went wrong and exits 1. Video and
audio go to VLC's dummy outputs because Qt is offscreen. Settings go to a throwaway ini file.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QSettings, QTimer, Signal

from studio.app import application
from studio.client import ApiClient
from studio.window import VIEWS, MainWindow

PLAY_SECONDS = 2.0
POLL_MS = 300


class SmokeRun(QObject):
    """One pass over the studio; `result` is None while running, then (exit code, message)."""

    done = Signal()

    def __init__(self, window: MainWindow, clip: str, want_backend: str = "vlc") -> None:
        super().__init__(window)
        self.window, self.clip, self.want_backend = window, clip, want_backend
        self.client = window.client
        self.result: tuple[int, str] | None = None
        self.steps: list[str] = []
        self._poll = QTimer(self, interval=POLL_MS)

    def start(self) -> None:
        backend = self.window.player.backend
        if backend.name != self.want_backend:  # checked first: a wrong backend fails in seconds
            note = self.window.player.backend_note
            return self.finish(1, f"playback backend is {backend.name!r} ({note}), not {self.want_backend!r}")
        self.client.post("/api/jobs", {"path": self.clip, "name": "smoke test"},
                         on_ok=self._submitted, on_error=self._fail_with("POST /api/jobs"))

    def _submitted(self, job: dict[str, Any]) -> None:
        self.steps.append(f"job {job['job_id']} submitted")
        self._poll.timeout.connect(lambda: self._check_job(job["job_id"]))
        self._poll.start()

    def _check_job(self, job_id: str) -> None:
        self.client.get(f"/api/jobs/{job_id}", on_ok=self._job_state, on_error=self._fail_with("job status"))

    def _job_state(self, job: dict[str, Any]) -> None:
        if job["state"] in ("failed", "cancelled"):
            self.finish(1, f"ingest {job['state']}: {job.get('error')}")
        elif job["state"] == "published" and self._poll.isActive():
            self._poll.stop()
            self.steps.append(f"published {job['video_id']}")
            self.client.get(f"/api/titles/{job['video_id']}", on_ok=self._visit_views,
                            on_error=self._fail_with("GET /api/titles"))

    def _visit_views(self, title: dict[str, Any]) -> None:
        for name, _label, _cls in VIEWS:
            self.window.show_view(name)
            if self.window.current_view() != name:
                return self.finish(1, f"the {name} view did not open")
        self.steps.append("opened " + ", ".join(name for name, _l, _c in VIEWS))
        self._play(title)

    def _play(self, title: dict[str, Any]) -> None:
        backend = self.window.player.backend
        backend.failed.connect(lambda text: self.finish(1, f"player failed: {text}"))
        backend.position_changed.connect(self._position)
        self.window.play(title)

    def _position(self, seconds: float) -> None:
        if seconds >= PLAY_SECONDS and self.result is None:
            self.steps.append(f"played {seconds:.1f} s through {self.window.player.backend_note}")
            self.finish(0, "; ".join(self.steps))

    def _fail_with(self, what: str) -> Callable[[str], None]:
        return lambda text: self.finish(1, f"{what}: {text}")

    def finish(self, code: int, message: str) -> None:
        if self.result is None:
            self.result = (code, message)
            self._poll.stop()
            self.done.emit()


def run_smoke(server_url: str, clip: str | Path, timeout_s: float = 180.0) -> int:
    """Run the pass on the server at `server_url`; prints one line and returns the exit code."""
    app = application()
    with tempfile.TemporaryDirectory(prefix="miniflix-smoke-settings-") as tmp:
        client = ApiClient(server_url)
        window = MainWindow(client, QSettings(str(Path(tmp) / "studio.ini"), QSettings.Format.IniFormat))
        window.show()
        run = SmokeRun(window, str(Path(clip).resolve()))
        loop = QEventLoop()
        run.done.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), lambda: run.finish(
            1, f"timed out after {timeout_s:.0f} s; done so far: {'; '.join(run.steps) or 'nothing'}"))
        run.start()
        if run.result is None:
            loop.exec()
        code, message = run.result or (1, "stopped without a result")
        window.player.shutdown()
        window.close()
        client.close()
        app.processEvents()
    stream = sys.stdout if code == 0 else sys.stderr
    print(f"smoke test {'passed' if code == 0 else 'FAILED'}: {message}", file=stream, flush=True)
    return code
