"""The quality step's processes: the main ffmpeg decodes the source, the measuring one scores.

Why two: the source is decoded by the same ffmpeg that encoded the rungs (it decoded exactly these
frames for the encoder, and the static measuring build crashes on some sources it reads fine, e.g.
10-bit HEVC in MPEG-TS); the measuring ffmpeg only has to bring libvmaf. Raw frames in NUT, only
the sampled ones, go either through a pipe (`run_piped`) or into a file that several measuring
ffmpegs then read side by side (`run_alone`, then `run_each`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from server import config
from server.errors import Cancelled
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


def run_alone(argv: Sequence[str], what: str, stop: threading.Event | None = None) -> None:
    """Run one ffmpeg to the end at background priority; FFmpegFailed when it fails; `stop` kills it
    and raises Cancelled."""
    log.debug("run %s: %s", what, " ".join(argv))
    with ffmpeg.popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE) as proc:
        [code], [tail] = _wait([proc], stop)
    if stop is not None and stop.is_set():
        raise Cancelled(f"stopped while {what}.")
    if code != 0:
        raise ffmpeg.FFmpegFailed(what, code, tail)


def run_each(commands: Sequence[tuple[Sequence[str], str]], at_once: int,
             stop: threading.Event | None = None) -> None:
    """Run every (argv, what), `at_once` at a time, in the given order. The first failure kills the
    others and is raised (FFmpegFailed); a `stop` kills them all and raises Cancelled."""
    halt, failures = threading.Event(), []
    forward = threading.Thread(target=_forward, args=(stop, halt), daemon=True)
    forward.start()

    def one(argv: Sequence[str], what: str) -> None:
        if halt.is_set():
            return
        try:
            run_alone(argv, what, halt)
        except Exception as exc:
            if not halt.is_set():  # the cause, not one of the processes killed for it
                failures.append(exc)
            halt.set()

    try:
        with ThreadPoolExecutor(max(1, at_once), thread_name_prefix="measure") as pool:
            list(pool.map(lambda command: one(*command), commands))
    finally:
        halt.set()  # also ends `forward`
        forward.join(timeout=5)
    if stop is not None and stop.is_set():
        raise Cancelled(f"stopped while {commands[0][1] if commands else 'measuring'}.")
    if failures:
        raise failures[0]


def _forward(stop: threading.Event | None, halt: threading.Event) -> None:
    """Set `halt` when `stop` is set (until `halt` is set anyway)."""
    while stop is not None and not halt.is_set():
        if stop.wait(0.1):
            halt.set()


def _finish(procs: list[subprocess.Popen[Any]], what: str, stop: threading.Event | None) -> None:
    """Wait for [producer, consumer]; raise for the consumer's failure first."""
    (source_code, scorer_code), (source_tail, scorer_tail) = _wait(procs, stop)
    if scorer_code != 0:
        raise ffmpeg.FFmpegFailed(what, scorer_code, scorer_tail)
    if source_code != 0:
        raise ffmpeg.FFmpegFailed(f"decoding the source for {what}", source_code, source_tail)


def _wait(procs: list[subprocess.Popen[Any]], stop: threading.Event | None) -> tuple[list[int], list[str]]:
    """Wait for every process, the last first (a consumer before its producer); `stop` kills them.
    Their exit codes and the last lines each printed."""
    for proc in procs:
        _lower_priority(proc.pid)
    tails = [_drain_in_background(proc.stderr) for proc in procs]
    done = threading.Event()
    if stop is not None:
        threading.Thread(target=_kill_on_stop, args=(procs, stop, done), daemon=True).start()
    codes = [proc.wait() for proc in reversed(procs)][::-1]
    done.set()
    for thread, _ in tails:
        thread.join(timeout=5)
    return codes, ["\n".join(tail) for _, tail in tails]


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
