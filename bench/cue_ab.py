"""Benchmark: subtitle (cue) search before/after on one kept index, alternated, answers compared.

The "before" is the `server/` package of a git revision, the "after" the work tree's (as
`search_ab.py`); each round runs both, in turn, in fresh processes on the same cue index kept by
`search_bench.py --subtitles --keep DIR` and the same query lists (100 a kind). Per side and round:
the first query's wall ms after the searcher opens (what a user waits for after each index change),
CPU p50/p95 of each kind (`time.thread_time`, steadier than wall on a shared machine), and the
process's private memory (RssAnon) once the searcher is open, the common words' arrays read and every
query answered. Every answer (titles, scores, moments) is compared: the digests must be equal.

    .venv/bin/python bench/cue_ab.py --before HEAD~2 --keep /work/cuebench --size 10000 --rounds 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("word", "two words", "phrase", "fuzzy")


def private_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def answer_all(home: Path, size: int, n_queries: int) -> dict[str, Any]:
    """One side: the kept index of `size` hours in `home`, with the `server` found first on sys.path."""
    sys.path.insert(0, str(ROOT / "bench"))
    from search_bench import cue_loader, cue_queries

    from server.search.cues import CueIndex
    cues = CueIndex(home / "cues", cue_loader)
    asked = cue_queries(random.Random(5), size, n_queries)
    searcher = cues.ix.searcher()
    began = time.perf_counter()
    cues.search(searcher, asked["word"][0], limit=20)
    first = (time.perf_counter() - began) * 1000
    cues.search(searcher, "zzzz")  # the typo word list, once per index version
    cues.warm(searcher)
    out: dict[str, Any] = {"first_ms": first}
    digest = hashlib.sha256()
    for kind in KINDS:
        cpu = []
        for q in asked[kind]:
            began = time.thread_time()
            found = cues.search(searcher, q, limit=20)
            cpu.append((time.thread_time() - began) * 1000)
            digest.update(json.dumps(found, sort_keys=True).encode())
        cpu.sort()
        out[kind] = (cpu[len(cpu) // 2], cpu[int(0.95 * (len(cpu) - 1))])
    out["private_mb"] = private_mb()
    out["digest"] = digest.hexdigest()[:12]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="HEAD", help="git revision whose server/ is the 'before'")
    parser.add_argument("--keep", type=Path, help="search_bench.py's --keep directory (required)")
    parser.add_argument("--size", type=int, default=10_000, help="hours of speech (KEEP/<size>h)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--answer", type=Path, help=argparse.SUPPRESS)  # one side's run (internal)
    args = parser.parse_args()
    if args.answer:
        print(json.dumps(answer_all(args.answer, args.size, args.queries)))
        return
    if args.keep is None:
        parser.error("--keep is required")
    sys.path.insert(0, str(ROOT / "bench"))
    from search_ab import checkout, run_json
    home = args.keep / f"{args.size}h"
    if not (home / "build.json").exists():
        raise SystemExit(f"no kept index in {home}: build it with bench/search_bench.py --subtitles "
                         f"--sizes {args.size} --keep {args.keep}")
    print(f"# subtitle search before ({args.before}) / after (work tree), {args.size:,} h, "
          f"{os.cpu_count()} cores; CPU ms p50 / p95 of {args.queries} queries a kind\n")
    print("| round | side | load avg | first query ms | " + " | ".join(KINDS)
          + " | private MB | answers |\n|---" + "|---" * (len(KINDS) + 5) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        before_root = checkout(args.before, Path(tmp) / "code")
        shutil.copy(ROOT / "bench" / "cue_ab.py", before_root / "bench" / "cue_ab.py")
        for r in range(args.rounds):
            sides = [("before", before_root), ("after", ROOT)]
            for name, root in sides if r % 2 == 0 else sides[::-1]:
                load = os.getloadavg()[0]
                got = run_json(root, "cue_ab.py", "--answer", str(home), "--size", str(args.size),
                               "--queries", str(args.queries))
                cells = " | ".join(f"{got[k][0]:.1f} / {got[k][1]:.1f}" for k in KINDS)
                print(f"| {r + 1} | {name} | {load:.1f} | {got['first_ms']:.0f} | {cells} "
                      f"| {got['private_mb']:,.0f} | {got['digest']} |", flush=True)


if __name__ == "__main__":
    main()
