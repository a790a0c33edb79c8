"""ABR algorithms for the lab, behind one registry (`ALGORITHMS`, `make_algorithm`).

Each is a small class: `choose(view) -> rung index` before a segment is requested, `observe(...)` after
it arrived. Rungs are ordered lowest bitrate first. A new session builds new instances (they keep
throughput history).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from server.errors import InvalidRequest
from server.labs.abr_hlsjs import DEFAULT_ESTIMATE_BPS, HlsJsThroughput, Levels

BBA_RESERVOIR_S, BBA_CUSHION_S = 5.0, 10.0
BOLA_MIN_BUFFER_S = 10.0     # dash.js BOLA: below this buffer BOLA stays low
DYNAMIC_SWITCH_S = 10.0      # dash.js DYNAMIC: throughput rule below this buffer, BOLA above
MPC_HORIZON, MPC_HISTORY = 5, 5
REBUFFER_PENALTY, SWITCH_PENALTY = 4.3, 1.0   # the MPC paper's QoE_lin weights (per s, per Mbit/s)


@dataclass(frozen=True)
class View:
    """What a player knows when it picks the next segment's rung."""

    bitrates: tuple[float, ...]       # bit/s per rung, ascending
    buffer_s: float
    max_buffer_s: float
    last: int | None                  # the previous segment's rung (None before the first)
    segment_s: float                  # the next segment's duration
    upcoming: tuple[tuple[int, ...], ...] = ()   # the next segments' sizes per rung (for MPC)
    peak: tuple[float, ...] = ()      # declared peak bit/s per rung (BANDWIDTH); () = `bitrates`
    average: tuple[float, ...] = ()   # declared average bit/s per rung; () = `bitrates`


def highest_below(bitrates: tuple[float, ...], budget_bps: float) -> int:
    """The highest rung whose bitrate fits `budget_bps` (the lowest when none does)."""
    fitting = [i for i, b in enumerate(bitrates) if b <= budget_bps]
    return fitting[-1] if fitting else 0


class Throughput:
    """The throughput rule as hls.js runs it (server/labs/abr_hlsjs.py): EWMA estimates weighted by
    download time, 0.95 x the estimate (0.7 x to switch up), the buffer-aware fetch-time check, and the
    declared peak or average bitrate of each level; checked against hls.js in Chromium."""

    name = "throughput"

    def __init__(self) -> None:
        self.rule = HlsJsThroughput()

    def estimate_bps(self) -> float:
        return self.rule.estimator.bandwidth_bps()

    def choose(self, view: View) -> int:
        if view.last is not None:                  # DYNAMIC may have loaded BOLA's pick last
            self.rule.last = view.last
            self.rule.loaded_levels.add(view.last)
        return self.rule.choose(Levels(view.peak or view.bitrates, view.average or view.bitrates,
                                       view.segment_s, view.buffer_s))

    def observe(self, nbytes: int, seconds: float, segment_s: float, ttfb_s: float = 0.0) -> None:
        self.rule.observe(nbytes, seconds, ttfb_s)


class BBA:
    """BBA-0 (Huang et al., SIGCOMM 2014): the rate is a function of the buffer alone: the lowest rung
    up to the reservoir, the highest past reservoir + cushion, a linear map between, with the paper's
    hysteresis (stay unless the map crosses the next rung up or down)."""

    name = "bba"

    def __init__(self, reservoir_s: float = BBA_RESERVOIR_S, cushion_s: float = BBA_CUSHION_S) -> None:
        self.reservoir_s, self.cushion_s = reservoir_s, cushion_s

    def rate_map(self, bitrates: tuple[float, ...], buffer_s: float) -> float:
        """f(B): the bitrate the buffer level allows (bit/s)."""
        low, high = bitrates[0], bitrates[-1]
        share = (buffer_s - self.reservoir_s) / self.cushion_s
        return low + min(max(share, 0.0), 1.0) * (high - low)

    def choose(self, view: View) -> int:
        rates, top = view.bitrates, len(view.bitrates) - 1
        prev = view.last if view.last is not None else 0
        if view.buffer_s <= self.reservoir_s:
            return 0
        if view.buffer_s >= self.reservoir_s + self.cushion_s:
            return top
        f = self.rate_map(rates, view.buffer_s)
        up, down = rates[min(prev + 1, top)], rates[max(prev - 1, 0)]
        if f >= up:
            return max(i for i, r in enumerate(rates) if r < f or i == 0)
        if f <= down:
            return min(i for i, r in enumerate(rates) if r > f or i == top)
        return prev

    def observe(self, nbytes: int, seconds: float, segment_s: float, ttfb_s: float = 0.0) -> None:
        """Buffer-based: downloads teach it nothing."""


class Bola:
    """BOLA-BASIC (Spiteri et al., INFOCOM 2016) with dash.js's parameters: utility ln(bitrate/lowest)
    (+1 so the lowest rung's is 1), gp and V set so the lowest rung is chosen at the minimum buffer and
    the highest near the buffer target; pick the rung maximising (V (utility + gp) - buffer) / bitrate."""

    name = "bola"

    def scores(self, view: View) -> list[float]:
        rates = view.bitrates
        utils = [math.log(r / rates[0]) + 1 for r in rates]
        target = max(view.max_buffer_s, BOLA_MIN_BUFFER_S + 2 * len(rates))
        gp = (utils[-1] - 1) / (target / BOLA_MIN_BUFFER_S - 1)
        v = BOLA_MIN_BUFFER_S / gp if gp > 0 else 1.0
        return [(v * (u + gp) - view.buffer_s) / r for u, r in zip(utils, rates, strict=True)]

    def choose(self, view: View) -> int:
        if len(view.bitrates) == 1:
            return 0
        scores = self.scores(view)
        return max(range(len(scores)), key=scores.__getitem__)

    def observe(self, nbytes: int, seconds: float, segment_s: float, ttfb_s: float = 0.0) -> None:
        """BOLA-BASIC decides on the buffer alone."""


class Dynamic:
    """dash.js DYNAMIC: the throughput rule while the buffer is short (below 10 s), BOLA above it.
    On the switch to BOLA, dash.js gives BOLA a placeholder buffer so it does not drop below the rung
    the throughput rule was on; here BOLA's pick is floored at that rung until BOLA reaches it."""

    name = "dynamic"

    def __init__(self) -> None:
        self.throughput, self.bola = Throughput(), Bola()
        self.floor: int | None = None

    def choose(self, view: View) -> int:
        if view.buffer_s < DYNAMIC_SWITCH_S:
            self.floor = None
            return self.throughput.choose(view)
        if self.floor is None:
            self.floor = view.last if view.last is not None else 0
        pick = self.bola.choose(view)
        if pick >= self.floor:
            self.floor = 0
        return max(pick, self.floor)

    def observe(self, nbytes: int, seconds: float, segment_s: float, ttfb_s: float = 0.0) -> None:
        self.throughput.observe(nbytes, seconds, segment_s, ttfb_s)


class RobustMpc:
    """Robust MPC (Yin et al., SIGCOMM 2015): predict throughput as the harmonic mean of the last 5
    downloads divided by (1 + the largest recent relative prediction error), then try every rung plan
    for the next 5 segments and take the first step of the plan with the best QoE_lin."""

    name = "mpc"

    def __init__(self) -> None:
        self.measured: list[float] = []
        self.errors: list[float] = []
        self.predicted: float | None = None

    def prediction_bps(self) -> float:
        if not self.measured:
            return DEFAULT_ESTIMATE_BPS
        recent = self.measured[-MPC_HISTORY:]
        harmonic = len(recent) / sum(1 / m for m in recent)
        return harmonic / (1 + max(self.errors[-MPC_HISTORY:], default=0.0))

    def choose(self, view: View) -> int:
        self.predicted = self.prediction_bps()
        if not view.upcoming:
            return highest_below(view.bitrates, self.predicted)
        search = _PlanSearch(view, self.predicted, min(MPC_HORIZON, len(view.upcoming)))
        return search.best_first_rung()

    def observe(self, nbytes: int, seconds: float, segment_s: float, ttfb_s: float = 0.0) -> None:
        bps = nbytes * 8 / max(seconds, 1e-6)
        if self.predicted is not None:
            self.errors.append(abs(self.predicted - bps) / bps)
        self.measured.append(bps)


class _PlanSearch:
    """MPC's search over every rung plan for the next segments, depth first so plans share their
    prefixes, skipping a branch that cannot beat the best plan even at the top rung without stalls
    (the same answer as trying every plan, found in far fewer steps)."""

    def __init__(self, view: View, bps: float, horizon: int) -> None:
        self.view, self.bps, self.horizon = view, bps, horizon
        self.mbps = [b / 1e6 for b in view.bitrates]
        self.best, self.first = -math.inf, 0

    def best_first_rung(self) -> int:
        for rung in sorted(range(len(self.mbps)), reverse=True):
            self._visit(0, rung, rung, self.view.buffer_s, self.view.last, 0.0)
        return self.first

    def _visit(self, step: int, rung: int, first: int, buffer: float, last: int | None, qoe: float) -> None:
        took = self.view.upcoming[step][rung] * 8 / self.bps
        qoe += self.mbps[rung] - REBUFFER_PENALTY * max(took - buffer, 0.0)
        if last is not None:
            qoe -= SWITCH_PENALTY * abs(self.mbps[rung] - self.mbps[last])
        if qoe + (self.horizon - step - 1) * self.mbps[-1] <= self.best:
            return
        if step + 1 == self.horizon:
            self.best, self.first = qoe, first
            return
        buffer = max(buffer - took, 0.0) + self.view.segment_s
        for nxt in range(len(self.mbps) - 1, -1, -1):
            self._visit(step + 1, nxt, first, buffer, rung, qoe)


Algorithm = Throughput | BBA | Bola | Dynamic | RobustMpc
ALGORITHMS: dict[str, Callable[[], Algorithm]] = {
    "throughput": Throughput, "bba": BBA, "bola": Bola, "dynamic": Dynamic, "mpc": RobustMpc}


def make_algorithm(name: str) -> Algorithm:
    """A fresh instance of the named algorithm."""
    try:
        return ALGORITHMS[name]()
    except KeyError:
        raise InvalidRequest(f"Unknown ABR algorithm {name!r}.",
                             hint=f"one of {', '.join(ALGORITHMS)}") from None


def parse_algorithms(text: str) -> tuple[str, ...]:
    """`bba,bola` (or `all`) → registry names, checked and deduplicated."""
    names = list(ALGORITHMS) if text.strip().lower() in ("", "all") else [
        n.strip().lower() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in ALGORITHMS:
            raise InvalidRequest(f"Unknown ABR algorithm {name!r}.", hint=f"one of {', '.join(ALGORITHMS)}")
    return tuple(dict.fromkeys(names))
