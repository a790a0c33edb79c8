"""Smoke test of the built app (`make package-test`) with the system's ffmpeg and VLC out of reach.

As root, the checks run in a private mount namespace (`unshare -m`) where /usr/bin/ffmpeg, ffprobe,
libvlc, libvlccore, VLC's plugins, the system libav*/libsw* libraries and the purpose-built FFmpeg's
build cache are bind-mounted over by empty files/dirs: anything the app did not bundle fails to
load. Without root the same checks run with PATH stripped to the bundle and an empty dir, and the
server's /proc/<pid>/maps is checked for system copies. Every app run gets a clean environment
(no LD_LIBRARY_PATH, HOME in a tmp dir).

Checks: --version; `ingest --json` of a generated clip; `serve` answers /api/health and the
bundled ffmpeg plays the title through /play/…; the portable marker keeps data beside the app;
the .tar.gz unpacked elsewhere ingests (relocatable) and the .deb holds the launcher files;
`--smoke-test` drives the studio offscreen (every view, two seconds through VLC's dummy output),
then again on Xvfb (Qt's xcb plugin, VLC drawing into the player's native window).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_APP = HERE / "dist" / "miniflix"
LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")
HIDDEN_LIBS = ("libvlc.so*", "libvlccore.so*", "libavcodec.so*", "libavformat.so*", "libavutil.so*",
               "libavfilter.so*", "libavdevice.so*", "libswscale.so*", "libswresample.so*",
               "libpostproc.so*")
HIDDEN_TOOLS = ("ffmpeg", "ffprobe", "ffplay", "vlc", "cvlc")
BUILT_FFMPEG = HERE / "build" / "ffmpeg"  # the purpose-built FFmpeg's cache: the app must carry its own copy
SYSTEM_MEDIA = re.compile(r"(^/usr/(?:local/)?(?:bin|lib)\S*/(?:libvlc|libav|libsw|libpostproc|ffmpeg|vlc/))")


class SmokeFailed(Exception):
    """One check did not hold; the message says which and shows the app's output."""


def hidden_paths() -> list[str]:
    """System files that must not be used: the tools on PATH dirs and the media libraries."""
    paths = [f"/usr/bin/{t}" for t in HIDDEN_TOOLS] + [f"/usr/local/bin/{t}" for t in HIDDEN_TOOLS]
    for folder in LIB_DIRS:
        for pattern in HIDDEN_LIBS:
            paths += glob.glob(os.path.join(folder, pattern))
    return sorted({p for p in paths if os.path.exists(p)})


def hide_system_media(scratch: Path) -> list[str]:
    """Bind empty files over the system's ffmpeg/VLC (only inside our own mount namespace)."""
    empty_file, empty_dir = scratch / "empty", scratch / "empty.d"
    empty_file.write_bytes(b"")
    empty_dir.mkdir(exist_ok=True)
    hidden = []
    for path in hidden_paths():
        _mount_over(empty_file, path)
        hidden.append(path)
    for folder in [*(os.path.join(d, "vlc") for d in LIB_DIRS), str(BUILT_FFMPEG)]:
        if os.path.isdir(folder):
            _mount_over(empty_dir, folder)
            hidden.append(folder)
    return hidden


def _mount_over(source: Path, target: str) -> None:
    real = os.path.realpath(target)
    subprocess.run(["mount", "--bind", str(source), real], check=True)


class App:
    """The built app, run with a clean environment and a scratch HOME."""

    def __init__(self, folder: Path, scratch: Path) -> None:
        self.folder = folder
        self.exe = folder / ("miniflix.exe" if os.name == "nt" else "miniflix")
        # A macOS .app keeps the libraries in Contents/Frameworks and portable data beside the .app.
        frameworks = folder.parent / "Frameworks"
        self.internal = folder / "_internal" if (folder / "_internal").is_dir() else frameworks
        dot_app = next((p for p in folder.parents if p.suffix == ".app"), None)
        self.beside = dot_app.parent if dot_app else folder
        self.home = scratch / "home"
        self.minimal_bin = scratch / "bin"
        for d in (self.home, self.minimal_bin):
            d.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        """Nothing from the developer's shell: no venv, no LD_LIBRARY_PATH, no system tool dirs."""
        env = {"PATH": f"{self.folder}{os.pathsep}{self.minimal_bin}", "HOME": str(self.home),
               "LANG": "C.UTF-8", "TMPDIR": str(self.home), "MINIFLIX_MIN_CHUNK_SECONDS": "1",
               "MINIFLIX_WORKERS": "2"}
        if os.name == "nt":  # Windows needs these to start any process; user dirs go to the scratch home
            env.update({k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR", "COMSPEC") if k in os.environ})
            appdata = self.home / "AppData"
            env.update(USERPROFILE=str(self.home), LOCALAPPDATA=str(appdata / "Local"),
                       APPDATA=str(appdata / "Roaming"), TEMP=str(self.home), TMP=str(self.home))
        env.update(extra)
        return env

    def user_data_dir(self) -> Path:
        """Where platformdirs puts MiniFlix's data for the scratch HOME."""
        if os.name == "nt":
            return self.home / "AppData" / "Local" / "MiniFlix"
        if sys.platform == "darwin":
            return self.home / "Library" / "Application Support" / "MiniFlix"
        return self.home / ".local" / "share" / "MiniFlix"

    def run(self, *args: str, timeout: float = 180, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.exe), *args], capture_output=True, text=True, timeout=timeout,
                              env=self.env(**extra), cwd=self.home)

    def tool(self, name: str) -> Path:
        return self.internal / "tools" / (name + (".exe" if os.name == "nt" else ""))


def expect(done: subprocess.CompletedProcess[str], what: str) -> str:
    if done.returncode != 0:
        raise SmokeFailed(f"{what}: exit {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n"
                          f"--- stderr\n{done.stderr[-3000:]}")
    return done.stdout


def check_version(app: App, _: Path) -> str:
    out = expect(app.run("--version", timeout=60), "--version")
    if "MiniFlix Studio" not in out:
        raise SmokeFailed(f"--version printed {out!r}")
    return out.strip()


def check_ingest(app: App, work: Path) -> str:
    out = expect(app.run("ingest", "--json", "--data-dir", str(work / "data"), str(work / "clip.mp4")),
                 "ingest --json")
    report = json.loads(out.strip().splitlines()[-1])
    if report["status"] != "published" or not report["renditions"]:
        raise SmokeFailed(f"ingest did not publish: {report}")
    (work / "video_id").write_text(report["video_id"])
    return f"published {report['video_id']} ({len(report['renditions'])} rendition(s))"


def check_serve_and_play(app: App, work: Path) -> str:
    video_id = (work / "video_id").read_text()
    with serving(app, work / "data") as (url, pid):
        health = json.load(urllib.request.urlopen(url + "/api/health", timeout=20))
        if not health.get("ok"):
            raise SmokeFailed(f"/api/health: {health}")
        frames = play_through_ffmpeg(app, f"{url}/play/{video_id}/master.m3u8")
        leaked = system_media_mapped(pid)
    if leaked:
        raise SmokeFailed(f"the server mapped system media libraries: {leaked}")
    return f"/api/health ok; bundled ffmpeg decoded {frames} frames through /play"


@contextmanager
def serving(app: App, data: Path) -> Iterator[tuple[str, int]]:
    """`miniflix serve` on a free loopback port; yields its URL and pid, stops it with SIGTERM."""
    proc = subprocess.Popen([str(app.exe), "serve", "--data-dir", str(data)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=app.env(), cwd=app.home)
    try:
        yield _listening_url(proc), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _listening_url(proc: subprocess.Popen[str]) -> str:
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        if found and "listening" in line:
            return found.group(0)
    raise SmokeFailed("serve exited before listening:\n" + "".join(seen[-40:]))


def play_through_ffmpeg(app: App, url: str) -> int:
    """The bundled ffmpeg as the viewer: decode the whole steered stream, count video frames."""
    env = app.env(LD_LIBRARY_PATH=str(app.internal))
    done = subprocess.run([str(app.tool("ffmpeg")), "-hide_banner", "-nostdin", "-i", url, "-map", "0:v:0",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=120, env=env)
    expect(done, f"ffmpeg -i {url}")
    frames = [int(n) for n in re.findall(r"frame=\s*(\d+)", done.stderr)]
    if not frames or frames[-1] < 25:
        raise SmokeFailed(f"ffmpeg decoded too few frames from {url}: {done.stderr[-1500:]}")
    return frames[-1]


def system_media_mapped(pid: int) -> list[str]:
    """System ffmpeg/VLC files mapped into a running process (empty when all came from the bundle)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return []
    return sorted({m.group(1) for line in maps.splitlines() if (m := SYSTEM_MEDIA.search(line.split()[-1]))})


def check_data_dirs(app: App, work: Path) -> str:
    """Data goes to the user data dir by default; a `portable` marker keeps it beside the app."""
    expect(app.run("videos", timeout=60), "videos (default data dir)")
    user_dir = app.user_data_dir()
    if not (user_dir / "catalog.sqlite").is_file():
        raise SmokeFailed(f"the default data dir {user_dir} was not created")
    marker, portable = app.beside / "portable", app.beside / "MiniFlix-data"
    if portable.exists():
        raise SmokeFailed(f"{portable} exists before the portable check; remove it")
    marker.write_text("")
    try:
        expect(app.run("videos", timeout=60), "videos (portable)")
        if not (portable / "catalog.sqlite").is_file():
            raise SmokeFailed(f"portable mode did not keep data in {portable}")
    finally:
        marker.unlink()
        shutil.rmtree(portable, ignore_errors=True)
    inside = [p for p in app.internal.rglob("*.sqlite")]
    if inside:
        raise SmokeFailed(f"data was written inside the bundle: {inside}")
    return f"default: {user_dir}; portable: <app>/MiniFlix-data"


def check_gui(app: App, work: Path) -> str:
    done = app.run("--smoke-test", "--data-dir", str(work / "gui-data"), timeout=300,
                   QT_QPA_PLATFORM="offscreen")
    out = expect(done, "--smoke-test")
    return out.strip().splitlines()[-1] if out.strip() else "ok"


def check_gui_x11(app: App, work: Path) -> str:
    """The same pass on a real X server (Xvfb): Qt's xcb plugin, VLC drawing into the window."""
    if not shutil.which("Xvfb"):
        raise SmokeFailed("Xvfb is not installed (apt-get install xvfb; `make setup` does)")
    with x_server() as display:
        done = app.run("--smoke-test", "--data-dir", str(work / "x11-data"), timeout=300,
                       QT_QPA_PLATFORM="xcb", DISPLAY=display)
    out = expect(done, f"--smoke-test on Xvfb {display}")
    return out.strip().splitlines()[-1] if out.strip() else "ok"


@contextmanager
def x_server() -> Iterator[str]:
    """An Xvfb on a free display number (it reports the number through -displayfd)."""
    read, write = os.pipe()
    argv = ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"]
    proc = subprocess.Popen(argv, pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        number = os.read(read, 32).decode().strip()
        if not number:
            raise SmokeFailed("Xvfb did not start")
        yield f":{number}"
    finally:
        os.close(read)
        proc.terminate()
        proc.wait(timeout=20)


def check_archives(app: App, work: Path) -> str:
    """The .tar.gz unpacked elsewhere runs (the app is relocatable); the .deb holds the launcher files."""
    tarballs = sorted(app.folder.parent.glob("miniflix-*-linux-*.tar.gz"))
    debs = sorted(app.folder.parent.glob("miniflix_*.deb"))
    if not tarballs or not debs:
        raise SmokeFailed(f"no .tar.gz/.deb beside {app.folder}; run `make package`")
    unpacked = work / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xzf", str(tarballs[-1]), "-C", str(unpacked)], check=True)
    moved = App(next(unpacked.iterdir()), work / "moved")
    args = ("ingest", "--json", "--data-dir", str(work / "moved-data"), str(work / "clip.mp4"))
    out = expect(moved.run(*args), "ingest from the unpacked .tar.gz")
    report = json.loads(out.strip().splitlines()[-1])
    if report["status"] != "published" or not (moved.folder / "miniflix.desktop").is_file():
        raise SmokeFailed(f"the unpacked .tar.gz did not publish or lacks its .desktop file: {report}")
    return f"{tarballs[-1].name} unpacked elsewhere publishes; {deb_contents(debs[-1])}"


def deb_contents(deb: Path) -> str:
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    needed = ["./opt/miniflix/miniflix", "./usr/bin/miniflix -> /opt/miniflix/miniflix",
              "./usr/share/applications/miniflix.desktop", "./opt/miniflix/_internal/tools/ffmpeg",
              "./usr/share/icons/hicolor/256x256/apps/miniflix.png", "./opt/miniflix/_internal/libvlc.so.5"]
    missing = [item for item in needed if item not in listing]
    if missing:
        raise SmokeFailed(f"{deb.name} lacks {missing}")
    control = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True,
                             check=True).stdout
    if "libc6" not in control:
        raise SmokeFailed(f"{deb.name} Depends is {control!r}")
    return f"{deb.name} has /opt/miniflix, /usr/bin/miniflix, the menu entry and icon"


CHECKS: list[tuple[str, Callable[[App, Path], str]]] = [
    ("version", check_version), ("ingest", check_ingest), ("serve+play", check_serve_and_play),
    ("data dirs", check_data_dirs), ("archives", check_archives), ("gui", check_gui),
    ("gui-x11", check_gui_x11)]


def run_checks(app: App, work: Path, skip: set[str]) -> int:
    failures = 0
    for name, check in CHECKS:
        if name in skip:
            print(f"SKIP {name} (asked with --skip)", flush=True)
            continue
        started = time.monotonic()
        try:
            detail = check(app, work)
            print(f"PASS {name:<11} {time.monotonic() - started:5.1f}s  {detail}", flush=True)
        except (SmokeFailed, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as exc:
            failures += 1
            print(f"FAIL {name:<11} {time.monotonic() - started:5.1f}s  {exc}", flush=True)
    return failures


def make_clip(out: Path) -> None:
    """A 3 s 320x180 clip with sound, made before the system's ffmpeg is hidden."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise SmokeFailed("the smoke test needs a system ffmpeg to make its sample clip")
    video, audio = "testsrc2=size=320x180:rate=25:duration=3", "sine=frequency=440:duration=3"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-shortest", str(out)], check=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--app", type=Path, default=DEFAULT_APP,
                   help="the built app folder (default: %(default)s)")
    p.add_argument("--skip", action="append", default=[], choices=[n for n, _ in CHECKS])
    p.add_argument("--no-namespace", action="store_true", help="do not hide system files (maps check only)")
    p.add_argument("--inside", type=Path, help=argparse.SUPPRESS)  # set when re-run under unshare
    return p.parse_args(argv)


def can_unshare() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("unshare") is not None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app_dir = args.app.resolve()
    if not (app_dir / "miniflix").exists() and not (app_dir / "miniflix.exe").exists():
        print(f"no built app in {app_dir}; run `make package` first", file=sys.stderr)
        return 2
    if args.inside:
        return inside(app_dir, args.inside, set(args.skip))
    with tempfile.TemporaryDirectory(prefix="miniflix-smoke-") as tmp:
        work = Path(tmp)
        make_clip(work / "clip.mp4")
        if args.no_namespace or not can_unshare():
            why = "--no-namespace" if args.no_namespace else "not root or no unshare"
            print(f"NOTE ({why}): system ffmpeg/VLC stay on disk; PATH is stripped and the server's "
                  "memory maps are checked instead.", flush=True)
            return 1 if run_checks(App(app_dir, work), work, set(args.skip)) else 0
        cmd = ["unshare", "-m", "--propagation", "private", sys.executable, __file__, "--app", str(app_dir),
               "--inside", str(work), *[f"--skip={s}" for s in args.skip]]
        return subprocess.run(cmd).returncode


def inside(app_dir: Path, work: Path, skip: set[str]) -> int:
    hidden = hide_system_media(work)
    print(f"hidden from the app ({len(hidden)} paths): " + ", ".join(hidden[:6]) + ", …", flush=True)
    failures = run_checks(App(app_dir, work), work, skip)
    print(f"{'FAILED' if failures else 'OK'}: {failures} check(s) failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
