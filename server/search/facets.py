"""Facet counts in one pass over the matches, from per-document value tables built once per index
version.

Whoosh's own grouping calls a categorizer per facet per matched document (and rebuilds a doc -> tags
table on every search for the multi-valued tags facet); here the collector that ranks the page also
records every matched document number, and counting is a lookup per document in plain lists."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

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
        self.single = {name: _column(reader, name, n) for name in SINGLE}
        self.tags = tags_by_doc(reader, n)

    def counts(self, docnums: Collection[int]) -> dict[str, list[tuple[str, int]]]:
        """The top values of every facet among `docnums`, most frequent first."""
        result = {name: top(Counter(map(values.__getitem__, docnums)))
                  for name, values in self.single.items()}
        tags = self.tags
        result["tags"] = top(Counter(tag for docnum in docnums for tag in tags[docnum]))
        return {name: result[name] for name in FACETS}


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
