"""Finding ffmpeg: an activated venv puts the measuring wheel's `ffmpeg` console script first on PATH;
it runs a static build and exits 0 whatever happens, so it must never be taken for the encoder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.media.ffmpeg import find_tools

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def fresh_tools() -> Iterator[None]:
    find_tools.cache_clear()
    yield
    find_tools.cache_clear()


def test_the_wheels_ffmpeg_script_hides_failures(tmp_path: Path) -> None:
    """Why it matters: the script reports success for a command the real ffmpeg refuses."""
    script = VENV_BIN / "ffmpeg"
    assert script.read_bytes().startswith(b"#!") and b"python" in script.read_bytes().splitlines()[0]
    bad = ["-v", "error", "-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"]
    assert subprocess.run([str(script), *bad], capture_output=True).returncode == 0
    assert subprocess.run([shutil.which("ffmpeg", path="/usr/bin") or "ffmpeg", *bad],
                          capture_output=True).returncode != 0


def test_an_activated_venv_still_encodes_with_the_real_ffmpeg(monkeypatch: pytest.MonkeyPatch,
                                                              fresh_tools: None) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]))
    monkeypatch.delenv("MINIFLIX_FFMPEG", raising=False)
    tools = find_tools()
    assert Path(tools.ffmpeg).parent != VENV_BIN and Path(tools.ffmpeg).name == "ffmpeg"
    with open(tools.ffmpeg, "rb") as binary:
        assert binary.read(2) != b"#!"
