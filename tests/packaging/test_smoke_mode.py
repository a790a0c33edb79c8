"""`main.py --smoke-test`: the installed app's self-check, run here from the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def smoke(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MINIFLIX_MIN_CHUNK_SECONDS": "1",
            "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config"), **env}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "--smoke-test", "--data-dir",
                           str(tmp_path / "data")], capture_output=True, text=True, timeout=240, env=full,
                          cwd=ROOT)


def test_smoke_mode_ingests_opens_every_view_and_plays_two_seconds_through_vlc(tmp_path: Path) -> None:
    done = smoke(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("smoke test passed")
    assert "opened upload, library, player, analytics, network" in line
    assert "through Playback: VLC" in line
    assert (tmp_path / "data" / "catalog.sqlite").is_file()


def test_smoke_mode_fails_with_the_reason_when_vlc_is_not_the_player(tmp_path: Path) -> None:
    done = smoke(tmp_path, MINIFLIX_PLAYER_BACKEND="qt")
    assert done.returncode == 1
    assert "smoke test FAILED: playback backend is 'qt'" in done.stderr
