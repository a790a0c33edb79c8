"""Which cues of a block say what was asked, and how a query finds the blocks.

The cue index holds one document per few minutes of a track (`cues.BLOCK_S`), so Whoosh ranks
blocks; the moments are then found here, for the page shown only, by checking the query against the
words of each cue of the block (or of two neighbouring cues, when a phrase or the words straddle
them). A quoted phrase is looked up through its word pairs that hold a common word (`CommonPairs`,
"with it", "at dawn": one posting list per pair, as Lucene's common grams do), which Whoosh answers
as fast as plain words, where checking the positions of two words said everywhere would read them
all; pairs of two rarer words are checked by position (few blocks hold both). The cue check makes
the moments word for word.
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import html
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from whoosh import query as wq
from whoosh.analysis import Filter, RegexTokenizer, Token
from whoosh.analysis.filters import LowercaseFilter
from whoosh.lang.stopwords import stoplists

FIELD = "text"
PAIRS = "pairs"

Cue = tuple[float, float, str]


# The stop words of the 14 languages Whoosh lists: the words said so often that a phrase holding one
# is found through its pairs. Changing this set changes the index format (`cues.INDEX_NAME`).
COMMON = frozenset().union(*stoplists.values())


def common_pair(first: str, second: str) -> bool:
    return first in COMMON or second in COMMON


class CommonPairs(Filter):
    """Each word joined to the next one ("at dawn") when either is a common word: the pairs of a
    quoted phrase that position checks would make slow are terms of their own. (Pairs of two rarer
    words are left out: there are millions of them, and Whoosh pays per distinct term.)"""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        previous = None
        for token in tokens:
            word = token.text
            if previous is not None and common_pair(previous, word):
                token.text = f"{previous} {word}"
                yield token
            previous = word


def words_analyzer() -> Any:
    """Lower-cased words, not stemmed or stop-listed: a phrase matches what was said word for word."""
    return RegexTokenizer() | LowercaseFilter()


def pairs_analyzer() -> Any:
    return RegexTokenizer() | LowercaseFilter() | CommonPairs()


_WORDS = words_analyzer()
_WORD = re.compile(r"\w+(?:\.?\w+)*")  # RegexTokenizer's default expression, without a Token per word


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def by_pairs(node: wq.Query) -> wq.Query:
    """The query Whoosh runs on blocks: a phrase becomes the AND of its common pairs, plus a position
    check of the phrase when some pair has no common word."""
    def swap(part: wq.Query) -> wq.Query:
        if not (isinstance(part, wq.Phrase) and part.fieldname == FIELD and len(part.words) > 1):
            return part
        adjacent = list(zip(part.words, part.words[1:], strict=False))
        terms: list[wq.Query] = [wq.Term(PAIRS, f"{a} {b}") for a, b in adjacent if common_pair(a, b)]
        if len(terms) < len(adjacent):
            terms.append(part)
        return terms[0] if len(terms) == 1 else wq.And(terms)
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


def spans(cues: Sequence[Cue], node: wq.Query, marked: frozenset[str], want: int) -> list[tuple[int, int]]:
    """Up to `want` places in one block's cues that say `node` (first, last cue index), in time
    order: cues that say it alone; if none does, two neighbouring cues that do together (a phrase
    across a line break); if the words are only spread over the block, the first cue holding any."""
    words = _Words(cues, node)
    found: list[tuple[int, int]] = []
    for i in words.candidates():
        if said(node, words[i]):
            found.append((i, i))
            if len(found) >= want:
                return found
    if found:
        return found
    holding = list(words.candidates())
    pairs = sorted({i for j in holding for i in (j - 1, j) if 0 <= i < len(cues) - 1})
    found = [(i, i + 1) for i in pairs if said(node, words[i] + words[i + 1])][:want]
    return found or [(i, i) for i in holding if marked.intersection(words[i])][:1] or [(0, 0)]


class _Words:
    """The words of a block's cues, split only when asked; `candidates` are the cues that may say
    the query, in order: those where one regular expression of what the query cannot do without
    (`needles`) matches the block's text, searched in C, so a common phrase stops at its first few
    cues and a rare one costs one scan."""

    def __init__(self, cues: Sequence[Cue], node: wq.Query) -> None:
        self._cues = cues
        needed = needles(node)
        self._pattern = _any_of(tuple(sorted(needed))) if needed else None
        self._split: dict[int, list[str]] = {}
        self._text: str | None = None
        self._starts: list[int] = []

    def candidates(self) -> Iterator[int]:
        if self._pattern is None:  # prefixes, wildcards, negations: every cue
            yield from range(len(self._cues))
            return
        if self._text is None:
            texts = [cue[2] for cue in self._cues]
            self._starts = list(itertools.accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
            self._text = "\n".join(texts).lower()
        last = -1
        for hit in self._pattern.finditer(self._text):
            i = bisect.bisect_right(self._starts, hit.start()) - 1
            if i != last:
                yield i
                last = i

    def __getitem__(self, i: int) -> list[str]:
        if i not in self._split:
            self._split[i] = words_of(self._cues[i][2])
        return self._split[i]


def needles(node: wq.Query) -> set[str] | None:
    """Regular expressions (words, phrases) of which any text saying `node` holds one; None when
    there is no such set (a prefix, a negation alone). Of an AND's parts, the most telling one."""
    if isinstance(node, wq.Phrase):
        return {r"\W+".join(re.escape(w) for w in node.words)}
    if isinstance(node, wq.Term):
        return {re.escape(node.text)} if node.fieldname == FIELD and isinstance(node.text, str) else None
    if isinstance(node, (wq.AndNot, wq.AndMaybe)):
        return needles(node.a)
    if isinstance(node, (wq.And, wq.Require)):
        options = [n for n in map(needles, node.subqueries) if n]
        return max(options, key=lambda n: min(map(len, n))) if options else None
    if isinstance(node, (wq.Or, wq.Otherwise)):
        parts = [needles(part) for part in node.subqueries]
        return set().union(*parts) if parts and all(parts) else None  # type: ignore[arg-type]
    return None


@functools.lru_cache(maxsize=256)
def _any_of(needed: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(sorted(needed, key=len, reverse=True)) + r")\b")


def moment(span: Sequence[Cue], language: str, marked: frozenset[str]) -> Moment:
    """The moment of one cue or of neighbours said together, its marked words in `<mark>`."""
    text = " ".join(cue[2] for cue in span)
    return Moment(span[0][0], span[-1][1], text, mark(text, marked), language)


def mark(text: str, marked: frozenset[str]) -> str:
    """`text` HTML-escaped with each marked word in `<mark class="match termN">`, N counting the
    distinct spellings in order of appearance: what Whoosh's HtmlFormatter writes, without its
    tokens and fragments (a tenth of the time)."""
    seen: dict[str, int] = {}
    out, index = [], 0
    for found in _WORD.finditer(text):
        if found.group().lower() not in marked:
            continue
        spelt = html.escape(found.group(), quote=False)
        out += [html.escape(text[index:found.start()], quote=False),
                f'<mark class="match term{seen.setdefault(spelt, len(seen))}">{spelt}</mark>']
        index = found.end()
    return "".join(out) + html.escape(text[index:], quote=False)
