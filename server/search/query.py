"""Turning what a user types into a Whoosh query: typo tolerance (fuzzy terms), prefix matching on the
word being typed, phrases, field queries (`tag:cats`), facet filters, and "did you mean".

Fuzzy terms multiply the term lookups and postings a query reads, so the service runs the exact query
first and the fuzzy one only when the exact one finds nothing."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from whoosh import query as wq
from whoosh.matching.wrappers import RequireMatcher
from whoosh.qparser import FieldAliasPlugin, GtLtPlugin, MultifieldParser, QueryParserError
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.searching import Searcher

from server.errors import InvalidRequest
from server.search import whoosh_union  # noqa: F401  (fixes Whoosh's union skipping loop)
from server.search.documents import FACETS, FUZZY_FIELDS, PREFIX_FIELDS, TEXT_FIELDS, make_schema

ALIASES = {"tags": ["tag"], "creator": ["by", "author"], "resolution": ["res"], "original_name": ["file"]}
WORD = re.compile(r"(?<![:\w\"])[^\W\d_][\w']*(?![\w:])", re.UNICODE)


def make_parser() -> MultifieldParser:
    parser = MultifieldParser(list(TEXT_FIELDS), make_schema())
    parser.add_plugin(FieldAliasPlugin(ALIASES))
    parser.add_plugin(GtLtPlugin())
    parser.add_plugin(DateParserPlugin())
    return parser


class Words(Protocol):
    """Indexed words: typo candidates and completions (`server.search.fuzzy.Lexicon`)."""

    def near(self, field: str, text: str, maxdist: int) -> list[str]: ...

    def completions(self, field: str, prefix: str, limit: int = 8) -> list[str]: ...


def build(parser: MultifieldParser, text: str, words: Words | None = None, *, fuzzy: bool = False
          ) -> wq.Query:
    """The query for `text`; the word being typed (no space after it yet) also matches the indexed
    words it starts, and with `fuzzy` each word of 4+ letters in a fuzzy field also matches the indexed
    words close to it (1 edit, 2 from 6 letters). Empty text matches every title."""
    rest, dates = date_filters(text)
    if not rest.strip():
        return wq.And(dates) if dates else wq.Every()
    try:
        parsed = parser.parse(rest)
    except (QueryParserError, AttributeError, ValueError, TypeError) as exc:  # Whoosh's date parser
        # raises AttributeError/ValueError on some dates it half-understands (`upload_date:>june 2021`)
        raise InvalidRequest(f"Cannot understand the search {text!r}: {exc}.", hint=DATE_HINT) from exc
    typing_end = len(rest) if rest == rest.rstrip() else -1
    tolerant = parsed.accept(lambda node: _tolerant(node, typing_end, words, fuzzy))
    return wq.And([tolerant, *dates]) if dates else tolerant


DATE_FIELD = "upload_date"
DATE_HINT = "dates: uploaded:2021, uploaded:>2021-06, uploaded:<=2021-06-15 (YYYY, YYYY-MM or YYYY-MM-DD)"
DATE_FILTER = re.compile(r"(?<![\w:])(?:upload_date|uploaded|date):(>=|<=|>|<)?"
                         r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?(?![\w:.-])")


def date_filters(text: str) -> tuple[str, list[wq.Query]]:
    """Take the upload-date filters out of `text`: `uploaded:2021-06` (that month), `uploaded:>2021-06`
    (after it: from July), `>=`, `<`, `<=`, with a year, a month or a day. Whoosh's own date parser
    read `>2021-06` as "after 1 January 2021" and crashed on `>june 2021`, so these are parsed here."""
    dates: list[wq.Query] = []

    def take(match: re.Match[str]) -> str:
        dates.append(date_range(match.group(1) or "", *date_span(match)))
        return " "

    return DATE_FILTER.sub(take, text), dates


def date_span(match: re.Match[str]) -> tuple[datetime, datetime]:
    """The [start, end) of the year, month or day a filter names; InvalidRequest if it is no date."""
    year, month, day = (int(g) if g else None for g in match.group(2, 3, 4))
    try:
        start = datetime(year or 1, month or 1, day or 1)
    except ValueError as exc:
        raise InvalidRequest(f"{match.group(0)!r} is not a date.", hint=DATE_HINT) from exc
    if day is not None:
        return start, datetime.fromordinal(start.toordinal() + 1)
    if month is not None:
        return start, datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, datetime(start.year + 1, 1, 1)


def date_range(operator: str, start: datetime, end: datetime) -> wq.Query:
    """The upload dates `operator` the span [start, end): within it, after it, from it, before it or
    up to its end."""
    if operator == ">":
        return wq.DateRange(DATE_FIELD, end, None)
    if operator == ">=":
        return wq.DateRange(DATE_FIELD, start, None)
    if operator == "<":
        return wq.DateRange(DATE_FIELD, None, start, endexcl=True)
    if operator == "<=":
        return wq.DateRange(DATE_FIELD, None, end, endexcl=True)
    return wq.DateRange(DATE_FIELD, start, end, endexcl=True)


def _tolerant(node: wq.Query, typing_end: int, words: Words | None, fuzzy: bool) -> wq.Query:
    if not isinstance(node, wq.Term) or node.fieldname not in FUZZY_FIELDS or not isinstance(node.text, str):
        return node
    field, text, boost = node.fieldname, node.text, node.boost
    extra: list[str] = []
    if words is not None and fuzzy and len(text) >= 4:
        extra += words.near(field, text, 1 if len(text) < 6 else 2)
    typing = getattr(node, "endchar", None) == typing_end and len(text) >= 2
    if words is not None and typing and field in PREFIX_FIELDS:
        extra += [w for w in words.completions(field, text) if w != text]
    if not extra:
        return node
    return wq.Or([node, *(wq.Term(field, w, boost=boost * 0.6) for w in dict.fromkeys(extra))])


class Filtered(wq.Require):
    """Matches of `a` that also match the filter `b`, ranked by `a` alone; found by intersecting
    postings (skipping through the filter's), where Whoosh's `filter=` first lists every document
    the filter allows. (Whoosh 2.7.4's own `Require.matcher` builds an and-not matcher: a bug.)
    Only for collectors that prune nothing: Whoosh's `RequireMatcher.replace` loses matches."""

    def matcher(self, searcher: Searcher, context: Any = None) -> Any:
        return _FilteredMatcher(self.a.matcher(searcher, context),
                                self.b.matcher(searcher, searcher.boolean_context()))


class _FilteredMatcher(RequireMatcher):
    """Without block-quality skipping: Whoosh's `RequireMatcher.skip_to_quality` can leave its
    intersection on two different documents (an assertion error in the next step)."""

    def supports_block_quality(self) -> bool:
        return False


def facet_filter(facets: dict[str, Any] | None) -> wq.Query | None:
    """`{"resolution": "1080p", "tags": ["cats", "space"]}` -> all must hold."""
    if not facets:
        return None
    unknown = sorted(set(facets) - set(FACETS))
    if unknown:
        raise InvalidRequest(f"Cannot filter on {unknown[0]!r}.", hint=f"facets: {', '.join(FACETS)}")
    terms = [wq.Term(name, str(v).lower() if name == "tags" else str(v))
             for name, values in facets.items()
             for v in (values if isinstance(values, list | tuple) else [values])]
    return wq.And(terms) if terms else None


def suggest(searcher: Searcher, text: str) -> str | None:
    """The query with each unknown word replaced by the closest indexed word, if any changed."""
    changed = False

    def fix(match: re.Match[str]) -> str:
        nonlocal changed
        word = match.group(0)
        if searcher.doc_frequency("words", word.lower()):
            return word
        close = searcher.suggest("words", word.lower(), limit=1, maxdist=2, prefix=1)
        if not close:
            return word
        changed = True
        return str(close[0])

    fixed = WORD.sub(fix, text)
    return fixed if changed else None
