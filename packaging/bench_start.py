"""Size and start time of the built app, against the source tree in the same run.

    python packaging/bench_start.py [--app packaging/dist/miniflix] [--runs 3]

"Cold" evicts the bundle's own files from the page cache first (posix_fadvise DONTNEED on each
file, so other processes' caches are untouched); "warm" runs right after. Two measurements:
`--version` (bootloader + Python start) and `serve` until it prints its URL (flask, DuckDB,
Whoosh, the event log and every service started). Prints Markdown tables: start times, then where
the unpacked MB go (`size_report.py`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import size_report  # noqa: E402


def unpacked_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def evict(folder: Path) -> None:
    """Drop the folder's file pages from the page cache (only these files)."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def time_version(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*cmd, "--version"], check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def time_serve(cmd: list[str], env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="miniflix-bench-") as data:
        started = time.perf_counter()
        proc = subprocess.Popen([*cmd, "serve", "--data-dir", data], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if "listening on" in line:
                    return time.perf_counter() - started
            raise RuntimeError("serve exited before listening")
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL after 30 s: a slow shutdown is reported, it does not end the benchmark."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print(f"warning: serve (pid {proc.pid}) ignored SIGTERM for 30 s; killed", file=sys.stderr)
        proc.kill()
        proc.wait()


def measure(what: Callable[[list[str], dict[str, str]], float], cmd: list[str], env: dict[str, str],
            runs: int, cold_dir: Path | None) -> float:
    samples = []
    for _ in range(runs):
        if cold_dir is not None:
            evict(cold_dir)
        samples.append(what(cmd, env))
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=HERE / "dist" / "miniflix")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": tempfile.mkdtemp(prefix="miniflix-bench-home-"),
           "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    bundled = [str(args.app.resolve() / "miniflix")]
    source = [sys.executable, str(ROOT / "main.py")]
    print(f"bundle: {args.app} — {unpacked_mb(args.app):.0f} MB unpacked; median of {args.runs} runs\n")
    print("| run | `--version` s | `serve` listening s |\n|---|---:|---:|")
    rows = [("bundle, cold (its files evicted)", bundled, args.app),
            ("bundle, warm", bundled, None),
            ("source tree (`python main.py`), warm", source, None)]
    for label, cmd, cold in rows:
        version = measure(time_version, cmd, env, args.runs, cold)
        serve = measure(time_serve, cmd, env, args.runs, cold)
        print(f"| {label} | {version:.2f} | {serve:.2f} |", flush=True)
    print("\nWhere the MB go (packaging/size_report.py):\n")
    print(size_report.markdown(size_report.breakdown(args.app)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
