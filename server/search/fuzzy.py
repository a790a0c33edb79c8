"""Typo and prefix candidates from an in-memory word list (one per index version).

Whoosh expands a fuzzy term by walking a Levenshtein automaton over its on-disk term file in pure
Python (about 10 ms per word and field here), and a prefix the same way; the words of the few
fuzzy fields fit in memory, where a bounded edit distance over those sharing the first letter and a
close length, or a bisect for a prefix, is far cheaper. The edit distance itself is pure Python, so
it only runs on words whose letter counts are close enough: an edit changes at most two counts by
one (a swap none), so a word `d` edits away differs in at most `2 d` counts, compared for a whole
bucket of words at once.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from whoosh.reading import IndexReader

LETTERS = 27  # a-z counted one by one, every other character in one count: still a lower bound


class Lexicon:
    """Indexed words of `fields`, grouped by field and first letter."""

    def __init__(self, reader: IndexReader, fields: Sequence[str]) -> None:
        self._df = {f: dict(_words(reader, f)) for f in fields}  # word -> documents holding it
        self._sorted = {f: sorted(df) for f, df in self._df.items()}
        self._words = {f: {initial: _Bucket(bucket) for initial, bucket in _by_initial(words).items()}
                       for f, words in self._sorted.items()}

    def completions(self, field: str, prefix: str, limit: int = 8) -> list[str]:
        """The `limit` most common indexed words starting with `prefix`: the likely completions,
        and few enough that the query stays cheap."""
        words, df = self._sorted.get(field, []), self._df.get(field, {})
        start = bisect.bisect_left(words, prefix)
        end = bisect.bisect_left(words, prefix + "\U0010ffff", lo=start)
        return sorted(words[start:end], key=lambda w: -df[w])[:limit]

    def near(self, field: str, text: str, maxdist: int) -> list[str]:
        """Words within `maxdist` edits (insert, delete, substitute, swap neighbours) of `text`,
        sharing its first letter; `text` itself excluded."""
        bucket = self._words.get(field, {}).get(text[:1])
        if bucket is None:
            return []
        return [w for w in bucket.close(text, maxdist) if w != text and distance(text, w, maxdist) <= maxdist]


class _Bucket:
    """Words sharing a first letter, with their lengths and letter counts as arrays."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.lengths = np.array([len(w) for w in words])
        self.letters = letter_counts(words)

    def close(self, text: str, maxdist: int) -> list[str]:
        """The words (in order) that may be within `maxdist` edits of `text`: length and letter
        counts close enough."""
        candidates = np.flatnonzero(np.abs(self.lengths - len(text)) <= maxdist)
        apart = np.abs(self.letters[candidates] - letter_counts([text])[0]).sum(axis=1)
        return [self.words[i] for i in candidates[apart <= 2 * maxdist]]


def letter_counts(words: Sequence[str]) -> np.ndarray:
    """How often each of a-z (and anything else, together) occurs in each word: one row a word."""
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.int64) - ord("a")
    codes[(codes < 0) | (codes >= LETTERS - 1)] = LETTERS - 1
    rows = np.repeat(np.arange(len(words)), [len(w) for w in words])
    counts = np.zeros((len(words), LETTERS), dtype=np.int32)
    np.add.at(counts, (rows, codes), 1)
    return counts


def _words(reader: IndexReader, field: str) -> Iterable[tuple[str, int]]:
    """(word, document frequency) of every term of `field`, in one pass over the term file."""
    if field not in reader.indexed_field_names():
        return []
    return ((w.decode("utf-8") if isinstance(w, bytes) else w, info.doc_frequency())
            for w, info in reader.iter_field(field))


def _by_initial(words: Iterable[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for word in words:
        groups[word[:1]].append(word)
    return dict(groups)


def distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, giving up (returning limit + 1) once every cell exceeds it."""
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = current[j - 1] + 1, row[j] + 1, row[j - 1] + (ca != cb)
            best = min(cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, before[j - 2] + 1)
            current[j] = best
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]

