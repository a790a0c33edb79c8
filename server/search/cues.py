"""Search inside what is said: every cue of every published title's text tracks in a Whoosh index of
its own, answered as titles with the moments that match (`12:04 "…the bridge at dawn…"`).

One document per cue (its words, start and end, language, title). Words are lower-cased but not
stemmed or stop-listed, so a quoted phrase matches what was said word for word; typos are tolerated
as in title search, from an in-memory word list (`fuzzy.Lexicon`), when the exact query finds nothing.
The index is written only by the search service's consumer (one writer), from `subs/tracks.json` in
the origin, and rebuilt from the catalog when it is missing or damaged.
"""

from __future__ import annotations

import contextlib
import html
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh import query as wq
from whoosh.analysis import RegexTokenizer
from whoosh.analysis.filters import LowercaseFilter
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.highlight import HtmlFormatter, WholeFragmenter
from whoosh.index import Index
from whoosh.qparser import AndGroup, QueryParser, QueryParserError
from whoosh.searching import Searcher
from whoosh.writing import LockError

from server.errors import Conflict, InvalidRequest, NotFound
from server.media.text_tracks import TRACKS_FILE, load_tracks
from server.search.fuzzy import Lexicon
from server.search.index import BUSY, BUSY_HINT, LOCK_WAIT_S, UniqueSegments, _abandon
from server.storage.blobstore import BlobStore, title_prefix

INDEX_NAME = "cues"
FIELD = "text"
MOMENTS_PER_TITLE = 5
CUE_HITS = 500  # cues ranked before grouping by title: enough for a page of titles with their moments

# (language, cues as (start, end, text)) of one title's tracks; raises if the title's files are unreachable
CueTracks = list[tuple[str, list[tuple[float, float, str]]]]
CueLoader = Callable[[str], CueTracks]


def make_schema() -> Schema:
    words = RegexTokenizer() | LowercaseFilter()
    return Schema(video_id=ID(stored=True, sortable=True), title=STORED(), language=ID(stored=True),
                  start=STORED(), end=STORED(),
                  text=TEXT(stored=True, analyzer=words, phrase=True))


@dataclass(frozen=True)
class Moment:
    """One matching cue: when it is said and the words around the match (HTML-marked)."""

    start: float
    end: float
    text: str
    snippet: str
    language: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "at": clock(self.start), "text": self.text,
                "snippet": self.snippet, "language": self.language}


def clock(seconds: float) -> str:
    """`12:04`, or `1:02:03` past an hour: how a moment is shown and typed."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def open_cue_index(path: Path) -> tuple[Index, bool]:
    """The cue index at `path`, or a new empty one if missing, unreadable or made by an earlier build
    (without the `video_id` column search groups by): (index, created)."""
    with contextlib.suppress(Exception):
        ix = windex.open_dir(str(path), indexname=INDEX_NAME)
        same = set(ix.schema.names()) == set(make_schema().names())
        if same and ix.schema["video_id"].column_type is not None:
            with ix.searcher() as searcher:
                searcher.doc_count()
            return ix, False
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return windex.create_in(str(path), make_schema(), indexname=INDEX_NAME), True


class CueIndex:
    """Writes (from the one consumer) and answers (any thread, its own searcher) the cue index."""

    def __init__(self, path: Path, loader: CueLoader) -> None:
        self.path, self.loader = path, loader
        self.ix, self.created = open_cue_index(path)
        self._parser = QueryParser(FIELD, make_schema(), group=AndGroup)
        self._cache: tuple[int, Lexicon] | None = None

    def apply(self, upserts: Iterable[dict[str, Any]], deletions: Iterable[str]) -> None:
        """Replace the cues of each upserted title (a title dict) and drop those of `deletions`, in
        one commit; the cues are read before the writer opens, so a failed read changes nothing."""
        documents = {t["video_id"]: list(self._documents(t)) for t in upserts}
        try:
            writer = self.ix.writer(timeout=LOCK_WAIT_S, codec=UniqueSegments())
        except LockError as exc:
            raise Conflict(BUSY, hint=BUSY_HINT) from exc
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

    def _documents(self, title: dict[str, Any]) -> Iterable[dict[str, Any]]:
        for language, cues in self.loader(title["video_id"]):
            for start, end, text in cues:
                yield {"video_id": title["video_id"], "title": title.get("title", ""), "language": language,
                       "start": float(start), "end": float(end), "text": text}

    def search(self, searcher: Searcher, q: str, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """Titles whose cues match `q`, best first, each with its matching moments in time order."""
        if not q.strip():
            raise InvalidRequest("Say what to look for in the subtitles.", hint='e.g. "bridge at dawn"')
        built = self._query(q)
        results = searcher.search(built, limit=CUE_HITS)
        if results.scored_length() == 0:
            results = searcher.search(self._query(q, self._lexicon(searcher)), limit=CUE_HITS)
        results.fragmenter = WholeFragmenter()  # a cue is a line or two: show all of it
        results.formatter = HtmlFormatter(tagname="mark", between=" … ")
        hits, total = _group(searcher, results, offset, limit)
        return {"hits": hits, "total": total}

    def _query(self, q: str, words: Lexicon | None = None) -> wq.Query:
        try:
            parsed = self._parser.parse(q)
        except QueryParserError as exc:
            raise InvalidRequest(f"Cannot understand the search {q!r}: {exc}.") from exc
        if words is None:
            return parsed
        return parsed.accept(lambda node: _fuzzy(node, words))

    def _lexicon(self, searcher: Searcher) -> Lexicon:
        version = searcher.reader().generation()
        if self._cache is None or self._cache[0] != version:
            self._cache = (version, Lexicon(searcher.reader(), [FIELD]))
        return self._cache[1]


def _fuzzy(node: wq.Query, words: Lexicon) -> wq.Query:
    """A word of 4+ letters also matches indexed words 1 edit away (2 from 6 letters); phrases too."""
    text = node.text if isinstance(node, wq.Term) and node.fieldname == FIELD else None
    if isinstance(text, str) and len(text) >= 4:
        near = words.near(FIELD, text, 1 if len(text) < 6 else 2)
        return wq.Or([node, *(wq.Term(FIELD, w, boost=0.6) for w in near)]) if near else node
    if isinstance(node, wq.Phrase):  # a phrase with a typo: all its words, in any order, in one cue
        return wq.And([_fuzzy(wq.Term(FIELD, w), words) for w in node.words])
    return node


def _group(searcher: Searcher, results: Any, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """A page of the cue hits grouped by title (titles by their best cue's rank, moments by time)
    and how many titles they came from. Titles are told apart by the `video_id` column (an array
    lookup per hit); stored fields are read, and highlighted, only for the page's moments."""
    ids = _video_ids(searcher)
    titles: dict[str, tuple[float, list[int]]] = {}
    for rank, (score, docnum) in enumerate(results.top_n):
        video_id = ids(docnum)
        ranks = titles.setdefault(video_id, (float(score or 0), []))[1]
        if len(ranks) < MOMENTS_PER_TITLE:
            ranks.append(rank)
    chosen = []
    for video_id, (score, ranks) in list(titles.items())[offset:offset + limit]:
        hits = [results[rank] for rank in ranks]
        moments = sorted((_moment(hit) for hit in hits), key=lambda m: m.start)
        chosen.append({"video_id": video_id, "title": hits[0]["title"], "score": round(score, 4),
                       "moments": [m.to_dict() for m in moments]})
    return chosen, len(titles)


def _video_ids(searcher: Searcher) -> Callable[[int], str]:
    """Document number -> video id, from the column (none yet in an empty index: stored fields)."""
    reader = searcher.reader()
    if reader.has_column("video_id"):
        return reader.column_reader("video_id").__getitem__
    return lambda docnum: str(searcher.stored_fields(docnum)["video_id"])


def _moment(hit: Any) -> Moment:
    snippet = hit.highlights(FIELD) or html.escape(hit[FIELD], quote=False)
    return Moment(hit["start"], hit["end"], hit[FIELD], snippet, hit["language"])


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
