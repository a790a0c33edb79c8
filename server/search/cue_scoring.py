"""What the cue index reads per index version once instead of per query: each segment's field
lengths for BM25F, and the `video_id` column that tells a block's title.

Whoosh's BM25F looks up a document's field length for every match it scores (a column read and a
byte decode, about half of the scoring time), and opening the `video_id` column reads the offsets of
every block (120,000 at 10,000 hours) on each query. Both depend only on the segment (segments never
change once written; deletions do not change lengths), so they are read once and kept, a few per
index: the scores are Whoosh's own, to the bit (the same lengths, the same arithmetic).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numpy as np
from whoosh.reading import IndexReader
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from server.search.ranking import field_lengths, segment_key

K = TypeVar("K")
V = TypeVar("V")


class _Kept(Generic[K, V]):
    """The `most` values last asked for, by key (thread-safe; a value may be made twice at once)."""

    def __init__(self, most: int) -> None:
        self._most = most
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._most:
                self._items.popitem(last=False)
        return value


class KeptLengthsBM25F(BM25F):
    """BM25F whose scorers read field lengths from a list kept per segment instead of the column."""

    def __init__(self, segments: int = 64) -> None:
        super().__init__()
        self._lengths: _Kept[tuple[str, str], tuple[np.ndarray, list[float]]] = _Kept(segments)

    def scorer(self, searcher: Searcher, fieldname: str, text: bytes, qf: int = 1) -> Any:
        scorer = super().scorer(searcher, fieldname, text, qf)
        if hasattr(scorer, "dfl"):  # a scorable field: Whoosh's WeightLengthScorer
            scorer.dfl = self._kept(searcher.reader(), fieldname)[1].__getitem__
        return scorer

    def lengths(self, reader: IndexReader, fieldname: str) -> np.ndarray:
        """Each document's length of `fieldname` in the one-segment `reader`, as the scorers see it."""
        return self._kept(reader, fieldname)[0]

    def _kept(self, reader: IndexReader, fieldname: str) -> tuple[np.ndarray, list[float]]:
        def read() -> tuple[np.ndarray, list[float]]:
            lengths = field_lengths(reader, fieldname)
            return lengths, lengths.tolist()
        return self._lengths.get((segment_key(reader), fieldname), read)


class VideoIds:
    """Block number -> video id for a searcher's reader, the column opened once per reader."""

    def __init__(self, readers: int = 16) -> None:
        self._columns: _Kept[int, tuple[IndexReader, Callable[[int], str]]] = _Kept(readers)

    def of(self, searcher: Searcher) -> Callable[[int], str]:
        reader = searcher.reader()
        if not reader.has_column("video_id"):  # an empty index has no column yet: stored fields
            return lambda docnum: str(searcher.stored_fields(docnum)["video_id"])
        # Keyed by identity: a kept reader stays alive, so no other reader can have its id meanwhile.
        return self._columns.get(id(reader), lambda: (reader, _column(reader)))[1]


def _column(reader: IndexReader) -> Callable[[int], str]:
    lookup: Callable[[int], str] = reader.column_reader("video_id").__getitem__
    return lookup
