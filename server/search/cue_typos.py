"""Typo candidates for subtitle search: the indexed words one edit away from a misspelt word, found
by lookup instead of by comparing it with every word.

Each indexed word is filed under itself and under each of its one-letter deletions ("bridge" under
"ridge", "bidge", …); a word one edit (insert, delete, substitute, swap neighbours) away from the
query shares one of those keys with it (the symmetric-delete method), so a handful of dictionary
lookups replace a bounded edit distance over a few hundred words. Two edits away is still the
comparison (`fuzzy.distance`), and only when nothing is one edit away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from whoosh.reading import IndexReader

from server.search.fuzzy import distance


def deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Typos:
    """The indexed words of one field, by deletion and by first letter, with their document counts."""

    def __init__(self, reader: IndexReader, field: str) -> None:
        self._df: dict[str, int] = dict(_words(reader, field))
        self._by_key: dict[str, list[str]] = defaultdict(list)
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        for word in self._df:
            self._by_initial[word[:1]].append(word)
            for key in {word} | deletions(word):
                self._by_key[key].append(word)

    def near(self, text: str, maxdist: int, limit: int) -> list[str]:
        """The `limit` commonest indexed words sharing `text`'s first letter, 1 edit away, or (with
        `maxdist` 2, when none is) 2 edits away; `text` itself excluded."""
        found = self._one_edit(text)
        if not found and maxdist >= 2:
            found = {w for w in self._by_initial.get(text[:1], [])
                     if abs(len(w) - len(text)) <= 2 and distance(text, w, 2) <= 2}
        found.discard(text)
        return sorted(found, key=lambda w: (-self._df[w], w))[:limit]

    def _one_edit(self, text: str) -> set[str]:
        keys = {text} | deletions(text)
        candidates = {w for key in keys for w in self._by_key.get(key, ())}
        return {w for w in candidates if w[:1] == text[:1] and distance(text, w, 1) <= 1}


def _words(reader: IndexReader, field: str) -> Iterable[tuple[str, int]]:
    """(word, document frequency) of every term of `field`, in one pass over the term file."""
    if field not in reader.indexed_field_names():
        return []
    return ((w.decode("utf-8") if isinstance(w, bytes) else w, info.doc_frequency())
            for w, info in reader.iter_field(field))
