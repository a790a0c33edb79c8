"""Benchmark: title search before/after on one prebuilt index, alternated, answers compared.

The "before" is the `server/` package of a git revision (extracted with `git archive`), the "after"
the work tree's; each round runs both, one after the other, in fresh processes on the same index
(built once with the work tree's code) and the same query lists as `search_bench.py` (200 a type by
default): on a shared machine only what is measured in the same round is comparable, so the table
gives each round's p50/p95 and the after/before ratio of p95. Every answer (total, the top-10
ids and scores, facet counts, snippets, suggestion) is compared query by query: they must be equal.

    .venv/bin/python bench/search_ab.py --before 845f7a1 --titles 100000 --rounds 3

Indexing (`--indexing`): each round rebuilds the title index from one catalog with the "before" code and
with the work tree's (`server.search.index.rebuild`, each in a fresh process, the order alternating
from round to round), and reports titles/s of wall time and the ratio of the two processes' CPU
seconds (on a shared machine CPU time is the steadier measure). Then the work tree's search code
answers the query lists on both indexes (so only what the indexes hold can differ): the answers
must be equal.

    .venv/bin/python bench/search_ab.py --indexing --before HEAD~3 --titles 5000 --rounds 5
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


def rebuild_timed(data_dir: Path) -> dict[str, float]:
    """Rebuild the title index in `data_dir` from its catalog with the `server` package found first
    on sys.path; this process's CPU seconds, the wall seconds and the index's size in MB."""
    from server.catalog import Catalog
    from server.paths import DataDir
    from server.search import index
    data = DataDir.resolve(data_dir)
    catalog = Catalog(data.catalog_db)
    cpu, wall = time.process_time(), time.perf_counter()
    index.rebuild(data.search_index, catalog)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    size = sum(f.stat().st_size for f in data.search_index.iterdir()) / 1e6
    return {"cpu": cpu, "wall": wall, "mb": size}


def catalogs(home: Path, titles: int) -> tuple[Path, Path]:
    """Two data dirs holding the same generated catalog (no index yet), one a side."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from search_bench import corpus, fill_catalog

    from server.paths import DataDir
    generated = corpus(titles)[0]
    sides = [DataDir.resolve(home / side / "data") for side in ("before", "after")]
    for data in sides:
        fill_catalog(data.catalog_db, generated).close()
    return sides[0].root, sides[1].root


def run_rebuild(root: Path, data_dir: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, str(root / "bench" / "search_ab.py"), "--rebuild", str(data_dir)],
                          check=True, capture_output=True, text=True, env=env, cwd=root)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def ab_index(before_rev: str, before_root: Path, home: Path, titles: int, rounds: int,
             n_queries: int) -> None:
    """Rebuild before/after alternated `rounds` times, then compare the answers of both indexes."""
    before_dir, after_dir = catalogs(home, titles)
    print(f"# title indexing before ({before_rev}) / after (work tree), {titles:,} titles, "
          f"{os.cpu_count()} cores\n")
    print("| round | load avg | before titles/s | after titles/s | before CPU s | after CPU s "
          "| CPU before/after | index MB before / after |\n|---|---|---|---|---|---|---|---|")
    ratios = []
    for r in range(rounds):
        load = os.getloadavg()[0]
        sides = [("before", before_root, before_dir), ("after", ROOT, after_dir)]
        order = sides if r % 2 == 0 else sides[::-1]
        timed = {name: run_rebuild(root, data_dir) for name, root, data_dir in order}
        b, a = timed["before"], timed["after"]
        ratios.append(b["cpu"] / a["cpu"])
        print(f"| {r + 1} | {load:.1f} | {titles / b['wall']:,.0f} | {titles / a['wall']:,.0f} "
              f"| {b['cpu']:.1f} | {a['cpu']:.1f} | {ratios[-1]:.2f} | {b['mb']:.1f} / {a['mb']:.1f} |",
              flush=True)
    print(f"\nmedian CPU before/after: {sorted(ratios)[len(ratios) // 2]:.2f}")
    differ = differences(run_side(ROOT, before_dir, titles, n_queries),
                         run_side(ROOT, after_dir, titles, n_queries))
    print(f"answers differing ({n_queries} queries a type): {differ}")


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


def run_json(root: Path, script: str, *args: str) -> dict[str, Any]:
    """`bench/<script> args` in a fresh process importing the `server` of `root`: its last line of
    output, as JSON."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, str(root / "bench" / script), *args],
                          check=True, capture_output=True, text=True, env=env, cwd=root)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_side(root: Path, data_dir: Path, titles: int, n_queries: int) -> dict[str, Any]:
    return run_json(root, "search_ab.py", "--answer", str(data_dir), "--titles", str(titles),
                    "--queries", str(n_queries))


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
    parser.add_argument("--indexing", action="store_true", help="measure rebuilding the title index instead")
    parser.add_argument("--answer", type=Path, help=argparse.SUPPRESS)  # one side's run (internal)
    parser.add_argument("--rebuild", type=Path, help=argparse.SUPPRESS)  # one side's rebuild (internal)
    args = parser.parse_args()
    if args.answer:
        print(json.dumps(answer_all(args.answer, args.titles, args.queries)))
        return
    if args.rebuild:
        print(json.dumps(rebuild_timed(args.rebuild)))
        return
    if args.indexing:
        with tempfile.TemporaryDirectory() as tmp:
            before_root = checkout(args.before, Path(tmp) / "code")
            ab_index(args.before, before_root, Path(tmp), args.titles, args.rounds, args.queries)
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
