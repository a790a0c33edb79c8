"""Typo and prefix candidates from an in-memory word list (one per index version).

Whoosh expands a fuzzy term by walking a Levenshtein automaton over its on-disk term file in pure
Python (about 10 ms per word and field here), and a prefix the same way; the words of the few
fuzzy fields fit in memory, where a bounded edit distance over those sharing the first letter and a
close length, or a bisect for a prefix, is far cheaper.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence

from whoosh.reading import IndexReader


class Lexicon:
    """Indexed words of `fields`, grouped by field and first letter."""

    def __init__(self, reader: IndexReader, fields: Sequence[str]) -> None:
        self._df = {f: dict(_words(reader, f)) for f in fields}  # word -> documents holding it
        self._sorted = {f: sorted(df) for f, df in self._df.items()}
        self._words = {f: _by_initial(words) for f, words in self._sorted.items()}

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
        bucket = self._words.get(field, {}).get(text[:1], [])
        return [w for w in bucket if w != text and abs(len(w) - len(text)) <= maxdist
                and distance(text, w, maxdist) <= maxdist]


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

