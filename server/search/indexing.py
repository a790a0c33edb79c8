"""Whoosh's segment writer with the text analysis of a title done in one pass.

Whoosh analyzes a text field through a chain of generators (tokenizer, lowercase, stop words,
stemmer) that hand one `Token` object along per word, then groups the positions per word. For the
chains the title schema uses (a regular-expression tokenizer, lowercase, optionally stop words and a
stemmer; positions stored) `fast_terms` does the same in one loop over the regular expression's
matches, with the same rules: the stop filter's renumbering (the first kept word keeps its place,
later kept words follow it one by one), the stemmer's own cached function, the format's own position
encoding. Every other field, and any chain it does not know, goes through Whoosh's `field.index`.
The files written are Whoosh's, byte for byte (`tests/search/test_title_indexing.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whoosh.analysis import (
    CompositeAnalyzer,
    IDTokenizer,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.fields import FieldType
from whoosh.formats import Existence, Positions
from whoosh.writing import PostingPool, SegmentWriter

Terms = list[tuple[bytes, int, float, bytes]]  # (term, frequency, weight, encoded positions)


class TitleWriter(SegmentWriter):
    """`SegmentWriter` whose `add_document` analyzes known text chains with `fast_terms`; otherwise
    Whoosh's own (same stored values, columns, lengths and postings)."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.pool = _BatchPool(self._tempstorage, self.newsegment, limitmb=kwargs.get("limitmb", 128))
        self._fast: dict[str, Callable[[str], Terms] | None] = {}
        self._plain = not any(f.separate_spelling() or f.vector for f in self.schema._fields.values())

    def _terms(self, fieldname: str, field: FieldType, value: Any) -> Any:
        if fieldname not in self._fast:
            self._fast[fieldname] = fast_terms(field)
        fast = self._fast[fieldname]
        if fast is not None and isinstance(value, str):
            return fast(value)
        return field.index(value)

    def add_document(self, **fields: Any) -> None:
        """Whoosh 2.7.4's `SegmentWriter.add_document`, with `_terms` for `field.index` (a schema
        with spelling or vector fields is written by Whoosh's own)."""
        if not self._plain:
            super().add_document(**fields)
            return
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        pool = self.pool
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        for fieldname in fieldnames:
            value = fields.get(fieldname)
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                fieldboost = self._field_boost(fields, fieldname, docboost)
                terms = list(self._terms(fieldname, field, value))
                if field.scorable:
                    length = sum(term[1] for term in terms)
                pool.add_field(fieldname, [(fieldname, tbytes, docnum, weight * fieldboost, vbytes)
                                           for tbytes, _, weight, vbytes in terms])
            customval = fields.get(f"_stored_{fieldname}", value)
            perdocwriter.add_field(fieldname, field, customval if field.stored else None, length)
            column = field.column_type
            if column and customval is not None:
                perdocwriter.add_column_value(fieldname, column, field.to_column_value(customval))
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1


class _BatchPool(PostingPool):
    """Whoosh's posting pool (sorted runs spilled to disk past `limitmb`), taking a field's postings
    at once: its size estimate per posting, without the per-posting checks and set update."""

    def add_field(self, fieldname: str, postings: list[tuple[str, bytes, int, float, bytes | None]]) -> None:
        if not postings:
            return
        self.fieldnames.add(fieldname)
        size = sum(150 + len(fieldname) + 2 * len(p[1]) + len(p[4] or b"") for p in postings)
        if self.currentsize + size > self.limit:
            self.save()
        self.currentsize += size
        self.current.extend(postings)


def _memo(stem: Callable[[str], str]) -> Callable[[str], str]:
    """The stemmer with a plain dict of the words seen (Whoosh's LFU cache costs more per word than a
    title's vocabulary saves; a library's distinct words fit in a few MB)."""
    stems: dict[str, str] = {}

    def cached(word: str) -> str:
        found = stems.get(word)
        if found is None:
            found = stems[word] = stem(word)
        return found
    return cached


def fast_terms(field: FieldType) -> Callable[[str], Terms] | None:
    """A one-pass `field.index` for a positions field analyzed by RegexTokenizer | LowercaseFilter
    [| StopFilter] [| StemFilter], or for an ID field (the value is its one term); None for anything
    else."""
    fmt, analyzer = field.format, field.analyzer
    if type(fmt) is Existence and type(analyzer) is IDTokenizer:  # an ID: the value is the term
        boost = fmt.field_boost
        return lambda value: [(value.encode("utf-8"), 1, boost, b"")]
    if type(fmt) is not Positions or type(analyzer) is not CompositeAnalyzer:
        return None
    tokenizer, *filters = analyzer.items
    if type(tokenizer) is not RegexTokenizer or tokenizer.gaps or not filters:
        return None
    kinds = [type(f) for f in filters]
    if kinds not in ([LowercaseFilter], [LowercaseFilter, StopFilter], [LowercaseFilter, StemFilter],
                     [LowercaseFilter, StopFilter, StemFilter]):
        return None
    stop = next((f for f in filters if type(f) is StopFilter), None)
    stemmer = next((f for f in filters if type(f) is StemFilter), None)
    finditer, encode, boost = tokenizer.expression.finditer, fmt.encode, fmt.field_boost
    stops = stop.stops if stop else frozenset()
    minsize, maxsize = (stop.min, stop.max) if stop else (0, None)
    renumber = stop.renumber if stop else False
    stem, ignore = (_memo(stemmer._stem), stemmer.ignore) if stemmer else (None, frozenset())

    def terms(value: str) -> Terms:
        positions: dict[str, list[int]] = {}
        pos: int | None = None
        for i, match in enumerate(finditer(value)):
            text = match.group(0).lower()
            if stop is not None:
                size = len(text)
                if size < minsize or (maxsize is not None and size > maxsize) or text in stops:
                    continue
            pos = pos + 1 if renumber and pos is not None else i
            if stem is not None and text not in ignore:
                text = stem(text)
            positions.setdefault(text, []).append(pos)
        return [(word.encode("utf-8"), len(p), len(p) * 1.0 * boost, encode(p))
                for word, p in positions.items()]
    return terms
