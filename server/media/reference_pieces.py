"""The quality measure's reference, written by the chunk encodes, which decode the source anyway.

The measure compares each rung with the source's sampled frames as the encoder saw them
(quality.py). Decoding the source once more just for those frames took 4.7 CPU-s (2.6 s on two
cores, before any rung is scored) on the bench's 10 s 1080p title, a fifth of the measure. A chunk
encode has those frames after its shared chain: one more branch of its filtergraph keeps the chunk's
sampled frames and writes them raw (NUT) beside its rung files, one piece per chunk. The selection
counts frames in the title (the chunk's first frame + n), so the pieces, read in chunk order, are
frame for frame what the measure's own decode writes; a triple that straddles a seam is cut in two
and joined again (tests/media/test_reference_pieces.py).

Local executor only: a Dask worker would ship raw frames (3 MB each at 1080p) through the origin,
so its chunks write none (`ChunkWork.at`) and the measure decodes the source as before; so it does
for any title whose pieces are not all there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from server import config
from server.media.chunks import first_frame
from server.media.filters import display_chain
from server.media.model import Chunk, MediaInfo, VideoInfo, WorkLayout
from server.media.package import build_concat_list
from server.media.quality import LEAD, TRIPLES_FROM, kept, reference_fits, sample_select, title_every


def holds_frames(chunk: Chunk, first: int, sample_every: int) -> bool:
    """Whether any of the chunk's frames (the title's `first` … `first + frames - 1`) is kept: a
    chunk between two sparse samples of a long title writes no piece (an empty NUT is unreadable)."""
    return piece_frames(chunk, first, sample_every) > 0


def piece_frames(chunk: Chunk, first: int, sample_every: int) -> int:
    """How many frames the chunk's piece holds: its kept frames, and the LEAD clones in the first.

    The output needs that count (`-frames:v`): ffmpeg 5.1 ends an output when its count is reached
    or the whole graph ends, not when its own branch does, and the shared chain pads forever."""
    count = sum(kept(n, sample_every) for n in range(first, first + chunk.frames))
    return count + (LEAD if first == 0 and count and sample_every >= TRIPLES_FROM else 0)


def piece_chain(video: VideoInfo, first: int, sample_every: int) -> list[str]:
    """The branch after a chunk's shared chain: the title's sampled frames, the LEAD clones in the
    first chunk only, at display size (`quality.reference_chain` without the normalisation the chunk
    has done already). No end of its own: the output stops at `piece_frames`, so a miscount could
    never leave ffmpeg waiting for a frame the branch will not send."""
    return [*sample_select(sample_every, first, lead=first == 0), *display_chain(video)]


def piece_output_args(label: str, frames: int, out: Path) -> list[str]:
    """The piece's output of `frames` frames (`piece_frames`): raw in NUT, as the measure's
    reference file holds them."""
    return ["-map", f"[{label}]", "-c:v", "rawvideo", "-frames:v", str(frames), "-f", "nut", str(out)]


def piece_every(info: MediaInfo, work_dir: Path) -> int:
    """The sampling step the chunk encodes write pieces at, or 0 for none: when measuring is off,
    the title has no video, or its reference would not fit the disk allowance (then the measure
    pipes the source in passes and reads no file)."""
    if info.video is None or not config.get("quality_measure"):
        return 0
    every = title_every(info)
    return every if reference_fits(info.video, info.expected_frames, every, work_dir) else 0


def written_reference(layout: WorkLayout, chunks: Sequence[Chunk], segment_seconds: float,
                      info: MediaInfo) -> Path | None:
    """The ffconcat list of the title's pieces at its scoring step (`title_every`), written beside
    them, when every chunk holding a sampled frame wrote its piece; else None (the measure decodes
    the source itself)."""
    if info.video is None or not chunks:
        return None
    every, fps = title_every(info), info.video.fps
    wanted = [layout.reference_piece(every, c.index) for c in chunks
              if holds_frames(c, first_frame(c, segment_seconds, fps), every)]
    if not wanted or not all(piece.is_file() for piece in wanted):
        return None
    listing = layout.reference_list(every)
    listing.write_text(build_concat_list(layout.root, wanted), encoding="utf-8")
    return listing
