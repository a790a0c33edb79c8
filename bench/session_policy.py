"""Benchmark: the session-aware edge policy against W-TinyLFU and the session ceiling (issue 21 §4).

Same session trace as `bench/cache_policy.py` (100 titles x 4 rungs x 60 segments, 20 interleaved
viewers, 200 000 requests) for three seeds, alpha 0.8 and 1.0, caches of 1/5/10/25% of the catalog.
Ceiling: `session_oracle`, Belady's MIN on everything a session-aware online policy could know (no
prefetch). Rows: W-TinyLFU; the session policy told each request's viewer, without prefetch and with
prefetch of each viewer's next segment (budget 10% of requested bytes). Targets: >= 0.97 of the
ceiling at 10% for both alphas, ahead of W-TinyLFU at every size, prefetch adding <= 10% origin bytes
(origin bytes = misses + prefetches, over the same policy without prefetch).

    .venv/bin/python bench/session_policy.py [--seeds 1 2 3] [--requests 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.cdn.policies import make_policy
from server.cdn.session_policy import SessionAware
from server.cdn.simulate import Stats, replay, replay_sessions, session_oracle, zipf_trace

ALPHAS = (0.8, 1.0)
CACHE_PERCENTS = (1, 5, 10, 25)


def one(alpha: float, pct: int, seed: int, requests: int) -> dict[str, Stats]:
    trace = zipf_trace(alpha, 100, requests, seed=seed)
    capacity = int(trace.catalog_bytes * pct / 100)
    return {"ceiling": session_oracle(trace, capacity),
            "wtinylfu": replay(make_policy("wtinylfu", capacity), trace.requests),
            "session": replay_sessions(SessionAware(capacity, prefetch_share=0), trace),
            "session+prefetch": replay_sessions(SessionAware(capacity), trace)}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; seeds {args.seeds}, "
          f"{args.requests} requests; byte hit ratio over the session ceiling, median (min-max) of the seeds")
    print("| alpha | cache | ceiling BHR | W-TinyLFU | session | session+prefetch "
          "| origin bytes: prefetch / none | origin bytes: session+prefetch / W-TinyLFU |")
    print("|---|---|---|---|---|---|---|---|")
    verdicts = []
    for alpha in ALPHAS:
        for pct in CACHE_PERCENTS:
            runs = [one(alpha, pct, seed, args.requests) for seed in args.seeds]
            share = {name: [r[name].byte_hit_ratio / r["ceiling"].byte_hit_ratio for r in runs]
                     for name in ("wtinylfu", "session", "session+prefetch")}
            extra = [r["session+prefetch"].origin_bytes / r["session"].origin_bytes for r in runs]
            vs_w = [r["session+prefetch"].origin_bytes / r["wtinylfu"].origin_bytes for r in runs]
            print(f"| {alpha} | {pct}% | {spread([r['ceiling'].byte_hit_ratio for r in runs])} | "
                  f"{spread(share['wtinylfu'])} | {spread(share['session'])} | "
                  f"{spread(share['session+prefetch'])} | {spread(extra)} | {spread(vs_w)} |", flush=True)
            ahead = all(s > w for s, w in zip(share["session"], share["wtinylfu"], strict=True))
            verdicts.append(f"alpha {alpha} @{pct}%: session {'ahead of' if ahead else 'NOT ahead of'} "
                            f"W-TinyLFU in every seed; prefetch origin bytes max x{max(extra):.3f}")
            if pct == 10:
                low = min(share["session"])
                verdicts.append(f"alpha {alpha} @10%: session (no prefetch) >= {low:.3f} of the ceiling "
                                f"({'meets' if low >= 0.97 else 'misses'} 0.97)")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
