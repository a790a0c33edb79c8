"""Render every main view of the studio to docs/screenshots/*.png, with real content.

A real server in a temporary data dir ingests a few generated clips (real ffmpeg), the Player plays
one through steering and an edge (so analytics and the network have real traffic), and a longer clip
is caught mid-encode for the Upload view. Runs under a private Xvfb (started here, on a free
display number, so no other program's windows get into the pictures); --use-display draws on $DISPLAY.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--keep-data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZE = (1440, 900)
CLIPS = (  # (file, lavfi source, seconds, title, tags, description)
    ("mandelbrot.mp4", "mandelbrot=size=320x180:rate=25,scale=640:360", 20, "Mandelbrot zoom",
     "fractal, math", "A slow dive into the Mandelbrot set."),
    ("bars.mp4", "smptehdbars=size=640x360:rate=25", 5, "Colour bars", "calibration",
     "SMPTE HD colour bars with a 1 kHz tone."),
    ("life.mp4", "life=size=320x180:rate=25:mold=10:ratio=0.3:death_color=#203040:life_color=#60c0ff,"
     "scale=640:360:flags=neighbor", 6, "Game of Life", "simulation, math", "Conway's cellular automaton."),
    ("pattern.mp4", "testsrc2=size=640x360:rate=25", 5, "Test pattern", "calibration",
     "The ffmpeg testsrc2 pattern."),
)
MID_ENCODE = ("long-take.mp4", "testsrc2=size=1280x720:rate=30", 40)
SERVER_ENV = {"MINIFLIX_SEGMENT_SECONDS": "2", "MINIFLIX_MIN_CHUNK_SECONDS": "2", "MINIFLIX_WORKERS": "2"}


def make_clip(out: Path, source: str, seconds: int) -> Path:
    """A clip from an ffmpeg test source with a tone (the script, not the studio, runs ffmpeg)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source},trim=duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-shortest", str(out)], check=True)
    return out


def api(url: str, body: dict[str, Any] | None = None, method: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@contextmanager
def display(private: bool) -> Iterator[None]:
    """A private Xvfb on a free display number (Xvfb picks it: -displayfd), so no other program's
    windows end up in the grabs; or the current $DISPLAY when asked."""
    if not private and os.environ.get("DISPLAY"):
        yield
        return
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp"], pass_fds=(write,))
    os.close(write)
    with os.fdopen(read) as pipe:
        os.environ["DISPLAY"] = ":" + pipe.readline().strip()
    try:
        yield
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def pump(seconds: float, until: Callable[[], bool] | None = None) -> bool:
    """Run the Qt event loop for up to `seconds`, or until `until()` holds; returns whether it did."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.02)
    return until is None


def ingest_library(url: str, work: Path) -> list[dict[str, Any]]:
    """The library titles: ingested one after another, then given names, tags and descriptions."""
    jobs = [(api(f"{url}/api/jobs", {"path": str(make_clip(work / f, src, s))}), t, tags, d)
            for f, src, s, t, tags, d in CLIPS]
    titles = []
    for job, title, tags, description in jobs:
        while (state := api(f"{url}/api/jobs/{job['job_id']}"))["state"] not in ("published", "failed"):
            time.sleep(0.5)
        if state["state"] == "failed":
            raise SystemExit(f"ingest of {title} failed: {state['error']}")
        titles.append(api(f"{url}/api/titles/{state['video_id']}",
                          {"title": title, "tags": tags, "description": description}, method="PATCH"))
    return titles


def shoot(window: Any, out: Path, name: str) -> Path:
    """The window as the X server shows it (VLC draws video into its own X window, which
    QWidget.grab() cannot see); falls back to grab() off X."""
    from PySide6.QtGui import QGuiApplication

    path = out / f"{name}.png"
    pump(0.5)
    g = window.geometry()
    image = QGuiApplication.primaryScreen().grabWindow(0, g.x(), g.y(), g.width(), g.height())
    (image if not image.isNull() else window.grab()).save(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)
    return path


def run(out: Path, data_root: Path) -> None:
    from PySide6.QtCore import QSettings

    from server.http.embedded import start_embedded
    from server.paths import DataDir
    from studio.app import application
    from studio.client import ApiClient
    from studio.window import MainWindow

    os.environ.update(SERVER_ENV)
    server = start_embedded(DataDir.resolve(data_root / "data"))
    work = data_root / "clips"
    work.mkdir(exist_ok=True)
    try:
        titles = ingest_library(server.url, work)
        api(f"{server.url}/api/demo/week", {})   # what a first start gets with the sample clip
        app = application()
        client = ApiClient(server.url)
        settings = QSettings(str(data_root / "studio.ini"), QSettings.Format.IniFormat)
        window = MainWindow(client, settings)
        window.resize(*SIZE)
        window.show()
        client.start_events()
        pump(3.0)
        scenes(window, server.url, titles, out, work)
        window.close()
        client.close()
        app.processEvents()
    finally:
        server.stop()


def scenes(window: Any, url: str, titles: list[dict[str, Any]], out: Path, work: Path) -> None:
    """Each view in a state worth showing, one screenshot each."""
    window.player.location.select_region("eu-west")  # a viewer in London: the map draws their steering
    window.play(titles[0])
    pump(7.0)  # steering, the first segments through the edge, a few seconds of frames
    shoot(window, out, "player")
    window.show_view("network")
    window.views["network"].select_edge(window.player.session.edge)  # the edge playing right now
    pump(3.0)  # while it plays: throughput and cache fill on the chosen edge
    shoot(window, out, "network")
    for title in (titles[2], titles[0]):  # more sessions (the second one hits the edge's cache)
        window.play(title)
        pump(5.0)
    window.player.shutdown()  # stopping posts the session's telemetry: views and watch time
    window.show_view("analytics")
    getattr(window.views["analytics"], "refresh", lambda: None)()
    pump(5.0)
    shoot(window, out, "analytics")
    lab_scene(window, out)
    lab_abr_scene(window, out, titles[0])
    lab_cost_scene(window, out)
    library = window.library
    window.show_view("library")
    library.reload()
    pump(10.0, lambda: len(library.model.posters.pixmaps) >= len(titles))
    library.grid.setCurrentIndex(library.model.index(library.model.row_of(titles[1]["video_id"])))
    shoot(window, out, "library")
    library.search.setText("math")
    pump(5.0, lambda: 0 < len(library.model.titles) < len(titles))
    shoot(window, out, "library-search")
    library.search.clear()
    dark_theme(window, out)
    name, source, seconds = MID_ENCODE
    window.add_paths([make_clip(work / name, source, seconds)])
    grid = window.upload.detail.grid
    pump(180.0, lambda: grid.cells() > 4 and 0.3 < grid.done_cells() / grid.cells() < 0.8)
    shoot(window, out, "upload")
    window.upload.cancel_button.click()  # no need to wait for the rest
    pump(1.0)
    subtitles_scene(window, url, out, work)


SUBTITLES = {  # file -> cues; "embedded" goes inside the clip, the others lie beside it
    "embedded": ((0.5, 4.5, "The bridge at dawn."), (5.0, 9.5, "Nobody crosses it after dark."),
                 (10.0, 14.5, "We cross it tonight,\nbefore the rain."),
                 (15.0, 19.5, "Then there is no way back.")),
    "bridge.fr.srt": ((0.5, 4.5, "Le pont à l'aube."), (10.0, 14.5, "Nous le traversons ce soir.")),
    "bridge.en.sdh.srt": ((0.5, 4.5, "[wind over the river]"), (10.0, 14.5, "[thunder in the distance]")),
}


def srt(cues: tuple[tuple[float, float, str], ...]) -> str:
    def clock(t: float) -> str:
        return f"00:00:{int(t):02d},{round(t * 1000) % 1000:03d}"
    return "".join(f"{i}\n{clock(a)} --> {clock(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1))


def make_languages_clip(work: Path) -> Path:
    """20 s of the Mandelbrot zoom with an English and a French tone, English subtitles inside
    (mov_text) and French and English SDH subtitle files beside it (picked up at ingest)."""
    for name, cues in SUBTITLES.items():
        (work / (name if name != "embedded" else "embedded-en.txt")).write_text(srt(cues), encoding="utf-8")
    clip = work / "bridge.mp4"
    tones = [a for f in (440, 660) for a in ("-f", "lavfi", "-i", f"sine=f={f}:sample_rate=48000:d=20")]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "mandelbrot=size=320x180:rate=25,scale=640:360,trim=duration=20", *tones,
                    "-f", "srt", "-i", str(work / "embedded-en.txt"), "-map", "0", "-map", "1",
                    "-map", "2", "-map", "3", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac",
                    "-c:s", "mov_text", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
                    "-metadata:s:s:0", "language=eng", "-disposition:a:1", "0", str(clip)], check=True)
    return clip


def subtitles_scene(window: Any, url: str, out: Path, work: Path) -> None:
    """The Player on a title with two audio languages and three subtitle tracks: English captions
    over the picture (drawn by VLC) and the Subtitles menu open."""
    from PySide6.QtCore import QPoint

    job = api(f"{url}/api/jobs", {"path": str(make_languages_clip(work)), "name": "The bridge at dawn"})
    while (state := api(f"{url}/api/jobs/{job['job_id']}"))["state"] not in ("published", "failed"):
        time.sleep(0.5)
    title = api(f"{url}/api/titles/{state['video_id']}")
    player = window.player
    window.play(title)
    pump(20.0, lambda: len(player.tracks.subtitles) == 3 and player.session.position_s > 0.5)
    player.tracks.choose_subtitles("English")
    pump(20.0, lambda: 10.8 < player.session.position_s < 13.5)
    button, menu = player.track_menus.subtitles_button, player.track_menus.subtitles_menu
    menu.popup(button.mapToGlobal(QPoint(0, -menu.sizeHint().height())))
    pump(0.5)
    shoot(window, out, "player-subtitles")
    menu.close()
    player.shutdown()
    library_tracks_scene(window, title, out)


def library_tracks_scene(window: Any, title: dict[str, Any], out: Path) -> None:
    """The Library's Tracks section on the two-language title: the French audio track just made
    the default, with Undo in the toast."""
    library = window.library
    window.show_view("library")
    library.reload()
    pump(10.0, lambda: library.model.row_of(title["video_id"]) >= 0)
    library.grid.setCurrentIndex(library.model.index(library.model.row_of(title["video_id"])))
    pump(10.0, lambda: len(library.tracks.tracks["audio"]) == 2)
    library.tracks.select_track("audio", "audio-2")
    library.tracks.set_default()
    pump(60.0, lambda: not library.tracks.busy)
    library.tracks.select_track("audio", "audio-2")
    shoot(window, out, "library-tracks")


def lab_scene(window: Any, out: Path) -> None:
    """The Lab's CDN replay: a generated session trace (the few plays above are too short a record to
    tell policies apart) swept over cache sizes, every policy and Belady's MIN."""
    window.show_view("lab")
    tab = window.views["lab"].replay
    tab.trace.setCurrentIndex(tab.trace.findData("sessions"))
    tab.sizes.setText("64M,256M,1G,4G,16G,64G")
    tab.requests.setValue(100_000)
    tab.target.setValue(0.7)
    tab.run()
    pump(300.0, lambda: tab.run_button.isEnabled())
    shoot(window, out, "lab")


def lab_abr_scene(window: Any, out: Path, title: dict[str, Any]) -> None:
    """The Lab's ABR tab: the Mandelbrot title's real segments played by 50 simulated viewers on the
    seeded mobile trace, every algorithm; the QoE bars and one session's buffer and rung."""
    lab = window.views["lab"]
    tab = lab.tabs_by_name["abr"]
    lab.tabs.setCurrentWidget(tab)
    tab.reload_titles()
    pump(10.0, lambda: tab.title.findData(title["video_id"]) >= 0)
    tab.title.setCurrentIndex(tab.title.findData(title["video_id"]))
    tab.trace.setCurrentIndex(tab.trace.findData("mobile"))
    tab.sessions.setValue(50)
    tab.run()
    pump(300.0, lambda: tab.run_button.isEnabled())
    tab.sample.setCurrentText("dynamic")
    shoot(window, out, "lab-abr")
    lab.tabs.setCurrentIndex(0)


def lab_cost_scene(window: Any, out: Path) -> None:
    """The Lab's Cost tab: every title at the default list prices after the plays above (storage,
    edge and origin egress projected to a month, encode once), with every what-if."""
    lab = window.views["lab"]
    tab = lab.tabs_by_name["cost"]
    lab.tabs.setCurrentWidget(tab)
    for box in tab.whatifs.values():
        box.setChecked(True)
    tab.run()
    pump(300.0, lambda: tab.run_button.isEnabled())
    shoot(window, out, "lab-cost")
    lab.tabs.setCurrentIndex(0)


def dark_theme(window: Any, out: Path) -> None:
    """The Library again with the dark palette (what a system in dark mode gets)."""
    from PySide6.QtWidgets import QApplication

    from studio.app import THEME_ENV, apply_theme

    os.environ[THEME_ENV] = "dark"
    apply_theme(QApplication.instance())  # type: ignore[arg-type]
    shoot(window, out, "library-dark")
    os.environ[THEME_ENV] = "light"
    apply_theme(QApplication.instance())  # type: ignore[arg-type]


def quiet_alsa(folder: Path) -> None:
    """Machines without a sound card: VLC's audio output gets ALSA's null device instead of
    thousands of lines of ALSA errors."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "asound.conf"
    conf.write_text("pcm.!default { type null }\n")
    os.environ.setdefault("ALSA_CONFIG_PATH", str(conf))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--keep-data", type=Path,
                        help="keep the server's data dir here (default: a temp dir)")
    parser.add_argument("--use-display", action="store_true",
                        help="draw on the current $DISPLAY instead of a private Xvfb")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.setdefault("MINIFLIX_STUDIO_THEME", "light")
    quiet_alsa(data_root := args.keep_data or Path(tempfile.mkdtemp(prefix="miniflix-shots-")))
    try:
        with display(private=not args.use_display):
            run(args.out, data_root)
    finally:
        if args.keep_data is None:
            shutil.rmtree(data_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
