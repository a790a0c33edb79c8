"""Relevance ranking of term queries over whole posting arrays (numpy), with Whoosh's own arithmetic.

Whoosh scores matches by stepping its matchers one document at a time in Python (about 2 µs a
document; a common word matches a third of 100,000 titles, and an AND of two words that never meet
is walked to the end just to find that out). The queries people type are words, typo variants and
completions: terms combined by OR and AND. For those, every match gets the same BM25F score here in
a few array operations: the matcher tree Whoosh would build is mirrored node for node (same shape,
so the floating-point sums are added in the same order and the scores are identical to the bit),
and each node is computed for all its documents at once. Any other query shape returns None and
the caller asks Whoosh.

Per segment (segments never change once written) the field lengths and the postings of the most
frequent terms are read once, as arrays, when the index version is first seen."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching import IntersectionMatcher, ListMatcher, NullMatcherClass, UnionMatcher
from whoosh.matching.combo import ArrayUnionMatcher
from whoosh.matching.wrappers import FilterMatcher, WrappingMatcher
from whoosh.reading import IndexReader, TermNotFound
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.util import make_weighted_tree
from whoosh.util.numeric import _length_byte_cache

FREQUENT = 2048  # terms in this many documents of a segment or more are kept as arrays (16+ blocks)
SMALL_SEGMENT = 5000  # Whoosh ORs many terms with an array matcher in segments of this size or less
_LENGTHS = np.array(_length_byte_cache, dtype=np.float64)
_LENGTHS[0] = 1.0  # a document without the field: Whoosh's scorers use length 1

Matches = tuple[np.ndarray, np.ndarray]  # (ascending document numbers, their scores)
_EMPTY: Matches = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


@dataclass
class Ranked:
    """Every document a query matches (global numbers, ascending) with its score, and by field the
    documents holding each of the query's terms there."""
    docs: np.ndarray
    scores: np.ndarray
    holding: dict[str, list[np.ndarray]] = _field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.docs)

    def within(self, allowed: np.ndarray) -> Ranked:
        """Only the documents also in `allowed` (ascending)."""
        keep = np.isin(self.docs, allowed, assume_unique=True)
        return Ranked(self.docs[keep], self.scores[keep], self.holding)

    def mentions(self, field_name: str, docnum: int) -> bool:
        """Whether the document holds any of the query's terms in `field_name`."""
        return any(_holds(docs, docnum) for docs in self.holding.get(field_name, ()))

    def top(self, limit: int) -> list[tuple[float, int]]:
        """The best `limit` as Whoosh's collector orders them: score down, then document number up."""
        docs, scores = self.docs, self.scores
        if len(docs) > limit:  # only those that can make the page, ties at its edge included
            edge = np.partition(scores, len(scores) - limit)[len(scores) - limit]
            keep = scores >= edge
            docs, scores = docs[keep], scores[keep]
        order = np.lexsort((docs, -scores))[:limit]
        return [(float(scores[i]), int(docs[i])) for i in order]


class SegmentArrays:
    """One segment's field lengths and frequent terms' postings (its deletions are read per query)."""

    def __init__(self, reader: IndexReader, fields: Sequence[str]) -> None:
        self._lengths: dict[str, np.ndarray] = {}
        self.postings: dict[tuple[str, bytes], tuple[np.ndarray, np.ndarray]] = {}
        for field in fields:
            for text in _frequent_terms(reader, field):
                self.postings[field, text] = _read_postings(reader, field, text)

    def lengths(self, reader: IndexReader, field: str) -> np.ndarray:
        if field not in self._lengths:
            self._lengths[field] = field_lengths(reader, field)
        return self._lengths[field]


def _frequent_terms(reader: IndexReader, field: str) -> list[bytes]:
    if field not in reader.indexed_field_names():
        return []
    return [text for text, info in reader.iter_field(field) if info.doc_frequency() >= FREQUENT]


class Ranker:
    """Ranks term queries for one index version; segments' arrays carry over to the next version."""

    def __init__(self, searcher: Searcher, fields: Sequence[str], previous: Ranker | None = None) -> None:
        known = previous.segments if previous is not None else {}
        self.segments: dict[str, SegmentArrays] = {}
        for sub, _ in searcher.leaf_searchers():
            key = segment_key(sub.reader())
            self.segments[key] = known.get(key) or SegmentArrays(sub.reader(), fields)

    def rank(self, searcher: Searcher, q: wq.Query) -> Ranked | None:
        """Every match of `q` with Whoosh's score, or None if `q` is not made of terms, OR and AND
        (or the searcher does not score with BM25F)."""
        if type(searcher.weighting) is not BM25F:
            return None
        parts, holding = [], defaultdict(list)
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            segment = _Segment(sub, self.segments.get(segment_key(reader)) or SegmentArrays(reader, ()))
            node = segment.node(q)
            if node is None:
                return None
            docs, scores = node.evaluate()
            parts.append((docs + offset, scores))
            for name, found in segment.holding:
                holding[name].append(found + offset)
        if not parts:
            return Ranked(*_EMPTY)
        return Ranked(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                      dict(holding))


def segment_key(reader: IndexReader) -> str:
    segment = reader.segment()  # None for an empty index
    return f"{segment.segment_id() if segment is not None else ''}:{reader.doc_count_all()}"


class _Node:
    """Stands for the matcher Whoosh would build, so that Whoosh's own tree builders give the tree
    the same shape. Compares as Whoosh's matchers do (equal to, and "less" than, one of its class),
    since the weighted-tree builder sorts (weight, matcher) pairs and equal weights compare them."""

    __slots__ = ("evaluate", "kind")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, kind: type, evaluate: Callable[[], Matches]) -> None:
        self.kind = kind
        self.evaluate = evaluate

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Node) and other.kind is self.kind

    def __lt__(self, other: _Node) -> bool:
        return other.kind is self.kind


_NULL = _Node(NullMatcherClass, lambda: _EMPTY)


class _Segment:
    """One query on one segment: the matcher tree Whoosh would build, as `_Node`s, with each term
    looked up in the term dictionary once (Whoosh looks a term up again for every estimate)."""

    def __init__(self, searcher: Searcher, arrays: SegmentArrays) -> None:
        self.searcher, self.arrays = searcher, arrays
        self.reader = searcher.reader()
        self._infos: dict[tuple[str, bytes], Any] = {}
        self._deleted: np.ndarray | None = None
        self.holding: list[tuple[str, np.ndarray]] = []  # (field, documents) of each term evaluated

    def node(self, q: wq.Query) -> _Node | None:
        kind = type(q)
        if kind is wq.Term:
            return self._term(q)
        if q is wq.NullQuery:
            return _NULL
        if kind not in (wq.And, wq.Or) or getattr(q, "scale", None):
            return None
        subs = q.subqueries
        if len(subs) <= 1:  # Whoosh drops the compound (and its boost) around a single query
            return self.node(subs[0]) if subs else _NULL
        children = [self.node(sub) for sub in subs]
        known = [child for child in children if child is not None]
        return self._compound(kind, subs, known, q.boost) if len(known) == len(subs) else None

    def _compound(self, kind: type, subs: list[wq.Query], children: list[_Node], boost: float) -> _Node:
        """Whoosh's tree for AND (intersections, smallest first) or OR (unions, or in small segments
        one array matcher), weighted by the subqueries' estimated sizes as Whoosh weighs them."""
        if kind is wq.Or and not self._unions(len(subs)):
            return self._accumulated(children, boost)
        build, sign = (self._both, -1) if kind is wq.And else (self._either, 1)
        weighted = [(sign * self.estimate(sub), child) for sub, child in zip(subs, children, strict=True)]
        return _boosted(make_weighted_tree(build, weighted), boost)

    def _unions(self, clauses: int) -> bool:
        """Whether Whoosh ORs `clauses` queries with a tree of union matchers (as `wq.Or._matcher`)."""
        many = self.reader.doc_count_all() > SMALL_SEGMENT
        return clauses < wq.Or.TOO_MANY_CLAUSES and (clauses == 2 or many)

    def estimate(self, q: wq.Query) -> int:
        """`q.estimate_size(reader)`, from the looked-up terms."""
        if type(q) is wq.Term:
            info = self._info(q)
            return info.doc_frequency() if info is not None else 0
        if type(q) is wq.And:
            return min(self.estimate(sub) for sub in q.subqueries)
        if type(q) is wq.Or:
            return min(sum(self.estimate(sub) for sub in q.subqueries), self.reader.doc_count())
        return int(q.estimate_size(self.reader))

    def _info(self, q: wq.Term) -> Any:
        """The term's info in this segment, None if it has none (or cannot be a term of the field)."""
        field_name = q.fieldname
        if field_name not in self.searcher.schema or not isinstance(q.text, str):
            return None
        try:
            key = (field_name, self.searcher.schema[field_name].to_bytes(q.text))
        except ValueError:
            return None
        if key not in self._infos:
            try:
                self._infos[key] = self.reader.term_info(*key)
            except TermNotFound:
                self._infos[key] = None
        return self._infos[key]

    def _term(self, q: wq.Term) -> _Node | None:
        if not isinstance(q.text, str):
            return None
        info = self._info(q)
        if info is None:
            return _NULL
        field_name, text = q.fieldname, self.searcher.schema[q.fieldname].to_bytes(q.text)
        inlined = info.is_inlined()
        kind: type = ListMatcher if inlined else W3LeafMatcher
        if self.reader.has_deletions():
            kind = FilterMatcher
        return _boosted(_Node(kind, lambda: self._leaf(field_name, text, inlined)), q.boost)

    def _both(self, a: _Node, b: _Node) -> _Node:
        return _Node(IntersectionMatcher, lambda: _intersection(a.evaluate(), b.evaluate()))

    def _either(self, a: _Node, b: _Node) -> _Node:
        return _Node(UnionMatcher, lambda: _union(a.evaluate(), b.evaluate()))

    def _accumulated(self, children: list[_Node], boost: float) -> _Node:
        """Whoosh's array matcher (small segments): each child's score times the boost, added in the
        children's order; a document whose sum is not above zero does not match."""
        def evaluate() -> Matches:
            parts = [child.evaluate() for child in children]
            docs = np.unique(np.concatenate([p[0] for p in parts]))
            scores = np.zeros(len(docs))
            for part_docs, part_scores in parts:
                scores[np.searchsorted(docs, part_docs)] += part_scores * boost
            keep = scores > 0
            return docs[keep], scores[keep]
        return _Node(ArrayUnionMatcher, evaluate)

    def _leaf(self, field: str, text: bytes, inlined: bool) -> Matches:
        matches = self._scored(field, text, inlined)
        self.holding.append((field, matches[0]))
        return matches

    def _scored(self, field: str, text: bytes, inlined: bool) -> Matches:
        searcher, reader, weighting = self.searcher, self.reader, self.searcher.weighting
        if inlined:  # a term in one document: let Whoosh score it
            return _stepped(searcher.postings(field, text, weighting=weighting))
        ids, weights = self.arrays.postings.get((field, text)) or _read_postings(reader, field, text)
        if reader.has_deletions():
            keep = ~np.isin(ids, self.deleted())
            ids, weights = ids[keep], weights[keep]
        if not searcher.schema[field].scorable:  # BM25F then scores by the weight alone
            return ids, weights
        parent = searcher.get_parent()
        idf, avgfl = parent.idf(field, text), parent.avg_field_length(field) or 1
        b = weighting._field_B.get(field, weighting.B)
        return ids, _bm25(idf, weights, self.arrays.lengths(reader, field)[ids], avgfl, b, weighting.K1)

    def deleted(self) -> np.ndarray:
        if self._deleted is None:
            self._deleted = np.fromiter(self.reader.segment().deleted_docs(), dtype=np.int64)
        return self._deleted


def _holds(docs: np.ndarray, docnum: int) -> bool:
    at = int(np.searchsorted(docs, docnum))
    return at < len(docs) and int(docs[at]) == docnum


def _boosted(node: _Node, boost: float) -> _Node:
    if boost == 1.0:
        return node
    return _Node(WrappingMatcher, lambda: _scaled(node.evaluate(), boost))


def _scaled(matches: Matches, boost: float) -> Matches:
    return matches[0], matches[1] * boost


def _union(a: Matches, b: Matches) -> Matches:
    """Documents of either, the score of a shared one being the sum (a + b is b + a, to the bit)."""
    docs, scores = np.concatenate((a[0], b[0])), np.concatenate((a[1], b[1]))
    order = np.argsort(docs, kind="stable")  # two ascending runs: merged in one pass
    docs, scores = docs[order], scores[order]
    shared = docs[1:] == docs[:-1]  # the first of two equal neighbours takes the sum
    scores[:-1][shared] += scores[1:][shared]
    keep = np.ones(len(docs), dtype=bool)
    keep[1:][shared] = False
    return docs[keep], scores[keep]


def _intersection(a: Matches, b: Matches) -> Matches:
    docs, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return docs, a[1][ia] + b[1][ib]


def _bm25(idf: float, tf: np.ndarray, fl: np.ndarray, avgfl: float, b: float, k1: float) -> np.ndarray:
    """`whoosh.scoring.bm25` over arrays, operation for operation (so rounding is the same)."""
    result: np.ndarray = idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl / avgfl)))
    return result


def _stepped(matcher: Any, *, score: bool = True) -> Matches:
    """A matcher's documents and scores (or weights) the way Whoosh steps through them."""
    ids, scores = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        scores.append(matcher.score() if score else matcher.weight())
        matcher.next()
    return np.array(ids, dtype=np.int64), np.array(scores, dtype=np.float64)


def _read_postings(reader: IndexReader, field: str, text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The term's document numbers and weights in this segment, deleted documents included, a block
    of Whoosh's posting file at a time."""
    try:
        matcher = reader._terms.matcher(field, text, reader.schema[field].format)
    except (KeyError, TermNotFound):
        return _EMPTY
    if not isinstance(matcher, W3LeafMatcher):  # postings kept in the term dictionary
        return _stepped(matcher, score=False)
    ids_parts, weight_parts = [], []
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        block_ids, block_weights, _ = matcher._data
        ids_parts.append(np.cumsum(np.array(block_ids, dtype=np.int64)))
        weight_parts.append(_block_weights(block_weights, matcher._blocklength))
        matcher._next_block()
    if not ids_parts:
        return _EMPTY
    return np.concatenate(ids_parts), np.concatenate(weight_parts)


def _block_weights(weights: Any, count: int) -> np.ndarray:
    """As Whoosh expands a block's weights: none stored means 1.0 each, one number means that
    number (as a 32-bit float) each, otherwise the stored numbers."""
    if weights is None:
        return np.ones(count)
    if isinstance(weights, float):
        return np.full(count, np.float32(weights), dtype=np.float64)
    return np.array(weights, dtype=np.float64)


def field_lengths(reader: IndexReader, field: str) -> np.ndarray:
    """Every document's length of `field` as Whoosh's scorers see it (its one-byte encoding)."""
    count = reader.doc_count_all()
    column = reader._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
    if column is None:
        return np.ones(count)
    raw = np.zeros(count, dtype=np.uint8)
    stored = column._dbfile.get(column._basepos, min(column._count, count))
    raw[:len(stored)] = np.frombuffer(stored, dtype=np.uint8)
    return _LENGTHS[raw]
