"""Benchmark: eviction policies against Belady's MIN (offline ceiling) and LRU on Zipf traces.

Trace: viewing sessions over a catalog of titles x 4 rungs x 60 segments (4 s segments, sizes from the
rung bit rates ±40%); a session picks a title by Zipf(alpha) and a rung by weight, then plays segments
from the start until it abandons (geometric, mean 20 segments); 20 sessions interleave. Caches of
1/5/10/25% of the catalog bytes. Target at 10%: ≥ 0.9 of Belady's byte hit ratio, ahead of LRU.
Also shown: the static oracle, which knows every object's true popularity and starts pre-loaded with
the most popular ones — the best any policy that cannot see the future request order can expect.

    .venv/bin/python bench/cache_policy.py [--titles 100] [--requests 200000] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.cdn.policies import POLICIES, make_policy
from server.cdn.simulate import Stats, belady, replay, static_oracle, zipf_trace

ALPHAS = (0.8, 1.0)
CACHE_PERCENTS = (1, 5, 10, 25)


def row(alpha: float, pct: int, name: str, stats: Stats, ceiling: Stats, lru: Stats) -> str:
    vs_min = stats.byte_hit_ratio / ceiling.byte_hit_ratio if ceiling.byte_hit_ratio else 0.0
    vs_lru = stats.byte_hit_ratio / lru.byte_hit_ratio if lru.byte_hit_ratio else 0.0
    return (f"| {alpha} | {pct}% | {name} | {stats.hit_ratio:.3f} | {stats.byte_hit_ratio:.3f} "
            f"| {vs_min:.2f} | {vs_lru:.2f} |")


def verdict(alpha: float, name: str, stats: Stats, ceiling: Stats, lru: Stats) -> str:
    share = stats.byte_hit_ratio / ceiling.byte_hit_ratio
    return (f"alpha={alpha} @10%: {name} byte hit ratio is {share:.2f} of MIN "
            f"({'meets' if share >= 0.9 else 'misses'} the 0.9 target), "
            f"{'ahead of' if stats.byte_hit_ratio > lru.byte_hit_ratio else 'behind'} LRU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"titles={args.titles} requests={args.requests} seed={args.seed}")
    print("| alpha | cache | policy | hit ratio | byte hit ratio | BHR / MIN | BHR / LRU |")
    print("|---|---|---|---|---|---|---|")
    verdicts = []
    for alpha in ALPHAS:
        trace = zipf_trace(alpha, args.titles, args.requests, seed=args.seed)
        for pct in CACHE_PERCENTS:
            capacity = int(trace.catalog_bytes * pct / 100)
            ceiling = belady(trace.requests, capacity)
            results = {name: replay(make_policy(name, capacity), trace.requests) for name in POLICIES}
            print(row(alpha, pct, "belady-min", ceiling, ceiling, results["lru"]))
            print(row(alpha, pct, "static-oracle", static_oracle(trace, capacity), ceiling, results["lru"]))
            for name, stats in results.items():
                print(row(alpha, pct, name, stats, ceiling, results["lru"]))
            if pct == 10:
                verdicts += [verdict(alpha, name, results[name], ceiling, results["lru"])
                             for name in ("s3fifo", "wtinylfu")]
    print("\n".join(verdicts))


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"({time.monotonic() - started:.1f} s)")
