"""Shared fixtures: generated clips (real ffmpeg, lavfi) and the real sample media in ../shared/media."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.last_words import (  # noqa: F401  (hooks: name the running test if the run dies)
    pytest_configure,
    pytest_runtest_logfinish,
    pytest_runtest_logstart,
    pytest_sessionfinish,
    pytest_sessionstart,
)

ROOT = Path(__file__).resolve().parents[1]


def shared_media_dir() -> Path:
    """`../shared/media` beside the checkout (CI lays a copy there), or $MINIFLIX_SHARED_MEDIA."""
    return Path(os.environ.get("MINIFLIX_SHARED_MEDIA", ROOT.parent / "shared" / "media"))


@pytest.fixture(scope="session")
def shared_media() -> Path:
    path = shared_media_dir()
    if not path.is_dir():
        pytest.fail(f"sample media not found at {path}; set MINIFLIX_SHARED_MEDIA")
    return path


ClipMaker = Callable[..., Path]


def generate_clip(path: Path, *, seconds: float = 3.0, size: str = "320x180", fps: int = 25,
                  audio: bool = True, extra: list[str] | None = None) -> Path:
    """A clip with moving video (testsrc2) and a tone (sine), encoded H.264/AAC in MP4."""
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
            f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", "96k"] if audio else []
    args += [*(extra or []), str(path)]
    subprocess.run(args, check=True)
    return path


@pytest.fixture
def make_clip(tmp_path: Path) -> ClipMaker:
    """`make_clip(name="clip.mp4", seconds=3, size="320x180", fps=25, audio=True)` -> Path."""
    def make(name: str = "clip.mp4", **kwargs: object) -> Path:
        return generate_clip(tmp_path / name, **kwargs)  # type: ignore[arg-type]
    return make


def engine_processes(binary: str, folder: Path) -> list[psutil.Process]:
    """The live processes of `binary` (e.g. nats-server, weed) started on `folder`: a fixture
    checks there are none left once its engine is stopped."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            argv = " ".join(proc.info["cmdline"] or [])
            if binary in (proc.info["name"] or "") and str(folder) in argv:
                found.append(proc)
        except psutil.Error:
            continue
    return found
