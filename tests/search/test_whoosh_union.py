"""Whoosh's union (OR) matcher skipping blocks by quality: with the sides' qualities summing to the
page's lowest score exactly, floating point made the weaker side skip nothing, forever (a search
thread at 100% CPU for good); with the fix (`server.search.whoosh_union`) it stops skipping."""

from __future__ import annotations

import threading

from whoosh.matching import binary
from whoosh.matching.mcore import Matcher

import server.search.query  # noqa: F401  (the search modules install the fix)

STALLING = (4.954350870919409, 4.494910647887381)  # a + b == m, yet b > m - a in floating point


class Blocks(Matcher):
    """A leaf's block-quality behaviour: blocks of one document each, with these qualities; it skips
    the blocks whose quality is at most the one asked, as Whoosh's leaf matchers do."""

    def __init__(self, qualities: list[float]) -> None:
        self.qualities, self.i = qualities, 0

    def is_active(self) -> bool:
        return self.i < len(self.qualities)

    def id(self) -> int:
        return self.i

    def supports_block_quality(self) -> bool:
        return True

    def block_quality(self) -> float:
        return self.qualities[self.i]

    def skip_to_quality(self, minquality: float) -> int:
        skipped = 0
        while self.is_active() and self.block_quality() <= minquality:
            self.i += 1
            skipped += 1
        return skipped


def test_the_union_stops_skipping_where_rounding_would_stall_it() -> None:
    a, b = STALLING
    union = binary.UnionMatcher(Blocks([a, 9.0]), Blocks([b, 9.0]))
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(union.skip_to_quality(a + b)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the union's skip_to_quality never returned"
    assert union.a.is_active() and union.b.is_active()   # the block is left for the collector to score


def test_the_union_still_skips_what_cannot_reach_the_page() -> None:
    union = binary.UnionMatcher(Blocks([1.0, 1.0, 5.0]), Blocks([1.0, 2.0, 6.0]))
    assert union.skip_to_quality(3.5) > 0
    assert union.a.block_quality() + union.b.block_quality() > 3.5
