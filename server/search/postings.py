"""Whoosh's posting lists, written faster in Whoosh's own format (W3: blocks of up to 128 postings,
each a pickled tuple, and one term-info entry per term).

A title brings about ten terms of its own (its id, the number in its file name, the finer range tiers
of its date and duration), so a rebuild writes about one posting list per posting, and Whoosh's
writer spends most of a rebuild on per-term overhead: new block and term-info objects, a column read
per posting for the field length, assertions, and `zlib.compress` of every block, which costs more
than all the rest (zlib sets up ~256 KB of state a call) and makes a one-posting block *longer*.
Here a term's postings are taken in one group, the field lengths are read once per field, and a
block whose pickle is shorter than `COMPRESS_FROM` bytes is written uncompressed — the case
Whoosh's writer meant to allow (`len(databytes) < 20`) and its readers handle (a block's
compression level is in its header), but a bug overwrites. Apart from that choice the bytes are
Whoosh's, byte for byte (`tests/search/test_title_indexing.py` compares the files), so its
readers, and its merge of segments, read them as their own."""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Sequence
from itertools import groupby
from operator import itemgetter
from pickle import dumps
from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3FieldWriter, W3TermInfo, _lenfield
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte

try:
    import zlib
except ImportError:  # pragma: no cover - CPython always has it; Whoosh allows builds without
    zlib = None  # type: ignore[assignment]

# Blocks whose pickle is shorter are stored as they are: a one- or two-posting block does not get
# shorter through zlib, and compressing it was the largest single cost of a rebuild.
COMPRESS_FROM = 256
_KEY_VALUE_LENGTHS = struct.Struct("!ii")  # whoosh.filedb.filetables._lengths
Posting = tuple[str, bytes, int, float, bytes | None]  # (field, term, docnum, weight, value bytes)


class FastFieldWriter(W3FieldWriter):
    """Writes a new segment's posting lists and term index in W3's format (see the module)."""

    compress_from = COMPRESS_FROM

    def add_postings(self, schema: Any, lengths: Any, items: Iterable[Posting]) -> None:
        """The postings, sorted by field, term and document, as Whoosh's pool hands them over."""
        if any(schema[name].separate_spelling() for name in schema.names()):
            super().add_postings(schema, lengths, items)  # spelling words ride in the postings
            return
        self._offset = self._postfile.tell()
        for fieldname, postings in groupby(items, key=itemgetter(0)):
            fieldobj = schema[fieldname]
            self.start_field(fieldname, fieldobj)
            field_lengths = _field_lengths(lengths, fieldname)
            fixed = fieldobj.format.fixed_value_size()
            for btext, term_postings in groupby(postings, key=itemgetter(1)):
                self._write_term(btext, list(term_postings), field_lengths, fixed)
            self.finish_field()

    def _write_term(self, btext: bytes, postings: list[Posting], field_lengths: bytes | None,
                    fixed: int | None) -> None:
        """One posting list (blocks of `blocklimit`) and its term-info entry, as Whoosh's
        `W3PostingsWriter.finish_postings` and `W3FieldWriter.finish_term` write them."""
        limit = self._codec._blocklimit
        info = _TermStats()
        chunks = [postings[i:i + limit] for i in range(0, len(postings), limit)]
        parts = [WHOOSH3_HEADER_MAGIC]
        for n, chunk in enumerate(chunks):
            parts.append(self._block(chunk, field_lengths, fixed, info, last=n == len(chunks) - 1))
        written = b"".join(parts)
        self._postfile.write(written)
        info.extent = (self._offset, len(written))
        self._offset += len(written)
        self._term_entry(pack_ushort(self._fieldid) + btext, info.to_bytes())

    def _term_entry(self, key: bytes, value: bytes) -> None:
        """Whoosh's `OrderedHashWriter.add` (keys in order, each found by its hash), in one write."""
        tindex = self._tindex
        if key <= tindex.lastkey:
            raise ValueError(f"Keys must increase: {tindex.lastkey!r}..{key!r}")
        pos = tindex.dbfile.tell()
        tindex.index.append(pos)
        tindex.dbfile.write(_KEY_VALUE_LENGTHS.pack(len(key), len(value)) + key + value)
        h = tindex.hashfn(key)
        tindex.buckets[h & 255].append((h, pos))
        tindex.lastkey = key

    def _block(self, chunk: Sequence[Posting], field_lengths: bytes | None, fixed: int | None,
               info: _TermStats, *, last: bool) -> bytes:
        """One block's bytes: its length (negative for the last), its header and its data."""
        ids = [p[2] for p in chunk]
        raw_weights = [p[3] for p in chunk]
        weights = array("f", raw_weights)  # Whoosh keeps weights as 32-bit floats
        maxweight: float = max(raw_weights)
        if not maxweight > 0:  # Whoosh's running maximum starts at the integer 0
            maxweight = 0
        lens = [n for n in map(_length(field_lengths), ids) if n] if field_lengths else []
        minlength, maxlength = (min(lens), max(lens)) if lens else (None, 0)
        info.add(ids, weights, maxweight, minlength, maxlength)
        data = dumps((_deltas(ids), _mini_weights(weights), _mini_values(chunk, fixed)), 2)
        comp = self._codec._compression if len(data) >= self.compress_from and zlib is not None else 0
        if comp:
            data = zlib.compress(data, comp)
        head = dumps((len(ids), ids[-1], maxweight, comp, length_to_byte(minlength),
                      length_to_byte(maxlength)), 2)
        size = len(head) + len(data)
        return pack_int(-size if last else size) + head + data


class _TermStats:
    """What `W3TermInfo` gathers over a term's blocks, in the same order of operations."""

    def __init__(self) -> None:
        self.weight: float = 0
        self.df = 0
        self.minlength: int | None = None
        self.maxlength = 0
        self.maxweight: float = 0
        self.minid: int | None = None
        self.maxid = 0
        self.extent = (0, 0)

    def add(self, ids: list[int], weights: array[float], maxweight: float, minlength: int | None,
            maxlength: int) -> None:
        self.weight += sum(weights)
        self.df += len(ids)
        self.minlength = minlength if self.minlength is None else min(self.minlength, minlength)  # type: ignore[type-var]
        self.maxlength = max(self.maxlength, maxlength)
        self.maxweight = max(self.maxweight, maxweight)
        if self.minid is None:
            self.minid = ids[0]
        self.maxid = ids[-1]

    def to_bytes(self) -> bytes:
        minlength = 0 if self.minlength is None else length_to_byte(self.minlength)
        minid = 0xFFFFFFFF if self.minid is None else self.minid
        packed: bytes = W3TermInfo._struct.pack(False, self.weight, self.df, minlength,
                                                length_to_byte(self.maxlength), self.maxweight,
                                                minid, self.maxid)
        return packed + pack_long(self.extent[0]) + pack_int(self.extent[1])


def _field_lengths(lengths: Any, fieldname: str) -> bytes | None:
    """Each document's length byte in the field (0: none), read once; None if the field keeps none."""
    if not lengths:
        return None
    reader = lengths._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if reader is None:
        return None
    raw: bytes = reader._dbfile.get(reader._basepos, reader._count)
    return raw


def _length(field_lengths: bytes) -> Any:
    """A document's length in the field as Whoosh's per-document reader gives it."""
    count = len(field_lengths)

    def length(docnum: int) -> int | None:
        lbyte = field_lengths[docnum] if docnum < count else 0
        return byte_to_length(lbyte) if lbyte else None
    return length


def _deltas(ids: list[int]) -> tuple[int, ...]:
    return tuple(b - a for a, b in zip([0, *ids[:-1]], ids, strict=True))


def _mini_weights(weights: array[float]) -> Any:
    if all(w == 1.0 for w in weights):
        return None
    if all(w == weights[0] for w in weights):
        return weights[0]
    return tuple(weights)


def _mini_values(chunk: Sequence[Posting], fixed: int | None) -> Any:
    values = [p[4] for p in chunk if p[4]]  # Whoosh's writer keeps only non-empty values
    if fixed is None or fixed < 0:
        return tuple(values)
    if fixed == 0:
        return None
    return b"".join(values)
