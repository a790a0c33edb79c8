"""Studio fixtures: one real embedded server (real ingest with ffmpeg) per session, and clients to it.

The server runs with 1 s segments and 1 s minimum chunks so a 4 s clip encodes as several chunks
(the Upload view's chunk grid has something to fill), and the ultrafast preset to keep runs short.
"""

from __future__ import annotations

import json
import time
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from server.http.embedded import EmbeddedServer, start_embedded
from server.paths import DataDir
from studio.client import ApiClient
from tests.conftest import generate_clip

SERVER_SETTINGS = {"MINIFLIX_MIN_CHUNK_SECONDS": "1", "MINIFLIX_SEGMENT_SECONDS": "1",
                   "MINIFLIX_X264_PRESET": "ultrafast", "MINIFLIX_WORKERS": "2"}
PUBLISH_TIMEOUT_S = 120.0


def http_json(url: str, body: dict[str, Any] | None = None, method: str | None = None) -> Any:
    """A blocking JSON request for fixtures (tests of the GUI go through ApiClient instead)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_published(url: str, job_id: str, timeout: float = PUBLISH_TIMEOUT_S) -> dict[str, Any]:
    """Poll the job until it is published; a failed job fails the fixture with its reason."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http_json(f"{url}/api/jobs/{job_id}")
        if job["state"] == "published":
            return job
        if job["state"] in ("failed", "cancelled"):
            pytest.fail(f"ingest of the fixture clip {job['state']}: {job['error']}")
        time.sleep(0.2)
    pytest.fail(f"ingest of the fixture clip not published within {timeout:.0f} s")


def drag_enter(window: Any, urls: list[QUrl]) -> bool:
    """A drag carrying `urls` enters the window's centre; True when the window accepts it."""
    mime = QMimeData()
    mime.setUrls(urls)
    with warnings.catch_warnings():  # Qt 6 has only this QPoint constructor; PySide flags it anyway
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(window.rect().center(), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    return enter.isAccepted()


def drop(window: Any, *paths: Path) -> bool:
    """A real drag-enter + drop of file URLs on the window; True when the drag was accepted."""
    urls = [QUrl.fromLocalFile(str(p)) for p in paths]
    if not drag_enter(window, urls):
        return False
    mime = QMimeData()
    mime.setUrls(urls)
    event = QDropEvent(QPointF(window.rect().center()), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    return True


def start_test_server(data: DataDir) -> EmbeddedServer:
    """The embedded server on `data`, started with the test settings (`SERVER_SETTINGS`) in force."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in SERVER_SETTINGS.items():
            env.setenv(name, value)
        return start_embedded(data)


@pytest.fixture(scope="session")
def studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """The real server (ingest, search, analytics, CDN) on 127.0.0.1, port 0, in a temp data dir."""
    server = start_test_server(DataDir.resolve(tmp_path_factory.mktemp("studio-data")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("studio-clips")


@pytest.fixture(scope="session")
def published_title(studio_server: EmbeddedServer, clip_dir: Path) -> dict[str, Any]:
    """A 4 s 320x180 clip ingested through `POST /api/jobs` and published; the title dict."""
    clip = generate_clip(clip_dir / "fixture-clip.mp4", seconds=4.0)
    job = http_json(f"{studio_server.url}/api/jobs", {"path": str(clip), "name": "Fixture clip"})
    done = wait_published(studio_server.url, job["job_id"])
    return http_json(f"{studio_server.url}/api/titles/{done['video_id']}")


@pytest.fixture
def api_client(qtbot: Any, studio_server: EmbeddedServer) -> Iterator[ApiClient]:
    """An ApiClient on the session server; its requests and event stream end with the test."""
    client = ApiClient(studio_server.url)
    yield client
    client.close()
    client.deleteLater()


@pytest.fixture
def studio_window(qtbot: Any, api_client: ApiClient, tmp_path: Path) -> Iterator[Any]:
    """The whole main window on the session server, following its events; settings in a temp file."""
    from PySide6.QtCore import QSettings

    from studio.window import MainWindow

    settings = QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)
    window = MainWindow(api_client, settings)
    qtbot.addWidget(window)
    window.show()
    api_client.start_events()
    qtbot.waitUntil(lambda: window.link_label.text() == "● live", timeout=10_000)
    yield window
    window.close()


@pytest.fixture
def lab_view(qtbot: Any, api_client: ApiClient) -> Iterator[Any]:
    """The Lab view shown on the session server; a test's tab lives as long as this view."""
    from studio.views.lab import LabView

    view = LabView(api_client)
    qtbot.addWidget(view)
    view.show()
    yield view
    view.close()
