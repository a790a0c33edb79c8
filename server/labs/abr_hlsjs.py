"""The throughput rule as hls.js 1.6 runs it (`src/controller/abr-controller.ts`, default config),
for the ABR lab's `throughput` algorithm; checked against hls.js itself in headless Chromium
(`server/labs/abr_validate.py`, docs/LABS.md).

What hls.js does, and so what this does:
- Bandwidth: a fast (3 s) and a slow (9 s) EWMA of per-fragment throughput, each sample weighted by
  its download time in seconds (not its media duration); a sample is the fragment's bytes over its
  load time minus min(this TTFB, the TTFB estimate), at least 50 ms; the estimate is the lower EWMA,
  500 kbit/s before any sample. The TTFB estimate is a slow EWMA of TTFBs weighted sqrt(2)·e^(-s²/2).
- First fragment: on loading the manifest hls.js raises its 500 kbit/s default estimate to the
  BANDWIDTH of the master's first variant (at most 5 Mbit/s); MiniFlix lists the top rung first. The
  first level is the highest whose BANDWIDTH fits that estimate and would load within
  `maxStarvationDelay` (4 s).
- Later fragments (`findBestLevel`): from the top, the first level whose bitrate is within 0.95 x the
  estimate (0.7 x for a level above the last one loaded) and whose fetch (TTFB + bits / that share of
  the estimate, plus a playlist load for a level not loaded before) ends before the buffer runs out.
  The bitrate is the level's AVERAGE-BANDWIDTH when at least two fragments are buffered, else its
  peak. When no level fits, a second pass allows up to min(fragment, 4 s) of stall; failing that,
  the lowest level.
Not modelled: the emergency abort of a fragment that loads too slowly (hls.js rarely fires it when
fragments are short next to the buffer; the validation counts how often it did).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_ESTIMATE_BPS = 500_000.0       # abrEwmaDefaultEstimate
DEFAULT_ESTIMATE_MAX_BPS = 5e6         # abrEwmaDefaultEstimateMax
FAST_HALF_LIFE_S, SLOW_HALF_LIFE_S = 3.0, 9.0   # abrEwmaFastVoD / abrEwmaSlowVoD
BANDWIDTH_FACTOR, UP_FACTOR = 0.95, 0.7          # abrBandWidthFactor / abrBandWidthUpFactor
MAX_STARVATION_S = 4.0                 # maxStarvationDelay
DEFAULT_TTFB_S = 0.1                   # the estimator's TTFB before any sample
MIN_SAMPLE_S = 0.05                    # minDelayMs of the estimator


class Ewma:
    """hls.js's EWMA: a half-life in units of the sample weight, with zero-bias correction."""

    def __init__(self, half_life: float) -> None:
        self.alpha = math.exp(math.log(0.5) / half_life)
        self.estimate = 0.0
        self.total = 0.0

    def add(self, weight: float, value: float) -> None:
        adj = self.alpha ** weight
        self.estimate = value * (1 - adj) + adj * self.estimate
        self.total += weight

    def value(self) -> float:
        zero = 1 - self.alpha ** self.total
        return self.estimate / zero if zero else self.estimate


@dataclass(frozen=True)
class Levels:
    """What hls.js knows of the levels for one decision (bit/s per rung, lowest first)."""

    peak: tuple[float, ...]
    average: tuple[float, ...]
    segment_s: float
    buffer_s: float


class HlsJsEstimator:
    """The bandwidth and TTFB estimates of hls.js's EwmaBandWidthEstimator."""

    def __init__(self) -> None:
        self.fast, self.slow = Ewma(FAST_HALF_LIFE_S), Ewma(SLOW_HALF_LIFE_S)
        self.ttfb = Ewma(SLOW_HALF_LIFE_S)

    def bandwidth_bps(self) -> float:
        if self.fast.total < 0.001:
            return DEFAULT_ESTIMATE_BPS
        return min(self.fast.value(), self.slow.value())

    def ttfb_s(self) -> float:
        return self.ttfb.value() if self.ttfb.total >= 0.001 else DEFAULT_TTFB_S

    def sample(self, nbytes: int, seconds: float, ttfb_s: float) -> None:
        """One fragment loaded in `seconds` (request to last byte), its first byte after `ttfb_s`."""
        self.ttfb.add(math.sqrt(2) * math.exp(-ttfb_s ** 2 / 2), max(ttfb_s, 0.005))
        took = max(seconds - min(ttfb_s, self.ttfb_s()), MIN_SAMPLE_S)
        bps = nbytes * 8 / took
        self.fast.add(took, bps)
        self.slow.add(took, bps)


class HlsJsThroughput:
    """hls.js's level choice for the next fragment (see the module docstring)."""

    def __init__(self) -> None:
        self.estimator = HlsJsEstimator()
        self.last: int | None = None           # lastLoadedFragLevel
        self.loaded_levels: set[int] = set()   # levels whose playlist hls.js has loaded

    def choose(self, levels: Levels) -> int:
        pick = self._first(levels) if self.last is None else self._next(levels)
        self.last = pick
        self.loaded_levels.add(pick)
        return pick

    def observe(self, nbytes: int, seconds: float, ttfb_s: float) -> None:
        self.estimator.sample(nbytes, seconds, ttfb_s)

    def _first(self, levels: Levels) -> int:
        """firstAutoLevel: the default estimate, no buffer, up to 4 s to load, no safety factors."""
        start = max(DEFAULT_ESTIMATE_BPS, min(levels.peak[-1], DEFAULT_ESTIMATE_MAX_BPS))
        best = self._best(levels, start, 0.0, MAX_STARVATION_S, 1.0, 1.0, 0.0)
        return max(best, 0)

    def _next(self, levels: Levels) -> int:
        bw, buffer = self.estimator.bandwidth_bps(), levels.buffer_s
        if buffer > 0:
            best = self._best(levels, bw, buffer, 0.0, BANDWIDTH_FACTOR, UP_FACTOR, levels.segment_s)
            if best >= 0:
                return best
        starvation = min(levels.segment_s, MAX_STARVATION_S) if levels.segment_s else MAX_STARVATION_S
        best = self._best(levels, bw, buffer, starvation, BANDWIDTH_FACTOR, UP_FACTOR, levels.segment_s)
        return best if best >= 0 else 0

    def _best(self, levels: Levels, bw: float, buffer: float, max_starvation: float, factor: float,
              up_factor: float, fragment_s: float) -> int:
        """findBestLevel: the highest level that fits, -1 when none does."""
        base = self.last if self.last is not None else len(levels.peak) - 1
        ttfb = self.estimator.ttfb_s()
        use_average = fragment_s > 0 and buffer >= 2 * fragment_s and max_starvation == 0
        for i in range(len(levels.peak) - 1, -1, -1):
            adjusted = (up_factor if i > base else factor) * bw
            bitrate = levels.average[i] if use_average else levels.peak[i]
            known = i in self.loaded_levels        # hls.js knows the level's segment durations
            fetch = ttfb + bitrate * (levels.segment_s if known else fragment_s) / adjusted
            if not known:
                fetch += ttfb                      # its playlist loads first (hls.js adds a TTFB)
            if adjusted >= bitrate and (fetch <= ttfb or fetch < buffer + max_starvation):
                return i
        return -1
