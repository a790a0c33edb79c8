"""Benchmark: the Whoosh search service on synthetic titles against SQLite FTS5 on the same corpus.
Target: p95 < 20 ms for each query type on 100,000 titles.

Corpus: titles, descriptions, tags and creators drawn (Zipf-like) from a seeded vocabulary of
pseudo-words, so typos and prefixes behave like on real text. The index is built by the production
path (catalog -> `server.search.index.rebuild`); FTS5 (porter tokenizer) gets the same rows.
Query types: plain (two words), fuzzy (one word with one typo), prefix (first 3-5 letters of a word,
as typed), faceted (plain + a resolution filter + counts of 4 facets). Whoosh times include the top
10 hits' stored fields and highlighted snippets; FTS5 times fetch the top 10 rows by bm25. FTS5 has no
typo tolerance (its "fuzzy" row searches the misspelt word as is and mostly finds nothing).

    .venv/bin/python bench/search_bench.py [--titles 100000] [--queries 200]

Subtitle search (`--subtitles`): the cue index (`server.search.cues.CueIndex`, one Whoosh document
per 5 minutes of a track, filled by `CueIndex.fill` as the search service fills a new index) over N
titles of one hour of generated speech each (~700 cues an hour, 4-12 words a cue from the same kind
of skewed vocabulary plus the short function words speech is full of), for each size in `--sizes`;
reports build time, indexing rate, index size per hour of speech and, `--runs` times, p50/p95 of
`CueIndex.search` (titles with their moments and marked cue text, 20 titles a page) for a word, two
words, a quoted phrase and a word with a typo. The baseline measured in the same run is FTS5 over
the same cues (one row per cue). `--keep DIR` builds each size once into DIR/<size>h and reuses it.

    .venv/bin/python bench/search_bench.py --subtitles --sizes 30,100,300 --keep /tmp/cuebench

Indexing before/after (`--ab ROUNDS`): the title index built by Whoosh's own writer with the earlier
schema, then by `server.search.index.rebuild`, alternated ROUNDS times on one catalog.

    .venv/bin/python bench/search_bench.py --ab 3 --titles 5000
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.catalog import JSON_FIELDS, Catalog, Title
from server.events.admin import Retention
from server.events.log import EventLog
from server.paths import DataDir
from server.search import index
from server.search.cues import CueIndex
from server.search.service import SearchService

SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in ("a", "e", "i", "o", "u", "ar", "en", "ol")]
HEIGHTS = (2160, 1080, 720, 480, 360)


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def pick(rng: random.Random, words: list[str]) -> str:
    """Skewed like text after stop-word removal: the commonest word is in about 1 draw in 70."""
    return words[int(len(words) * rng.random() ** 2)]


def corpus(n: int, seed: int = 7) -> tuple[list[Title], list[str]]:
    rng = random.Random(seed)
    words, tags = vocabulary(rng, 5000), vocabulary(random.Random(seed + 1), 80)
    rng.shuffle(words)
    creators = [f"{rng.choice(words).title()} {rng.choice(words).title()}" for _ in range(500)]
    titles = []
    for i in range(n):
        h = rng.choice(HEIGHTS)
        titles.append(Title(
            video_id=f"v{i:06d}", status="published",
            title=" ".join(pick(rng, words) for _ in range(rng.randint(3, 6))).capitalize(),
            description=" ".join(pick(rng, words) for _ in range(rng.randint(12, 30))) + ".",
            tags=sorted({pick(rng, tags) for _ in range(rng.randint(1, 4))}), creator=rng.choice(creators),
            original_name=f"{pick(rng, words)}_{i}.mp4", duration=rng.expovariate(1 / 400), height=h,
            renditions=[{"name": f"{h}p", "height": h, "bandwidth": 1}],
            created_at=1.6e9 + rng.uniform(0, 9.5e7), updated_at=1.7e9))
    return titles, words


def fill_catalog(path: Path, titles: list[Title]) -> Catalog:
    catalog = Catalog(path)
    rows = []
    for t in titles:
        row = t.to_dict()
        rows.append({k: json.dumps(v) if k in JSON_FIELDS else v for k, v in row.items()})
    cols = ", ".join(rows[0])
    with sqlite3.connect(path) as db:
        db.executemany(f"INSERT INTO titles ({cols}) VALUES ({', '.join(':' + c for c in rows[0])})", rows)
    return catalog


def fts5(path: Path, titles: list[Title]) -> tuple[sqlite3.Connection, float]:
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE t USING fts5(video_id UNINDEXED, title, description, tags, creator, "
               "tokenize='porter')")
    db.execute("CREATE TABLE meta (video_id TEXT PRIMARY KEY, resolution TEXT, bucket TEXT, month TEXT)")
    began = time.perf_counter()
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                   [(t.video_id, t.title, t.description, " ".join(t.tags), t.creator) for t in titles])
    db.executemany("INSERT INTO meta VALUES (?, ?, ?, ?)",
                   [(t.video_id, f"{t.height}p", str(int(t.duration // 300)), time.strftime(
                       "%Y-%m", time.gmtime(t.created_at))) for t in titles])
    db.commit()
    return db, len(titles) / (time.perf_counter() - began)


def typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word))
    return word[:i] + rng.choice("aeioubdgkt".replace(word[i], "")) + word[i + 1:]


def queries(rng: random.Random, titles: list[Title], n: int) -> dict[str, list[str]]:
    def word() -> str:
        return rng.choice(rng.choice(titles).title.lower().split())
    return {"plain": [f"{word()} {word()}" if rng.random() < 0.5 else word() for _ in range(n)],
            "fuzzy": [typo(rng, w) for w in (word() for _ in range(n))],
            "prefix": [w[:rng.randint(3, min(5, len(w)))] for w in (word() for _ in range(n))],
            "faceted": [word() for _ in range(n)]}


def timed(fn: Callable[[str], int], qs: list[str]) -> tuple[float, float, float]:
    times, hits = [], 0
    for q in qs:
        began = time.perf_counter()
        hits += fn(q)
        times.append(time.perf_counter() - began)
    times.sort()
    return times[len(times) // 2] * 1000, times[int(0.95 * (len(times) - 1))] * 1000, hits / len(qs)


def whoosh_fn(service: SearchService, kind: str) -> Callable[[str], int]:
    facets = {"resolution": "1080p"} if kind == "faceted" else None
    return lambda q: service.search(q, facets=facets, limit=10, facet_counts=kind == "faceted").total


def fts_fn(db: sqlite3.Connection, kind: str) -> Callable[[str], int]:
    def run(q: str) -> int:
        match = f"{q}*" if kind == "prefix" else " ".join(f'"{w}"' for w in q.split())
        rows = db.execute("SELECT video_id FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10",
                          (match,)).fetchall()
        if kind == "faceted":
            where = "video_id IN (SELECT video_id FROM t WHERE t MATCH ?)"
            rows = db.execute("SELECT t.video_id FROM t JOIN meta m USING (video_id) WHERE t MATCH ? AND "
                              "m.resolution = '1080p' ORDER BY bm25(t) LIMIT 10", (match,)).fetchall()
            for col in ("resolution", "bucket", "month"):
                db.execute(f"SELECT {col}, COUNT(*) FROM meta WHERE {where} GROUP BY 1", (match,)).fetchall()
            db.execute(f"SELECT tags, COUNT(*) FROM t WHERE {where} GROUP BY 1", (match,)).fetchall()
        return len(rows)
    return run


FUNCTION_WORDS = ("the", "a", "to", "and", "of", "i", "you", "it", "in", "is", "that", "we", "on", "at",
                  "was", "not", "but", "for", "with", "he", "she", "they", "be", "this", "there")
CUES_PER_HOUR = 700


def speech(seed: int, cues: int = CUES_PER_HOUR) -> list[tuple[float, float, str]]:
    """One hour of generated subtitles: `cues` cues of 4-12 words, about 40% of them function words."""
    rng = random.Random(seed)
    words = SPEECH_WORDS
    step = 3600 / cues
    lines = []
    for i in range(cues):
        said = [rng.choice(FUNCTION_WORDS) if rng.random() < 0.4 else pick(rng, words)
                for _ in range(rng.randint(4, 12))]
        start = i * step + rng.uniform(0, 0.5)
        lines.append((round(start, 3), round(start + rng.uniform(1.0, step - 0.5), 3),
                      " ".join(said).capitalize() + "."))
    return lines


SPEECH_WORDS = vocabulary(random.Random(11), 5000)


def cue_loader(video_id: str) -> list[tuple[str, list[tuple[float, float, str]]]]:
    return [("en", speech(int(video_id[1:])))]


def cue_queries(rng: random.Random, titles: int, n: int) -> dict[str, list[str]]:
    """Queries made from what some title says: a content word, two words of one cue, a quoted
    two-word phrase from a cue, and a content word with a typo."""
    def cue_words() -> list[str]:
        text = rng.choice(speech(rng.randrange(titles)))[2].rstrip(".").lower().split()
        return [w for w in text if w not in FUNCTION_WORDS] or text

    def phrase() -> str:
        text = rng.choice(speech(rng.randrange(titles)))[2].rstrip(".").lower().split()
        i = rng.randrange(len(text) - 1)
        return f'"{text[i]} {text[i + 1]}"'
    return {"word": [rng.choice(cue_words()) for _ in range(n)],
            "two words": [" ".join(rng.sample(ws, 2)) if len(ws) > 1 else ws[0]
                          for ws in (cue_words() for _ in range(n))],
            "phrase": [phrase() for _ in range(n)],
            "fuzzy": [typo(rng, w) for w in (max(cue_words(), key=len) for _ in range(n))]}


def fts5_cues(path: Path, titles: int) -> float:
    """SQLite FTS5 over the same cues, one row per cue: the baseline. Returns cues indexed per second."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIRTUAL TABLE c USING fts5(video_id UNINDEXED, start UNINDEXED, text)")
        began = time.perf_counter()
        for i in range(titles):
            db.executemany("INSERT INTO c VALUES (?, ?, ?)",
                           [(f"v{i:06d}", s, text) for s, _, text in speech(i)])
        db.commit()
    db.close()
    return titles * CUES_PER_HOUR / (time.perf_counter() - began)


def fts_cue_fn(db: sqlite3.Connection) -> Callable[[str], int]:
    """The top 500 cues by bm25, grouped by title."""
    def run(q: str) -> int:
        match = q if q.startswith('"') else " ".join(f'"{w}"' for w in q.split())
        rows = db.execute("SELECT video_id, start, text FROM c WHERE c MATCH ? ORDER BY bm25(c) LIMIT 500",
                          (match,)).fetchall()
        return len({r[0] for r in rows})
    return run


def cue_total(cues: CueIndex, searcher: Any, q: str) -> int:
    """Titles found for `q`: a page of 20 with their moments, as the service asks."""
    total: int = cues.search(searcher, q, limit=20)["total"]
    return total


def directory_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def built_corpus(home: Path, size: int) -> dict[str, float]:
    """The cue index and the FTS5 table of `size` hours in `home`, built once (by
    `CueIndex.fill`, as the search service fills a new index) and reused by later runs; the build
    figures are kept beside them in build.json."""
    record = home / "build.json"
    if record.exists():
        figures: dict[str, float] = json.loads(record.read_text())
        return figures
    home.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    cues = CueIndex(home / "cues", cue_loader)
    began, cpu = time.perf_counter(), time.process_time()
    cues.fill({"video_id": f"v{i:06d}", "title": f"Title {i}"} for i in range(size))
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    fts_rate = fts5_cues(home / "fts.sqlite", size)
    figures = {"load": load, "seconds": seconds, "cpu_s": cpu, "rate": size * CUES_PER_HOUR / seconds,
               "fts_rate": fts_rate,
               "mb_per_h": directory_mb(home / "cues") / size,
               "fts_mb_per_h": (home / "fts.sqlite").stat().st_size / 1e6 / size}
    record.write_text(json.dumps(figures))
    return figures


def subtitles(sizes: list[int], n_queries: int, runs: int, keep: Path | None) -> None:
    print("\n| hours of speech | cues | load avg | build s | build CPU s | Whoosh cues/s | h of speech/s "
          "| FTS5 cues/s | Whoosh MB per h | FTS5 MB per h |\n|---|---|---|---|---|---|---|---|---|---|")
    lines = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            home = keep / f"{size}h" if keep else Path(tmp)
            b = built_corpus(home, size)
            print(f"| {size:,} | {size * CUES_PER_HOUR:,} | {b['load']:.1f} | {b['seconds']:,.0f} "
                  f"| {b.get('cpu_s', float('nan')):,.0f} | {b['rate']:,.0f} "
                  f"| {b['rate'] / CUES_PER_HOUR:.2f} | {b['fts_rate']:,.0f} | {b['mb_per_h']:.2f} "
                  f"| {b['fts_mb_per_h']:.2f} |", flush=True)
            lines += cue_query_runs(home, size, n_queries, runs)
    print("\n| hours | run | load avg | query | Whoosh p50 ms | Whoosh p95 ms | Whoosh CPU p50 ms "
          "| Whoosh CPU p95 ms | titles found | FTS5 p50 ms | FTS5 p95 ms |\n" + "|---" * 11 + "|")
    print("\n".join(lines))


def cpu_timed(cpu: list[float], fn: Callable[[str], int], q: str) -> int:
    """`fn(q)`, its CPU milliseconds appended to `cpu`: what a query costs whatever the machine's load
    (the wall time of a query on a shared machine is mostly waiting for a core)."""
    began = time.thread_time()
    found = fn(q)
    cpu.append((time.thread_time() - began) * 1000)
    return found


def cue_query_runs(home: Path, size: int, n_queries: int, runs: int) -> list[str]:
    """`runs` rounds of every query type against the built corpus, Whoosh then FTS5 per type."""
    cues = CueIndex(home / "cues", cue_loader)
    db = sqlite3.connect(home / "fts.sqlite")
    searcher = cues.ix.searcher()
    asked = cue_queries(random.Random(5), size, n_queries)
    cue_total(cues, searcher, "zzzz")  # the typo word list is built once per index version: not timed
    began = time.process_time()  # the common words' posting arrays, read once per segment: not timed
    kept = cues.warm(searcher)
    print(f"{size:,} h: {kept:,} common words' arrays read in {time.process_time() - began:.1f} CPU s, "
          f"{cues.kept_bytes() / 2**20:.1f} MB kept", flush=True)
    lines = []
    for run in range(1, runs + 1):
        load = os.getloadavg()[0]
        for kind, qs in asked.items():
            cpu: list[float] = []
            search = functools.partial(cue_total, cues, searcher)
            w50, w95, whits = timed(functools.partial(cpu_timed, cpu, search), qs)
            f50, f95, _ = timed(fts_cue_fn(db), qs)
            cpu.sort()
            lines.append(f"| {size:,} | {run} | {load:.1f} | {kind} | {w50:.1f} | {w95:.1f} "
                         f"| {cpu[len(cpu) // 2]:.1f} | {cpu[int(0.95 * (len(cpu) - 1))]:.1f} | {whits:,.1f} "
                         f"| {f50:.1f} | {f95:.1f} |")
            print(lines[-1], flush=True)
    searcher.close()
    db.close()
    return lines


def plain_rebuild(path: Path, catalog: Catalog) -> None:
    """The index as Whoosh's own writer and codec and the earlier schema (16 range tiers a
    duration) made it: the "before" of `--ab`."""
    from whoosh import index as windex
    from whoosh.fields import NUMERIC

    from server.catalog import PUBLISHED
    from server.search.documents import document, make_schema
    schema = make_schema()
    schema.remove("duration")
    schema.add("duration", NUMERIC(float, stored=True))
    path.mkdir(parents=True)
    ix = windex.create_in(str(path), schema, indexname=index.INDEX_NAME)
    with ix.writer(procs=1, limitmb=128) as writer:
        for title in catalog.list(PUBLISHED):
            writer.add_document(**document(title.to_dict()))


def ab_indexing(n: int, rounds: int) -> None:
    """Title indexing before/after, alternated on one catalog so both see the same machine load;
    titles/s of wall time and the ratio of CPU seconds (steadier on a shared machine)."""
    titles, _ = corpus(n)
    print("\n| round | load avg | before titles/s | after titles/s | after/before | CPU before/after |"
          "\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        data = DataDir.resolve(Path(tmp) / "data")
        catalog = fill_catalog(data.catalog_db, titles)
        ratios, cpu_ratios = [], []
        for r in range(rounds):
            load = os.getloadavg()[0]
            rates, cpu = {}, {}
            for name, build in (("before", plain_rebuild), ("after", index.rebuild)):
                target = Path(tmp) / f"{name}{r}"
                began, began_cpu = time.perf_counter(), time.process_time()
                build(target, catalog)
                rates[name] = n / (time.perf_counter() - began)
                cpu[name] = time.process_time() - began_cpu
            ratios.append(rates["after"] / rates["before"])
            cpu_ratios.append(cpu["before"] / cpu["after"])
            print(f"| {r + 1} | {load:.1f} | {rates['before']:,.0f} | {rates['after']:,.0f} "
                  f"| {ratios[-1]:.2f} | {cpu_ratios[-1]:.2f} |", flush=True)
        print(f"\nmedian after/before: {sorted(ratios)[len(ratios) // 2]:.2f} (wall), "
              f"{sorted(cpu_ratios)[len(cpu_ratios) // 2]:.2f} (CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--subtitles", action="store_true", help="measure the subtitle (cue) index")
    parser.add_argument("--sizes", default="300,1000,3000", help="titles of 1 h each, for --subtitles")
    parser.add_argument("--runs", type=int, default=3, help="query rounds per size, for --subtitles")
    parser.add_argument("--keep", type=Path, help="--subtitles: build each corpus once in KEEP/<size>h "
                        "and reuse it in later runs")
    parser.add_argument("--ab", type=int, default=0, metavar="ROUNDS",
                        help="title indexing only: before (Whoosh's writer) vs after, alternated")
    args = parser.parse_args()
    print(f"# search benchmark — {platform.platform()}, {os.cpu_count()} cores, "
          f"SQLite {sqlite3.sqlite_version}, load average at the start {os.getloadavg()[0]:.1f}")
    if args.ab:
        ab_indexing(args.titles, args.ab)
        return
    if args.subtitles:
        subtitles([int(s) for s in args.sizes.split(",")], args.queries, args.runs, args.keep)
        print(f"\nload average after the run: {os.getloadavg()[0]:.1f} (shared machine)")
        return
    titles, _ = corpus(args.titles)
    with tempfile.TemporaryDirectory() as tmp:
        data = DataDir.resolve(Path(tmp) / "data")
        catalog = fill_catalog(data.catalog_db, titles)
        began = time.perf_counter()
        index.rebuild(data.search_index, catalog)
        whoosh_rate = args.titles / (time.perf_counter() - began)
        db, fts_rate = fts5(Path(tmp) / "fts.sqlite", titles)
        log = EventLog(data.events_db, retention=Retention())
        service = SearchService(data, log, catalog)
        print(f"\n| index {args.titles:,} titles | titles/s |\n|---|---|")
        print(f"| Whoosh (catalog -> index, 1 writer) | {whoosh_rate:,.0f} |")
        print(f"| SQLite FTS5 | {fts_rate:,.0f} |")
        print("\n| query type | Whoosh p50 ms | Whoosh p95 ms | Whoosh hits | FTS5 p50 ms | FTS5 p95 ms "
              "| FTS5 top-10 |")
        print("|---|---|---|---|---|---|---|")
        for kind, qs in queries(random.Random(3), titles, args.queries).items():
            w50, w95, whits = timed(whoosh_fn(service, kind), qs)
            f50, f95, fhits = timed(fts_fn(db, kind), qs)
            print(f"| {kind} | {w50:.1f} | {w95:.1f} | {whits:,.0f} | {f50:.1f} | {f95:.1f} | {fhits:.1f} |")
        log.close()
    print(f"\nload average after the run: {os.getloadavg()[0]:.1f} (shared machine)")


if __name__ == "__main__":
    main()
