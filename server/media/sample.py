"""A sample clip made on the spot with ffmpeg's own sources, for the demo and the first start."""

from __future__ import annotations

import threading
from pathlib import Path

from server import config
from server.media.ffmpeg import Tools, find_tools, run


def build_sample_args(tools: Tools, out: Path, seconds: int = 20, size: str = "1280x720") -> list[str]:
    """Moving test pattern with a little noise and a two-tone audio track (H.264/AAC in MP4).

    ultrafast: the clip is only a source to be ingested (and re-encoded); someone is waiting for it,
    and veryfast took 2.7x the CPU (17.7 against 6.4 CPU-s for 20 s of 720p)."""
    video = f"testsrc2=size={size}:rate=30:duration={seconds},noise=alls=6:allf=t"
    audio = (f"sine=frequency=440:sample_rate=48000:duration={seconds}[a0];"
             f"sine=frequency=660:sample_rate=48000:duration={seconds}[a1];[a0][a1]amerge=inputs=2")
    return [tools.ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-metadata", "title=MiniFlix sample", "-shortest", str(out)]


_making = threading.Lock()  # two requests at once (a double click) must not write one .partial file


def make_sample_clip(out: Path, seconds: int | None = None, tools: Tools | None = None) -> Path:
    """Write the sample clip to `out` (kept if it is already there) and return its path.

    A second caller while the clip is being made waits for it instead of making it again."""
    seconds = seconds or config.get("sample_seconds")
    with _making:
        if out.is_file() and out.stat().st_size > 0:
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.stem + ".partial" + out.suffix)
        args = build_sample_args(tools or find_tools(), tmp, seconds)
        run(args, "making the sample clip", background=False)
        tmp.replace(out)
    return out
