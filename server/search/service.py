"""The search service: follows `videos` events (consumer group `search`) into one Whoosh index and
answers queries with ranking, typo tolerance, prefixes, phrases, field queries, facets, sorting,
highlighted snippets and "did you mean"."""

from __future__ import annotations

import functools
import logging
import shutil
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import query as wq
from whoosh import sorting
from whoosh.collectors import FilterCollector, TopCollector
from whoosh.highlight import ContextFragmenter, HtmlFormatter
from whoosh.searching import Hit, Results, Searcher

from server.background import Worker
from server.catalog import PUBLISHED, Catalog
from server.errors import Conflict, InvalidRequest
from server.events.api import VIDEOS
from server.events.log import EventLog
from server.events.model import Event
from server.paths import DataDir
from server.search import SORTS, index, query
from server.search.cues import CueIndex, CueLoader
from server.search.documents import FACETS, FUZZY_FIELDS, TEXT_FIELDS
from server.search.facets import FacetTable, MatchRecorder
from server.search.fuzzy import Lexicon
from server.search.matches import matching_docs
from server.search.ranking import Ranked, Ranker

log = logging.getLogger(__name__)
GROUP = "search"
UPSERT = ("published", "restored", "metadata_edited", "subtitles_changed")
RETRY_S, MAX_RETRY_S = 1.0, 30.0  # a failed batch is retried after these pauses (doubling)
# Fields whose frequent terms are kept as arrays for ranking. Not file names: a term per title and
# number there, whose scan alone took seconds at 100,000 titles, for words nobody types.
ARRAY_FIELDS = tuple(dict.fromkeys([*(f for f in TEXT_FIELDS if f != "original_name"), *FACETS]))


@dataclass
class SearchResult:
    hits: list[dict[str, Any]]
    total: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    suggestion: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"hits": self.hits, "total": self.total, "suggestion": self.suggestion,
                "facets": {k: [list(p) for p in v] for k, v in self.facets.items()}}


class SearchService:
    """One index writer (the consumer thread, or `catch_up` in a CLI); any thread may search."""

    def __init__(self, data: DataDir, log: EventLog, catalog: Catalog, *,
                 views: Callable[[], dict[str, int]] | None = None, cues: CueLoader | None = None) -> None:
        """`cues` reads a title's subtitle cues (from the origin); without it, no subtitle search."""
        self.path = data.search_index
        self._log = log
        self._catalog = catalog
        self._views = views or dict
        self._ix, self.rebuilt = index.open_index(self.path, catalog)
        if self.rebuilt:
            self._skip_to_now()
        self._writer = index.IndexWriter(self._ix)
        self._cues = self._open_cues(cues, self.path.with_name("search-cues")) if cues else None
        self._parser = query.make_parser()
        self._worker = Worker("search-indexer", self._follow)
        self._local = threading.local()
        self._cache: tuple[int, Lexicon, FacetTable, Ranker] | None = None
        self._fragmenter = ContextFragmenter(maxchars=160, surround=50)
        self._formatter = HtmlFormatter(tagname="mark", between=" … ")

    # -- following the log -----------------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def catch_up(self) -> int:
        """Apply every pending `videos` event now; returns how many were applied."""
        applied = 0
        while batch := self._log.poll(GROUP, [VIDEOS], max_events=1000, timeout=0):
            applied += self._apply(batch)
        return applied

    def rebuild(self) -> None:
        """Drop the index (and the cue index) and build it again from the catalog."""
        self._ix = index.rebuild(self.path, self._catalog)
        self._writer = index.IndexWriter(self._ix)
        if self._cues is not None:
            self._cues = self._open_cues(self._cues.loader, self._cues.path, fresh=True)
        self._skip_to_now()

    def _open_cues(self, loader: CueLoader, path: Path, *, fresh: bool = False) -> CueIndex | None:
        """The cue index; a new one is filled from the catalog's published titles. If their cues
        cannot be read now (origin down), it is dropped again so the next start fills it."""
        if fresh:
            shutil.rmtree(path, ignore_errors=True)
        cues = CueIndex(path, loader)
        if cues.created:
            try:
                cues.fill(t.to_dict() for t in self._catalog.list(PUBLISHED))
            except Exception:
                log.exception("search: the subtitle index could not be filled; it is built at the next start")
                shutil.rmtree(path, ignore_errors=True)
                return None
        return cues

    def _skip_to_now(self) -> None:
        # Heads are read before the catalog was (producers write the catalog, then publish), so every
        # event before them is already reflected; later ones are idempotent upserts/deletes anyway.
        self._log.commit(GROUP, self._log.heads([VIDEOS]))

    def _follow(self) -> None:
        self._warm_cues()
        pause = RETRY_S
        while not self._worker.stopping.is_set():
            batch = self._log.poll(GROUP, [VIDEOS], max_events=1000, timeout=0.25)
            if not batch:
                continue
            try:
                self._apply(batch)
                pause = RETRY_S
            except Exception as exc:  # the index is as it was: read the batch again from the offset
                _report(exc, len(batch), pause)
                self._log.forget(GROUP)  # the next poll starts at the committed offset
                self._worker.stopping.wait(pause)
                pause = min(pause * 2, MAX_RETRY_S)

    def _apply(self, batch: list[Event]) -> int:
        latest: dict[str, Event] = {}
        for event in batch:  # per video only the last change matters (same key: in order)
            if event.type in (*UPSERT, "deleted"):
                latest[event.key] = event
        upserts = [e.value["title"] for e in latest.values() if _listed(e)]
        deletions = [vid for vid, e in latest.items() if not _listed(e)]
        self._writer.apply(upserts, deletions)
        if self._cues is not None:  # after the titles: a failure here retries the batch, both idempotent
            self._cues.apply(upserts, deletions)
        self._log.commit(GROUP, batch)
        self._warm()
        self._warm_cues()
        return len(latest)

    # -- answering -------------------------------------------------------------------------------
    def search(self, q: str, *, sort: str = "relevance", facets: dict[str, Any] | None = None,
               limit: int = 20, offset: int = 0, facet_counts: bool = True) -> SearchResult:
        """Titles matching `q`, a page of `limit` hits after `offset`, with facet counts (skip them
        with `facet_counts=False`, e.g. for search-as-you-type)."""
        if sort not in SORTS:
            raise InvalidRequest(f"Unknown sort {sort!r}.", hint=f"use one of {', '.join(SORTS)}")
        if limit < 1 or offset < 0:
            raise InvalidRequest("limit must be 1 or more and offset 0 or more.")
        flt = query.facet_filter(facets)
        searcher = self._searcher()
        words, table, ranker = self._tables(searcher)
        page = offset + limit
        run = functools.partial(self._run, searcher, ranker, flt=flt, sort=sort, limit=page,
                                facet_counts=facet_counts)
        found = run(query.build(self._parser, q, words))
        if found.results.scored_length() == 0 and q.strip():  # nothing exact: tolerate typos
            found = run(query.build(self._parser, q, words, fuzzy=True))
        return self._result(searcher, found, q, offset, limit, table)

    def search_subtitles(self, q: str, *, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """Titles whose subtitles say `q`, each with the moments (`12:04`) and the words around them;
        a page of `limit` titles after `offset`."""
        if limit < 1 or offset < 0:
            raise InvalidRequest("limit must be 1 or more and offset 0 or more.")
        if not q.strip():
            raise InvalidRequest("Say what to look for in the subtitles.", hint='e.g. "bridge at dawn"')
        if self._cues is None:
            return {"hits": [], "total": 0}
        local = self._local
        if getattr(local, "cue_ix", None) is not self._cues.ix:
            local.cue_ix, local.cue_searcher = self._cues.ix, self._cues.ix.searcher()
        else:
            local.cue_searcher = local.cue_searcher.refresh()
        result: dict[str, Any] = self._cues.search(local.cue_searcher, q, limit, offset)
        return result

    def _run(self, searcher: Searcher, ranker: Ranker, built: Any, *, flt: Any, sort: str, limit: int,
             facet_counts: bool) -> _Found:
        """The top `limit` matches by `sort`, and with `facet_counts` every matched document number.
        Queries of terms ranked by relevance are scored over whole posting arrays (`ranking`), the
        rest by Whoosh's collectors. (Whoosh reads an empty set of allowed documents as "no
        filter": nothing to rank then.)"""
        ranked = _ranked(searcher, ranker, built, flt, limit, facet_counts) if sort == "relevance" else None
        if ranked is not None:
            return ranked
        sortedby, reverse = self._sort(searcher, sort), sort == "newest"
        matched = _matched(searcher, built, flt) if facet_counts else None
        if matched is not None:  # read in bulk: rank only among them, with all of Whoosh's pruning
            collector = FilterCollector(searcher.collector(limit=limit, sortedby=sortedby, reverse=reverse),
                                        allow=matched)
            searcher.search_with_collector(built if matched else wq.NullQuery, collector)
            return _Found(collector.results(), matched)
        if not facet_counts:  # Whoosh's filter, its documents read in bulk when it is made of terms
            allowed = matching_docs(searcher, flt) if flt is not None else None
            ranking = searcher.collector(limit=limit, sortedby=sortedby, reverse=reverse,
                                         filter=flt if allowed is None else allowed)
            searcher.search_with_collector(built if allowed is None or allowed else wq.NullQuery, ranking)
            return _Found(ranking.results(), None)
        if flt is not None:  # intersected while walking (every match is walked anyway)
            built = query.Filtered(built, flt)
        return _Found(*_walk_all(searcher, built, limit, sortedby, reverse))

    def _tables(self, searcher: Searcher) -> tuple[Lexicon, FacetTable, Ranker]:
        """Words for typos and completions, each document's facet values and the arrays relevance is
        ranked from, per index version (the ranker's per segment: most segments carry over)."""
        version = searcher.reader().generation()
        cached = self._cache
        if cached is None or cached[0] != version:
            reader = searcher.reader()
            ranker = Ranker(searcher, ARRAY_FIELDS, cached[3] if cached is not None else None)
            cached = self._cache = (version, Lexicon(reader, FUZZY_FIELDS), FacetTable(reader), ranker)
        return cached[1], cached[2], cached[3]

    def _warm(self) -> None:
        """Build the new index version's tables now (in the indexer), not in the next search."""
        self._tables(self._searcher())

    def _warm_cues(self) -> None:
        """Read the common words' posting arrays of the cue index's new segments now, in the indexer,
        so that the first subtitle query naming one need not (up to ~0.3 s a word at 10,000 hours)."""
        if self._cues is None:
            return
        try:
            with self._cues.ix.searcher() as searcher:
                self._cues.warm(searcher)
        except Exception:  # the queries read what they need themselves: slower, never wrong
            log.exception("search: warming the subtitle index failed")

    def _searcher(self) -> Searcher:
        """This thread's searcher, reopened only when the index changed (opening costs per query)."""
        local = self._local
        if getattr(local, "ix", None) is not self._ix:
            local.ix, local.searcher = self._ix, self._ix.searcher()
        else:
            local.searcher = local.searcher.refresh()  # shares unchanged segments with the old one
        searcher: Searcher = local.searcher
        return searcher

    def _sort(self, searcher: Searcher, sort: str) -> sorting.FacetType | str | None:
        if sort == "newest":
            return "upload_date"
        if sort == "views":
            reader = searcher.reader()
            if not reader.has_column("video_id"):  # an empty index has no columns: nothing to order
                return None
            views, ids = self._views(), reader.column_reader("video_id")
            return sorting.FunctionFacet(lambda _s, docid: -views.get(ids[docid], 0))
        return None

    def _result(self, searcher: Searcher, found: _Found, q: str, offset: int, limit: int,
                table: FacetTable) -> SearchResult:
        results, matched = found.results, found.matched
        results.fragmenter, results.formatter = self._fragmenter, self._formatter
        # Whoosh looks the query's terms up in the index again for every hit and field it highlights
        results.query_terms = functools.lru_cache(maxsize=None)(results.query_terms)
        scored = results.scored_length()  # hits ranked: at most offset + limit
        hits = [self._hit(results[i], found.ranked) for i in range(offset, min(scored, offset + limit))]
        # Exact without a second pass when every match was seen (facets) or the page is not full (it
        # then holds every match); otherwise, as you type, Whoosh's estimate.
        facets = table.counts(matched) if matched is not None else {}
        if matched is not None:
            total = len(matched)
        else:
            total = scored if scored < offset + limit else results.estimated_length()
        suggestion = query.suggest(searcher, q) if not total and q.strip() else None
        return SearchResult(hits, total, facets, suggestion)

    def _hit(self, hit: Hit, ranked: Ranked | None) -> dict[str, Any]:
        stored = dict(hit.fields())
        title_marked = _highlights(hit, "title", ranked)
        title_html = title_marked or _escape(stored.get("title", ""))
        snippet = (_highlights(hit, "description", ranked) or title_marked
                   or _escape(stored.get("description", "")[:160]) or title_html)
        stored["upload_date"] = stored["upload_date"].isoformat() + "Z"
        stored["tags"] = [t for t in stored.get("tags", "").split(",") if t]
        return {**stored, "title_html": title_html, "snippet": snippet,
                "score": round(float(hit.score or 0), 4)}


@dataclass
class _Found:
    """One run of a query: the ranked page, every matched document (for facet counts) and, when
    ranked from arrays, which documents hold the query's terms in which field."""
    results: Results
    matched: Collection[int] | None
    ranked: Ranked | None = None


def _highlights(hit: Hit, field_name: str, ranked: Ranked | None) -> str:
    """Whoosh's highlighted fragments of the field; "" at once for a title known to hold none of
    the query's terms there (Whoosh would tokenize the whole text to find no fragment)."""
    if ranked is not None and not ranked.mentions(field_name, hit.docnum):
        return ""
    marked: str = hit.highlights(field_name)
    return marked


def _ranked(searcher: Searcher, ranker: Ranker, built: Any, flt: Any, limit: int, facet_counts: bool
            ) -> _Found | None:
    """Relevance ranking from posting arrays, or None if the query or filter is not made of terms.
    Scores, order, page and totals are those of Whoosh's collector (its total, for a full page
    without facet counts, is the query's estimate there too: `Results.estimated_length`)."""
    ranked = ranker.rank(searcher, built)
    allowed = ranker.rank(searcher, flt) if flt is not None and ranked is not None else None
    if ranked is None or (flt is not None and allowed is None):
        return None
    if allowed is not None:
        ranked = ranked.within(allowed.docs)
    return _Found(Results(searcher, built, ranked.top(limit)), ranked.docs if facet_counts else None, ranked)


def _matched(searcher: Searcher, built: Any, flt: Any) -> set[int] | None:
    """Every document matching `built` and the filter, read from the postings in bulk, if both are
    made of terms (see `server.search.matches`)."""
    docs = matching_docs(searcher, built)
    if docs is None or flt is None:
        return docs
    allowed = matching_docs(searcher, flt)
    return docs & allowed if allowed is not None else None


def _walk_all(searcher: Searcher, built: Any, limit: int, sortedby: Any, reverse: bool
              ) -> tuple[Results, list[int]]:
    """Rank while recording every match; nothing may be pruned, since every match is counted."""
    if sortedby is None:
        ranking = TopCollector(limit, usequality=False, replace=0)
    else:
        ranking = searcher.collector(limit=limit, sortedby=sortedby, reverse=reverse)
    recorder = MatchRecorder(ranking)
    searcher.search_with_collector(built, recorder)
    return recorder.results(), recorder.docnums


def _report(exc: Exception, events: int, pause: float) -> None:
    """Say why a batch did not reach the index; another process holding its lock is expected."""
    if isinstance(exc, Conflict):
        log.warning("search: %s Retrying %d events from the last committed offset in %.0f s.",
                    exc, events, pause)
    else:
        log.error("search: applying %d events failed; retrying from the last committed offset in "
                  "%.0f s", events, pause, exc_info=exc)


def _listed(event: Event) -> bool:
    """Whether the event leaves its title searchable (an edit of a deleted title does not)."""
    title = event.value.get("title") or {}
    return event.type in UPSERT and bool(title) and title.get("status", "published") == "published"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
