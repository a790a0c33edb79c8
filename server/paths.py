"""Where everything lives on disk: one data dir (flag, env, or the platform's user data dir)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from server import config

APP_NAME = "MiniFlix"
PORTABLE_MARKER = "portable"
PORTABLE_DATA = "MiniFlix-data"

config.register("portable", False, "Keep data beside the app (in MiniFlix-data/) instead of the user data "
                "dir; also on when a file named `portable` sits next to the executable.",
                lambda raw: raw.strip().lower() in ("1", "true", "yes", "on"))


def app_dir() -> Path:
    """The folder of the installed app: the executable's folder when frozen, else the source tree.

    For a macOS `.app` it is the folder holding the .app, so portable data stays outside the bundle.
    """
    if not getattr(sys, "frozen", False):
        return Path(__file__).resolve().parents[1]
    exe = Path(sys.executable).resolve()
    bundle = next((p for p in exe.parents if p.suffix == ".app"), None)
    return bundle.parent if bundle else exe.parent


def portable_data_dir() -> Path | None:
    """`<app>/MiniFlix-data` in portable mode (marker file or MINIFLIX_PORTABLE=1), else None.

    Beside the executable, never inside the bundle's `_internal/`, so an update that replaces the
    bundle keeps the user's titles.
    """
    here = app_dir()
    if config.get("portable") or (here / PORTABLE_MARKER).is_file():
        return here / PORTABLE_DATA
    return None


def default_data_dir() -> Path:
    """`MINIFLIX_DATA_DIR` when set, else the portable dir, else the platform's user data dir."""
    env = config.get("data_dir")
    if env:
        return Path(env).expanduser()
    portable = portable_data_dir()
    if portable is not None:
        return portable
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
