"""Benchmark: eviction policies against Belady's MIN (offline ceiling) and LRU on Zipf traces.

Catalog: titles x 4 rungs x 60 four-second segments, sizes from the rung bit rates ±40%. Two traces of
the same objects with the same per-object popularity (title by Zipf(alpha), rung by weight, segment k
reached by exp(-k/20) of viewers, the geometric abandonment of a mean 20-segment watch):
  irm      independent requests, each drawn from that popularity (the issue's "Zipf-like trace");
  session  20 interleaved viewing sessions, each playing a title from the start until it abandons.
Caches of 1/5/10/25% of the catalog bytes. Target at 10%: >= 0.9 of Belady's byte hit ratio, ahead
of LRU. Also shown: a proven upper bound for variable sizes (PFOO-U), and the static oracle, which
knows every object's true popularity and keeps the most popular ones (the optimal online policy
under independent requests), pre-loaded or cold (each cached at its first request, as policies are).
Session trace only: the lookahead oracle, a ceiling for session-aware online policies (it also knows
every future request of the sessions already started; Belady's rule on that, popularity for the rest).

    .venv/bin/python bench/cache_policy.py [--trace irm session] [--titles 100] [--requests 200000] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.cdn.policies import POLICIES, make_policy
from server.cdn.simulate import TRACES, Stats, belady, interval_bound, replay, session_oracle, static_oracle

ALPHAS = (0.8, 1.0)
CACHE_PERCENTS = (1, 5, 10, 25)
TARGET_PERCENT, TARGET_SHARE = 10, 0.9
Results = dict[str, Stats]


def run(trace_name: str, alpha: float, titles: int, requests: int, seed: int) -> dict[int, Results]:
    """Every policy, the bounds and the oracle at each cache size, on one seeded trace."""
    trace = TRACES[trace_name](alpha, titles, requests, seed=seed)
    out = {}
    for pct in CACHE_PERCENTS:
        capacity = int(trace.catalog_bytes * pct / 100)
        out[pct] = {"bound": interval_bound(trace.requests, capacity),
                    "min": belady(trace.requests, capacity), "oracle": static_oracle(trace, capacity),
                    "cold oracle": static_oracle(trace, capacity, preload=False)}
        if trace.session:
            out[pct]["lookahead"] = session_oracle(trace, capacity)
        out[pct] |= {name: replay(make_policy(name, capacity), trace.requests) for name in POLICIES}
    return out


def table(metric: str, by_alpha: dict[float, dict[int, Results]]) -> list[str]:
    """One markdown table: the metric of each column, then each policy's (and the lookahead oracle's)
    metric over MIN's."""
    first = next(iter(by_alpha.values()))[CACHE_PERCENTS[0]]
    lookahead = [column for column in ("lookahead",) if column in first]
    columns = ["bound", "min", "oracle", "cold oracle", *lookahead, *POLICIES]
    shared = [*lookahead, *POLICIES]
    header = ["alpha", "cache", *columns, *(f"{p} / MIN" for p in shared)]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for alpha, by_pct in by_alpha.items():
        for pct, res in by_pct.items():
            values = [f"{getattr(res[c], metric):.3f}" for c in columns]
            shares = [f"{getattr(res[p], metric) / getattr(res['min'], metric):.2f}" for p in shared]
            lines.append(f"| {alpha} | {pct}% | " + " | ".join(values + shares) + " |")
    return lines


def verdicts(trace_name: str, by_alpha: dict[float, dict[int, Results]]) -> list[str]:
    out = []
    for alpha, by_pct in by_alpha.items():
        res = by_pct[TARGET_PERCENT]
        ceiling, lru, oracle, cold = (res[k].byte_hit_ratio for k in ("min", "lru", "oracle", "cold oracle"))
        for name in POLICIES:
            share = res[name].byte_hit_ratio / ceiling
            out.append(f"{trace_name} alpha={alpha} @{TARGET_PERCENT}%: {name} BHR {share:.2f} of MIN "
                       f"({'meets' if share >= TARGET_SHARE else 'misses'} {TARGET_SHARE}), "
                       f"x{res[name].byte_hit_ratio / lru:.2f} of LRU; "
                       f"static oracle {oracle / ceiling:.2f} of MIN ({cold / ceiling:.2f} cold)")
        if "lookahead" in res:
            share = res["lookahead"].byte_hit_ratio / ceiling
            out.append(f"{trace_name} alpha={alpha} @{TARGET_PERCENT}%: lookahead oracle (ceiling of "
                       f"session-aware online policies) BHR {share:.2f} of MIN "
                       f"({'reaches' if share >= TARGET_SHARE else 'below'} {TARGET_SHARE})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", nargs="+", choices=sorted(TRACES), default=["irm", "session"])
    parser.add_argument("--titles", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"titles={args.titles} requests={args.requests} seed={args.seed}")
    for trace_name in args.trace:
        started = time.monotonic()
        by_alpha = {alpha: run(trace_name, alpha, args.titles, args.requests, args.seed) for alpha in ALPHAS}
        for metric in ("byte_hit_ratio", "hit_ratio"):
            print(f"\n{trace_name} trace, {metric.replace('_', ' ')}:")
            print("\n".join(table(metric, by_alpha)))
        print("\n" + "\n".join(verdicts(trace_name, by_alpha)))
        print(f"({trace_name}: {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
