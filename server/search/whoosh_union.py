"""A fix for Whoosh 2.7.4's union (OR) matcher: its block-quality skipping could loop forever.

`UnionMatcher.skip_to_quality(m)` skips blocks while the two sides' block qualities sum to at most
`m`, asking the weaker side to skip to `m - (the other side's quality)`. In floating point
`aq + bq <= m` and `aq > m - bq` can both hold (28% of random pairs when `m` is exactly `aq + bq`,
as when the page's lowest score is the block's best document), so the weaker side skips nothing and
the loop never ends: a search thread at 100% CPU for good. Whoosh's intersection matcher guards the
same loop (it steps on when nothing was skipped); here the union stops skipping instead and lets the
collector score the block, which can only cost time, never a match.

Imported for its effect by the modules that search (`server.search.query`, `server.search.cues`).
"""

from __future__ import annotations

from whoosh.matching import binary, mcore


def skip_to_quality(self: binary.UnionMatcher, minquality: float) -> int:
    """Whoosh's `UnionMatcher.skip_to_quality`, ending when a side could skip nothing."""
    self._id = None
    a, b = self.a, self.b
    if not (a.is_active() or b.is_active()):
        raise mcore.ReadTooFar
    if not a.is_active():
        return int(b.skip_to_quality(minquality))
    if not b.is_active():
        return int(a.skip_to_quality(minquality))
    skipped = 0
    aq, bq = a.block_quality(), b.block_quality()
    while a.is_active() and b.is_active() and aq + bq <= minquality:
        if aq < bq:
            moved = a.skip_to_quality(minquality - bq)
            aq = a.block_quality()
        else:
            moved = b.skip_to_quality(minquality - aq)
            bq = b.block_quality()
        if not moved:
            break
        skipped += moved
    return skipped


binary.UnionMatcher.skip_to_quality = skip_to_quality
