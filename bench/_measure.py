"""Measure a command: wall seconds, CPU seconds of its whole process tree, peak tree memory, and
how busy the tree kept the cores over any time window (tree CPU sampled every 0.2 s).

The share counts only the measured tree, so other load on a shared machine does not inflate it.
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


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch time, tree CPU s so far)

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


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in _tree(proc):
        with contextlib.suppress(psutil.Error):  # a process may end while we look
            total += p.memory_info().rss
    return total


def _tree_cpu(proc: psutil.Process) -> float:
    """Live processes' CPU plus what the root's finished (waited-for) children used."""
    total = 0.0
    for p in _tree(proc):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system + (t.children_user + t.children_system if p is proc else 0)
    return total


def measure(argv: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run `argv` to the end, sampling the tree's memory and CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})}, text=True)
    ps, peak, samples = psutil.Process(proc.pid), 0, []
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    while proc.poll() is None:
        peak = max(peak, _tree_rss(ps))
        samples.append((time.time(), _tree_cpu(ps)))
        time.sleep(0.2)
    reader.join()
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}")
    return Measured(wall, cpu, peak / 2**20, "".join(out), samples)
