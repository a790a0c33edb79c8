"""Encoder-shaped inputs for the packaging tests: chunk files and an audio track made by real ffmpeg.

Chunks are made the way the encoder makes them: one ffmpeg per chunk producing every rung (split +
scale), keyframes forced on the segment grid (chunk-relative), an exact `-frames:v` count, and a
whole-title AAC-LC stereo 48 kHz m4a. Knobs break one chunk on purpose (a lost frame, a keyframe
off the grid) so verification can be tested against real damage.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from server.media.ffmpeg import Tools, find_tools
from server.media.model import AudioInfo, Chunk, PackagedTitle, Rendition, WorkLayout
from server.media.package import package_title

FPS = Fraction(25)
SEGMENT = 0.8                       # 20 frames: tiny title, still several segments and seams
CHUNK_FRAMES = (40, 20, 10)         # two segments, one segment, a short tail: 2.8 s, 70 frames
RUNGS = (Rendition("320p", 320, 180, 800, 1600), Rendition("160p", 160, 90, 400, 800))
AUDIO = AudioInfo(index=1, codec="aac", channels=2, sample_rate=48000, language="eng")


@dataclass
class Title:
    """Everything package_title needs, plus what the encoder promised."""

    tools: Tools
    layout: WorkLayout
    chunks: list[Chunk]
    renditions: list[Rendition] = field(default_factory=lambda: list(RUNGS))
    audio: AudioInfo | None = AUDIO

    @property
    def expected_frames(self) -> int:
        return sum(c.frames for c in self.chunks)

    def package(self, out_dir: Path) -> PackagedTitle:
        out_dir.mkdir(parents=True, exist_ok=True)
        fps = FPS if self.renditions else None
        return package_title(self.tools, self.layout, self.renditions, self.chunks, fps, SEGMENT, self.audio,
                             out_dir)


def plan_chunks(frames: tuple[int, ...] = CHUNK_FRAMES) -> list[Chunk]:
    chunks, start = [], 0
    for i, n in enumerate(frames):
        chunks.append(Chunk(i, float(start / FPS), float(n / FPS), n))
        start += n
    return chunks


def encode_chunk(layout: WorkLayout, chunk: Chunk, first_frame: int, *, rungs: tuple[Rendition, ...] = RUNGS,
                 frames: int | None = None, keyframes: str | None = None) -> None:
    """All rungs of one chunk in one ffmpeg; `frames`/`keyframes` override what the encoder would do."""
    trim = f"trim=start_frame={first_frame}:end_frame={first_frame + chunk.frames}"
    graph = (f"[0:v]{trim},setpts=PTS-STARTPTS,"
             f"split={len(rungs)}" + "".join(f"[s{i}]" for i in range(len(rungs))) + ";"
             + ";".join(f"[s{i}]scale={r.width}:{r.height}[o{i}]" for i, r in enumerate(rungs)))
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate={FPS}",
            "-filter_complex", graph]
    for i, rung in enumerate(rungs):
        out = layout.chunk_file(rung.name, chunk.index)
        out.parent.mkdir(parents=True, exist_ok=True)
        args += ["-map", f"[o{i}]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-force_key_frames", keyframes or f"expr:gte(t,n_forced*{SEGMENT})", "-sc_threshold", "0",
                 "-frames:v", str(frames if frames is not None else chunk.frames), "-an", str(out)]
    subprocess.run(args, check=True)


def encode_audio(layout: WorkLayout, seconds: float) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-ac", "2", "-c:a", "aac",
                    "-b:a", "96k", str(layout.audio_file)], check=True)


def make_title(root: Path, *, audio: bool = True, video: bool = True) -> Title:
    """A complete, correct encode of a 2.8 s title (both rungs, three chunks, audio)."""
    layout = WorkLayout(root)
    chunks = plan_chunks()
    if video:
        start = 0
        for chunk in chunks:
            encode_chunk(layout, chunk, start)
            start += chunk.frames
    title = Title(find_tools(), layout, chunks if video else [], list(RUNGS) if video else [],
                  AUDIO if audio else None)
    if audio:
        encode_audio(layout, float(sum(c.frames for c in chunks) / FPS))
    return title


def copy_title(title: Title, root: Path) -> Title:
    """A second work dir with the same inputs, to damage one file without touching the original."""
    shutil.copytree(title.layout.root, root, ignore=shutil.ignore_patterns("*.ffconcat"))
    return Title(title.tools, WorkLayout(root), list(title.chunks), list(title.renditions), title.audio)
