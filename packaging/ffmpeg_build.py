"""A purpose-built FFmpeg for the bundle: Debian's own source of the installed libavcodec, built as
shared libraries with the same sonames and symbol versions (libavcodec.so.59, LIBAVCODEC_59, …), so
the bundled ffmpeg/ffprobe *and* Debian's VLC plugins (which link libavcodec.so.59) load one copy
that links only libx264, zimg, dav1d and zlib, not the ~230 MB of codec libraries Debian's build drags in.

    python packaging/ffmpeg_build.py           # fetch, configure, build (cached), check; print the prefix

The result lives in `packaging/build/ffmpeg/<version>-<key>/` and is rebuilt only when the Debian
version or the configure line changes (the key is a hash of both). The compile runs under
`nice -n 19` (the machine is shared). The build-dependencies (nasm, libx264-dev, libzimg-dev, …) come
from the package target's apt step.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE / "build" / "ffmpeg"
DEBIAN_PACKAGE = "libavcodec59"  # what Debian's VLC plugins link: the version to build
JOBS = os.environ.get("MINIFLIX_FFMPEG_JOBS", "2")

# Every native decoder, demuxer, muxer and filter (no external library needed); external libraries
# only libx264 (the encoder), zimg (zscale: HDR tone mapping), dav1d (AV1 uploads: FFmpeg 5.1 has no
# native AV1 decoder; 1.6 MB) and zlib. Threads must be asked for:
# --disable-autodetect also turns off pthreads.
CONFIGURE = [
    "--enable-shared", "--disable-static", "--enable-gpl", "--enable-postproc",
    "--disable-autodetect", "--enable-pthreads", "--enable-zlib", "--enable-libx264", "--enable-libzimg",
    "--enable-libdav1d",
    "--disable-ffplay", "--disable-doc", "--disable-debug",
]

# What the engine asks FFmpeg for (server/media/*.py): a build without one of these cannot ingest,
# package, make thumbnails or the sample clip. Decoders/demuxers: what uploads commonly are (the
# formats of /work/shared/media among them), AV1 through libdav1d.
NEEDED: dict[str, tuple[str, ...]] = {
    "encoders": ("libx264", "aac", "mjpeg"),                     # encode.py, audio.py, thumbs.py
    "decoders": ("h264", "hevc", "vp8", "vp9", "mpeg2video", "mpeg4", "h263", "prores", "mjpeg", "aac",
                 "mp3", "ac3", "eac3", "opus", "flac", "amrnb", "pcm_s16le", "pcm_u8", "libdav1d"),
    "muxers": ("mp4", "hls", "image2"),                          # chunks/audio, CMAF packaging, jpg
    "demuxers": ("mov", "matroska", "mpegts", "mxf", "avi", "wav", "concat", "hls"),
    "filters": ("bwdif", "fps", "zscale", "format", "tonemap", "tpad", "split", "scale", "setsar",
                "setparams", "aresample", "apad", "select", "tile", "thumbnail", "color",
                "showwavespic", "overlay", "testsrc2", "noise", "sine", "amerge"),
    "protocols": ("file", "pipe", "http", "tcp"),
    "indevs": ("lavfi",),                                         # sample.py's generated clip
}


class FFmpegBuildError(RuntimeError):
    """The purpose-built FFmpeg could not be fetched, built or is missing a needed part."""


def debian_version() -> str:
    """The installed libavcodec59's Debian version, e.g. `7:5.1.9-0+deb12u1`."""
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", DEBIAN_PACKAGE],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout:
        raise FFmpegBuildError(f"{DEBIAN_PACKAGE} is not installed: its version is the FFmpeg to build "
                               "(on Debian 12 install vlc-plugin-base, which depends on it; on another "
                               "release bundle the system's FFmpeg: PACKAGE_ARGS=--system-ffmpeg)")
    return done.stdout.strip()


def upstream(version: str) -> str:
    """`7:5.1.9-0+deb12u1` -> `5.1.9`."""
    return version.split(":")[-1].rsplit("-", 1)[0]


def build_key(version: str) -> str:
    """Changes exactly when the source version or the configure line does."""
    text = json.dumps({"version": version, "configure": CONFIGURE})
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def prefix_for(version: str) -> Path:
    return ROOT / f"{upstream(version)}-{build_key(version)}"


def run(argv: list[str], **kw: object) -> None:
    print("+", " ".join(argv), flush=True)
    done = subprocess.run(argv, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise FFmpegBuildError(f"{argv[0]} failed (exit {done.returncode}): {' '.join(argv)}")


def apt_options(state: Path) -> list[str]:
    """A private apt state with Debian's source archives: the system's apt sources stay as they are."""
    settings = {"Dir::Etc::SourceList": state / "sources.list", "Dir::Etc::SourceParts": "/nonexistent",
                "Dir::State::Lists": state / "lists", "Dir::Cache": state / "cache"}
    return [arg for name, value in settings.items() for arg in ("-o", f"{name}={value}")]


def write_sources(state: Path) -> None:
    """deb-src lines for the release this machine runs (bookworm for Debian 12), security included."""
    codename = subprocess.run(["sh", "-c", ". /etc/os-release && echo $VERSION_CODENAME"],
                              capture_output=True, text=True, check=True).stdout.strip() or "bookworm"
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(
        f"deb-src http://deb.debian.org/debian {codename} main\n"
        f"deb-src http://deb.debian.org/debian {codename}-updates main\n"
        f"deb-src http://deb.debian.org/debian-security {codename}-security main\n")


def fetch_source(version: str) -> Path:
    """Debian's ffmpeg source package at `version`, unpacked with Debian's patches applied."""
    tree = ROOT / "src" / f"ffmpeg-{version.split(':')[-1]}"
    if (tree / "configure").is_file():
        return tree
    state = ROOT / "apt"
    write_sources(state)
    opts = apt_options(state)
    run(["apt-get", *opts, "update"])
    download = ROOT / "src" / "download"
    download.mkdir(parents=True, exist_ok=True)
    try:
        run(["apt-get", *opts, "source", "--download-only", f"ffmpeg={version}"], cwd=download)
    except FFmpegBuildError as exc:  # the archive keeps only current versions
        raise FFmpegBuildError(f"Debian's archive has no source of ffmpeg {version} (the installed "
                               f"{DEBIAN_PACKAGE}); upgrade it first: apt-get install --only-upgrade "
                               f"{DEBIAN_PACKAGE} vlc-plugin-base") from exc
    dsc = next(download.glob(f"ffmpeg_{version.split(':')[-1]}.dsc"))
    run(["dpkg-source", "--no-check", "-x", str(dsc), str(tree)])
    return tree


def configure_and_make(source: Path, prefix: Path) -> None:
    """Out-of-tree build into a temp dir, installed to `prefix` (only a finished build gets there)."""
    obj = Path(tempfile.mkdtemp(prefix="obj-", dir=ROOT))
    staging = prefix.with_name(prefix.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        run(["nice", "-n", "19", str(source / "configure"), f"--prefix={prefix}", *CONFIGURE], cwd=obj)
        run(["nice", "-n", "19", "make", f"-j{JOBS}"], cwd=obj)
        run(["make", "install", f"DESTDIR={staging}"], cwd=obj, stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(obj, ignore_errors=True)
    shutil.move(str(staging / str(prefix).lstrip("/")), str(prefix))
    shutil.rmtree(staging, ignore_errors=True)


def tool_env(libdir: Path) -> dict[str, str]:
    """The built tools find their own libraries first (not the system's libavcodec.so.59)."""
    return {**os.environ, "LD_LIBRARY_PATH": str(libdir)}


def listed(ffmpeg: Path, kind: str, env: dict[str, str]) -> set[str]:
    """Names `ffmpeg -<kind>` lists (the word after the flags column; `indevs` from -devices)."""
    flag = {"indevs": "-devices", "protocols": "-protocols"}.get(kind, f"-{kind}")
    out = subprocess.run([str(ffmpeg), "-hide_banner", flag], capture_output=True, text=True, env=env,
                         check=True).stdout
    if kind == "protocols":
        return {line.strip() for line in out.splitlines() if line.startswith("  ")}
    rows = [line.split() for line in out.splitlines()]
    return {name for words in rows if len(words) >= 2 and words[1] != "=" for name in words[1].split(",")}


def missing_parts(ffmpeg: Path, libdir: Path) -> list[str]:
    """`kind name` for every part the engine needs that `ffmpeg` (with its libraries in `libdir`) lacks."""
    env = tool_env(libdir)
    return [f"{kind[:-1]} {name}" for kind, names in NEEDED.items()
            for name in sorted(set(names) - listed(ffmpeg, kind, env))]


def check(prefix: Path) -> None:
    """Fail with the list of missing parts, so `make package` never bundles an FFmpeg that cannot ingest."""
    missing = missing_parts(prefix / "bin" / "ffmpeg", prefix / "lib")
    if missing:
        raise FFmpegBuildError(f"the FFmpeg in {prefix} lacks what MiniFlix uses: {', '.join(missing)}; "
                               f"fix CONFIGURE in {Path(__file__).name} (or install its -dev package)")


def ensure_ffmpeg() -> Path:
    """The install prefix of the purpose-built FFmpeg (`bin/ffmpeg`, `lib/libavcodec.so.59`, …),
    built first when there is none for this version and configure line."""
    version = debian_version()
    prefix = prefix_for(version)
    if not (prefix / "bin" / "ffprobe").is_file():
        print(f"Building FFmpeg {upstream(version)} (Debian {version}) for the bundle; "
              f"~15 min on 2 cores, cached in {prefix}", flush=True)
        configure_and_make(fetch_source(version), prefix)
    check(prefix)
    return prefix


def main() -> int:
    try:
        print(ensure_ffmpeg())
    except FFmpegBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
