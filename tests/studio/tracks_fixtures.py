"""The two-language title with subtitles (tests/http/tracks_title.py), ingested by the studio server,
and the Library opened on it."""

from __future__ import annotations

from typing import Any

import pytest

from studio.client import ApiClient
from studio.views.library import LibraryView
from tests.http.tracks_title import two_language_source
from tests.studio.conftest import http_json, wait_published


def ingest_languages_title(server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """English and French audio, English subtitles; published through `POST /api/jobs`; the title."""
    clip = two_language_source(tmp_path_factory.mktemp("languages"))
    job = http_json(f"{server.url}/api/jobs", {"path": str(clip), "name": "The bridge"})
    done = wait_published(server.url, job["job_id"])
    return http_json(f"{server.url}/api/titles/{done['video_id']}")


def library_on(qtbot: Any, api_client: ApiClient, title: dict[str, Any]) -> LibraryView:
    """The Library shown with `title` selected, once its Tracks section lists both audio tracks."""
    view = LibraryView(api_client)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitUntil(lambda: view.model.row_of(title["video_id"]) >= 0)
    view.grid.setCurrentIndex(view.model.index(view.model.row_of(title["video_id"])))
    qtbot.waitUntil(lambda: len(view.tracks.tracks["audio"]) == 2)
    return view
