"""Which cues of a block say what was asked, and how a query finds the blocks.

The cue index holds one document per few minutes of a track (`cues.BLOCK_S`), so Whoosh ranks
blocks; the moments are then found here, for the page shown only, by checking the query against the
words of each cue of the block (or of two neighbouring cues, when a phrase or the words straddle
them). A quoted phrase is looked up as its word pairs (`WordPairs`: one posting list per pair, no
positions), which Whoosh answers as fast as plain words; the cue check makes it word for word.
"""

from __future__ import annotations

import fnmatch
import html
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from whoosh import query as wq
from whoosh.analysis import Filter, RegexTokenizer, Token
from whoosh.analysis.filters import LowercaseFilter
from whoosh.highlight import HtmlFormatter, WholeFragmenter, highlight

FIELD = "text"
PAIRS = "pairs"

Cue = tuple[float, float, str]


class WordPairs(Filter):
    """Each word joined to the next one ("bridge at", "at dawn"): a quoted phrase's pairs are terms."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        previous = None
        for token in tokens:
            word = token.text
            if previous is not None:
                token.text = f"{previous} {word}"
                yield token
            previous = word


def words_analyzer() -> Any:
    """Lower-cased words, not stemmed or stop-listed: a phrase matches what was said word for word."""
    return RegexTokenizer() | LowercaseFilter()


def pairs_analyzer() -> Any:
    return RegexTokenizer() | LowercaseFilter() | WordPairs()


_WORDS = words_analyzer()


def words_of(text: str) -> list[str]:
    return [token.text for token in _WORDS(text)]


def by_pairs(node: wq.Query) -> wq.Query:
    """The query Whoosh runs on blocks: a phrase becomes the AND of its word pairs."""
    def swap(part: wq.Query) -> wq.Query:
        if isinstance(part, wq.Phrase) and part.fieldname == FIELD and len(part.words) > 1:
            pairs = [wq.Term(PAIRS, f"{a} {b}") for a, b in zip(part.words, part.words[1:], strict=False)]
            return pairs[0] if len(pairs) == 1 else wq.And(pairs)
        return part
    return node.accept(swap)


def said(node: wq.Query, words: Sequence[str]) -> bool:
    """Whether `words` (one cue's, or two neighbours') say what `node` asks."""
    if isinstance(node, wq.Phrase):
        return _contains(words, node.words)
    if isinstance(node, (wq.Term, wq.Prefix, wq.Wildcard)):
        return node.fieldname != FIELD or _has_word(node, words)
    if isinstance(node, wq.BinaryQuery):
        return _binary(node, words)
    if isinstance(node, wq.And):
        return all(said(part, words) for part in node.subqueries)
    if isinstance(node, wq.Or):
        return any(said(part, words) for part in node.subqueries)
    if isinstance(node, wq.Not):
        return not said(node.query, words)
    return True  # anything else (a range on another field, everything): no word to check


def _has_word(node: wq.Query, words: Sequence[str]) -> bool:
    if isinstance(node, wq.Prefix):
        return any(w.startswith(node.text) for w in words)
    if isinstance(node, wq.Wildcard):
        return bool(fnmatch.filter(words, node.text))
    return node.text in words


def _binary(node: wq.BinaryQuery, words: Sequence[str]) -> bool:
    first = said(node.a, words)
    if isinstance(node, wq.AndNot):
        return first and not said(node.b, words)
    if isinstance(node, wq.AndMaybe):
        return first
    if isinstance(node, wq.Otherwise):
        return first or said(node.b, words)
    return first and said(node.b, words)


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    return any(list(words[i:i + n]) == list(phrase) for i in range(len(words) - n + 1))


def asked_words(node: wq.Query) -> frozenset[str]:
    """The words to mark in a moment: every word and phrase word of the query (typo variants too)."""
    found: set[str] = set()
    for part in ([node] if node.is_leaf() else node.leaves()):
        if isinstance(part, wq.Phrase):
            found.update(part.words)
        elif isinstance(part, wq.Term) and part.fieldname == FIELD and isinstance(part.text, str):
            found.add(part.text)
    return frozenset(found)


@dataclass(frozen=True)
class Moment:
    """One place a title says what was asked: when, the cue text, and the words around the match
    (HTML-marked)."""

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


def moments(cues: Sequence[Cue], node: wq.Query, language: str, marked: frozenset[str]) -> list[Moment]:
    """The cues of one block that say `node`, in time order; if none does alone, two neighbouring
    cues that do together (a phrase across a line break), shown as one moment from the first's start;
    if the words are only spread over the block, the cues that hold any of them."""
    words = [words_of(text) for _, _, text in cues]
    spans = [(i, i) for i, w in enumerate(words) if said(node, w)]
    if not spans:
        spans = [(i, i + 1) for i in range(len(cues) - 1) if said(node, words[i] + words[i + 1])]
    if not spans:
        spans = [(i, i) for i, w in enumerate(words) if marked.intersection(w)][:1] or [(0, 0)]
    return [_moment(cues[first:last + 1], language, marked) for first, last in spans]


def _moment(span: Sequence[Cue], language: str, marked: frozenset[str]) -> Moment:
    text = " ".join(cue[2] for cue in span)
    snippet = highlight(text, marked, _WORDS, WholeFragmenter(), HtmlFormatter(tagname="mark", between=" … "))
    return Moment(span[0][0], span[-1][1], text, snippet or html.escape(text, quote=False), language)
