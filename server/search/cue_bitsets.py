"""The posting lists of the cue index's words as arrays, the common words kept per segment as
bitsets: what `cue_intersect` walks instead of Whoosh's posting blocks.

An AND of two words said in many blocks costs Whoosh a walk of both posting lists in Python, one
document id at a time, decoding every block on the way (about 100 µs a block of 128 postings, most
of it unpickling the positions stored with the ids). Here a term's postings in one segment are read
into arrays: the documents (a bitset over the segment's blocks when kept, 1 bit a document), the
weights (1 byte each when they are small whole numbers, as term counts are), the word positions
(uint16, kept from `POSITIONS_SHARE` on) and, per posting block, where it ends, its greatest weight
and its shortest field length (Whoosh's block-quality skipping depends on them). A word in at least
`DENSE_SHARE` of a segment's documents is kept; the others are read per query (a rarer word has
fewer blocks). Segments never change once written, so what is kept stays right as long as the
segment exists (`retain` drops the words of segments merged away); at most `DENSE_MB` are kept,
after which the remaining words are read per query.

Memory, measured at 10,000 hours (120,000 blocks): 1,520 words in 5% of the blocks, 19.5 M postings,
377 of them in 10% with 31.3 M positions: 109 MB kept, about 11 MB per 1,000 hours of speech (the
positions 63 MB of it); read in ~34 CPU s (`CueIndex.warm`, or word by word as queries name them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import IndexReader, TermNotFound

from server.search.ranking import segment_key

DENSE_SHARE = 0.05  # a word in this share of a segment's documents or more is kept
POSITIONS_SHARE = 0.1  # ... with its positions (for phrases) from this share on
DENSE_LEAST = 1024  # ... and in at least this many (a small segment's words are cheap to read)
DENSE_MB = 128  # the most kept, over all segments and fields


@dataclass(frozen=True)
class TermArrays:
    """One term's postings in one segment, deleted documents included, in posting order."""

    docs: int  # the segment's document count (the bitset's length)
    bits: np.ndarray | None  # packed bitset of the documents, when kept
    ids: np.ndarray | None  # the documents as int64, when read for one query
    weights: np.ndarray  # per posting: uint8 when whole numbers under 256, else float32 (Whoosh's own)
    block_ends: np.ndarray  # per posting block: the index after its last posting
    block_weight: np.ndarray  # per block: its greatest weight (float64)
    block_length: np.ndarray  # per block: its shortest field length, as Whoosh decodes it (float64)
    positions: np.ndarray | None = None  # kept: every posting's word positions in turn (uint16)
    values: list[bytes] | None = None  # read for one query: each posting's encoded positions
    decode: Callable[[bytes], list[int]] | None = None  # the field format's position decoder

    def doc_ids(self) -> np.ndarray:
        """The documents, ascending (int64)."""
        if self.ids is not None:
            return self.ids
        assert self.bits is not None
        return np.flatnonzero(np.unpackbits(self.bits, count=self.docs)).astype(np.int64)

    def weight_array(self) -> np.ndarray:
        return self.weights.astype(np.float64)

    def positions_of(self, postings: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(which of `postings`, word position) for every position of those postings, or None
        when the field keeps no positions."""
        if self.positions is not None:
            counts = self.weights[postings].astype(np.int64)
            starts = (np.cumsum(self.weights, dtype=np.int64) - self.weights)[postings]
            owner = np.repeat(np.arange(len(postings)), counts)
            first = np.repeat(starts - np.cumsum(counts) + counts, counts)
            return owner, self.positions[first + np.arange(len(owner))].astype(np.int64)
        if self.values is None or self.decode is None:
            return None
        lists = [self.decode(self.values[p]) for p in postings.tolist()]
        owner = np.repeat(np.arange(len(lists)), [len(found) for found in lists])
        return owner, np.fromiter((p for found in lists for p in found), dtype=np.int64, count=len(owner))

    def nbytes(self) -> int:
        parts = (self.bits, self.ids, self.weights, self.block_ends, self.block_weight, self.block_length,
                 self.positions)
        return sum(part.nbytes for part in parts if part is not None)


def read_term(reader: IndexReader, field: str, text: bytes, *, keep: bool, positions: bool = True
              ) -> TermArrays | None:
    """The term's postings in the (one-segment) `reader` as arrays: to keep, a bitset (and the
    positions, if `positions`); for one query, the ids and the encoded positions. None if the term
    is missing or its postings are not in posting blocks (a term in one or two documents)."""
    try:
        matcher = reader._terms.matcher(field, text, reader.schema[field].format)
    except (KeyError, TermNotFound):
        return None
    if not isinstance(matcher, W3LeafMatcher):
        return None
    ids, weights, ends = [], [], [0]
    values: list[bytes] = []
    block_weight, block_length = [], []
    for block_ids, block_weights, block_values in _blocks(matcher):
        ids.append(block_ids)
        weights.append(block_weights)
        values += block_values
        ends.append(ends[-1] + len(block_ids))
        block_weight.append(float(matcher._maxweight))
        block_length.append(float(matcher._minlength))
        matcher._next_block()
    docs, all_ids = reader.doc_count_all(), np.concatenate(ids)
    all_weights = _compact(np.concatenate(weights))
    decode = _position_decoder(reader, field) if len(values) == len(all_ids) else None
    kept_positions = _positions(values, all_weights, decode) if keep and positions and decode else None
    return TermArrays(docs, _bitset(all_ids, docs) if keep else None, None if keep else all_ids,
                      all_weights, np.array(ends[1:], dtype=np.int64), np.array(block_weight),
                      np.array(block_length),
                      positions=kept_positions,
                      values=None if keep or not decode else values, decode=decode)


def _blocks(matcher: W3LeafMatcher) -> Iterator[tuple[np.ndarray, np.ndarray, tuple[bytes, ...]]]:
    """Each posting block's ids, weights and encoded values, as Whoosh's leaf matcher decodes them."""
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        block_ids, block_weights, block_values = matcher._data
        count = matcher._blocklength
        yield (np.cumsum(np.array(block_ids, dtype=np.int64)), _block_weights(block_weights, count),
               block_values if isinstance(block_values, tuple) and len(block_values) == count else ())


def _position_decoder(reader: IndexReader, field: str) -> Callable[[bytes], list[int]] | None:
    field_format = reader.schema[field].format
    if not field_format.supports("positions"):
        return None
    decode: Callable[[bytes], list[int]] = field_format.decode_positions
    return decode


def _positions(values: list[bytes], weights: np.ndarray, decode: Callable[[bytes], list[int]]
               ) -> np.ndarray | None:
    """Every posting's positions in turn (uint16), or None when they do not fit or a posting's
    count of positions is not its weight (the kept weights then tell where each one's begin)."""
    if len(values) != len(weights):
        return None
    flat = np.fromiter((p for value in values for p in decode(value)), dtype=np.int64)
    if len(flat) != int(weights.astype(np.int64).sum()) or (len(flat) and flat.max() >= 1 << 16):
        return None
    return flat.astype(np.uint16)


def _block_weights(weights: Any, count: int) -> np.ndarray:
    """As Whoosh expands a block's weights: none stored means 1.0 each, one number that number
    (a 32-bit float) each, otherwise the stored 32-bit floats."""
    if weights is None:
        return np.ones(count, dtype=np.float32)
    if isinstance(weights, float):
        return np.full(count, weights, dtype=np.float32)
    return np.array(weights, dtype=np.float32)


def _compact(weights: np.ndarray) -> np.ndarray:
    """Term counts (whole numbers under 256) in one byte each; anything else as the 32-bit floats."""
    small = weights.astype(np.uint8)
    return small if np.array_equal(small, weights) else weights


def _bitset(ids: np.ndarray, docs: int) -> np.ndarray:
    present = np.zeros(docs, dtype=bool)
    present[ids] = True
    return np.packbits(present)


class DenseTerms:
    """The kept arrays of the words said in many documents, per segment; others read per query.
    Words are kept while fewer than `most_mb` are kept (the commonest first when warming), never
    dropped for another: a full store reads the rest per query rather than trade words back and
    forth. `retain` drops the words of segments gone from the index."""

    def __init__(self, most_mb: float = DENSE_MB, least: int = DENSE_LEAST) -> None:
        self._most, self._least = int(most_mb * 1024 * 1024), least
        self._items: dict[tuple[str, str, bytes], TermArrays] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def arrays(self, reader: IndexReader, field: str, text: bytes, *, positions: bool = False
               ) -> TermArrays | None:
        """The term's arrays in the one-segment `reader`, kept if the term is dense there; with
        the positions (kept, or encoded for this query) if `positions`."""
        key = (segment_key(reader), field, text)
        with self._lock:
            found = self._items.get(key)
        if found is None:
            df, docs = reader.doc_frequency(field, text), reader.doc_count_all()
            keep = self._share(df, docs, DENSE_SHARE) and not self.full()
            with_positions = self._share(df, docs, POSITIONS_SHARE)
            found = read_term(reader, field, text, keep=keep, positions=with_positions)
            if found is not None and keep:
                self._keep(key, found)
        if found is not None and positions and found.positions is None and found.values is None:
            return read_term(reader, field, text, keep=False)  # kept without them: read for this query
        return found

    def leaf_arrays(self, reader: IndexReader, field: str, text: bytes, *, read_least: int | None = None
                    ) -> TermArrays | None:
        """The term's arrays in the one-segment `reader` for a word matcher: kept ones (read and
        kept now if the term is dense there and room is left), or, for a term in at least
        `read_least` documents, read for this query; else None: a rarer word is left to Whoosh's own
        leaf, which reads only the blocks a query gets to."""
        with self._lock:
            found = self._items.get((segment_key(reader), field, text))
        if found is not None:
            return found
        df, docs = reader.doc_frequency(field, text), reader.doc_count_all()
        if self._share(df, docs, DENSE_SHARE) or (read_least is not None and df >= read_least):
            return self.arrays(reader, field, text)
        return None

    def _keep(self, key: tuple[str, str, bytes], found: TermArrays) -> None:
        with self._lock:
            if key not in self._items:
                self._items[key] = found
                self._bytes += found.nbytes()

    def warm(self, reader: IndexReader, field: str) -> int:
        """Read and keep the dense terms of `field` in the one-segment `reader`, the commonest first,
        while room is left: queries then find them ready. Returns how many terms are kept."""
        docs = reader.doc_count_all()
        dense = [(info.doc_frequency(), text) for text, info in reader.iter_field(field)
                 if self._share(info.doc_frequency(), docs, DENSE_SHARE)]
        for _, text in sorted(dense, reverse=True):
            if self.full():
                break
            self.arrays(reader, field, text)
        key = segment_key(reader)
        with self._lock:
            return sum(1 for seg, name, _ in self._items if seg == key and name == field)

    def retain(self, segments: set[str]) -> None:
        """Drop what is kept for any segment not in `segments` (merged away or deleted)."""
        with self._lock:
            for key in [key for key in self._items if key[0] not in segments]:
                self._bytes -= self._items.pop(key).nbytes()

    def full(self) -> bool:
        with self._lock:
            return self._bytes >= self._most

    def kept_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def kept_segments(self) -> set[str]:
        with self._lock:
            return {key[0] for key in self._items}

    def _share(self, doc_frequency: int, docs: int, share: float) -> bool:
        return doc_frequency >= max(self._least, share * docs)

