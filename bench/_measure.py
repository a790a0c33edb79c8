"""Measure a command: wall seconds, CPU seconds of its whole process tree, peak tree memory, and
how busy the tree kept the cores over any time window (tree CPU sampled every 0.5 s).

The share counts only the measured tree, so other load on a shared machine does not inflate it.
Sampling is kept cheap (one walk of the process table per sample, twice a second): the sampler
runs on the same cores, and a command that keeps every core busy would pay for it in wall time
where one that leaves a core idle would not (at 0.2 s with two walks it used ~1.6% of a core).
"""

from __future__ import annotations

import bisect
import contextlib
import os
import resource
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil

CORES = os.cpu_count() or 1
SAMPLE_S = 0.5


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch time, tree CPU s so far)
    peak_procs: list[tuple[str, float]] = field(default_factory=list)  # (process, MB) at the peak
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch time, tree MB)

    def cpu_share(self, start: float | None = None, end: float | None = None) -> float:
        """CPU seconds the tree used per wall second per core between two epoch times (0..1)."""
        if start is None or end is None:
            return self.cpu_s / (self.wall_s * CORES)
        times = [t for t, _ in self.samples]
        i, j = bisect.bisect_left(times, start), bisect.bisect_right(times, end) - 1
        if j <= i:
            return 0.0
        (t0, c0), (t1, c1) = self.samples[i], self.samples[j]
        return (c1 - c0) / ((t1 - t0) * CORES)


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [proc, *proc.children(recursive=True)]
    return [proc]


def _tree_usage(proc: psutil.Process) -> tuple[int, float, list[tuple[str, float]]]:
    """(resident bytes, CPU seconds, each process's name and MB) of the tree: live processes' CPU
    plus what the root's finished (waited-for) children used."""
    rss, cpu, procs = 0, 0.0, []
    for p in _tree(proc):
        with contextlib.suppress(psutil.Error):  # a process may end while we look
            mine = p.memory_info().rss
            rss += mine
            procs.append((_label(p), mine / 2**20))
            t = p.cpu_times()
            cpu += t.user + t.system + (t.children_user + t.children_system if p is proc else 0)
    return rss, cpu, procs


def _label(p: psutil.Process) -> str:
    """A process's name and what it works on: the chunk or output an ffmpeg writes, the command."""
    with contextlib.suppress(psutil.Error):
        argv = p.cmdline()
        name = os.path.basename(argv[0]) if argv else p.name()
        if name.startswith("python"):
            return "python " + " ".join(os.path.basename(a) for a in argv[1:3])
        outs = [os.path.basename(a) for a in argv if a.endswith((".mp4", ".m4s", ".m4a", ".part", ".jpg"))]
        return f"{name} {outs[-1] if outs else ''}".strip()
    return "?"


def measure(argv: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run `argv` to the end, sampling the tree's memory and CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})}, text=True)
    ps, peak, samples, peak_procs, rss_samples = psutil.Process(proc.pid), 0, [], [], []
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    while proc.poll() is None:
        rss, cpu, procs = _tree_usage(ps)
        if rss > peak:
            peak, peak_procs = rss, procs
        samples.append((time.time(), cpu))
        rss_samples.append((time.time(), rss / 2**20))
        time.sleep(SAMPLE_S)
    reader.join()
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}")
    return Measured(wall, cpu, peak / 2**20, "".join(out), samples, peak_procs, rss_samples)
