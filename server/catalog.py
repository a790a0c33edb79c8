"""The catalog: one row per title (published, failed or deleted), in one SQLite file.

The catalog is the source of truth the search index and the HTTP API are rebuilt from. A title is
written here only after its files were published whole; a failure leaves just its failure record.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from server.errors import InvalidRequest, NotFound
from server.sqlite import SqliteStore, decode, upsert

PUBLISHED, FAILED, DELETED = "published", "failed", "deleted"

SCHEMA = """
CREATE TABLE IF NOT EXISTS titles (
    video_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    creator TEXT NOT NULL DEFAULT '',
    original_name TEXT NOT NULL DEFAULT '',
    duration REAL NOT NULL DEFAULT 0,
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    source_codec TEXT NOT NULL DEFAULT '',
    audio_language TEXT NOT NULL DEFAULT '',
    renditions TEXT NOT NULL DEFAULT '[]',
    audio TEXT,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    trash_token TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS titles_status ON titles(status, created_at);
"""

JSON_FIELDS = ("tags", "renditions", "audio")
EDITABLE = ("title", "description", "tags", "creator")


@dataclass
class Title:
    """One catalog entry; `renditions` are dicts with name, width, height, bandwidth, frames."""

    video_id: str
    status: str
    title: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    creator: str = ""
    original_name: str = ""
    duration: float = 0.0
    width: int = 0
    height: int = 0
    source_codec: str = ""
    audio_language: str = ""
    renditions: list[dict[str, Any]] = field(default_factory=list)
    audio: dict[str, Any] | None = None
    size_bytes: int = 0
    error: str = ""
    trash_token: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def top_rendition(self) -> str:
        return self.renditions[0]["name"] if self.renditions else ("audio" if self.audio else "")


class Catalog(SqliteStore):
    """Titles in a SQLite file (WAL), safe to use from several threads and processes."""

    SCHEMA = SCHEMA

    def _write(self, title: Title) -> None:
        with self._connect() as db:
            upsert(db, "titles", title.to_dict(), JSON_FIELDS)

    def add_published(self, title: Title) -> Title:
        """Record a title whose files were published (replacing any earlier failure record)."""
        now = time.time()
        title.status, title.error = PUBLISHED, ""
        title.created_at = title.created_at or now
        title.updated_at = now
        self._write(title)
        return title

    def record_failure(self, video_id: str, original_name: str, error: str) -> Title:
        """Keep only the failure and its message; no half title is ever listed as playable."""
        now = time.time()
        title = Title(video_id=video_id, status=FAILED, title=Path(original_name).stem,
                      original_name=original_name, error=error, created_at=now, updated_at=now)
        self._write(title)
        return title

    def get(self, video_id: str) -> Title:
        with self._connect() as db:
            row = db.execute("SELECT * FROM titles WHERE video_id = ?", (video_id,)).fetchone()
        if row is None:
            raise NotFound(f"No title {video_id!r} in the catalog.",
                           hint="`miniflix videos` lists the titles.")
        return _from_row(row)

    def list(self, status: str | None = PUBLISHED) -> list[Title]:
        """Titles newest first; `status=None` lists every state."""
        query, args = "SELECT * FROM titles", []
        if status is not None:
            query, args = query + " WHERE status = ?", [status]
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY created_at DESC", args).fetchall()
        return [_from_row(r) for r in rows]

    def update_metadata(self, video_id: str, **changes: Any) -> Title:
        """Edit title/description/tags/creator of a published title."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise InvalidRequest(f"Cannot edit {sorted(unknown)}; editable: {list(EDITABLE)}.")
        title = self.get(video_id)
        for key, value in changes.items():
            if value is not None:
                setattr(title, key, _clean_tags(value) if key == "tags" else str(value))
        title.updated_at = time.time()
        self._write(title)
        return title

    def mark_deleted(self, video_id: str, trash_token: str) -> Title:
        title = self.get(video_id)
        title.status, title.trash_token, title.updated_at = DELETED, trash_token, time.time()
        self._write(title)
        return title

    def mark_restored(self, video_id: str) -> Title:
        title = self.get(video_id)
        title.status, title.trash_token, title.updated_at = PUBLISHED, "", time.time()
        self._write(title)
        return title

    def forget(self, video_id: str) -> None:
        """Drop a row entirely (a failure record the user dismissed)."""
        with self._connect() as db:
            db.execute("DELETE FROM titles WHERE video_id = ?", (video_id,))


def _clean_tags(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [t.strip().lower() for t in items if str(t).strip()]


def _from_row(row: sqlite3.Row) -> Title:
    return Title(**decode(row, JSON_FIELDS))
