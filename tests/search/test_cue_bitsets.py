"""Two words and two-word phrases answered from posting arrays (`cue_bitsets`, `cue_intersect`) on a
real cue index of several segments, one with deletions: the blocks, their order, their scores (to
the bit) and the pages of titles are Whoosh's own, also where the page fills up and Whoosh skips
blocks by quality and where the scoring stops at `SCORED_MOST`; and what is kept per segment
follows the index as titles come and go."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from server.search import cue_intersect
from server.search import cues as cue_module
from server.search.cue_bitsets import DenseTerms
from server.search.cue_intersect import FastMatchers
from server.search.cue_match import by_pairs
from server.search.cues import CueIndex, CueTracks

# A skewed vocabulary: a few words said in nearly every block, most in some, a few rarely.
WORDS = [f"w{i}" for i in range(40)]
WEIGHTS = [1 / (i + 1) for i in range(40)]
QUERIES = ["w0 w1", "w1 w7", "w3 w12", "w20 w2", "w30 w31", '"w0 w1"', '"w2 w5"', '"w9 w4"', '"w0 w0"',
           '"w25 w1"']


def speech(seed: int) -> CueTracks:
    """An hour of speech, a cue every 30 s. Three titles in ten say the common words often in short
    cues; the others say "w0 w1" once a minute in long cues: between the loud titles come posting
    blocks of both words that score lower, which Whoosh skips by quality once the page is full."""
    rng = random.Random(seed)
    loud = seed % 10 < 3

    def said(i: int) -> str:
        if loud:
            return " ".join(rng.choices(WORDS[:10], WEIGHTS[:10], k=rng.randint(2, 6)))
        common = ["w0", "w1"] if i % 2 == 0 else rng.choices(WORDS[2:10], k=1)
        return " ".join(common + rng.choices(WORDS[10:], k=rng.randint(15, 30)))
    return [("en", [(i * 30.0, i * 30.0 + 4, said(i)) for i in range(120)])]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 titles in three commits (three segments), then two titles deleted (one segment with
    deletions), in blocks of a minute (1,200 a segment: a common word's postings fill several of
    Whoosh's posting blocks). The tests only read it."""
    path = tmp_path_factory.mktemp("cues") / "cues"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cue_module, "BLOCK_S", 60.0)
        cues = CueIndex(path, loader)
        for batch in range(3):
            titles = range(batch * 20, (batch + 1) * 20)
            cues.apply([{"video_id": f"v{i}", "title": f"T{i}"} for i in titles], [])
        cues.apply([], ["v3", "v5"])
    return path


def loader(video_id: str) -> CueTracks:
    return speech(int(video_id[1:]))


def opened(path: Path) -> CueIndex:
    """The library's index with the dense words kept from one document on."""
    cues = CueIndex(path, loader)
    arrays_for_all(cues)
    return cues


def arrays_for_all(cues: CueIndex) -> None:
    cues._dense = DenseTerms(least=1)
    cues._fast = FastMatchers(cues._dense, cues._weighting.lengths)


def ranked(cues: CueIndex, searcher: Any, q: str, fast: FastMatchers | None) -> list[tuple[float, int]]:
    context = searcher.context(weighting=cues._weighting)
    return cue_module._ranked(searcher, by_pairs(cues._query(q)), context, fast)


@pytest.mark.parametrize(("hits", "most"), [(200, 5000), (15, 5000), (15, 150), (15, 400)])
def test_two_words_and_phrases_rank_the_same_blocks_with_the_same_scores_as_whoosh(
        library: Path, monkeypatch: pytest.MonkeyPatch, hits: int, most: int) -> None:
    monkeypatch.setattr(cue_module, "BLOCK_HITS", hits)  # a small page: Whoosh skips blocks by quality
    monkeypatch.setattr(cue_module, "SCORED_MOST", most)  # and stops scoring early
    cues = opened(library)
    with cues.ix.searcher() as searcher:
        assert len(searcher.leaf_searchers()) > 1
        assert any(sub.reader().has_deletions() for sub, _ in searcher.leaf_searchers())
        for q in QUERIES:
            whoosh, ours = ranked(cues, searcher, q, None), ranked(cues, searcher, q, cues._fast)
            assert ours == whoosh, q  # same blocks, same order, same floats
        assert len(ranked(cues, searcher, "w0 w1", None)) == min(hits, most)
        assert ranked(cues, searcher, '"w0 w1"', None)
        assert cues._dense.kept_bytes() > 0  # the arrays were used


def test_the_pages_of_titles_are_whooshs(library: Path) -> None:
    cues = opened(library)
    plain = CueIndex(library, loader)
    plain._fast = None
    with cues.ix.searcher() as searcher:
        for q in QUERIES:
            for page in ({}, {"offset": 20, "limit": 10}):
                assert cues.search(searcher, q, **page) == plain.search(searcher, q, **page), q


def test_what_is_kept_follows_the_index_as_titles_come_and_go(tmp_path: Path) -> None:
    said = {f"v{i}": speech(i) for i in range(10)}
    cues = CueIndex(tmp_path / "cues", said.__getitem__)
    arrays_for_all(cues)
    cues.apply([{"video_id": f"v{i}", "title": f"T{i}"} for i in range(10)], [])
    searcher = cues.ix.searcher()
    assert cues.search(searcher, "w0 w1")["total"] == 10
    first = cues._dense.kept_segments()
    assert first
    said["v99"] = [("en", [(1.0, 3.0, "zebra crossing w0 w1")])]
    cues.apply([{"video_id": "v99", "title": "New"}], [f"v{i}" for i in range(10)])
    cues.ix.optimize()  # one new segment: the old one, with its kept arrays, is gone
    searcher = searcher.refresh()
    hits = cues.search(searcher, "w0 w1")["hits"]
    assert [h["video_id"] for h in hits] == ["v99"]
    assert [h["video_id"] for h in cues.search(searcher, '"w0 w1"')["hits"]] == ["v99"]
    assert not cues._dense.kept_segments() & first
    searcher.close()


@pytest.mark.parametrize("q", ["w0 w1", "w2 w0", "w1 w7"])
def test_the_array_matcher_steps_as_whooshs_intersection(library: Path, q: str) -> None:
    cues = opened(library)
    with cues.ix.searcher() as searcher:
        plain = [sub for sub, _ in searcher.leaf_searchers() if not sub.reader().has_deletions()]
        assert plain
        seen = [0, 0, 0]
        for sub in plain:
            for every in (0, 7):  # step only; or every 7th step skip what cannot beat this block
                ours, whooshs = both_matchers(cues, sub, q)
                seen = [x + y for x, y in zip(seen, walk_alike(ours, whooshs, every), strict=True)]
        steps, blocks, skipped = seen
        assert steps > 100 and blocks > 0 and skipped > 0


def both_matchers(cues: CueIndex, sub: Any, q: str) -> tuple[Any, Any]:
    context = sub.context(weighting=cues._weighting)
    asked = cues._query(q)
    return cues._fast.matcher(asked, sub, context), asked.matcher(sub, context)


def walk_alike(ours: Any, whooshs: Any, every: int, lift: float = 1.0) -> tuple[int, int, int]:
    """Step both matchers to the end, comparing all a collector sees: (steps, new blocks entered
    by a step, blocks skipped: what cannot beat this block's quality times `lift`)."""
    steps = blocks = skipped = 0
    while whooshs.is_active():
        assert ours.is_active() and ours.id() == whooshs.id()
        assert ours.score() == whooshs.score() and ours.block_quality() == whooshs.block_quality()
        steps += 1
        if every and steps % every == 0:
            least = whooshs.block_quality() * lift
            count = whooshs.skip_to_quality(least)
            assert ours.skip_to_quality(least) == count
            skipped += count
        else:
            entered = bool(whooshs.next())  # True: its first word's postings entered a new block
            assert bool(ours.next()) == entered
            blocks += entered
    assert not ours.is_active()
    return steps, blocks, skipped


def test_the_search_service_reads_the_common_words_when_it_indexes_not_in_the_first_query(
        data, log, catalog, publish) -> None:
    from server.search.service import SearchService
    service = SearchService(data, log, catalog, cues=loader)
    assert service._cues is not None
    arrays_for_all(service._cues)
    for i in range(6):
        publish(f"v{i}", f"Title {i}")
    service.catch_up()
    warmed = service._cues.kept_bytes()
    assert warmed > 0                               # ready before anyone searched
    assert service.search_subtitles("w0 w1")["total"] == 6
    assert service._cues.kept_bytes() == warmed     # and the query had nothing left to read


# A word alone, and typo-tolerant words as `cues._fuzzy` makes them: the word as typed (often said
# nowhere) or'ed with the indexed words near it, boosted down. Whoosh answers an Or of three or more
# words with a tree of union matchers in a segment of over 5,000 documents (every segment at 10,000
# hours), with one array of all matches in a smaller one: here the tree, as there.
def typo_tolerant(typed: str, *near: str) -> Any:
    from whoosh import query as wq
    q = wq.Or([wq.Term("text", typed), *(wq.Term("text", w, boost=0.6) for w in near)])
    q.matcher_type = wq.Or.DEFAULT_MATCHER
    return q


def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ArrayLeaf` lists filled 32 postings at a time (4,096 by default, more than a word has in
    these segments), so that chunks begin inside posting blocks and skips land in unfilled ones."""
    monkeypatch.setattr(cue_intersect, "CHUNK_BITS", 5)
    monkeypatch.setattr(cue_intersect, "CHUNK_MASK", 31)


def word_queries() -> list[Any]:
    from whoosh import query as wq
    return [wq.Term("text", w) for w in ("w0", "w1", "w4", "w9", "w15")] + [
        typo_tolerant("w0x", "w0", "w1"), typo_tolerant("w1", "w2", "w3", "w12"),
        typo_tolerant("wq9", "w9", "w19", "w29"), typo_tolerant("w5", "w0"),
        typo_tolerant("nowhere", "w7", "w14", "w1", "w0", "w33")]


# A cap that falls after the page is full and blocks were skipped by quality: a word alone is
# collected by `collect_leaf`, which counts the runs of blocks that cannot make the page at once.
@pytest.mark.parametrize(("hits", "most"), [(200, 5000), (15, 5000), (15, 150), (15, 400), (15, 1000),
                                            (15, 1800)])
def test_words_and_typo_tolerant_words_rank_the_same_blocks_with_the_same_scores_as_whoosh(
        library: Path, monkeypatch: pytest.MonkeyPatch, hits: int, most: int) -> None:
    small_chunks(monkeypatch)
    monkeypatch.setattr(cue_module, "BLOCK_HITS", hits)
    monkeypatch.setattr(cue_module, "SCORED_MOST", most)
    cues = opened(library)
    with cues.ix.searcher() as searcher:
        context = searcher.context(weighting=cues._weighting)
        for q in word_queries():
            whoosh = cue_module._ranked(searcher, q, context, None)
            ours = cue_module._ranked(searcher, q, context, cues._fast)
            assert ours == whoosh, q  # same blocks, same order, same floats
            assert len(whoosh) == min(hits, most)
        plain = [sub for sub, _ in searcher.leaf_searchers() if not sub.reader().has_deletions()]
        assert all(cues._fast.matcher(q, sub, sub.context(weighting=cues._weighting)) is not None
                   for q in word_queries() for sub in plain)  # the arrays answered


# Skipping to just above the current block's quality: at exactly that quality Whoosh's union of a
# boosted word can loop for ever (its `aq + bq <= least` and a child's `aq <= least - bq` disagree in
# the last bit); the collector asks for the page's least score, below the block's.
@pytest.mark.parametrize("which", range(10))
def test_the_array_leaves_step_as_whooshs_word_and_union_matchers(library: Path, which: int,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    small_chunks(monkeypatch)
    cues = opened(library)
    q = word_queries()[which]
    with cues.ix.searcher() as searcher:
        seen = [0, 0, 0]
        for sub, _ in searcher.leaf_searchers():
            if sub.reader().has_deletions():
                continue
            for every in (0, 5):
                context = sub.context(weighting=cues._weighting)
                ours, whooshs = cues._fast.matcher(q, sub, context), q.matcher(sub, context)
                seen = [x + y for x, y in zip(seen, walk_alike(ours, whooshs, every, 1.01), strict=True)]
        steps, blocks, skipped = seen
        assert steps > 100 and skipped > 0
        assert blocks > 0 or len(q.subqueries) > 2  # Whoosh's union of 3+ words reports no new blocks


def test_words_not_kept_are_read_for_the_query_and_rank_as_whoosh(library: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing kept (the store full), a word in at least `read_least` blocks of a segment is
    read into arrays for the query: the same blocks, order and scores as Whoosh's, and no array is
    kept for it."""
    small_chunks(monkeypatch)
    monkeypatch.setattr(cue_module, "BLOCK_HITS", 15)
    monkeypatch.setattr(cue_module, "SCORED_MOST", 1800)
    cues = CueIndex(library, loader)
    cues._dense = DenseTerms(most_mb=0)
    cues._fast = FastMatchers(cues._dense, cues._weighting.lengths, read_least=100)
    with cues.ix.searcher() as searcher:
        context = searcher.context(weighting=cues._weighting)
        plain = [sub for sub, _ in searcher.leaf_searchers() if not sub.reader().has_deletions()]
        for q in word_queries():
            assert cue_module._ranked(searcher, q, context, cues._fast) == \
                cue_module._ranked(searcher, q, context, None), q
            assert all(type(cues._fast.matcher(q, sub, sub.context(weighting=cues._weighting))).__name__
                       != "W3LeafMatcher" for sub in plain), q  # read as arrays, not Whoosh's leaf
        assert cues.kept_bytes() == 0


def test_typo_tolerant_pages_of_titles_are_whooshs(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cues = opened(library)
    plain = CueIndex(library, loader)
    plain._fast = None
    with cues.ix.searcher() as searcher:
        for q in word_queries():
            monkeypatch.setattr(CueIndex, "_query", lambda self, text, q=q: q)
            for page in ({}, {"offset": 20, "limit": 10}):
                assert cues.search(searcher, "typed", **page) == plain.search(searcher, "typed", **page), q
