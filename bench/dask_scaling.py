"""Benchmark: a scaling model of the Dask encode, from per-chunk costs measured once on this machine.

Measured (small real runs on the 10 s 1080p30 title of `bench/encode_ladder.py`, default ladder):
- chunk encode CPU seconds per media second: one real 8 s chunk encode on one thread (ffmpeg's CPU
  time, so a neighbour's load on the shared cores does not inflate it);
- audio encode CPU seconds per media second (a task of its own beside the chunks);
- per chunk scheduling + put + fetch: a real ingest through a 2-worker `DaskCluster` (its
  `chunk_cost` records) plus an empty task's round trip, as `bench/dask_executor.py` does;
- the serial part per media second: that ingest's wall minus its encode stage (probe, package,
  verify, publish);
- the source copy rate (MB/s): one copy of the source file on this disk.

Model: a 10-minute title, chunked by the pipeline's own `plan_chunks` for each worker count; every
worker is a machine with one core like the one measured, which first copies the source (an S3 origin
on separate machines; 0 s with a folder origin on one machine, where it is hard-linked), then takes
the chunks longest first (LPT, as the pipeline submits them), each costing encode + scheduling + put +
fetch; the serial part follows the encode stage. Writes `docs/bench/dask_scaling.png`.

    .venv/bin/python bench/dask_scaling.py [--title-seconds 600]
"""

from __future__ import annotations

import argparse
import heapq
import logging
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.dask_executor import CostRecords, empty_task_round_trip, ingest
from bench.encode_ladder import PRESET, SEGMENT, make_source
from server import config
from server.cluster.dask import DaskCluster
from server.media.audio import encode_audio
from server.media.chunks import plan_chunks
from server.media.encode import encode_chunk
from server.media.ffmpeg import find_tools
from server.media.ladder import plan_ladder
from server.media.model import Chunk, WorkLayout
from server.media.probe import probe

ROOT = Path(__file__).resolve().parents[1]
PLOT = ROOT / "docs" / "bench" / "dask_scaling.png"
WORKER_COUNTS = (1, 2, 4, 8, 16)
FPS = Fraction(30)
SAMPLE_SECONDS = 10          # the measured title
CHUNK_SECONDS = 8.0          # the measured chunk: two segments, a typical chunk of a long title
MEASURED_DASK_60S = 146.3    # BENCHMARKS.md, "Dask executor vs the local executor", after hard links
NETWORK_COPY_MB_S = 100.0    # BENCHMARKS.md: the S3 origin's copy per worker, both workers at once


@dataclass(frozen=True)
class Costs:
    """The model's inputs, all measured here."""

    encode_per_s: float       # chunk encode CPU s per media second, one thread
    audio_per_s: float        # audio encode CPU s per media second
    per_chunk_s: float        # scheduling + put + fetch of one chunk
    serial_per_s: float       # probe + package + verify + publish, wall s per media second
    copy_mb_s: float          # source copy rate
    source_mb_per_s: float    # source size per media second


@dataclass(frozen=True)
class Prediction:
    workers: int
    chunks: int
    copy_s: float
    encode_stage_s: float
    serial_s: float

    @property
    def total_s(self) -> float:
        return self.encode_stage_s + self.serial_s


def child_cpu() -> float:
    """CPU seconds of every finished child process (ffmpeg) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_encodes(source: Path, work: Path) -> tuple[float, float]:
    """(chunk encode CPU s per media s on one thread, audio encode CPU s per media s)."""
    tools = find_tools()
    info = probe(source, tools)
    assert info.video is not None
    layout = WorkLayout(work)
    chunk = Chunk(index=0, start=0.0, duration=CHUNK_SECONDS, frames=round(CHUNK_SECONDS * FPS))
    began = child_cpu()
    encode_chunk(tools, info, chunk, plan_ladder(info.video), layout, SEGMENT, PRESET,
                 stop=threading.Event(), threads=1)
    chunk_cpu = child_cpu() - began
    began = child_cpu()
    encode_audio(tools, info, layout)
    audio_cpu = child_cpu() - began
    return chunk_cpu / CHUNK_SECONDS, audio_cpu / info.duration


def measure_copy(source: Path, work: Path) -> float:
    """MB/s of one copy of the source on this disk (what a worker's scratch copy costs)."""
    began = time.monotonic()
    shutil.copyfile(source, work / "copy.mp4")
    return source.stat().st_size / 1e6 / (time.monotonic() - began)


def measure_dask(source: Path, work: Path) -> tuple[float, float]:
    """(per-chunk scheduling + put + fetch s, serial wall s per media s) from a real Dask ingest."""
    records = CostRecords()
    logger = logging.getLogger("server.jobs.dask_executor")
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    with DaskCluster(work / "dask", 2) as cluster:
        wall, encode_stage = ingest(source, work / "data", cluster.executor_setting)
        round_trip = empty_task_round_trip(cluster.address)
    transfer = statistics.median(c["put_s"] + c["fetch_s"] for c in records.costs)
    print(f"dask ingest of {SAMPLE_SECONDS} s: wall {wall:.1f} s, encode stage {encode_stage:.1f} s, "
          f"{len(records.costs)} chunk(s), put+fetch {transfer * 1000:.0f} ms, scheduling "
          f"{round_trip * 1000:.1f} ms", flush=True)
    return round_trip + transfer, (wall - encode_stage) / SAMPLE_SECONDS


def fresh_check(seconds: int) -> float:
    """Wall s of one real ingest of the `seconds` title through a fresh 2-worker Dask cluster."""
    with tempfile.TemporaryDirectory() as tmp, DaskCluster(Path(tmp) / "dask", 2) as cluster:
        wall, _ = ingest(make_source(seconds, 30), Path(tmp) / "data", cluster.executor_setting)
    return wall


def measure(source: Path) -> Costs:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        encode_per_s, audio_per_s = measure_encodes(source, work / "encode")
        print(f"chunk encode {encode_per_s:.2f} CPU s per media s (one thread); audio "
              f"{audio_per_s:.3f}", flush=True)
        copy_mb_s = measure_copy(source, work)
        print(f"source copy {copy_mb_s:.0f} MB/s", flush=True)
        per_chunk_s, serial_per_s = measure_dask(source, work)
    return Costs(encode_per_s, audio_per_s, per_chunk_s, serial_per_s, copy_mb_s,
                 source.stat().st_size / 1e6 / SAMPLE_SECONDS)


def lpt_makespan(tasks: list[float], workers: int, start: float) -> float:
    """When the last worker finishes `tasks` handed out longest first to whichever is free first."""
    free = [start] * workers
    for seconds in sorted(tasks, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


def predict(costs: Costs, title_s: float, workers: int, *, copy: bool = True,
            copy_mb_s: float | None = None) -> Prediction:
    """Wall time of one ingest of a `title_s` title on `workers` one-core worker machines; the
    source copy at `copy_mb_s` (default: the measured rate), or none with `copy=False`."""
    chunks = plan_chunks(title_s, FPS, SEGMENT, workers,
                         min_chunk_seconds=float(config.get("min_chunk_seconds")))
    tasks = [costs.encode_per_s * c.duration + costs.per_chunk_s for c in chunks]
    tasks.append(costs.audio_per_s * title_s)
    copy_s = costs.source_mb_per_s * title_s / (copy_mb_s or costs.copy_mb_s) if copy else 0.0
    return Prediction(workers, len(chunks), copy_s, lpt_makespan(tasks, workers, copy_s),
                      costs.serial_per_s * title_s)


def table(predictions: list[Prediction]) -> str:
    base = predictions[0].total_s
    lines = ["| workers | chunks | source copy s | encode stage s | serial s | total s | speed-up | "
             "efficiency |", "|---|---|---|---|---|---|---|---|"]
    for p in predictions:
        speed = base / p.total_s
        lines.append(f"| {p.workers} | {p.chunks} | {p.copy_s:.1f} | {p.encode_stage_s:.1f} | "
                     f"{p.serial_s:.1f} | {p.total_s:.1f} | {speed:.2f}x | {speed / p.workers:.0%} |")
    return "\n".join(lines)


def plot(predictions: list[Prediction], title_s: float, path: Path) -> None:
    """Stacked bars (encode stage, serial part) per worker count, total and speed-up above each."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter

    app = QGuiApplication.instance() or QGuiApplication([])
    width, height, left, top, bottom = 900, 560, 80, 60, 70
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setFont(QFont("Sans", 10))
    plot_h = height - top - bottom
    scale = plot_h / (max(p.total_s for p in predictions) * 1.1)
    painter.drawText(QRectF(0, 10, width, 30), Qt.AlignmentFlag.AlignCenter,
                     f"Predicted ingest wall of a {title_s / 60:.0f}-minute 1080p title vs Dask "
                     f"workers (one core each)")
    slot = (width - left - 40) / len(predictions)
    base = predictions[0].total_s
    for i, p in enumerate(predictions):
        x = left + i * slot + slot * 0.2
        bar_w = slot * 0.6
        encode_h, serial_h = p.encode_stage_s * scale, p.serial_s * scale
        y0 = top + plot_h
        painter.fillRect(QRectF(x, y0 - encode_h, bar_w, encode_h), QColor("#4a7bd0"))
        painter.fillRect(QRectF(x, y0 - encode_h - serial_h, bar_w, serial_h), QColor("#e08a2e"))
        painter.drawText(QRectF(x - 20, y0 - encode_h - serial_h - 36, bar_w + 40, 34),
                         Qt.AlignmentFlag.AlignCenter,
                         f"{p.total_s:.0f} s\n{base / p.total_s:.1f}x")
        painter.drawText(QRectF(x, y0 + 4, bar_w, 20), Qt.AlignmentFlag.AlignCenter,
                         f"{p.workers}")
    painter.drawLine(left, top + plot_h, width - 40, top + plot_h)
    painter.drawLine(left, top, left, top + plot_h)
    top_s = max(p.total_s for p in predictions) * 1.1
    for tick in range(0, int(top_s), 500 if top_s > 1500 else 100):
        y = top + plot_h - tick * scale
        painter.drawText(QRectF(0, y - 10, left - 8, 20), Qt.AlignmentFlag.AlignRight, f"{tick} s")
    painter.drawText(QRectF(left, height - 40, width - left, 20), Qt.AlignmentFlag.AlignCenter,
                     "workers")
    painter.fillRect(QRectF(width - 290, top, 14, 14), QColor("#4a7bd0"))
    painter.drawText(QRectF(width - 270, top - 2, 260, 18), 0, "encode stage (copy + LPT chunks)")
    painter.fillRect(QRectF(width - 290, top + 22, 14, 14), QColor("#e08a2e"))
    painter.drawText(QRectF(width - 270, top + 20, 260, 18), 0, "serial (probe, package, publish)")
    painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(path)):
        raise SystemExit(f"could not write the plot to {path}")
    del app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--title-seconds", type=float, default=600.0)
    parser.add_argument("--fresh-check", action="store_true",
                        help="check the model against a fresh 2-worker Dask ingest of the 60 s title")
    args = parser.parse_args()
    source = make_source(SAMPLE_SECONDS, 30)
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    costs = measure(source)
    print(f"\n{costs}\nload average after: {os.getloadavg()[0]:.2f}")
    predictions = [predict(costs, args.title_seconds, w) for w in WORKER_COUNTS]
    print(f"\n{args.title_seconds:.0f} s title, source copied once per worker:\n{table(predictions)}")
    network = [predict(costs, args.title_seconds, w, copy_mb_s=NETWORK_COPY_MB_S) for w in WORKER_COUNTS]
    print(f"\nthe same, source copied at {NETWORK_COPY_MB_S:.0f} MB/s (S3 over a network):\n"
          f"{table(network)}")
    check = predict(costs, 60, 2, copy=False)
    measured, where = MEASURED_DASK_60S, "BENCHMARKS.md median"
    if args.fresh_check:
        measured, where = fresh_check(60), f"fresh run, load {os.getloadavg()[0]:.2f} after"
    print(f"\ncheck: 2 workers, 60 s title, folder origin (no copy): predicted {check.total_s:.1f} s "
          f"({check.chunks} chunks), measured Dask wall {measured:.1f} s ({where}): error "
          f"{(check.total_s - measured) / measured:+.0%}")
    plot(predictions, args.title_seconds, PLOT)
    print(f"plot: {PLOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
