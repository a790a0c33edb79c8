"""Measure a command: wall seconds, CPU seconds of the whole process tree, peak tree memory,
and the system's CPU use over a time window (psutil samples every 0.2 s)."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    samples: list[tuple[float, float]] = field(default_factory=list)  # (time, system cpu %)

    def cpu_share(self, start: float | None = None, end: float | None = None) -> float:
        """Mean system CPU use (0..1 of all cores) between two epoch times (default: the run)."""
        picked = [pct for t, pct in self.samples
                  if (start is None or t >= start) and (end is None or t <= end)]
        return sum(picked) / len(picked) / 100 if picked else 0.0


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a process may end while we look
            total += p.memory_info().rss
    return total


def measure(argv: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run `argv` to the end, sampling tree memory and system CPU use."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    psutil.cpu_percent(None)
    began = time.monotonic()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})}, text=True)
    ps, peak, samples = psutil.Process(proc.pid), 0, []
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, _tree_rss(ps))
        time.sleep(0.2)
        samples.append((time.time(), psutil.cpu_percent(None)))
    reader.join()
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}")
    return Measured(wall, cpu, peak / 2**20, "".join(out), samples)
