"""Where an installed app keeps its data: the user data dir, or beside the app in portable mode."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from server.paths import DataDir, default_data_dir


@pytest.fixture
def installed_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend to be a frozen app at tmp/app/miniflix (as PyInstaller sets sys.frozen/executable)."""
    app = tmp_path / "app"
    (app / "_internal").mkdir(parents=True)
    (app / "miniflix").write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "miniflix"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for name in ("MINIFLIX_DATA_DIR", "MINIFLIX_PORTABLE"):
        monkeypatch.delenv(name, raising=False)
    return app


def test_an_installed_app_keeps_data_in_the_user_data_dir_not_in_the_bundle(installed_app: Path) -> None:
    data = DataDir.resolve()
    assert data.root == (installed_app.parent / "xdg" / "MiniFlix").resolve()
    assert data.catalog_db.parent.is_dir()
    assert sorted(installed_app.rglob("*")) == [installed_app / "_internal", installed_app / "miniflix"]


def test_a_portable_marker_beside_the_executable_keeps_data_beside_the_app(installed_app: Path) -> None:
    (installed_app / "portable").write_text("")
    data = DataDir.resolve()
    assert data.root == (installed_app / "MiniFlix-data").resolve()
    assert (installed_app / "MiniFlix-data" / "origin").is_dir()
    assert not any((installed_app / "_internal").iterdir())


def test_miniflix_portable_env_turns_portable_mode_on_without_a_marker(
        installed_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_PORTABLE", "1")
    assert default_data_dir() == installed_app.resolve() / "MiniFlix-data"
    monkeypatch.setenv("MINIFLIX_PORTABLE", "0")
    assert default_data_dir() == installed_app.parent / "xdg" / "MiniFlix"


def test_an_explicit_data_dir_wins_over_portable_mode(installed_app: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (installed_app / "portable").write_text("")
    monkeypatch.setenv("MINIFLIX_DATA_DIR", str(tmp_path / "chosen"))
    assert default_data_dir() == tmp_path / "chosen"
    assert DataDir.resolve(tmp_path / "flag").root == (tmp_path / "flag").resolve()


def test_a_portable_macos_app_keeps_data_beside_the_app_not_inside_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    macos = tmp_path / "Apps" / "MiniFlix Studio.app" / "Contents" / "MacOS"
    macos.mkdir(parents=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(macos / "MiniFlix Studio"))
    monkeypatch.delenv("MINIFLIX_DATA_DIR", raising=False)
    monkeypatch.setenv("MINIFLIX_PORTABLE", "1")
    assert default_data_dir() == (tmp_path / "Apps" / "MiniFlix-data").resolve()
