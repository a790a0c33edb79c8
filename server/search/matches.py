"""Every document matching a query, read from the postings in bulk, for facet counts and totals.

Counting facets needs every match, not just the top page. Walking them through Whoosh's matchers
costs about 2 µs per document in Python (a common word matches a third of the titles: 70 ms at 100k).
The queries people type are words, typo variants and completions: terms combined by OR and AND. For
those the matching documents are the union / intersection of the terms' posting lists, which Whoosh
stores as arrays per block; reading them whole is a C-speed set operation per block. Any other query
shape (phrases, ranges, dates) returns None and the caller walks the matches instead."""

from __future__ import annotations

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import IndexReader
from whoosh.searching import Searcher


def matching_docs(searcher: Searcher, q: wq.Query) -> set[int] | None:
    """Global document numbers matching `q`, or None if `q` is not built from terms, OR and AND."""
    kind = type(q)
    if kind is wq.Term and isinstance(q.text, str):
        return _term_docs(searcher, q.fieldname, q.text)
    if q is wq.NullQuery:
        return set()
    if kind not in (wq.Or, wq.And) or not q.subqueries:
        return None
    parts = [matching_docs(searcher, sub) for sub in q.subqueries]
    if any(part is None for part in parts):
        return None
    sets = sorted((p for p in parts if p is not None), key=len)
    if kind is wq.Or:
        return set().union(*sets)
    return sets[0].intersection(*sets[1:])


def _term_docs(searcher: Searcher, field: str, text: str) -> set[int]:
    docs: set[int] = set()
    for reader, offset in searcher.reader().leaf_readers():
        if field in reader.schema and reader.doc_frequency(field, text):
            ids = _posting_ids(reader, field, text)
            docs.update([docnum + offset for docnum in ids] if offset else ids)
    return docs


def _posting_ids(reader: IndexReader, field: str, text: str) -> list[int]:
    """The term's document numbers in this segment (deleted documents excluded)."""
    matcher = reader.postings(field, text)
    if not isinstance(matcher, W3LeafMatcher):  # e.g. wrapped to hide deleted documents
        return list(matcher.all_ids())
    ids: list[int] = []
    while matcher.is_active():  # a block at a time: its ids are one decoded array
        if matcher._ids is None:
            matcher._read_ids()
        ids.extend(matcher._ids[matcher._i:])
        matcher._next_block()
    return ids
