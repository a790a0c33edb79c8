"""Search inside what is said: the cues of every published title's text tracks in a Whoosh index
of their own, answered as titles with the moments that match (`12:04 "…the bridge at dawn…"`).

One document per block of `BLOCK_S` seconds of a track (its words, its word pairs, and its cues
stored as (start, end, text)), not one per cue: 10,000 hours of speech are 120,000 blocks instead of
7 million cues, so Whoosh's posting lists stay short and a query costs about the same at any library
size. Whoosh ranks the blocks; the moments are found (`cue_match.moments`) only in the blocks of the
page of titles shown. Words are lower-cased but not stemmed or stop-listed, so a quoted phrase
matches what was said word for word (through its word pairs; also across two cues of one block);
typos are tolerated as in title search, from an in-memory word list (`fuzzy.Lexicon`), when the exact
query finds nothing. A word, a typo-tolerant word (an Or of words), two words, or a phrase of two,
are matched on posting arrays (`cue_intersect`, the common words' arrays kept per segment by
`cue_bitsets`) that step as Whoosh's matchers would, so the answers are Whoosh's at a fraction of
its walk. The index is written only by the search
service's consumer (one writer), from `subs/tracks.json` in the origin, and rebuilt from the catalog
when it is missing, damaged or of an earlier format (`INDEX_NAME` carries the format).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh import query as wq
from whoosh.collectors import TopCollector
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.index import Index
from whoosh.qparser import AndGroup, QueryParser, QueryParserError
from whoosh.searching import Searcher
from whoosh.writing import LockError

from server.errors import Conflict, InvalidRequest, NotFound
from server.media.text_tracks import TRACKS_FILE, load_tracks
from server.search import whoosh_buffers, whoosh_union  # noqa: F401  (fixes of Whoosh: no copy of a segment, no union loop)
from server.search.cue_bitsets import DenseTerms
from server.search.cue_intersect import FastMatchers, collect_all
from server.search.cue_match import (
    FIELD,
    Cue,
    Moment,
    asked_words,
    by_pairs,
    clock,
    moment,
    pairs_analyzer,
    spans,
    words_analyzer,
)
from server.search.cue_scoring import KeptLengthsBM25F, VideoIds
from server.search.cue_typos import Typos
from server.search.index import BUSY, BUSY_HINT, LOCK_WAIT_S, UniqueSegments, _abandon
from server.search.ranking import segment_key
from server.storage.blobstore import BlobStore, title_prefix

__all__ = ["BLOCK_S", "INDEX_NAME", "CueIndex", "CueLoader", "CueTracks", "Moment", "clock", "origin_cues"]

INDEX_NAME = "cues_v2"  # the format: an index under another name (v1: one document per cue) is remade
BLOCK_S = 300.0  # one document per 5 minutes of a track: ~60 cues, a few hundred words
MOMENTS_PER_TITLE = 5
MOMENT_BLOCKS = 2  # a title's best blocks read for its moments: a page reads at most 40 blocks
BLOCK_HITS = 200  # blocks ranked before grouping by title: enough for a page of titles with moments
TYPO_WORDS = 8  # indexed words a misspelt word may stand for, the commonest first
# Blocks scored at most per query, in index order: a word said everywhere (a block in every 5 minutes
# of 10,000 hours is 120,000 postings, scored in pure Python) costs as much as one said in 2% of them.
SCORED_MOST = 5000

# (language, cues as (start, end, text)) of one title's tracks; raises if the title's files are unreachable
CueTracks = list[tuple[str, list[Cue]]]
CueLoader = Callable[[str], CueTracks]


def make_schema() -> Schema:
    return Schema(video_id=ID(stored=True, sortable=True), title=STORED(), language=STORED(), cues=STORED(),
                  text=TEXT(analyzer=words_analyzer(), phrase=True),
                  pairs=TEXT(analyzer=pairs_analyzer(), phrase=False))


def open_cue_index(path: Path) -> tuple[Index, bool]:
    """The cue index at `path`, or a new empty one if missing, unreadable or of another format
    (an earlier build's one-document-per-cue index): (index, created)."""
    with contextlib.suppress(Exception):
        ix = windex.open_dir(str(path), indexname=INDEX_NAME)
        if set(ix.schema.names()) == set(make_schema().names()):
            with ix.searcher() as searcher:
                searcher.doc_count()
            return ix, False
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return windex.create_in(str(path), make_schema(), indexname=INDEX_NAME), True


def blocks(cues: Iterable[Cue]) -> Iterator[list[Cue]]:
    """The cues of a track cut into runs of `BLOCK_S` seconds (by start time), in time order."""
    run: list[Cue] = []
    for cue in sorted(cues):
        if run and cue[0] // BLOCK_S != run[0][0] // BLOCK_S:
            yield run
            run = []
        run.append(cue)
    if run:
        yield run


class CueIndex:
    """Writes (from the one consumer) and answers (any thread, its own searcher) the cue index."""

    def __init__(self, path: Path, loader: CueLoader) -> None:
        self.path, self.loader = path, loader
        self.ix, self.created = open_cue_index(path)
        self._parser = QueryParser(FIELD, make_schema(), group=AndGroup)
        self._cache: tuple[int, Typos] | None = None
        self._weighting, self._ids = KeptLengthsBM25F(), VideoIds()
        self._dense = DenseTerms()
        self._fast = FastMatchers(self._dense, self._weighting.lengths)
        self._retained: int | None = None

    def apply(self, upserts: Iterable[dict[str, Any]], deletions: Iterable[str]) -> None:
        """Replace the cues of each upserted title (a title dict) and drop those of `deletions`, in
        one commit; the cues are read before the writer opens, so a failed read changes nothing."""
        documents = {t["video_id"]: list(self._documents(t)) for t in upserts}
        writer = self._writer()
        try:
            for video_id in [*deletions, *documents]:
                writer.delete_by_term("video_id", video_id)
            for docs in documents.values():
                for doc in docs:
                    writer.add_document(**doc)
            writer.commit()
        except BaseException:
            _abandon(writer)
            raise

    def fill(self, titles: Iterable[dict[str, Any]]) -> None:
        """Index every title into a new, empty index in one commit, reading each title's cues in
        turn: a library's cues (7 million at 10,000 hours) are never all in memory at once. If a
        read fails, nothing is committed."""
        writer = self._writer()
        try:
            for title in titles:
                for doc in self._documents(title):
                    writer.add_document(**doc)
            writer.commit()
        except BaseException:
            _abandon(writer)
            raise

    def _writer(self) -> Any:
        try:
            return self.ix.writer(timeout=LOCK_WAIT_S, codec=UniqueSegments(), limitmb=256)
        except LockError as exc:
            raise Conflict(BUSY, hint=BUSY_HINT) from exc

    def _documents(self, title: dict[str, Any]) -> Iterable[dict[str, Any]]:
        for language, cues in self.loader(title["video_id"]):
            for run in blocks((float(s), float(e), str(t)) for s, e, t in cues):
                said = " ".join(cue[2] for cue in run)
                yield {"video_id": title["video_id"], "title": title.get("title", ""), "language": language,
                       "cues": run, "text": said, "pairs": said}

    def search(self, searcher: Searcher, q: str, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """Titles whose cues match `q`, best first, each with its matching moments in time order."""
        if not q.strip():
            raise InvalidRequest("Say what to look for in the subtitles.", hint='e.g. "bridge at dawn"')
        asked = self._query(q)
        self._retain(searcher)
        context = searcher.context(weighting=self._weighting)
        top = _ranked(searcher, by_pairs(asked), context, self._fast)
        if not top:
            asked = self._fuzzy(asked, searcher)
            top = _ranked(searcher, by_pairs(asked), context, self._fast)
        hits, total = _group(searcher, top, asked, offset, limit, self._ids.of(searcher))
        return {"hits": hits, "total": total}

    def warm(self, searcher: Searcher) -> int:
        """Read the posting arrays of the words said in many blocks, segment by segment, so that
        the first queries naming them need not (seconds at 10,000 hours). Returns the words kept."""
        kept = self._dense.kept_segments()  # warmed before: an index change adds or merges segments
        if self._dense.full():
            return 0
        return sum(self._dense.warm(reader, FIELD) for reader, _ in _segments(searcher)
                   if segment_key(reader) not in kept)

    def kept_bytes(self) -> int:
        """The bytes of posting arrays kept for the common words (at most `cue_bitsets.DENSE_MB`)."""
        return self._dense.kept_bytes()

    def _query(self, q: str) -> wq.Query:
        try:
            parsed: wq.Query = self._parser.parse(q)
        except QueryParserError as exc:
            raise InvalidRequest(f"Cannot understand the search {q!r}: {exc}.") from exc
        return parsed

    def _fuzzy(self, asked: wq.Query, searcher: Searcher) -> wq.Query:
        typos = self._typos(searcher)
        return asked.accept(lambda node: _fuzzy(node, typos))

    def _retain(self, searcher: Searcher) -> None:
        """Drop the kept arrays of segments this index version no longer has (once per version)."""
        version = searcher.reader().generation()
        if version != self._retained:
            self._dense.retain({segment_key(reader) for reader, _ in _segments(searcher)})
            self._retained = version

    def _typos(self, searcher: Searcher) -> Typos:
        version = searcher.reader().generation()
        if self._cache is None or self._cache[0] != version:
            self._cache = (version, Typos(searcher.reader(), FIELD))
        return self._cache[1]


def _segments(searcher: Searcher) -> list[tuple[Any, int]]:
    """The one-segment readers of the searcher and their document offsets."""
    return [(sub.reader(), offset) for sub, offset in searcher.leaf_searchers()]


def _fuzzy(node: wq.Query, typos: Typos) -> wq.Query:
    """A word of 4+ letters also matches the `TYPO_WORDS` commonest indexed words 1 edit away (2 from
    6 letters, when none is 1 away); a phrase with a typo: all its words, in any order, in one cue."""
    text = node.text if isinstance(node, wq.Term) and node.fieldname == FIELD else None
    if isinstance(text, str) and len(text) >= 4:
        near = typos.near(text, 1 if len(text) < 6 else 2, TYPO_WORDS)
        return wq.Or([node, *(wq.Term(FIELD, w, boost=0.6) for w in near)]) if near else node
    if isinstance(node, wq.Phrase):
        return wq.And([_fuzzy(wq.Term(FIELD, w), typos) for w in node.words])
    return node


class _Enough(Exception):
    """Raised by `_FirstScored` once it has scored `SCORED_MOST` blocks."""


class _FirstScored(TopCollector):
    """Whoosh's top-N collector (with its block-quality skipping) that stops after scoring `most`
    matching blocks: the best `BLOCK_HITS` among the first `most` in index order."""

    def __init__(self, most: int, fast: FastMatchers | None = None) -> None:
        super().__init__(limit=BLOCK_HITS)
        self._left, self._fast = most, fast
        self._arrays = False  # this segment's matcher walks kept arrays (`FastMatchers`)

    def set_subsearcher(self, subsearcher: Searcher, offset: int) -> None:
        """Whoosh's, with the array matcher of a word, an Or of words, two words or a phrase where
        it applies."""
        self.subsearcher, self.offset = subsearcher, offset
        fast = self._fast.matcher(self.q, subsearcher, self.context) if self._fast else None
        self.matcher = fast if fast is not None else self.q.matcher(subsearcher, self.context)
        self._arrays = fast is not None

    def collect_matches(self) -> None:
        if self._arrays and not self.final_fn:
            collect_all(self, self.matcher)  # Whoosh's loop, faster over the arrays
        else:
            super().collect_matches()

    def _collect(self, global_docnum: int, score: float) -> Any:
        self._left -= 1
        if self._left < 0:
            raise _Enough
        return super()._collect(global_docnum, score)

    def count_unranked(self, count: int) -> None:
        """`count` more blocks scored that do not make the full page: what `_collect` does with each
        (counted, the page unchanged), at once."""
        self._left -= count
        if self._left < 0:
            raise _Enough
        self.total += count


def _ranked(searcher: Searcher, asked: wq.Query, context: Any, fast: FastMatchers | None = None
            ) -> list[tuple[float, int]]:
    """(score, block) of the best `BLOCK_HITS` blocks, from at most `SCORED_MOST` scored."""
    collector = _FirstScored(SCORED_MOST, fast)
    with contextlib.suppress(_Enough):
        searcher.search_with_collector(asked, collector, context)
    top: list[tuple[float, int]] = collector.results().top_n
    return top


def _group(searcher: Searcher, top: list[tuple[float, int]], asked: wq.Query, offset: int, limit: int,
           ids: Callable[[int], str]) -> tuple[list[dict[str, Any]], int]:
    """A page of the ranked blocks grouped by title (titles by their best block's rank) and how many
    titles they came from. Titles are told apart by `ids` (the `video_id` column, an array lookup per
    block); the stored cues are read, and searched for moments, only for the page's titles."""
    titles: dict[str, tuple[float, list[int]]] = {}
    for score, docnum in top:
        found = titles.setdefault(ids(docnum), (float(score or 0), []))[1]
        if len(found) < MOMENT_BLOCKS:
            found.append(docnum)
    marked = asked_words(asked)
    page = []
    for video_id, (score, docnums) in list(titles.items())[offset:offset + limit]:
        title, said = _title_moments(searcher, docnums, asked, marked)
        page.append({"video_id": video_id, "title": title, "score": round(score, 4),
                     "moments": [m.to_dict() for m in said]})
    return page, len(titles)


def _title_moments(searcher: Searcher, docnums: list[int], asked: wq.Query, marked: frozenset[str]
                   ) -> tuple[str, list[Moment]]:
    """A title's name and up to `MOMENTS_PER_TITLE` moments, in time order, from its best
    `MOMENT_BLOCKS` blocks (the second one read only while moments are missing)."""
    chosen: list[tuple[list[Cue], str]] = []
    title = ""
    for docnum in docnums:
        block = searcher.stored_fields(docnum)
        title = title or block["title"]
        cues = block["cues"]
        places = spans(cues, asked, marked, MOMENTS_PER_TITLE - len(chosen))
        chosen += [(cues[first:last + 1], block["language"]) for first, last in places]
        if len(chosen) >= MOMENTS_PER_TITLE:
            break
    said = [moment(run, language, marked) for run, language in chosen[:MOMENTS_PER_TITLE]]
    return title, sorted(said, key=lambda m: m.start)


def origin_cues(store: BlobStore) -> CueLoader:
    """The loader reading a title's `subs/tracks.json` from the origin (no file: no cues)."""
    def load(video_id: str) -> CueTracks:
        key = f"{title_prefix(video_id)}/{TRACKS_FILE}"
        try:
            data = store.read(key)
        except NotFound:
            return []
        return [(rendition.language, [(c.start, c.end, c.text) for c in cues])
                for rendition, cues in load_tracks(data)]
    return load
