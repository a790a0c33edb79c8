"""Benchmark: title search before/after on one prebuilt index, alternated, answers compared.

The "before" is the `server/` package of a git revision (extracted with `git archive`), the "after"
the work tree's; each round runs both, one after the other, in fresh processes on the same index
(built once with the work tree's code) and the same query lists as `search_bench.py` (200 a type by
default): on a shared machine only what is measured in the same round is comparable, so the table
gives each round's p50/p95 and the after/before ratio of p95. Every answer (total, the top-10
ids and scores, facet counts, snippets, suggestion) is compared query by query: they must be equal.

    .venv/bin/python bench/search_ab.py --before 845f7a1 --titles 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("plain", "fuzzy", "prefix", "faceted")


def answer_all(data_dir: Path, titles: int, n_queries: int) -> dict[str, Any]:
    """Run every query of `search_bench.queries` against the index in `data_dir` with the `server`
    package found first on sys.path; times in ms and the answers, by query type."""
    sys.path.insert(0, str(ROOT / "bench"))
    from search_bench import corpus, queries

    from server.catalog import Catalog
    from server.events.admin import Retention
    from server.events.log import EventLog
    from server.paths import DataDir
    from server.search.service import SearchService
    data = DataDir.resolve(data_dir)
    log = EventLog(data.events_db, retention=Retention())
    service = SearchService(data, log, Catalog(data.catalog_db))
    service.search("warm")  # the index version's tables, built once (by the indexer in a server)
    out: dict[str, Any] = {}
    for kind, qs in queries(random.Random(3), corpus(titles)[0], n_queries).items():
        facets = {"resolution": "1080p"} if kind == "faceted" else None
        times, answers = [], []
        for q in qs:
            began = time.perf_counter()
            result = service.search(q, facets=facets, limit=10, facet_counts=kind == "faceted")
            times.append((time.perf_counter() - began) * 1000)
            answers.append(result.to_dict())
        out[kind] = {"ms": times, "answers": answers}
    log.close()
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[int(p * (len(ordered) - 1))]


def build_index(home: Path, titles: int) -> Path:
    """A catalog and title index of `titles` generated titles, built by the work tree's code."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from search_bench import corpus, fill_catalog

    from server.paths import DataDir
    from server.search import index
    data = DataDir.resolve(home / "data")
    index.rebuild(data.search_index, fill_catalog(data.catalog_db, corpus(titles)[0]))
    return data.root


def checkout(rev: str, into: Path) -> Path:
    """`server/` of `rev` beside a copy of this bench, so its processes import that code."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "server"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "bench").mkdir()
    for name in ("search_ab.py", "search_bench.py"):
        shutil.copy(ROOT / "bench" / name, into / "bench" / name)
    return into


def run_side(root: Path, data_dir: Path, titles: int, n_queries: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, str(root / "bench" / "search_ab.py"), "--answer", str(data_dir),
                           "--titles", str(titles), "--queries", str(n_queries)],
                          check=True, capture_output=True, text=True, env=env, cwd=root)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """How many answers differ, by query type."""
    return {kind: sum(a != b for a, b in zip(before[kind]["answers"], after[kind]["answers"], strict=True))
            for kind in KINDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="HEAD", help="git revision whose server/ is the 'before'")
    parser.add_argument("--titles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--index", type=Path, help="reuse (or keep) the built index in this directory")
    parser.add_argument("--answer", type=Path, help=argparse.SUPPRESS)  # one side's run (internal)
    args = parser.parse_args()
    if args.answer:
        print(json.dumps(answer_all(args.answer, args.titles, args.queries)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = args.index or Path(tmp) / "index"
        built = (home / "data" / "search-index").exists()
        data_dir = home / "data" if built else build_index(home, args.titles)
        before_root = checkout(args.before, Path(tmp) / "before")
        print(f"# title search before ({args.before}) / after (work tree), {args.titles:,} titles, "
              f"{args.queries} queries a type, {os.cpu_count()} cores\n")
        print("| round | load avg | query | before p50 / p95 ms | after p50 / p95 ms | p95 after/before "
              "| answers differing |\n|---|---|---|---|---|---|---|")
        for r in range(args.rounds):
            load = os.getloadavg()[0]
            before = run_side(before_root, data_dir, args.titles, args.queries)
            after = run_side(ROOT, data_dir, args.titles, args.queries)
            differ = differences(before, after)
            for kind in KINDS:
                b, a = before[kind]["ms"], after[kind]["ms"]
                print(f"| {r + 1} | {load:.1f} | {kind} | {percentile(b, .5):.1f} / {percentile(b, .95):.1f} "
                      f"| {percentile(a, .5):.1f} / {percentile(a, .95):.1f} "
                      f"| {percentile(a, .95) / percentile(b, .95):.2f} | {differ[kind]} |", flush=True)


if __name__ == "__main__":
    main()
