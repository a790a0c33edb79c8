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
"""

from __future__ import annotations

import argparse
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.catalog import JSON_FIELDS, Catalog, Title
from server.events.admin import Retention
from server.events.log import EventLog
from server.paths import DataDir
from server.search import index
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print(f"# search benchmark — {platform.platform()}, {os.cpu_count()} cores, "
          f"SQLite {sqlite3.sqlite_version}")
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
