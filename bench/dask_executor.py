"""Benchmark: the Dask executor against the local executor on the same cores and the same title.

Source: the 60 s 1080p30 title of `bench/encode_ladder.py` (motion, noise, audio), ingested whole
(probe, chunked encode, package, verify, publish) with the same ladder and preset, once through
`executor=local` and once through `executor=dask://…` on a real scheduler with two single-thread
workers on 127.0.0.1 (started here), the file origin carrying the source and the chunks. Rounds
alternate which executor goes first. Target: Dask wall <= 1.10x local wall, compared in the same run.

Per-chunk costs come from the executor's own records (`chunk_cost` log records): copying the source
into a worker's scratch dir (once per worker and job), putting a chunk's files into the store and
fetching them into the coordinator's work dir; plus the round trip of an empty task (scheduling).

    .venv/bin/python bench/dask_executor.py [--seconds 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.encode_ladder import PRESET, make_source
from server.cluster.dask import DaskCluster
from server.engine import Engine
from server.jobs.pipeline import IngestOptions

WORKERS = 2


class CostRecords(logging.Handler):
    """Collects the Dask executor's per-chunk cost records."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.costs: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        cost = getattr(record, "chunk_cost", None)
        if cost is not None:
            self.costs.append(cost)


def ingest(source: Path, data_dir: Path, executor: str) -> tuple[float, float]:
    """One whole ingest; (wall s, encode-stage wall s)."""
    os.environ["MINIFLIX_EXECUTOR"] = executor
    began = time.monotonic()
    with Engine.open(str(data_dir)) as engine:
        pipeline = engine.ingest(IngestOptions.from_settings(workers=WORKERS, preset=PRESET))
        job = pipeline.run(pipeline.create_job(source))
    wall = time.monotonic() - began
    if job.state != "published":
        raise SystemExit(f"ingest with {executor} failed: {job.error}")
    timing = job.result["timing"]
    return wall, timing["encode_ended_at"] - timing["encode_started_at"]


def empty_task_round_trip(address: str, count: int = 30) -> float:
    """Median seconds from submit to result of a task that does nothing: the scheduling cost."""
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        client.submit(int, 0, pure=False).result()
        times = []
        for n in range(count):
            began = time.monotonic()
            client.submit(int, n, pure=False).result()
            times.append(time.monotonic() - began)
    return statistics.median(times)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    source = make_source(args.seconds, 30)
    records = CostRecords()
    logging.getLogger("server.jobs.dask_executor").addHandler(records)
    logging.getLogger("server.jobs.dask_executor").setLevel(logging.INFO)
    print(f"source: {source.name}; preset {PRESET}; {os.cpu_count()} cores; {WORKERS} workers each way; "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    runs: dict[str, list[tuple[float, float]]] = {"local": [], "dask": []}
    with tempfile.TemporaryDirectory() as tmp, DaskCluster(Path(tmp) / "dask", WORKERS) as cluster:
        settings = {"local": "local", "dask": cluster.executor_setting}
        for n in range(args.rounds):
            order = ["local", "dask"] if n % 2 == 0 else ["dask", "local"]
            for name in order:
                runs[name].append(ingest(source, Path(tmp) / f"{name}{n}", settings[name]))
            (lw, le), (dw, de) = runs["local"][-1], runs["dask"][-1]
            print(f"round {n + 1} ({' then '.join(order)}): local {lw:.1f} s (encode {le:.1f}), "
                  f"dask {dw:.1f} s (encode {de:.1f}), dask/local {dw / lw:.3f} (encode {de / le:.3f}); "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
        round_trip = empty_task_round_trip(cluster.address)
    report(runs, records.costs, round_trip)
    return 0


def report(runs: dict[str, list[tuple[float, float]]], costs: list[dict[str, Any]],
           round_trip: float) -> None:
    ratios = [d[0] / lo[0] for lo, d in zip(runs["local"], runs["dask"], strict=True)]
    encode_ratios = [d[1] / lo[1] for lo, d in zip(runs["local"], runs["dask"], strict=True)]
    print("\n| executor | ingest wall s, median (min-max) | encode stage s, median (min-max) |")
    print("|---|---|---|")
    for name, values in runs.items():
        print(f"| {name} | {spread([w for w, _ in values])} | {spread([e for _, e in values])} |")
    print(f"\ndask/local ingest wall per round: {', '.join(f'{r:.3f}' for r in ratios)} "
          f"(median {statistics.median(ratios):.3f}; target <= 1.10); encode stage: "
          f"{', '.join(f'{r:.3f}' for r in encode_ratios)}")
    chunk = {k: statistics.median(c[k] for c in costs) for k in ("encode_s", "put_s", "fetch_s")}
    copies = [c["source_s"] for c in costs if c["source_s"] > 0.05]
    print(f"\nper chunk ({len(costs)} chunks): scheduling (empty task round trip) "
          f"{round_trip * 1000:.1f} ms, put into the store {chunk['put_s'] * 1000:.0f} ms, fetch to the "
          f"coordinator {chunk['fetch_s'] * 1000:.0f} ms (median encode {chunk['encode_s']:.1f} s); "
          f"source copy per worker and job {statistics.median(copies) if copies else 0:.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
