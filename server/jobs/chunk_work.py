"""One chunk encode as plain, picklable data plus the module-level function that runs it.

Every executor ships the same description: the local one calls `run_chunk` on a thread, the Dask
one sends the description to a worker process on another machine (ARCHITECTURE.md, Scale-out),
so no closure and no `threading.Event` travels with it. Locations are strings: a local path for
the local executor, origin keys once the Dask executor has put the source into the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from server.jobs.executor import TaskSpec
from server.media import encode as encode_step
from server.media.ffmpeg import find_tools
from server.media.model import Chunk, MediaInfo, Rendition, WorkLayout
from server.media.progress import ProgressUpdate


@dataclass(frozen=True)
class ChunkWork:
    """What to encode (source window, rungs, encoder settings) and where to put it."""

    job: str                         # the title's video id: names the job's work prefix in a store
    info: MediaInfo                  # the probed source (its `path` is replaced by `source`)
    chunk: Chunk
    renditions: tuple[Rendition, ...]
    segment_seconds: float
    preset: str
    source: str                      # a local path, an origin key (Dask) or a URL (a worker's S3 read)
    output: str                      # a local work dir (a `WorkLayout` root), or an origin prefix
    reference_every: int = 0         # write the quality reference's piece at this step (0: none)

    @property
    def name(self) -> str:
        """The task's name in the job store and the events: `chunk-0003`."""
        return chunk_task_name(self.chunk)

    def outputs(self) -> list[str]:
        """The chunk files it writes, relative to `output` (the same names in a dir or a store)."""
        layout = WorkLayout(Path("."))
        return [layout.chunk_file(r.name, self.chunk.index).as_posix() for r in self.renditions]

    def at(self, source: str, output: str) -> ChunkWork:
        """The same work with its source and output somewhere else (a worker's scratch dir), without
        the quality reference's piece: raw frames are not worth shipping back (reference_pieces.py)."""
        return replace(self, source=source, output=output, reference_every=0)


def chunk_task_name(chunk: Chunk) -> str:
    return f"chunk-{chunk.index:04d}"


def run_chunk(work: ChunkWork, on_progress: Callable[[ProgressUpdate], None],
              stop: threading.Event, threads: int) -> None:
    """Encode `work` from its source (a local file, or a URL ffmpeg seeks in with Range) into its
    local output dir, with this machine's ffmpeg."""
    encode_step.encode_chunk(find_tools(), work.info, work.chunk, list(work.renditions),
                             WorkLayout(Path(work.output)), work.segment_seconds, work.preset,
                             on_progress=on_progress, stop=stop, threads=threads, source=work.source,
                             reference_every=work.reference_every)


def chunk_spec(work: ChunkWork) -> TaskSpec:
    """The executor's task for `work`; its `run` is `run_chunk` bound to the plain description."""
    return TaskSpec(work.name, work.chunk.duration, partial(run_chunk, work), work=work)
