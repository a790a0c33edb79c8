"""The bitrate-VMAF convex hull across resolutions, and the rungs a per-title ladder takes from it.

Pure arithmetic on measured points (one per resolution x CRF): no ffmpeg here, so the hull and the
rung choice are tested by hand (tests/media/test_per_title_hull.py).

The hull is the upper-left boundary of every (bitrate, VMAF) point: at each bitrate, the best quality
any resolution reaches, joined by straight lines (a player switching between two rungs reaches any
mix of them). Where the hull passes from one resolution to the next is a crossover: below it the
smaller picture, encoded with fewer losses, looks better than the larger one starved of bits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RatePoint:
    """One measured encode: a resolution at one CRF, its average bitrate and its mean VMAF."""

    name: str          # the resolution's rung name, e.g. "720p"
    width: int
    height: int
    crf: float
    kbps: float
    vmaf: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rules:
    """How rungs are picked from the hull (defaults from Netflix's per-title write-up and JND studies)."""

    top_vmaf: float = 95.0        # above this viewers see no difference on a TV at 3 picture heights
    min_slope: float = 1.0        # VMAF points per Mbit/s below which more bits stop paying
    floor_kbps: float = 200.0     # the bottom rung, for thin links (never under the hull's first point)
    jnd: float = 6.0              # one just-noticeable difference, in VMAF points
    max_rungs: int = 6


# A rung for thin links pays when the top rung costs at least this much more than the floor.
FLOOR_MARGIN = 1.25


def _cross(o: RatePoint, a: RatePoint, b: RatePoint) -> float:
    """> 0 when o → a → b turns left (a lies under the line o-b)."""
    return (a.kbps - o.kbps) * (b.vmaf - o.vmaf) - (a.vmaf - o.vmaf) * (b.kbps - o.kbps)


def upper_hull(points: Sequence[RatePoint]) -> list[RatePoint]:
    """The upper-left convex hull, by rising bitrate: every vertex adds quality, at a falling rate.

    A point that costs more bits than a hull vertex for no more quality is dominated and left out.
    """
    hull: list[RatePoint] = []
    for point in sorted(points, key=lambda p: (p.kbps, -p.vmaf)):
        if hull and point.vmaf <= hull[-1].vmaf:
            continue
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) >= 0:
            hull.pop()
        hull.append(point)
    return hull


def crossovers(hull: Sequence[RatePoint]) -> list[dict[str, Any]]:
    """Where the hull moves to another resolution: the bitrate span between the two vertices."""
    return [{"from": a.name, "to": b.name, "kbps": [round(a.kbps, 1), round(b.kbps, 1)]}
            for a, b in itertools.pairwise(hull) if a.name != b.name]


def slope(a: RatePoint, b: RatePoint) -> float:
    """VMAF points gained per Mbit/s from `a` to `b`."""
    return (b.vmaf - a.vmaf) / max((b.kbps - a.kbps) / 1000, 1e-9)


def _between(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def vmaf_at(hull: Sequence[RatePoint], kbps: float) -> float:
    """The hull's VMAF at `kbps` (clamped to its ends)."""
    if kbps <= hull[0].kbps:
        return hull[0].vmaf
    for a, b in itertools.pairwise(hull):
        if kbps <= b.kbps:
            return _between(kbps, a.kbps, b.kbps, a.vmaf, b.vmaf)
    return hull[-1].vmaf


def kbps_at(hull: Sequence[RatePoint], vmaf: float) -> float:
    """The hull's bitrate for `vmaf` (clamped to its ends)."""
    if vmaf <= hull[0].vmaf:
        return hull[0].kbps
    for a, b in itertools.pairwise(hull):
        if vmaf <= b.vmaf:
            return _between(vmaf, a.vmaf, b.vmaf, a.kbps, b.kbps)
    return hull[-1].kbps


def top_vmaf(hull: Sequence[RatePoint], rules: Rules) -> float:
    """Where quality stops paying: `top_vmaf`, or the first vertex after which the hull's slope falls
    under `min_slope`, or the best point measured, whichever comes first."""
    knee = hull[-1].vmaf
    for a, b in itertools.pairwise(hull):
        if slope(a, b) < rules.min_slope:
            knee = a.vmaf
            break
    return min(rules.top_vmaf, knee)


def target_vmafs(hull: Sequence[RatePoint], rules: Rules) -> list[float]:
    """The rungs' qualities, top first: from the top to the floor's quality, about one JND apart (the
    floor's rung even closer to the one above it: a thin link needs it, whatever it looks like)."""
    top = top_vmaf(hull, rules)
    floor = max(rules.floor_kbps, hull[0].kbps)
    bottom = vmaf_at(hull, floor)
    if kbps_at(hull, top) <= floor * FLOOR_MARGIN:
        return [top]
    gaps = min(max(1, round((top - bottom) / rules.jnd)), rules.max_rungs - 1)
    step = (top - bottom) / gaps
    return [top - i * step for i in range(gaps + 1)]


def _own_curves(points: Sequence[RatePoint]) -> dict[str, list[RatePoint]]:
    """Each resolution's own hull (its CRF points, rising in bitrate and quality)."""
    names = {p.name for p in points}
    return {name: upper_hull([p for p in points if p.name == name]) for name in names}


def _on_curve(curve: Sequence[RatePoint], kbps: float) -> RatePoint | None:
    """One resolution's encode at `kbps`: CRF moves with log(bitrate) (about -6 CRF per doubling);
    None outside what was measured."""
    for a, b in itertools.pairwise(curve):
        if a.kbps <= kbps <= b.kbps:
            crf = _between(math.log(kbps), math.log(a.kbps), math.log(b.kbps), a.crf, b.crf)
            vmaf = _between(kbps, a.kbps, b.kbps, a.vmaf, b.vmaf)
            return RatePoint(a.name, a.width, a.height, round(crf, 2), round(kbps, 1), round(vmaf, 2))
    return None


def pick_at(points: Sequence[RatePoint], hull: Sequence[RatePoint], vmaf: float) -> RatePoint:
    """The encode nearest a hull quality: at the hull's bitrate for it, each resolution's own curve
    there (its CRF interpolated, never outside what was measured), or the hull segment's two measured
    ends: where the hull crosses to another resolution it is a mix of two encodes, and the nearer
    end can be far better than any single curve at that bitrate."""
    kbps = kbps_at(hull, vmaf)
    options = [p for curve in _own_curves(points).values() if (p := _on_curve(curve, kbps)) is not None]
    options += _segment(hull, kbps)
    return min(options, key=lambda p: (abs(p.vmaf - vmaf), p.kbps))


def _segment(hull: Sequence[RatePoint], kbps: float) -> list[RatePoint]:
    """The hull vertices on either side of `kbps` (one at the ends)."""
    for a, b in itertools.pairwise(hull):
        if a.kbps <= kbps <= b.kbps:
            return [a, b]
    return [hull[0] if kbps <= hull[0].kbps else hull[-1]]


def pick_rungs(points: Sequence[RatePoint], rules: Rules = Rules()) -> list[RatePoint]:
    """The per-title ladder, top first: one encode per target quality, repeats (same resolution and
    whole CRF) dropped."""
    hull = upper_hull(points)
    if not hull:
        raise ValueError("no measured points to build a ladder from")
    picks: list[RatePoint] = []
    for vmaf in target_vmafs(hull, rules):
        pick = pick_at(points, hull, vmaf)
        if not any(p.name == pick.name and round(p.crf) == round(pick.crf) for p in picks):
            picks.append(pick)
    return picks
