"""Facet counts in one pass over the matches, from per-document value tables built once per index
version.

Whoosh's own grouping calls a categorizer per facet per matched document (and rebuilds a doc -> tags
table on every search for the multi-valued tags facet); here every matched document number is known
(from the ranking arrays, the posting lists or the collector that ranks the page), each facet value
is a small integer code per document, and counting is one `numpy.bincount` per facet."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from whoosh.collectors import WrappingCollector
from whoosh.reading import IndexReader

from server.search.documents import FACETS

FACET_TOP = 10
SINGLE = tuple(name for name in FACETS if name != "tags")  # one value per document, from its column


class MatchRecorder(WrappingCollector):
    """Passes every match on to the ranking collector and remembers its (global) document number."""

    def __init__(self, child: Any) -> None:
        super().__init__(child)
        self.docnums: list[int] = []

    def collect(self, sub_docnum: int) -> Any:
        self.docnums.append(self.child.offset + sub_docnum)
        return self.child.collect(sub_docnum)


class FacetTable:
    """Each document's facet values by (global) document number, for one index version."""

    def __init__(self, reader: IndexReader) -> None:
        n = reader.doc_count_all()
        self.single = {name: _Codes([(v,) for v in _column(reader, name, n)]) for name in SINGLE}
        self.tags = _Codes(tags_by_doc(reader, n))

    def counts(self, docnums: Collection[int]) -> dict[str, list[tuple[str, int]]]:
        """The top values of every facet among `docnums` (each once), most frequent first."""
        if isinstance(docnums, np.ndarray):
            docs = docnums
        else:
            docs = np.fromiter(docnums, dtype=np.int64, count=len(docnums))
        result = {name: codes.counts(docs) for name, codes in self.single.items()}
        result["tags"] = self.tags.counts(docs)
        return {name: result[name] for name in FACETS}


class _Codes:
    """Each document's values of one facet as integer codes, laid end to end (a document's run
    starts at `starts[doc]`), so the values of any set of documents are counted in one go."""

    def __init__(self, by_doc: Sequence[tuple[str, ...]]) -> None:
        self.values = sorted({v for values in by_doc for v in values})
        code = {v: i for i, v in enumerate(self.values)}
        self.codes = np.array([code[v] for values in by_doc for v in values], dtype=np.int64)
        self.starts = np.zeros(len(by_doc) + 1, dtype=np.int64)
        np.cumsum([len(values) for values in by_doc], out=self.starts[1:])

    def counts(self, docs: np.ndarray) -> list[tuple[str, int]]:
        starts, lengths = self.starts[docs], self.starts[docs + 1] - self.starts[docs]
        # the positions of every value of `docs`: each run's start, then +1 along the run
        positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        found = np.bincount(self.codes[positions], minlength=len(self.values))
        return top({self.values[i]: int(found[i]) for i in np.flatnonzero(found)})


def _column(reader: IndexReader, field: str, n: int) -> list[str]:
    """The field's sort column for every document ('' where a segment has none)."""
    if not n or not reader.has_column(field):  # an empty index has no columns at all
        return [""] * n
    column = reader.column_reader(field)
    values = list(column)
    if len(values) != n:  # a segment without the column is left out of the sequence: go by number
        values = [column[docnum] for docnum in range(n)]
    return [str(v) if v is not None else "" for v in values]


def tags_by_doc(reader: IndexReader, n: int, field: str = "tags") -> list[tuple[str, ...]]:
    """Each document's tags by document number, read once from the tag postings."""
    lists: list[list[str]] = [[] for _ in range(n)]
    if field in reader.indexed_field_names():
        for term in reader.lexicon(field):
            tag = term.decode("utf-8") if isinstance(term, bytes) else term
            for docnum in reader.postings(field, term).all_ids():
                lists[docnum].append(tag)
    return [tuple(tags) for tags in lists]


def top(groups: dict[Any, int]) -> list[tuple[str, int]]:
    pairs = sorted(((str(k), int(v)) for k, v in groups.items() if k not in (None, "")),
                   key=lambda p: (-p[1], p[0]))
    return pairs[:FACET_TOP]
