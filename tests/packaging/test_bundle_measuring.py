"""The installer bundles the measuring ffmpeg (libvmaf) and the bundled app is pointed at it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import bundle  # noqa: E402

from tests.packaging.test_bundle_parts import fake_bundle, run_hook  # noqa: E402


def test_the_bundle_takes_the_wheels_ffmpeg_and_it_has_libvmaf() -> None:
    [(source, folder)] = bundle.measuring_ffmpeg()
    assert folder == bundle.MEASURING_DIR and Path(source).name == "ffmpeg"
    filters = subprocess.run([source, "-hide_banner", "-filters"], capture_output=True, text=True, check=True)
    assert " libvmaf " in filters.stdout


def test_the_runtime_hook_points_measuring_at_the_bundled_ffmpeg(tmp_path: Path) -> None:
    internal = fake_bundle(tmp_path)
    assert "MINIFLIX_FFMPEG_VMAF" not in run_hook(internal)  # not bundled: nothing pointed at
    (internal / "tools" / "vmaf").mkdir()
    (internal / "tools" / "vmaf" / "ffmpeg").write_bytes(b"")
    assert run_hook(internal)["MINIFLIX_FFMPEG_VMAF"] == str(internal / "tools" / "vmaf" / "ffmpeg")
