"""Two ffmpeg processes joined by a pipe: the main ffmpeg decodes the source, the measuring one scores.

Why two: the source is decoded by the same ffmpeg that encoded the rungs (it decoded exactly these
frames for the encoder, and the static measuring build crashes on some sources it reads fine, e.g.
10-bit HEVC in MPEG-TS), and only once for every rung; the measuring ffmpeg only has to bring libvmaf.
The pipe carries raw frames in NUT, only the sampled ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from typing import IO, Any

from server import config
from server.media import ffmpeg

log = logging.getLogger(__name__)


def run_piped(producer: Sequence[str], consumer: Sequence[str], what: str,
              stop: threading.Event | None = None) -> None:
    """Run `producer | consumer` to the end at background priority; FFmpegFailed names the one that
    failed (the consumer first: a producer cut off by a failed consumer only reports a broken pipe).
    `stop` kills both."""
    log.debug("run %s: %s | %s", what, " ".join(producer), " ".join(consumer))
    with ffmpeg.popen(list(producer), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE) as source, \
            ffmpeg.popen(list(consumer), stdin=source.stdout, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE) as scorer:
        assert source.stdout is not None
        source.stdout.close()  # the consumer holds it now: the producer sees a closed pipe if it dies
        _finish([source, scorer], what, stop)


def _finish(procs: list[subprocess.Popen[Any]], what: str, stop: threading.Event | None) -> None:
    """Wait for [producer, consumer]; raise for the consumer's failure first."""
    for proc in procs:
        _lower_priority(proc.pid)
    tails = [_drain_in_background(proc.stderr) for proc in procs]
    done = threading.Event()
    if stop is not None:
        threading.Thread(target=_kill_on_stop, args=(procs, stop, done), daemon=True).start()
    scorer_code, source_code = procs[1].wait(), procs[0].wait()
    done.set()
    for thread, _ in tails:
        thread.join(timeout=5)
    if scorer_code != 0:
        raise ffmpeg.FFmpegFailed(what, scorer_code, "\n".join(tails[1][1]))
    if source_code != 0:
        raise ffmpeg.FFmpegFailed(f"decoding the source for {what}", source_code, "\n".join(tails[0][1]))


def _drain_in_background(stream: IO[bytes] | None) -> tuple[threading.Thread, deque[str]]:
    tail: deque[str] = deque(maxlen=20)

    def drain() -> None:
        assert stream is not None
        for raw in stream:
            if line := raw.decode("utf-8", "replace").rstrip():
                tail.append(line)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread, tail


def _kill_on_stop(procs: list[subprocess.Popen[Any]], stop: threading.Event, done: threading.Event) -> None:
    while not done.is_set():
        if stop.wait(0.1):
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
            return


def _lower_priority(pid: int) -> None:
    """Background work, like the encodes (`ffmpeg_nice`)."""
    niceness = config.get("ffmpeg_nice")
    if niceness and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
