"""A libvlc that will not load falls back to QtMultimedia instead of closing the studio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["PYTHON_VLC_LIB_PATH"] = sys.argv[1]
from PySide6.QtWidgets import QApplication
app = QApplication([])
from studio.player.backend import create_backend
backend, text = create_backend()
print(type(backend).__name__, "|", text)
"""


def test_a_broken_libvlc_falls_back_to_qtmultimedia(tmp_path: Path) -> None:
    broken = tmp_path / "libvlc.so.5"
    broken.write_bytes(b"not a library")
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(broken)], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("QtBackend | Playback: QtMultimedia — libvlc unavailable")


def test_a_steering_answer_after_close_loads_nothing_and_raises_nothing(qapp) -> None:
    """The player's steering request may answer after the view shut the backend down (seen when a
    window closed while /steer was in flight): the late load is dropped, not an AttributeError."""
    from studio.player.vlc_backend import VlcBackend

    backend = VlcBackend()
    backend.close()
    backend.load("http://127.0.0.1:9/never.m3u8", 3.0)
    assert backend.player is None and backend.instance is None
