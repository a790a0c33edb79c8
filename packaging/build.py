"""`make package`: the one-folder app (PyInstaller), then on Linux a .tar.gz and a .deb of it.

    python packaging/build.py              # the app folder, .tar.gz and .deb into packaging/dist
    python packaging/build.py --no-build   # only repackage an existing packaging/dist/miniflix
    python packaging/build.py --system-ffmpeg   # bundle the ffmpeg on PATH (Debian's) instead

On Linux the app carries the purpose-built FFmpeg of `ffmpeg_build.py` (built once, then cached in
packaging/build/ffmpeg): the bundled ffmpeg/ffprobe and VLC's avcodec plugin load its libraries.
Prints the unpacked size, the archive sizes and the system libraries the app still expects from
the host (those become the .deb's Depends).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import bundle  # noqa: E402
import ffmpeg_build  # noqa: E402

from server import __version__  # noqa: E402

DIST, WORK = HERE / "dist", HERE / "build"
OUT = DIST  # archives beside the app folder: packaging/dist is git-ignored
APP_DIR = DIST / bundle.APP
LINUX = HERE / "linux"
DEB_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def run(argv: list[str], **kw: object) -> None:
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True, **kw)  # type: ignore[call-overload]


def pyinstaller(env: dict[str, str]) -> None:
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level=WARN", "--distpath", str(DIST),
         "--workpath", str(WORK), str(HERE / "miniflix.spec")], env=env)


def ffmpeg_env(system_ffmpeg: bool) -> tuple[dict[str, str], Path | None]:
    """PyInstaller's environment and the purpose-built FFmpeg's prefix (None: the one on PATH).

    With the prefix's lib/ first on LD_LIBRARY_PATH, PyInstaller's `ldd` resolves libavcodec.so.59 & co
    to the purpose-built copies for the bundled ffmpeg *and* for VLC's plugins: one copy serves both.
    """
    env = dict(os.environ)
    if system_ffmpeg or not sys.platform.startswith("linux") or env.get("MINIFLIX_BUNDLE_FFMPEG"):
        return env, None
    prefix = ffmpeg_build.ensure_ffmpeg()
    lib_path = [str(prefix / "lib"), *filter(None, env.get("LD_LIBRARY_PATH", "").split(os.pathsep))]
    env.update(MINIFLIX_BUNDLE_FFMPEG=str(prefix / "bin" / "ffmpeg"),
               MINIFLIX_BUNDLE_FFPROBE=str(prefix / "bin" / "ffprobe"),
               LD_LIBRARY_PATH=os.pathsep.join(lib_path))
    return env, prefix


def check_bundled_ffmpeg(prefix: Path) -> None:
    """The bundle holds the purpose-built libraries (not a system copy) and its ffmpeg has every part
    the engine uses; otherwise the build fails here rather than at a user's first ingest."""
    internal = APP_DIR / "_internal"
    for built in sorted((prefix / "lib").glob("lib*.so.[0-9]*")):
        if built.name.count(".") != 2:  # libavcodec.so.59, not libavcodec.so.59.37.100
            continue
        if needed_libraries(internal / built.name) != needed_libraries(built):
            raise ffmpeg_build.FFmpegBuildError(f"{internal / built.name} is not the purpose-built "
                                                f"{built} (its libraries differ): another copy was bundled")
    missing = ffmpeg_build.missing_parts(internal / bundle.TOOLS_DIR / "ffmpeg", internal)
    if missing:
        raise ffmpeg_build.FFmpegBuildError(f"the bundled ffmpeg lacks {', '.join(missing)}")


def needed_libraries(path: Path) -> list[str]:
    """The DT_NEEDED entries of an ELF file (empty when it is missing)."""
    if not path.is_file():
        return []
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return sorted(line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line)


def vlc_plugin_cache() -> None:
    """plugins.dat for the bundled plugins: libvlc starts without scanning every plugin file."""
    plugins = APP_DIR / "_internal" / bundle.VLC_DIR / "plugins"
    gen = bundle.vlc_lib_dir() / "vlc" / "vlc-cache-gen"
    if gen.is_file() and plugins.is_dir():
        run([str(gen), str(plugins)])
    else:
        print(f"note: {gen} not found; libvlc will scan its plugins at each start", flush=True)


def add_desktop_files() -> None:
    """The .desktop file, the icon and a per-user menu installer at the folder's top."""
    for name in ("miniflix.desktop", "install-desktop-entry.sh"):
        shutil.copy2(LINUX / name, APP_DIR / name)
    shutil.copy2(HERE / "resources" / "miniflix.png", APP_DIR / "miniflix.png")


def tarball() -> Path:
    out = OUT / f"{bundle.APP}-{__version__}-linux-{platform.machine()}.tar.gz"
    run(["tar", "--owner=0", "--group=0", "-czf", str(out), "-C", str(DIST),
         f"--transform=s,^{bundle.APP},{bundle.APP}-{__version__},", bundle.APP])
    return out


def host_libraries() -> dict[str, str]:
    """System libraries the bundle links but does not carry (libc, GL, X11…): path -> package."""
    internal = APP_DIR / "_internal"
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
    outside: set[str] = set()
    for path in internal.rglob("*"):
        if path.is_file() and not path.is_symlink() and (".so" in path.name or path.parent.name == "tools"):
            done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env, check=False)
            outside |= {line.split("=>")[1].split()[0] for line in done.stdout.splitlines()
                        if "=> /" in line and str(internal) not in line}
    return {lib: owning_package(lib) for lib in sorted(outside)}


def owning_package(path: str) -> str:
    for candidate in (path, os.path.realpath(path)):
        done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return done.stdout.split(":")[0].strip()
    return ""


def deb(depends: list[str]) -> Path:
    """/opt/miniflix with /usr/bin/miniflix, a menu entry and the icon, built with dpkg-deb."""
    stage = WORK / "deb"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "opt").mkdir(parents=True)
    run(["cp", "-al", str(APP_DIR), str(stage / "opt" / bundle.APP)])  # hard links: no 500 MB copy
    for folder in ("usr/bin", "usr/share/applications", "usr/share/icons/hicolor/256x256/apps",
                   "usr/share/icons/hicolor/scalable/apps", "DEBIAN"):
        (stage / folder).mkdir(parents=True, exist_ok=True)
    (stage / "usr/bin/miniflix").symlink_to(f"/opt/{bundle.APP}/{bundle.APP}")
    shutil.copy2(LINUX / "miniflix.desktop", stage / "usr/share/applications/miniflix.desktop")
    icons = stage / "usr/share/icons/hicolor"
    shutil.copy2(HERE / "resources/miniflix.png", icons / "256x256/apps/miniflix.png")
    shutil.copy2(HERE / "resources/miniflix.svg", icons / "scalable/apps/miniflix.svg")
    (stage / "DEBIAN/control").write_text(control_file(depends, unpacked_bytes(APP_DIR)))
    arch = DEB_ARCH.get(platform.machine(), platform.machine())
    out = OUT / f"{bundle.APP}_{__version__}_{arch}.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(stage), str(out)])
    shutil.rmtree(stage, ignore_errors=True)
    return out


def control_file(depends: list[str], size: int) -> str:
    arch = DEB_ARCH.get(platform.machine(), platform.machine())
    return (f"Package: {bundle.APP}\nVersion: {__version__}\nArchitecture: {arch}\n"
            "Maintainer: MiniFlix Studio developers <miniflix@localhost>\n"
            f"Installed-Size: {size // 1024}\nSection: video\nPriority: optional\n"
            f"Depends: {', '.join(depends)}\n"
            "Description: desktop studio for a streaming service's whole path on one machine\n"
            " Ingest, chunked ABR encode, CMAF packaging, origin, edges, steering, analytics and\n"
            " search. Carries its own Python, Qt, FFmpeg and libvlc; data goes to ~/.local/share.\n")


def unpacked_bytes(folder: Path) -> int:
    """Bytes on disk of the folder's files (symlinks counted once, as their target)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def summary(packages: dict[str, Path], host: dict[str, str], seconds: float) -> dict[str, object]:
    report: dict[str, object] = {
        "version": __version__, "build_seconds": round(seconds, 1),
        "unpacked_mb": round(unpacked_bytes(APP_DIR) / 2**20, 1),
        "files": sum(1 for p in APP_DIR.rglob("*") if p.is_file()),
        **{f"{kind}_mb": round(path.stat().st_size / 2**20, 1) for kind, path in packages.items()},
        "host_packages": sorted({p for p in host.values() if p}),
    }
    (OUT / "sizes.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def build_app(system_ffmpeg: bool) -> None:
    env, prefix = ffmpeg_env(system_ffmpeg)
    pyinstaller(env)
    if prefix is not None:
        check_bundled_ffmpeg(prefix)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="repackage an existing dist folder")
    parser.add_argument("--no-deb", action="store_true", help="skip the .deb (e.g. without dpkg-deb)")
    parser.add_argument("--system-ffmpeg", action="store_true",
                        help="bundle the ffmpeg on PATH and its libraries, not the purpose-built FFmpeg")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if not args.no_build:
        try:
            build_app(args.system_ffmpeg)
        except ffmpeg_build.FFmpegBuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if not (APP_DIR / bundle.APP).exists() and not (APP_DIR / f"{bundle.APP}.exe").exists():
        print(f"no app in {APP_DIR}; build it first", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    packages: dict[str, Path] = {}
    host: dict[str, str] = {}
    if sys.platform.startswith("linux"):
        vlc_plugin_cache()
        add_desktop_files()
        packages["tar_gz"] = tarball()
        host = host_libraries()
        if not args.no_deb and shutil.which("dpkg-deb"):
            packages["deb"] = deb(sorted({p for p in host.values() if p}))
    print(json.dumps(summary(packages, host, time.monotonic() - started), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
