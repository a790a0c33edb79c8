"""The purpose-built FFmpeg's cache key and its check of what the engine needs, against the real
system ffmpeg (the build itself runs in `make package`, never in `make test`)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import build  # noqa: E402
import bundle  # noqa: E402
import ffmpeg_build  # noqa: E402


def fake_prefix(tmp_path: Path) -> Path:
    """An install prefix whose bin/ffmpeg is the system's real ffmpeg (Debian's full build)."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib").mkdir()
    for tool in ("ffmpeg", "ffprobe"):
        found = shutil.which(tool)
        assert found, f"{tool} is not on PATH (make setup installs it)"
        (prefix / "bin" / tool).symlink_to(found)
    return prefix


def test_the_build_is_cached_per_debian_version_and_configure_line(monkeypatch: pytest.MonkeyPatch) -> None:
    version = "7:5.1.9-0+deb12u1"
    first = ffmpeg_build.prefix_for(version)
    assert first.name.startswith("5.1.9-") and first.parent == ffmpeg_build.ROOT
    assert ffmpeg_build.prefix_for(version) == first
    assert ffmpeg_build.prefix_for("7:5.1.10-0+deb12u1") != first
    monkeypatch.setattr(ffmpeg_build, "CONFIGURE", [*ffmpeg_build.CONFIGURE, "--enable-libdav1d"])
    assert ffmpeg_build.prefix_for(version) != first


def test_the_configure_line_pulls_no_autodetected_library_but_keeps_threads() -> None:
    line = ffmpeg_build.CONFIGURE
    assert {"--enable-shared", "--disable-autodetect", "--enable-pthreads", "--disable-ffplay"} <= set(line)
    assert [f for f in line if f.startswith("--enable-lib")] == ["--enable-libx264", "--enable-libzimg",
                                                                        "--enable-libdav1d"]


def test_an_ffmpeg_with_every_needed_part_passes_the_check(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    assert ffmpeg_build.missing_parts(prefix / "bin" / "ffmpeg", prefix / "lib") == []
    ffmpeg_build.check(prefix)


def test_a_build_lacking_a_part_the_engine_uses_fails_naming_it(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = fake_prefix(tmp_path)
    needed = {**ffmpeg_build.NEEDED, "filters": (*ffmpeg_build.NEEDED["filters"], "hdr_magic"),
              "encoders": ("libx264", "libnosuch264")}
    monkeypatch.setattr(ffmpeg_build, "NEEDED", needed)
    with pytest.raises(ffmpeg_build.FFmpegBuildError) as failed:
        ffmpeg_build.check(prefix)
    assert "encoder libnosuch264, filter hdr_magic" in str(failed.value)
    assert "CONFIGURE" in str(failed.value)


def test_the_needed_parts_cover_what_the_engine_asks_ffmpeg_for() -> None:
    """Every filter named in server/media's filter chains is in the checked list."""
    media = ROOT / "server" / "media"
    text = "".join(path.read_text() for path in media.glob("*.py"))
    for name in ("zscale", "tonemap", "bwdif", "tpad", "thumbnail", "tile", "showwavespic", "setparams"):
        assert f"{name}=" in text or f'"{name}' in text, name  # the engine still uses it
        assert name in ffmpeg_build.NEEDED["filters"]
    assert {"libx264", "aac", "mjpeg"} <= set(ffmpeg_build.NEEDED["encoders"])
    assert {"mp4", "hls"} <= set(ffmpeg_build.NEEDED["muxers"])


def bundle_with(tmp_path: Path, library: Path) -> Path:
    """An app folder whose _internal holds `library` as libavutil.so.57 and the system's ffmpeg."""
    internal = tmp_path / "app" / "_internal"
    (internal / "tools").mkdir(parents=True)
    shutil.copyfile(library.resolve(), internal / "libavutil.so.57")
    (internal / "tools" / "ffmpeg").symlink_to(shutil.which("ffmpeg") or "ffmpeg")
    return tmp_path / "app"


def test_the_build_refuses_a_bundle_holding_another_copy_of_an_ffmpeg_library(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system_avutil = bundle.vlc_lib_dir() / "libavutil.so.57"  # Debian's, standing in for the built one
    built = tmp_path / "built"
    (built / "lib").mkdir(parents=True)
    shutil.copyfile(system_avutil.resolve(), built / "lib" / "libavutil.so.57")
    monkeypatch.setattr(build, "APP_DIR", bundle_with(tmp_path / "same", system_avutil))
    build.check_bundled_ffmpeg(built)  # the very library: accepted

    other = Path(shutil.which("ffprobe") or "ffprobe").resolve()  # an ELF linking libav* itself
    monkeypatch.setattr(build, "APP_DIR", bundle_with(tmp_path / "other", other))
    with pytest.raises(ffmpeg_build.FFmpegBuildError, match=r"libavutil\.so\.57 is not the purpose-built"):
        build.check_bundled_ffmpeg(built)
