"""Benchmark: how fast the replay lab (`server/labs/replay.py`) pushes 1 M requests through one policy.

Target (issue 21 §2): 1 M requests through one policy in under 10 s. One seeded session trace
(`simulate.zipf_trace`, alpha 0.8) of `--requests` requests, interned once; cache 10% of the catalog
bytes. For each policy, 3 runs of the lab's replay (hits, hit bytes, per-object counts for the p95
estimate), each beside two named baselines in the same run:
  dict-lru   the ceiling of a Python LRU: an inline OrderedDict loop on the same interned keys, no
             policy object, no method calls (what no registry policy can beat in pure Python);
  simulate   `simulate.replay`, the loop `bench/cache_policy.py` uses: (key, size) tuples, the same
             registry policy, hits counted only.
Wall and CPU seconds (process time: what the run itself used, less sensitive to other load on a
shared machine) are reported per run, with the 1-minute load average read before each run.

    .venv/bin/python bench/replay_speed.py [--requests 1000000] [--titles 500] [--policies lru wtinylfu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.cdn.policies import POLICIES, make_policy
from server.cdn.simulate import replay as simulate_replay
from server.cdn.simulate import zipf_trace
from server.labs.replay import replay
from server.labs.trace import ReplayTrace, build

RUNS = 3
TARGET_S = 10.0


def timed(work: Callable[[], object]) -> tuple[float, float, float]:
    """(load average before, wall s, CPU s) of one call."""
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return load, time.perf_counter() - wall, time.process_time() - cpu


def dict_lru(trace: ReplayTrace, capacity: int) -> int:
    """The baseline ceiling: LRU inlined on an OrderedDict, hits only."""
    cache: OrderedDict[str, int] = OrderedDict()
    keys, sizes = trace.keys, trace.sizes
    used = hits = 0
    for oid in trace.ids:
        key = keys[oid]
        if key in cache:
            cache.move_to_end(key)
            hits += 1
            continue
        size = sizes[oid]
        while used + size > capacity and cache:
            used -= cache.popitem(last=False)[1]
        cache[key] = size
        used += size
    return hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--titles", type=int, default=500)
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, load before {os.getloadavg()[0]:.2f}", flush=True)
    start = time.perf_counter()
    made = zipf_trace(0.8, args.titles, args.requests, seed=1)
    trace = build("sessions", ((key, "", size, float(i)) for i, (key, size) in enumerate(made.requests)))
    capacity = trace.catalog_bytes // 10
    print(f"trace: {len(trace):,} requests, {len(trace.keys):,} objects, cache {capacity / 2**30:.1f} GiB "
          f"(10%); generated and interned in {time.perf_counter() - start:.1f} s", flush=True)
    print("| policy | run | load avg | lab wall s | lab CPU s | simulate.replay CPU s | dict-lru CPU s |"
          " lab hit ratio |")
    print("|---|---|---|---|---|---|---|---|")
    verdict = []
    for name in args.policies:
        cpus = []
        for run in range(1, RUNS + 1):
            hit_ratio: list[float] = []
            load, wall, cpu = timed(
                lambda n=name, h=hit_ratio: h.append(replay(trace, n, capacity).hit_ratio))
            _, _, sim_cpu = timed(lambda n=name: simulate_replay(make_policy(n, capacity), made.requests))
            _, _, lru_cpu = timed(lambda: dict_lru(trace, capacity))
            cpus.append((wall, cpu))
            print(f"| {name} | {run} | {load:.2f} | {wall:.2f} | {cpu:.2f} | {sim_cpu:.2f} | {lru_cpu:.2f} | "
                  f"{hit_ratio[0]:.4f} |", flush=True)
        wall_med, cpu_med = (statistics.median(x) for x in zip(*cpus, strict=True))
        verdict.append(f"{name}: median {wall_med:.2f} s wall, {cpu_med:.2f} s CPU for {len(trace):,} "
                       f"requests (CPU {'under' if cpu_med < TARGET_S else 'OVER'} the "
                       f"{TARGET_S:.0f} s target; wall depends on the machine's other load)")
    print("\n".join(verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
