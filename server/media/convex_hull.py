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
    """How rungs are picked from the hull (defaults from Netflix's per-title write-up and JND studies,
    the floor and the placement measured on the titles' true hulls: bench/per_title_rules.py)."""

    top_vmaf: float = 95.0        # above this viewers see no difference on a TV at 3 picture heights
    min_slope: float = 1.0        # VMAF points per Mbit/s below which more bits stop paying
    floor_kbps: float = 200.0     # the bottom rung costs at most this, for thin links ...
    floor_vmaf: float = 60.0      # ... and no more than this quality needs (0: `floor_kbps` alone) ...
    floor_share: float = 0.0      # ... nor this share of the top rung's bitrate (0: no such bound);
    min_floor_kbps: float = 25.0  # never under this nor under the hull's cheapest point
    jnd: float = 6.0              # one just-noticeable difference, in VMAF points: sets how many rungs
    max_rungs: int = 6
    placement: str = "bends"      # "bends": rungs where the hull bends; "jnd": evenly spaced in VMAF
    min_gap: float = 3.0          # VMAF points between two rungs, at least ("bends")
    min_step: float = 1.5         # bitrate ratio between two neighbouring rungs, at least (1: no bound)


# A rung for thin links pays when the top rung costs at least this much more than the floor.
FLOOR_MARGIN = 1.25
PLACEMENTS = ("bends", "jnd")


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


def floor_kbps(hull: Sequence[RatePoint], top_kbps: float, rules: Rules) -> float:
    """The bottom rung's bitrate: `floor_kbps`, or less where the title reaches `floor_vmaf` for less
    (the PAL clip looks 88 at 200 kbit/s and 60 at 18: a thin link needs a rung far under 200), or
    `floor_share` of the top rung's when set and lower; never under the hull's cheapest point nor
    under `min_floor_kbps` (next to the title's 128 kbit/s audio a cheaper video rung serves no link
    the one above it would not: a screen recording whose top costs 21 kbit/s gets one rung)."""
    cap = rules.floor_kbps
    if rules.floor_vmaf > 0:
        cap = min(cap, kbps_at(hull, rules.floor_vmaf))
    if rules.floor_share > 0:
        cap = min(cap, rules.floor_share * top_kbps)
    return max(cap, hull[0].kbps, rules.min_floor_kbps)


def rung_span(hull: Sequence[RatePoint], rules: Rules) -> tuple[float, float, int]:
    """The top rung's and the bottom rung's qualities and how many rungs between them (both ends
    counted): about one JND apart, at most `max_rungs`, and no more than fit `min_step` apart in
    bitrate (a talking head's hull spans 25-120 kbit/s: four rungs, not six); one rung when the top
    costs about the floor."""
    top = top_vmaf(hull, rules)
    top_kbps = kbps_at(hull, top)
    floor = floor_kbps(hull, top_kbps, rules)
    bottom = vmaf_at(hull, floor)
    if top_kbps <= floor * FLOOR_MARGIN or top - bottom <= 0:
        return top, top, 1
    gaps = min(max(1, round((top - bottom) / rules.jnd)), rules.max_rungs - 1)
    if rules.min_step > 1:
        gaps = min(gaps, math.floor(math.log(top_kbps / floor) / math.log(rules.min_step) + 1e-9))
    return top, bottom, gaps + 1


def target_vmafs(hull: Sequence[RatePoint], rules: Rules) -> list[float]:
    """The rungs' qualities, top first, evenly spaced ("jnd" placement): from the top to the floor's
    quality, about one JND apart (the floor's rung even closer to the one above it: a thin link needs
    it, whatever it looks like)."""
    top, bottom, count = rung_span(hull, rules)
    if count == 1:
        return [top]
    step = (top - bottom) / (count - 1)
    return [top - i * step for i in range(count)]


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
    """The per-title ladder, top first: the top and the floor's rung, and between them the encodes
    where the hull bends ("bends") or one per evenly spaced quality ("jnd"); repeats (same resolution
    and whole CRF) dropped."""
    if rules.placement not in PLACEMENTS:
        raise ValueError(f"unknown rung placement {rules.placement!r} (one of {', '.join(PLACEMENTS)})")
    hull = upper_hull(points)
    if not hull:
        raise ValueError("no measured points to build a ladder from")
    if rules.placement == "bends":
        chosen = bend_rungs(points, hull, rules)
    else:
        chosen = [pick_at(points, hull, vmaf) for vmaf in target_vmafs(hull, rules)]
    picks: list[RatePoint] = []
    for pick in chosen:
        if not any(p.name == pick.name and round(p.crf) == round(pick.crf) for p in picks):
            picks.append(pick)
    return picks


# ---- rungs where the hull bends ----------------------------------------------------------------

GRID_VMAF = 1.0    # candidate rungs: the hull's vertices and an encode every this many VMAF points
STEP_VMAF = 0.1    # the lost bits are summed at this step


def bits_lost(hull: Sequence[RatePoint], rungs: Sequence[RatePoint], step: float = STEP_VMAF) -> float:
    """The area between the hull and the rungs' own curve (log(bitrate) read linearly between
    neighbouring rungs, as a player switching between them and BD-rate see it), over the rungs'
    quality span, in log(kbit/s) x VMAF points: what the ladder pays, in bits, for not being the hull."""
    ordered = sorted(rungs, key=lambda p: p.vmaf)
    return sum(_segment_loss(hull, a, b, step) for a, b in itertools.pairwise(ordered))


def _segment_loss(hull: Sequence[RatePoint], a: RatePoint, b: RatePoint, step: float) -> float:
    """|chord - hull| in log(kbit/s), summed from `a` to `b` (b above a in quality)."""
    span = b.vmaf - a.vmaf
    if span <= 0:
        return 0.0
    la, lb = math.log(a.kbps), math.log(b.kbps)
    samples = max(1, math.ceil(span / step))
    width = span / samples
    total = 0.0
    for i in range(samples):
        v = a.vmaf + (i + 0.5) * width
        total += abs(la + (lb - la) * (v - a.vmaf) / span - math.log(kbps_at(hull, v)))
    return total * width


def _spaced(low: RatePoint, high: RatePoint, rules: Rules) -> bool:
    """Whether two rungs are far enough apart: `min_gap` VMAF points and `min_step` in bitrate."""
    return (high.vmaf - low.vmaf >= rules.min_gap - 1e-9
            and high.kbps >= low.kbps * rules.min_step * (1 - 1e-9))


def bend_rungs(points: Sequence[RatePoint], hull: Sequence[RatePoint], rules: Rules) -> list[RatePoint]:
    """Top first: the top rung, the floor's rung and, among the hull's vertices and the encodes on it
    every GRID_VMAF points, as many rungs in between as `rung_span` counts (fewer where `min_gap`
    and `min_step` leave no room), those that lose the fewest bits against the hull
    (`bits_lost`; dynamic programming over the candidates), no two closer than `min_gap` VMAF points
    or `min_step` in bitrate:
    rungs a JND apart lose where the hull is curved, a rung on each bend follows it."""
    top, bottom, count = rung_span(hull, rules)
    first, last = pick_at(points, hull, bottom), pick_at(points, hull, top)
    if count == 1 or not _spaced(first, last, rules):
        return [last]
    between = [v.vmaf for v in hull if first.vmaf < v.vmaf < last.vmaf]
    grid = int((last.vmaf - first.vmaf) / GRID_VMAF)
    between += [first.vmaf + i * GRID_VMAF for i in range(1, grid + 1)]
    middle = {(p.name, round(p.crf, 2)): p for p in (pick_at(points, hull, v) for v in between)
              if first.vmaf < p.vmaf < last.vmaf}
    candidates = [first, *sorted(middle.values(), key=lambda p: p.vmaf), last]
    # best[k][j]: the least loss from the floor's rung to candidate j over k segments, and the path
    n = len(candidates)
    loss = {(i, j): _segment_loss(hull, candidates[i], candidates[j], STEP_VMAF)
            for i in range(n) for j in range(i + 1, n)
            if _spaced(candidates[i], candidates[j], rules)}
    best: list[dict[int, tuple[float, list[int]]]] = [{0: (0.0, [0])}]
    for _ in range(count - 1):
        step: dict[int, tuple[float, list[int]]] = {}
        for i, (cost, path) in best[-1].items():
            for j in range(i + 1, n):
                if (i, j) in loss and (j not in step or cost + loss[i, j] < step[j][0]):
                    step[j] = (cost + loss[i, j], [*path, j])
        best.append(step)
    ends = [b[n - 1] for b in best if n - 1 in b]
    _, path = min(ends, key=lambda e: (-len(e[1]), e[0]))   # the most rungs that fit, the least loss
    return [candidates[i] for i in reversed(path)]
