"""Benchmark: how much memory an edge cache miss costs, against the object's own size (the old edge
read every miss whole into memory, so its growth was 1.0x the object, on every request).

A lone edge (128 MiB cache) runs in its own process over a blob-store or an HTTP origin; for each
case its peak resident memory (Linux VmHWM, reset before each request) is read from /proc:

- a 1-byte Range of a 300 MiB object (larger than the cache: passed through, Range forwarded);
- a full GET of the same object (streamed through in 1 MiB pieces);
- a full GET of a 96 MiB object (fits the cache: filled to disk, then served from the file).

    .venv/bin/python bench/edge_memory.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.storage.blobstore import LocalBlobStore
from tests.cdn.origin_server import origin_server
from tests.cdn.test_edge_memory import BIG, CACHEABLE, MB, grown_by, run_edge, sparse_object, token_path

CASES = (("1-byte Range, 300 MiB object", "big", BIG, {"Range": "bytes=1000-1000"}),
         ("full GET, 300 MiB object (pass-through)", "big", BIG, None),
         ("full GET, 96 MiB object (cache fill)", "mid", CACHEABLE, None))


def one_round(origin_kind: str) -> list[float]:
    """Peak growth (MiB) of each case, on a fresh edge and cache."""
    with tempfile.TemporaryDirectory(prefix="miniflix-edge-mem-") as tmp, contextlib.ExitStack() as stack:
        store = LocalBlobStore(Path(tmp) / "origin")
        sparse_object(store, "videos/big/cmaf/1080p/seg_001.m4s", BIG)
        sparse_object(store, "videos/mid/cmaf/1080p/seg_001.m4s", CACHEABLE)
        origin = str(store.root)
        if origin_kind == "http":
            origin = stack.enter_context(origin_server(store.root, ranges=True))[0]
        edge = stack.enter_context(run_edge(origin, Path(tmp) / "cache"))
        grown = []
        for _name, video, _size, headers in CASES:
            status, _h, _n, growth = grown_by(edge, token_path(video, "cmaf/1080p/seg_001.m4s"), headers)
            assert status in (200, 206), status
            grown.append(growth / MB)
        return grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; rounds: {args.rounds}")
    print(f"{'origin':<6} {'case':<42} {'object MiB':>10} {'growth MiB (median, min-max)':>30} "
          f"{'x object':>9}")
    for origin_kind in ("store", "http"):
        rounds = [one_round(origin_kind) for _ in range(args.rounds)]
        for i, (name, _video, size, _headers) in enumerate(CASES):
            values = [r[i] for r in rounds]
            median = statistics.median(values)
            print(f"{origin_kind:<6} {name:<42} {size / MB:>10.0f} "
                  f"{median:>14.1f} ({min(values):.1f}-{max(values):.1f}){'':>6} {median * MB / size:>9.4f}")


if __name__ == "__main__":
    main()
