"""Whoosh's AND of two words (and the phrase check over it) on posting arrays, step for step.

`ArrayIntersection` stands in for Whoosh's `IntersectionMatcher` of two posting lists: the
documents both words share and their BM25F scores are found in a few array operations
(`cue_bitsets` keeps the arrays of the common words), and the matcher then moves as Whoosh's would
(same document after each call, same posting block, the same block-quality skipping and the same
answer to every question the collector asks), so the collector scores the same documents in the
same order and stops at the same one: the answers are Whoosh's, to the bit. `fast_matcher` swaps it
in where the query is two words or a two-word phrase in a segment without deletions; anything else
keeps Whoosh's own matcher. A word alone, or an Or of words (a typo-tolerant word), keeps Whoosh's
own union and boost matchers with each kept word's leaf replaced by an `ArrayLeaf`, which answers
as the leaf would from the arrays (its scores worked out at once, no posting block decoded).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import Matcher, NullMatcher, NullMatcherClass, ReadTooFar, UnionMatcher, WrappingMatcher
from whoosh.query.spans import SpanNear2, SpanWrappingMatcher
from whoosh.scoring import BM25FScorer
from whoosh.searching import Searcher
from whoosh.util import make_weighted_tree

from server.search.cue_bitsets import DenseTerms, TermArrays
from server.search.ranking import _bm25

CHUNK_BITS = 12  # an `ArrayLeaf` turns its arrays into lists 4,096 postings at a time
CHUNK_MASK = (1 << CHUNK_BITS) - 1
# A word not kept but in at least this many blocks of a segment is read into arrays for the query:
# decoding its posting blocks (~100 µs a block of 128) is meant to cost less than Whoosh's scoring of
# its documents one by one in Python (up to `cues.SCORED_MOST`); measured at 10,000 h, the two are
# within the machine's noise (docs/BENCHMARKS.md), the answers the same.
READ_LEAST = 1024
Lengths = Callable[[Any, str], np.ndarray]  # (segment reader, field) -> each document's field length


class _Side:
    """One word's postings as the intersection walks them: ids, blocks and block qualities."""

    def __init__(self, arrays: TermArrays, leaf: W3LeafMatcher) -> None:
        scorer = leaf.scorer
        self.leaf, self.arrays = leaf, arrays
        self.ids = arrays.doc_ids()
        self.weights = arrays.weight_array()
        self.n = len(self.ids)
        self.ends = arrays.block_ends
        self.quality = _bm25(scorer.idf, arrays.block_weight, arrays.block_length, scorer.avgfl,
                             scorer.B, scorer.K1)
        self.max_quality: float = scorer.max_quality()

    def block_of(self, posting: int) -> int:
        return int(np.searchsorted(self.ends, posting, side="right"))

    def quality_at(self, posting: int) -> float:
        return float(self.quality[self.block_of(posting)])

    def skip_quality(self, posting: int, least: float) -> tuple[int, int]:
        """Whoosh's leaf `skip_to_quality`: (blocks skipped, new posting) — to the start of the next
        block whose quality is above `least`, or past the end."""
        block = self.block_of(posting)
        if self.quality[block] > least:
            return 0, posting
        better = np.flatnonzero(self.quality[block + 1:] > least)
        if not better.size:
            return len(self.ends) - block, self.n
        to = block + 1 + int(better[0])
        return to - block, int(self.ends[to - 1])


class ArrayIntersection(Matcher):
    """Whoosh's `IntersectionMatcher(a, b)` of two leaf matchers, on arrays (see the module)."""

    def __init__(self, a: _Side, b: _Side, lengths: np.ndarray) -> None:
        self.a, self.b = a, b
        self.docs, self.ia, self.ib = np.intersect1d(a.ids, b.ids, assume_unique=True, return_indices=True)
        fl = lengths[self.docs]
        self.scores = (_side_scores(a, self.ia, fl) + _side_scores(b, self.ib, fl)).tolist()
        self.block_a = np.searchsorted(a.ends, self.ia, side="right")
        self.k = 0
        self.doc_list: list[int] = self.docs.tolist()
        after = self.ia + 1  # what `next` does at each shared document, worked out for all at once
        self._crossed: list[bool] = (after == a.ends[self.block_a]).tolist()
        following = np.arange(1, len(self.docs) + 1)
        self._next: list[int] = np.where(after >= a.n, len(self.docs), following).tolist()

    def is_active(self) -> bool:
        return self.k < len(self.docs)

    def id(self) -> int:
        return int(self.docs[self.k])

    def score(self) -> float:
        score: float = self.scores[self.k]
        return score

    def supports_block_quality(self) -> bool:
        return True

    def max_quality(self) -> float:
        return 0.0 + self.a.max_quality + self.b.max_quality

    def block_quality(self) -> float:
        return 0.0 + self.a.quality_at(int(self.ia[self.k])) + self.b.quality_at(int(self.ib[self.k]))

    def next(self) -> bool | None:
        """Step `a` to its next posting (True if that starts a block), then both to the next shared
        document."""
        return self.step()

    def step(self) -> bool | None:
        k = self.k
        self.k = self._next[k]
        return self._crossed[k] if self.k < len(self.doc_list) else None

    def skip_to(self, docnum: int) -> None:
        if self.is_active() and docnum > self.id():
            self.k = int(np.searchsorted(self.docs, docnum))

    def skip_to_quality(self, minquality: float) -> int:
        """Whoosh's: while the two current blocks together cannot beat `minquality`, skip the blocks
        of the weaker word, then meet again at a shared document."""
        a, b = self.a, self.b
        pa, pb = int(self.ia[self.k]), int(self.ib[self.k])
        aq, bq = a.quality_at(pa), b.quality_at(pb)
        skipped = 0
        while aq + bq <= minquality:
            if aq < bq:
                count, pa = a.skip_quality(pa, minquality - bq)
                pa += 1 if not count and pa < a.n else 0
            else:
                count, pb = b.skip_quality(pb, minquality - aq)
                pb += 1 if not count and pb < b.n else 0
            skipped += count
            if pa >= a.n or pb >= b.n:
                self.k = len(self.docs)
                break
            self.k = int(np.searchsorted(self.docs, max(a.ids[pa], b.ids[pb])))
            if not self.is_active():
                break
            pa, pb = int(self.ia[self.k]), int(self.ib[self.k])
            aq, bq = a.quality_at(pa), b.quality_at(pb)
        return skipped

    def replace(self, minquality: float = 0) -> Matcher:
        """Whoosh's: nothing left when the two words together cannot reach `minquality`; one word
        alone (its real matcher, moved here) where Whoosh's float comparison drops the other."""
        if not self.is_active():
            return NullMatcher()
        if not minquality:
            return self
        a_max, b_max = self.a.max_quality, self.b.max_quality
        if a_max + b_max < minquality:
            return NullMatcher()
        a_min, b_min = minquality - b_max, minquality - a_max
        a_gone, b_gone = bool(a_min and a_max < a_min), bool(b_min and b_max < b_min)
        if a_gone and b_gone:
            return NullMatcher()
        if a_gone or b_gone:
            leaf = self.b.leaf if a_gone else self.a.leaf
            leaf.skip_to(self.id())
            return leaf
        return self

    def copy(self) -> Matcher:
        raise NotImplementedError("ArrayIntersection is used once, by one collector")


class ArrayLeaf(Matcher):
    """Whoosh's leaf matcher of one word in one segment (`W3LeafMatcher`), on the word's kept
    arrays: the same documents, scores (to the bit), posting blocks, block qualities and skips, so
    a word alone, or in an Or of words (Whoosh's own union matchers over these leaves), is collected
    as Whoosh would, without decoding a posting block or scoring a document in Python."""

    def __init__(self, side: _Side, lengths: np.ndarray) -> None:
        self.side, self.p, self._lengths = side, 0, lengths
        # Per posting, as lists (a list item is read faster than an array's), filled a chunk at a
        # time as the matcher gets there: a word said in every block has 120,000 postings at 10,000
        # hours, of which a query scores at most `cues.SCORED_MOST`.
        self.doc_list: list[int] = [None] * side.n  # type: ignore[list-item]
        self.scores: list[float] = [None] * side.n  # type: ignore[list-item]
        self._crossed: list[bool] = [None] * side.n  # type: ignore[list-item]  # `next` leaves the block
        self._block_of: list[int] = [None] * side.n  # type: ignore[list-item]
        self._filled = bytearray((side.n >> CHUNK_BITS) + 1)
        self._quality: list[float] = side.quality.tolist()
        self.ensure(0)

    def ensure_range(self, first: int, end: int) -> None:
        """Fill every chunk of the lists holding postings `first` to `end` - 1."""
        for chunk in range(first >> CHUNK_BITS, ((end - 1) >> CHUNK_BITS) + 1):
            self.ensure(chunk << CHUNK_BITS)

    def ensure(self, posting: int) -> None:
        """Fill the lists' chunk holding `posting` (if it is one) unless it is filled."""
        chunk = posting >> CHUNK_BITS
        if posting < self.side.n and not self._filled[chunk]:
            side = self.side
            first = chunk << CHUNK_BITS
            postings = np.arange(first, min(side.n, first + (1 << CHUNK_BITS)))
            ids = side.ids[postings]
            blocks = np.searchsorted(side.ends, postings, side="right")
            part = slice(first, first + len(postings))
            self.doc_list[part] = ids.tolist()
            self.scores[part] = _side_scores(side, postings, self._lengths[ids]).tolist()
            self._crossed[part] = (postings + 1 == side.ends[blocks]).tolist()
            self._block_of[part] = blocks.tolist()
            self._filled[chunk] = 1

    def is_active(self) -> bool:
        return self.p < self.side.n

    def id(self) -> int:
        return self.doc_list[self.p]

    def term(self) -> Any:
        return self.side.leaf.term()

    def weight(self) -> float:
        return float(self.side.weights[self.p])

    def score(self) -> float:
        return self.scores[self.p]

    def supports_block_quality(self) -> bool:
        return bool(self.side.leaf.supports_block_quality())

    def max_quality(self) -> float:
        return self.side.max_quality

    def block_quality(self) -> float:
        """The current block's; past the end, the last block's (as Whoosh's leaf, which a union
        asks once after a skip took it to the end)."""
        return self._quality[self._block_of[self.p]] if self.p < self.side.n else self._quality[-1]

    def next(self) -> bool:
        """To the next posting: True when that leaves the posting block (or the postings)."""
        p = self.p
        self.p = p + 1
        if not (p + 1) & CHUNK_MASK:
            self.ensure(p + 1)
        return self._crossed[p]

    def skip_to(self, docnum: int) -> None:
        if not self.is_active():
            raise ReadTooFar
        if docnum > self.doc_list[self.p]:
            self.p = int(np.searchsorted(self.side.ids, docnum))
            self.ensure(self.p)

    def skip_to_quality(self, minquality: float) -> int:
        """Whoosh's: skip whole blocks while theirs is not above `minquality`; how many skipped."""
        if not self.is_active() or self._quality[self._block_of[self.p]] > minquality:
            return 0
        count, self.p = self.side.skip_quality(self.p, minquality)
        self.ensure(self.p)
        return count

    def copy(self) -> Matcher:
        raise NotImplementedError("ArrayLeaf is used once, by one collector")


def collect_all(collector: Any, matcher: Matcher) -> None:
    """Whoosh's `ScoredCollector.matches` loop and its `collect`, step for step (the same matcher
    replacement every `collector.replace` matches or when the page's least score rises, the same
    block-quality skipping), with an `ArrayIntersection`'s steps taken from lists: the documents a
    collector scores, and their order, are Whoosh's. A word alone goes to `collect_leaf`."""
    if type(matcher) is ArrayLeaf:
        collect_leaf(collector, matcher)
        return
    minscore = collector.minscore
    usequality = collector._use_block_quality()
    countdown = 0
    checkquality: bool | None = True
    while matcher.is_active():
        if countdown == 0 or collector.minscore != minscore:
            collector.matcher = matcher = matcher.replace(minscore or 0)
            collector.replaced_times += 1
            if not matcher.is_active():
                break
            usequality = collector._use_block_quality()
            countdown = collector.replace
            if collector.minscore != minscore:
                checkquality, minscore = True, collector.minscore
        countdown -= 1
        if usequality and checkquality and minscore is not None:
            collector.skipped_times += matcher.skip_to_quality(minscore)
            if not matcher.is_active():
                break
        if type(matcher) is ArrayIntersection:
            collector._collect(collector.offset + matcher.doc_list[matcher.k], matcher.scores[matcher.k])
            checkquality = matcher.step()
        elif type(matcher) is ArrayLeaf:
            collector._collect(collector.offset + matcher.doc_list[matcher.p], matcher.scores[matcher.p])
            checkquality = matcher.next()
        else:
            collector.collect(matcher.id())
            checkquality = matcher.next()


def collect_leaf(collector: Any, leaf: ArrayLeaf) -> None:
    """`collect_all` for a word alone: the same documents collected in the same order, but once the
    page is full, a run of documents of one posting block that cannot enter it (not above its least
    score: Whoosh's collector only counts them) is found by a plain scan and counted at once
    (`collector.count_unranked`), not collected one by one. A leaf's `replace` is itself, so the
    loop is Whoosh's without it. (Three common words at 10,000 h: 16.5 -> 14.1 ms a query in one
    cProfile; the alternated A/B in docs/BENCHMARKS.md shows no gain beyond the machine's noise.)"""
    scores, docs, crossed, block_of = leaf.scores, leaf.doc_list, leaf._crossed, leaf._block_of
    ends: list[int] = leaf.side.ends.tolist()
    items, limit, offset, n = collector.items, collector.limit, collector.offset, leaf.side.n
    usequality = collector._use_block_quality()
    minscore, checkquality, p = collector.minscore, True, leaf.p
    while p < n:
        if collector.minscore != minscore:
            checkquality, minscore = True, collector.minscore
        if usequality and checkquality and minscore is not None:
            leaf.p = p
            collector.skipped_times += leaf.skip_to_quality(minscore)
            p = leaf.p
            if p >= n:
                break
        if len(items) >= limit:
            least, end, q = items[0][0], ends[block_of[p]], p
            leaf.ensure_range(p, end)
            while q < end and scores[q] <= least:
                q += 1
            if q > p:
                leaf.p = q
                collector.count_unranked(q - p)
                checkquality, p = crossed[q - 1], q
                leaf.ensure(p)
                continue
        collector._collect(offset + docs[p], scores[p])
        checkquality = crossed[p]
        p += 1
        if not p & CHUNK_MASK:
            leaf.ensure(p)
    leaf.p = p


def _side_scores(side: _Side, postings: np.ndarray, fl: np.ndarray) -> np.ndarray:
    scorer = side.leaf.scorer
    return _bm25(scorer.idf, side.weights[postings], fl, scorer.avgfl, scorer.B, scorer.K1)


class ArrayPhrase(SpanNear2.SpanNear2Matcher):
    """Whoosh's two-word phrase matcher over an `ArrayIntersection`: which shared documents say the
    two words one after the other is found from the position arrays at once, and the matcher moves
    from one such document to the next as Whoosh's span check does."""

    def __init__(self, child: ArrayIntersection, said: np.ndarray) -> None:
        self.ms, self.slop, self.ordered, self.mindist = [child.a.leaf, child.b.leaf], 1, True, 1
        self._said = np.flatnonzero(said)
        SpanWrappingMatcher.__init__(self, child)

    def _find_next(self) -> None:
        child = self.child
        if child.is_active():
            at = int(np.searchsorted(self._said, child.k))
            child.k = int(self._said[at]) if at < len(self._said) else len(child.docs)


def phrase_said(child: ArrayIntersection) -> np.ndarray | None:
    """For each shared document, whether the second word follows the first somewhere in it (what
    Whoosh's ordered span check with slop 1 finds); None when a word's positions are not kept."""
    first = child.a.arrays.positions_of(child.ia)
    second = child.b.arrays.positions_of(child.ib)
    if first is None or second is None:
        return None
    wide = np.int64(1 << 32)
    hit = np.isin(first[0] * wide + first[1] + 1, second[0] * wide + second[1])
    said = np.zeros(len(child.docs), dtype=bool)
    said[first[0][hit]] = True
    return said


def _and_order(q: wq.And, searcher: Searcher, context: Any) -> list[Any]:
    """The two term matchers of an AND in the order Whoosh's `And` pairs them (its weighted tree,
    the larger first), without building its intersection (which walks to the first shared block)."""
    reader = searcher.reader()
    weighted = [(0 - sub.estimate_size(reader), sub.matcher(searcher, context)) for sub in q.subqueries]
    pair: tuple[Any, Any] = make_weighted_tree(lambda a, b: (a, b), weighted)
    return list(pair)


def _words(q: wq.Query) -> bool:
    """Whether `q` is a word, or an Or of words (a typo-tolerant word): Whoosh's matcher of it is a
    leaf, or a tree of union (and boost) matchers over leaves."""
    if type(q) is wq.Term:
        return not q.minquality
    return type(q) is wq.Or and q.boost == 1.0 and all(type(s) is wq.Term and not s.minquality
                                                       for s in q.subqueries)


class FastMatchers:
    """Builds the array matchers for a segment, when the query and the segment allow it."""

    def __init__(self, dense: DenseTerms, lengths: Lengths, read_least: int | None = READ_LEAST) -> None:
        self._dense, self._lengths, self.read_least = dense, lengths, read_least

    def matcher(self, q: wq.Query, searcher: Searcher, context: Any) -> Matcher | None:
        """The array matcher for `q` in the one-segment `searcher`, or None (ask Whoosh)."""
        if searcher.reader().has_deletions():
            return None
        if isinstance(q, wq.Phrase) and len(q.words) == 2 and q.boost == 1.0 and q.slop == 1:
            return self._phrase(q, searcher, context)
        if isinstance(q, wq.And) and len(q.subqueries) == 2 and q.boost == 1.0 \
                and all(isinstance(s, wq.Term) and s.boost == 1.0 for s in q.subqueries):
            return self._intersection(searcher, _and_order(q, searcher, context))
        if _words(q):
            return self._leaves(q.matcher(searcher, context), searcher.reader())
        return None

    def _leaves(self, m: Matcher, reader: Any) -> Matcher:
        """Whoosh's matcher of a word or an Or of words (its union and boost matchers kept) with each
        leaf whose word has arrays (`DenseTerms.leaf_arrays`) replaced by an `ArrayLeaf` (fresh, at
        its first posting, as the leaf it replaces). With none replaced it is Whoosh's own matcher,
        returned rather than built a second time by the collector (a term lookup and a first block
        read per segment)."""
        if type(m) is UnionMatcher:
            m.a, m.b = self._leaves(m.a, reader), self._leaves(m.b, reader)
        elif type(m) is WrappingMatcher:
            m.child = self._leaves(m.child, reader)
        elif type(m) is W3LeafMatcher and type(m.scorer) is BM25FScorer:
            arrays = self._dense.leaf_arrays(reader, m._term[0], m._term[1], read_least=self.read_least)
            if arrays is not None:
                return ArrayLeaf(_Side(arrays, m), self._lengths(reader, m._term[0]))
        return m

    def _phrase(self, q: wq.Phrase, searcher: Searcher, context: Any) -> Matcher | None:
        leaves = [wq.Term(q.fieldname, word).matcher(searcher, context) for word in q.words]
        if any(isinstance(leaf, NullMatcherClass) for leaf in leaves):
            return None
        child = self._intersection(searcher, leaves, positions=True)
        said = phrase_said(child) if child is not None else None
        return ArrayPhrase(child, said) if child is not None and said is not None else None

    def _intersection(self, searcher: Searcher, leaves: list[Any], *, positions: bool = False
                      ) -> ArrayIntersection | None:
        if not all(type(leaf) is W3LeafMatcher and type(leaf.scorer) is BM25FScorer for leaf in leaves):
            return None
        reader = searcher.reader()
        sides = []
        for leaf in leaves:
            arrays = self._dense.arrays(reader, leaf._term[0], leaf._term[1], positions=positions)
            if arrays is None:
                return None
            sides.append(_Side(arrays, leaf))
        return ArrayIntersection(sides[0], sides[1], self._lengths(reader, leaves[0]._term[0]))
