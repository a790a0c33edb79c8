"""A real title with two audio languages (eng default, fra) and an English mov_text subtitle track,
ingested once by the real pipeline: what the track editing API, the players and the studio use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from unittest import mock

from server.engine import Engine
from server.jobs.pipeline import IngestOptions
from server.paths import DataDir
from tests.http.conftest import Made

SECONDS = 8
ENGLISH = ("1\n00:00:01,000 --> 00:00:03,500\nThe bridge at dawn\n\n"
           "2\n00:00:05,000 --> 00:00:07,000\nWe cross it tonight\n")
FRENCH_SDH = "1\r\n00:00:02,000 --> 00:00:04,000\r\n[Musique] Le pont à l'aube\r\n"


def two_language_source(folder: Path) -> Path:
    """8 s 320x180 video, a 440 Hz English and a 660 Hz French tone, English subtitles as mov_text."""
    srt = folder / "english.srt"
    srt.write_text(ENGLISH, encoding="utf-8")
    clip = folder / "bridge.mp4"
    tones = [a for f in (440, 660)
             for a in ("-f", "lavfi", "-i", f"sine=f={f}:sample_rate=48000:d={SECONDS}")]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=320x180:rate=25:duration={SECONDS}", *tones, "-i", str(srt),
                    "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", "mov_text",
                    "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
                    "-metadata:s:s:0", "language=eng", "-disposition:a:0", "default",
                    "-disposition:a:1", "0", str(clip)], check=True)
    return clip


def encode_tracks_title(out: Path) -> Made:
    """Ingest the two-language source (2 s segments, no VMAF measurement) and say where it is."""
    data = DataDir.resolve(out / "data")
    options = IngestOptions(workers=2, segment_seconds=2.0, retries=0, preset="ultrafast",
                            min_chunk_seconds=2.0)
    with mock.patch.dict(os.environ, {"MINIFLIX_QUALITY_MEASURE": "0"}), Engine(data) as engine:
        ingest = engine.ingest(options)
        job = ingest.run(ingest.create_job(two_language_source(out)))
    assert job.state == "published", job.error
    return Made(data.origin / "videos" / job.video_id, SECONDS, SECONDS * 25, tuple(job.result["renditions"]))
