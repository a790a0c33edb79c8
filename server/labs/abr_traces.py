"""Bandwidth traces for the ABR lab: throughput over time, piecewise constant, looped when a session
outlasts it (as the Pensieve and MPC simulators do).

Built-in traces are seeded: `steady:5M` (a constant link), `steps` (a few levels held for tens of
seconds) and `mobile` (a Markov chain over good/fair/poor/outage states with noise, like a phone on a
train). Imported CSV traces: see `read_csv` and docs/LABS.md for the accepted layouts.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

from server.errors import InvalidRequest

KINDS = ("steady", "steps", "mobile")
STEADY_RE = re.compile(r"^steady(?::(\d+(?:\.\d+)?)\s*([kKmMgG]?))?$")
UNIT_MBPS = {"": 1.0, "k": 0.001, "m": 1.0, "g": 1000.0}
TIME_COLUMNS = ("time_s", "time", "t", "seconds", "timestamp", "timestamp_s")
MBPS_COLUMNS = ("mbps", "throughput_mbps", "bandwidth_mbps", "mbit/s", "throughput", "bandwidth")
KBPS_COLUMNS = ("kbps", "throughput_kbps", "bandwidth_kbps", "kbit/s")
MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class BandwidthTrace:
    """`mbps[i]` holds from `times[i]` to `times[i + 1]` (the last one for `tail_s`); times start at 0."""

    name: str
    times: tuple[float, ...]
    mbps: tuple[float, ...]
    tail_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.times or len(self.times) != len(self.mbps):
            raise InvalidRequest(f"Trace {self.name!r} has no throughput samples.")
        if max(self.mbps) <= 0:
            raise InvalidRequest(f"Trace {self.name!r} never carries any data (every throughput is 0).")

    @property
    def duration(self) -> float:
        return self.times[-1] + self.tail_s

    def interval(self, at: float) -> tuple[float, float]:
        """The throughput (bit/s) at time `at` (looped) and the seconds until it changes."""
        local = at % self.duration
        lo, hi = 0, len(self.times) - 1
        while lo < hi:  # the last sample starting at or before `local`
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.times[mid] <= local else (lo, mid - 1)
        end = self.times[lo + 1] if lo + 1 < len(self.times) else self.duration
        return self.mbps[lo] * 1e6, max(end - local, 1e-9)

    def transfer_s(self, start: float, nbytes: int) -> float:
        """Seconds to move `nbytes` starting at `start`, integrating the throughput over the trace."""
        bits, at = nbytes * 8.0, start
        while bits > 1e-6:
            rate, left = self.interval(at)
            step = min(left, bits / rate) if rate > 0 else left
            bits -= rate * step
            at += step
        return at - start

    def mean_mbps(self) -> float:
        spans = [b - a for a, b in zip(self.times, (*self.times[1:], self.duration), strict=True)]
        return sum(s * m for s, m in zip(spans, self.mbps, strict=True)) / self.duration

    def shifted(self, offset: float) -> BandwidthTrace:
        """The same trace started `offset` seconds in (sessions on one recorded trace start apart)."""
        offset %= self.duration
        if offset <= 0:
            return self
        cut = [(t - offset, m) for t, m in zip(self.times, self.mbps, strict=True) if t > offset]
        head = [(t + self.duration - offset, m) for t, m in zip(self.times, self.mbps, strict=True)
                if t < offset]
        first = self.interval(offset)[0] / 1e6
        points = [(0.0, first), *cut, *head]
        tail = offset - max(t for t in self.times if t < offset)   # the cut sample's part before offset
        return BandwidthTrace(self.name, tuple(p[0] for p in points), tuple(p[1] for p in points), tail)


def steady(mbps: float, name: str = "") -> BandwidthTrace:
    """A link that always carries `mbps`."""
    return BandwidthTrace(name or f"steady:{mbps:g}M", (0.0,), (mbps,), 3600.0)


def steps(seed: int, levels: tuple[float, ...] = (0.4, 1.0, 2.5, 6.0)) -> BandwidthTrace:
    """Throughput levels (Mbit/s) held 20 to 40 s each, in a seeded order: sudden drops and rises."""
    rng = random.Random(seed)
    times, mbps, at = [], [], 0.0
    while at < 600:
        times.append(at)
        mbps.append(rng.choice(levels))
        at += rng.uniform(20, 40)
    return BandwidthTrace("steps", tuple(times), tuple(mbps), 600 - times[-1] if at > 600 else 20)


# The mobile model: state -> (mean Mbit/s, relative noise), and the chance of each next state per second.
MOBILE_STATES = {"good": (8.0, 0.3), "fair": (3.0, 0.35), "poor": (0.8, 0.4), "outage": (0.05, 0.5)}
MOBILE_MOVES = {"good": {"good": 0.92, "fair": 0.07, "poor": 0.01},
                "fair": {"fair": 0.88, "good": 0.06, "poor": 0.06},
                "poor": {"poor": 0.85, "fair": 0.1, "outage": 0.05},
                "outage": {"outage": 0.6, "poor": 0.4}}


def mobile(seed: int, seconds: int = 600) -> BandwidthTrace:
    """A Markov chain over link states, one sample a second with log-normal noise (seeded)."""
    rng = random.Random(seed)
    state, mbps = "fair", []
    for _ in range(seconds):
        mean, noise = MOBILE_STATES[state]
        mbps.append(max(0.01, mean * math.exp(rng.gauss(0, noise))))
        moves = MOBILE_MOVES[state]
        state = rng.choices(list(moves), weights=list(moves.values()))[0]
    return BandwidthTrace("mobile", tuple(float(s) for s in range(seconds)), tuple(mbps), 1.0)


def synthetic(spec: str, seed: int) -> BandwidthTrace:
    """`steady:5M` (k, M, G; no unit: Mbit/s), `steps` or `mobile`, seeded."""
    spec = spec.strip().lower()
    match = STEADY_RE.match(spec)
    if match:
        value = float(match.group(1) or 5) * UNIT_MBPS[(match.group(2) or "").lower()]
        if value <= 0:
            raise InvalidRequest(f"Trace {spec!r}: a steady link needs a throughput above 0, e.g. steady:5M.")
        return steady(value, spec if match.group(1) else "steady:5M")
    if spec == "steps":
        return steps(seed)
    if spec == "mobile":
        return mobile(seed)
    raise InvalidRequest(f"Unknown trace {spec[:40]!r}.", hint="steady:5M, steps, mobile or a CSV file")


def read_csv(path: Path) -> BandwidthTrace:
    """A trace file: a header naming a time column and a throughput column (Mbit/s or kbit/s), or no
    header and 2 columns (seconds, Mbit/s: the Pensieve "cooked" FCC/3G traces) or 6 columns (the
    Norway HSDPA 3G logs: unix time, ms since start, lat, lon, bytes received, ms taken)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"Cannot read trace file {path.name}: {exc.__class__.__name__}.",
                             hint="give a CSV or whitespace-separated text file") from exc
    return parse_trace(text, path.name)


def parse_trace(text: str, name: str) -> BandwidthTrace:
    """Parse a trace file's text (see `read_csv`); a bad row is an error naming the file and line."""
    rows = [(n, _split(line)) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise InvalidRequest(f"Trace file {name} has no rows.")
    if len(rows) > MAX_ROWS:
        raise InvalidRequest(f"Trace file {name} has more than {MAX_ROWS:,} rows.")
    first = rows[0][1]
    if not _is_number(first[0]):
        samples = _named_columns(rows, name)
    elif len(first) == 6:
        samples = [_hsdpa(cells, name, n) for n, cells in rows]
    else:
        samples = [(_number(cells, 0, name, n), _number(cells, 1, name, n)) for n, cells in rows]
    return _from_samples(samples, [n for n, _ in rows][-len(samples):], name)


def _split(line: str) -> list[str]:
    cells = next(csv.reader(io.StringIO(line))) if "," in line else line.split()
    return [c.strip() for c in cells]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(cells: list[str], index: int, name: str, line: int) -> float:
    try:
        value = float(cells[index])
    except (IndexError, ValueError):
        shown = cells[index][:30] if index < len(cells) else "nothing"
        raise InvalidRequest(f"Trace file {name}, line {line}: column {index + 1} is {shown!r}, not a "
                             "number.", hint="each row needs a time in s and a throughput") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidRequest(f"Trace file {name}, line {line}: {cells[index][:30]!r} must be a finite "
                             "number >= 0.")
    return value


def _named_columns(rows: list[tuple[int, list[str]]], name: str) -> list[tuple[float, float]]:
    header = [h.lower() for h in rows[0][1]]
    time_col = next((header.index(c) for c in TIME_COLUMNS if c in header), None)
    rate = next(((header.index(c), 1.0) for c in MBPS_COLUMNS if c in header), None)
    rate = rate or next(((header.index(c), 0.001) for c in KBPS_COLUMNS if c in header), None)
    if time_col is None or rate is None:
        raise InvalidRequest(f"Trace file {name}, line {rows[0][0]}: the header needs a time column "
                             f"({', '.join(TIME_COLUMNS)}) and a throughput column "
                             f"({', '.join(MBPS_COLUMNS + KBPS_COLUMNS)}).")
    col, scale = rate
    return [(_number(cells, time_col, name, n), _number(cells, col, name, n) * scale)
            for n, cells in rows[1:]]


def _hsdpa(cells: list[str], name: str, line: int) -> tuple[float, float]:
    """One Norway HSDPA log row: (seconds since start, Mbit/s over the row's interval)."""
    elapsed_ms = _number(cells, 5, name, line)
    received = _number(cells, 4, name, line)
    return _number(cells, 1, name, line) / 1000, received * 8 / max(elapsed_ms, 1.0) / 1000


def _from_samples(samples: list[tuple[float, float]], lines: list[int], name: str) -> BandwidthTrace:
    """Times made relative to the first sample; they must not go backwards."""
    if not samples:
        raise InvalidRequest(f"Trace file {name} has a header but no rows.")
    start = samples[0][0]
    times = [t - start for t, _ in samples]
    if any(b < a for a, b in itertools.pairwise(times)):
        bad = next(i for i, (a, b) in enumerate(itertools.pairwise(times)) if b < a)
        raise InvalidRequest(f"Trace file {name}, line {lines[bad + 1]}: the time goes backwards.",
                             hint="rows must be in time order")
    gaps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    tail = gaps[len(gaps) // 2] if gaps else 1.0
    return BandwidthTrace(name, tuple(times), tuple(m for _, m in samples), tail)


def resolve(spec: str, seed: int, *, files_allowed: bool = True) -> BandwidthTrace:
    """A synthetic spec, or (when `files_allowed`) a path to a trace file."""
    head = spec.strip().lower().split(":")[0]
    if head in KINDS or not files_allowed:
        return synthetic(spec, seed)
    path = Path(spec)
    if not path.is_file():
        raise InvalidRequest(f"Trace {spec[:80]!r} is neither a built-in trace nor a file.",
                             hint="steady:5M, steps, mobile or the path of a CSV trace")
    return read_csv(path)
