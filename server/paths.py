"""Where everything lives on disk: one data dir (flag, env, or the platform's user data dir)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from server import config

APP_NAME = "MiniFlix"


def default_data_dir() -> Path:
    """The platform's user data dir, or `MINIFLIX_DATA_DIR` when set."""
    env = config.get("data_dir")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class DataDir:
    """The layout of a data dir; every component takes its paths from here."""

    root: Path

    @classmethod
    def resolve(cls, arg: str | os.PathLike[str] | None = None) -> DataDir:
        root = Path(arg).expanduser() if arg else default_data_dir()
        data = cls(root.resolve())
        data.ensure()
        return data

    def ensure(self) -> None:
        for folder in (self.root, self.origin, self.work, self.uploads, self.keys):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.keys, 0o700)

    @property
    def origin(self) -> Path:
        """Root of the origin blob store (`videos/<id>/…`)."""
        return self.root / "origin"

    @property
    def work(self) -> Path:
        """Per-job scratch space: chunk encodes, audio, staging of the package."""
        return self.root / "work"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def catalog_db(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def jobs_db(self) -> Path:
        return self.root / "jobs.sqlite"

    @property
    def events_db(self) -> Path:
        return self.root / "events.sqlite"

    @property
    def analytics_db(self) -> Path:
        return self.root / "analytics.duckdb"

    @property
    def search_index(self) -> Path:
        return self.root / "search-index"

    @property
    def edges(self) -> Path:
        """Edge cache directories, one per edge name."""
        return self.root / "edges"
