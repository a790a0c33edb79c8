"""Whoosh's compound segments are read in place (`server.search.whoosh_buffers`): opening a
searcher and reading every stored field does not copy the segment into the process's memory, and
the in-place file reads exactly as the copy did."""

from __future__ import annotations

import io
import os
import pickle
import random
from pathlib import Path

from whoosh import index as windex
from whoosh.fields import ID, STORED, Schema

from server.search.whoosh_buffers import ViewFile

SEGMENT_MB = 48


def anonymous_mb() -> float:
    """This process's private memory (what a copy of a mapped file adds; the map's own pages are
    file-backed and shared)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_a_searcher_over_a_large_segment_does_not_copy_it(tmp_path: Path) -> None:
    schema = Schema(key=ID(stored=True), blob=STORED())
    ix = windex.create_in(str(tmp_path), schema)
    writer = ix.writer()
    for i in range(SEGMENT_MB):  # incompressible: the stored column is the segment's size
        writer.add_document(key=str(i), blob=os.urandom(1 << 20))
    writer.commit()
    segment = next(tmp_path.glob("*.seg"))
    assert segment.stat().st_size > SEGMENT_MB * 1e6  # one compound file, as Whoosh writes them
    before = anonymous_mb()
    with ix.searcher() as searcher:
        sizes = [len(searcher.stored_fields(n)["blob"]) for n in range(SEGMENT_MB)]
        grown = anonymous_mb() - before
    assert sizes == [1 << 20] * SEGMENT_MB
    assert grown < SEGMENT_MB / 3, f"{grown:.0f} MB of private memory for a {SEGMENT_MB} MB segment"


def test_the_in_place_file_reads_as_a_copy_would() -> None:
    rng = random.Random(4)
    data = b"".join(rng.choice([b"line\n", b"word ", b"\n", b"x" * 5000]) for _ in range(400))
    ours, copy = ViewFile(memoryview(data)), io.BytesIO(data)
    for _ in range(2000):
        action = rng.choice(["read", "readline", "seek", "seek_cur", "seek_end", "tell"])
        if action == "read":
            size = rng.choice([-1, 0, 1, 7, 4096, 10_000])
            assert ours.read(size) == copy.read(size)
        elif action == "readline":
            size = rng.choice([-1, 3, 5000])
            assert ours.readline(size) == copy.readline(size)
        elif action == "seek":
            at = rng.randrange(len(data) + 10)
            assert ours.seek(at) == copy.seek(at)
        elif action == "seek_cur":
            step = rng.randrange(-50, 50)
            if ours.tell() + step >= 0:
                assert ours.seek(step, io.SEEK_CUR) == copy.seek(step, io.SEEK_CUR)
        elif action == "seek_end":
            back = -rng.randrange(0, 100)
            assert ours.seek(back, io.SEEK_END) == copy.seek(back, io.SEEK_END)
        assert ours.tell() == copy.tell()
    ours.seek(0)
    copy.seek(0)
    assert list(ours) == list(copy)


def test_pickles_read_in_turn_from_the_in_place_file_are_whole() -> None:
    """Whoosh reads posting block headers with `pickle.load`, which reads ahead through `peek`:
    small and large pickles one after another come back whole, each read leaving the file at the
    next."""
    things = [("header", i, [i] * (i * 97 % 3000)) for i in range(60)]
    data = b"".join(pickle.dumps(thing, -1) for thing in things)
    ours = ViewFile(memoryview(data))
    assert [pickle.load(ours) for _ in things] == things  # type: ignore[arg-type]
    assert ours.tell() == len(data)
