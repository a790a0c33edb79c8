"""The benchmark's test set of titles of different character, for the ladder benchmarks
(bench/per_title.py: per-title vs fixed; bench/codec_ladder.py: AV1/HEVC vs H.264).

Generated 720p25 clips (lavfi sources, made once and kept in bench/out) plus the real files in
../shared/media that have at least 5 s of real picture. Generated clips default to 20 s: the
per-title analysis costs the same per title whatever its length (a few fixed sample windows) while the
encode grows with it, so a 5 s clip, where the windows cover the whole title, overstates the analysis
share; a streaming title is minutes long, 20 s keeps three runs of the set within the machine's time.

API (stable, other benchmarks import it): GENERATED, SHARED, TITLES, make_clip(name, seconds),
title_clip(name, seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import shared_media_dir

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_SECONDS = 20.0

GENERATED = {  # name: filtergraph of lavfi sources (720p25; trimmed to the clip's seconds)
    # static: a still background and a small moving picture-in-picture, light sensor noise
    "talking_head": "smptehdbars=size=1280x720:rate=25[bg];testsrc2=size=240x240:rate=25[face];"
                    "[bg][face]overlay=520:200:shortest=1,noise=alls=2:allf=t",
    # screen recording: sharp static text and graphics, a cut to a new slide every 5 s
    "slides": "testsrc=size=1280x720:rate=1/5,fps=25,format=yuv420p",
    # animation: flat colours, sharp edges, steady motion
    "animation": "testsrc2=size=1280x720:rate=25",
    # sport: fast detailed motion everywhere (a zooming fractal) plus noise
    "sport": "mandelbrot=size=640x360:rate=25,scale=1280:720,noise=alls=8:allf=t",
    # film grain: soft picture in a slow pan, fine temporal grain over it
    "film_grain": "gradients=size=640x360:rate=25:speed=0.002:c0=0x8a5a3a:c1=0x2a4a7a:c2=0xd0c090:"
                  "nb_colors=3,scale=1440:810,crop=1280:720:x='t*6':y='t*3',noise=alls=5:allf=t",
}
SHARED = (  # real files with >= 5 s of real content
    "bbb_720p_aac_5.1.mp4",            # animated film, 720p, 5.3 s
    "hevc_main10_10bit.ts",            # 10-bit HEVC 640x360, 12 s
    "mpeg2_pal_anamorphic.mxf",        # broadcast MPEG-2 PAL, anamorphic, 10.6 s
    "hevc_portrait_720x1280_aac.ts",   # portrait phone-style HEVC, 5 s
)
TITLES = (*GENERATED, *SHARED)


def make_clip(name: str, seconds: float = DEFAULT_SECONDS) -> Path:
    """The generated clip `name` of `seconds` (made on first use; near-lossless H.264, 720p25)."""
    path = OUT / f"title_{name}_{seconds:g}s.mp4"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-filter_complex",
                        f"{GENERATED[name]},trim=duration={seconds}", "-c:v", "libx264", "-preset",
                        "veryfast", "-crf", "16", "-pix_fmt", "yuv420p", "-an", str(partial)], check=True)
        partial.rename(path)
    return path


def title_clip(name: str, seconds: float = DEFAULT_SECONDS) -> Path:
    """A title of the set by name: a generated clip of `seconds`, or a shared file as it is."""
    return make_clip(name, seconds) if name in GENERATED else shared_media_dir() / name


def each_title(names: Sequence[str], seconds: float, measure: Callable[[Path], dict[str, Any]],
               out: Path | None, hidden: str) -> list[dict[str, Any]]:
    """`measure` on each title of `names` in turn; each row appended to `out` as a JSON line (so a
    run cut short keeps what finished) and printed without its bulky `hidden` key as it finishes."""
    rows = []
    for name in names:
        row = measure(title_clip(name, seconds))
        rows.append(row)
        if out:
            with out.open("a", encoding="utf-8") as lines:
                lines.write(json.dumps(row) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k != hidden}), flush=True)
    return rows
