"""The ABR lab: simulated viewers play a title's real segment sizes over bandwidth traces, each ABR
algorithm of the registry picking the rungs; QoE and its parts per session, distributions per
algorithm, one session's buffer and rung over time, and ladder suggestions.

Player model (as in the MPC and Pensieve simulators): segments are fetched one after another; a
fetch takes the round trip plus the segment's bits integrated over the trace's throughput. Playback
starts once `startup_s` of media is buffered; while the buffer is empty during a fetch the viewer
waits (rebuffering). With `max_buffer_s` of media buffered the player idles until there is room.
QoE is the MPC paper's QoE_lin: sum of bitrates (Mbit/s) - 4.3 x rebuffer s - 1 x sum |bitrate change|
(Mbit/s); startup time is reported beside it, not inside it.
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from server.errors import InvalidRequest
from server.labs.abr_algorithms import (
    MPC_HORIZON,
    REBUFFER_PENALTY,
    SWITCH_PENALTY,
    View,
    make_algorithm,
)
from server.labs.abr_manifest import Ladder
from server.labs.abr_traces import BandwidthTrace, synthetic

MAX_SESSIONS = 500
METRICS = ("qoe", "avg_kbps", "rebuffer_s", "rebuffer_ratio", "startup_s", "switches")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Player:
    """The player's settings: round trip, buffer to start playing, buffer ceiling (seconds)."""

    rtt_ms: float = 40.0
    startup_s: float = 2.0
    max_buffer_s: float = 30.0

    def __post_init__(self) -> None:
        if not (0 <= self.rtt_ms <= 10_000 and 0 < self.startup_s <= self.max_buffer_s <= 600):
            raise InvalidRequest("Player settings: RTT 0 to 10000 ms, 0 < startup <= max buffer <= 600 s.")


@dataclass(frozen=True)
class Step:
    """One fetched segment: when it arrived, the buffer after it, its rung and the throughput seen."""

    t: float
    buffer_s: float
    rung: int
    kbps: float


@dataclass
class Session:
    """One simulated viewer's outcome."""

    algorithm: str
    qoe: float
    avg_kbps: float
    rebuffer_s: float
    rebuffer_ratio: float
    startup_s: float
    switches: int
    stalls: int
    rungs: list[int]
    steps: list[Step] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if k not in ("steps", "rungs")}


def qoe_lin(bitrates_mbps: Sequence[float], rebuffer_s: float) -> float:
    """QoE_lin of the MPC paper: sum q(R_k) - 4.3 x rebuffer - 1 x sum |q(R_k+1) - q(R_k)|, q(R) = R."""
    changes = sum(abs(b - a) for a, b in itertools.pairwise(bitrates_mbps))
    return sum(bitrates_mbps) - REBUFFER_PENALTY * rebuffer_s - SWITCH_PENALTY * changes


def simulate(ladder: Ladder, trace: BandwidthTrace, algorithm: str, player: Player = Player()) -> Session:
    """Play the whole title once over `trace` with `algorithm` (see the module docstring)."""
    abr, bitrates = make_algorithm(algorithm), ladder.bitrates
    clock = buffer = rebuffer = 0.0
    startup: float | None = None
    stalls, last, steps = 0, None, []
    for k, seg_s in enumerate(ladder.durations):
        if buffer + seg_s > player.max_buffer_s and startup is not None:
            idle = buffer + seg_s - player.max_buffer_s
            clock, buffer = clock + idle, buffer - idle
        rung = abr.choose(View(bitrates, buffer, player.max_buffer_s, last, seg_s, _upcoming(ladder, k)))
        size = ladder.rungs[rung].sizes[k]
        took = player.rtt_ms / 1000 + trace.transfer_s(clock + player.rtt_ms / 1000, size)
        clock += took
        if startup is not None:
            stalled = max(took - buffer, 0.0)
            rebuffer, stalls = rebuffer + stalled, stalls + (stalled > 0)
            buffer = max(buffer - took, 0.0)
        buffer += seg_s
        if startup is None and (buffer >= player.startup_s or k == len(ladder.durations) - 1):
            startup = clock
        abr.observe(size, took, seg_s)
        steps.append(Step(round(clock, 3), round(buffer, 3), rung, round(size * 8 / took / 1000, 1)))
        last = rung
    return _session(algorithm, ladder, steps, rebuffer, startup or 0.0, stalls)


def _upcoming(ladder: Ladder, k: int) -> tuple[tuple[int, ...], ...]:
    """The sizes per rung of segment k and the next ones, as far as MPC looks ahead."""
    ahead = range(k, min(k + MPC_HORIZON, len(ladder.durations)))
    return tuple(tuple(r.sizes[j] for r in ladder.rungs) for j in ahead)


def _session(algorithm: str, ladder: Ladder, steps: list[Step], rebuffer: float, startup: float,
             stalls: int) -> Session:
    rungs = [s.rung for s in steps]
    mbps = [ladder.bitrates[r] / 1e6 for r in rungs]
    media = sum(ladder.durations)
    avg = sum(m * d for m, d in zip(mbps, ladder.durations, strict=True)) / media * 1000
    switches = sum(a != b for a, b in itertools.pairwise(rungs))
    return Session(algorithm, round(qoe_lin(mbps, rebuffer), 4), round(avg, 1), round(rebuffer, 4),
                   round(rebuffer / (media + rebuffer), 5), round(startup, 3), switches, stalls, rungs, steps)


@dataclass(frozen=True)
class Experiment:
    """What to run: a trace spec (or a loaded trace), algorithms, sessions, seed, player settings."""

    trace: str
    algorithms: tuple[str, ...]
    sessions: int = 20
    seed: int = 1
    player: Player = Player()
    loaded: BandwidthTrace | None = None      # an imported file trace; sessions start at seeded offsets

    def __post_init__(self) -> None:
        if not 1 <= self.sessions <= MAX_SESSIONS:
            raise InvalidRequest(f"Sessions must be 1 to {MAX_SESSIONS}, not {self.sessions}.")
        if not self.algorithms:
            raise InvalidRequest("Give at least one ABR algorithm.")

    def trace_for(self, session: int) -> BandwidthTrace:
        """Session n's trace: a synthetic one seeded with seed + n, or the file shifted by a seeded offset."""
        if self.loaded is None:
            return synthetic(self.trace, self.seed + session)
        if session == 0:
            return self.loaded
        return self.loaded.shifted(random.Random(self.seed + session).uniform(0, self.loaded.duration))


def distribution(values: Sequence[float]) -> dict[str, float]:
    """Mean, p5, p50, p95 (nearest rank) of a metric over sessions."""
    ordered = sorted(values)
    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
    return {"mean": round(statistics.fmean(ordered), 4), "p5": rank(0.05), "p50": rank(0.5),
            "p95": rank(0.95)}


@dataclass
class AbrResult:
    """Every session per algorithm, over one ladder and experiment."""

    ladder: Ladder
    experiment: Experiment
    sessions: dict[str, list[Session]]

    def stats(self, algorithm: str) -> dict[str, dict[str, float]]:
        runs = self.sessions[algorithm]
        return {m: distribution([float(getattr(s, m)) for s in runs]) for m in METRICS}

    def rung_shares(self) -> dict[str, float]:
        """Share of all fetched segments (every algorithm and session) per rung name."""
        counts = [0] * len(self.ladder.rungs)
        for runs in self.sessions.values():
            for s in runs:
                for r in s.rungs:
                    counts[r] += 1
        total = sum(counts) or 1
        return {rung.name: round(n / total, 4) for rung, n in zip(self.ladder.rungs, counts, strict=True)}

    def suggestions(self) -> list[str]:
        """Ladder changes the result points at: rungs never or rarely picked, stalls on the lowest,
        a top rung taken nearly always with throughput to spare."""
        trace, out = self.experiment.trace, []
        for name, share in self.rung_shares().items():
            if share == 0:
                out.append(f"No session ever picked {name} on these traces ({trace}): drop it or move it.")
            elif share < 0.02:
                out.append(f"{name} carried only {share:.1%} of segments on these traces ({trace}).")
        low_stalls = sum(1 for runs in self.sessions.values() for x in runs
                         if x.rebuffer_s > 0 and not any(x.rungs))
        if low_stalls:
            out.append(f"{low_stalls} session(s) stalled while fetching only the lowest rung "
                       f"({self.ladder.rungs[0].name}): a lower rung would help these viewers.")
        headroom = self._top_headroom()
        if headroom is not None:
            out.append(headroom)
        return out

    def _top_headroom(self) -> str | None:
        """The sentence for a top rung taken for 80%+ of segments at under half the throughput seen."""
        top = len(self.ladder.rungs) - 1
        steps = [s for runs in self.sessions.values() for x in runs for s in x.steps]
        at_top = sorted(s.kbps for s in steps if s.rung == top)
        if not steps or len(at_top) < 0.8 * len(steps):
            return None
        median, top_kbps = at_top[len(at_top) // 2], self.ladder.bitrates[top] / 1000
        if median < 2 * top_kbps:
            return None
        return (f"{len(at_top) / len(steps):.0%} of segments went at the top rung "
                f"({self.ladder.rungs[top].name}, {top_kbps:.0f} kbit/s) with a median throughput of "
                f"{median:.0f} kbit/s: a higher rung would be used on these traces.")

    def to_dict(self) -> dict[str, object]:
        e = self.experiment
        return {"title": self.ladder.describe(),
                "settings": {"trace": e.trace, "algorithms": list(e.algorithms), "sessions": e.sessions,
                             "seed": e.seed, **asdict(e.player)},
                "qoe_weights": {"bitrate_mbps": 1.0, "rebuffer_s": -REBUFFER_PENALTY,
                                "switch_mbps": -SWITCH_PENALTY},
                "algorithms": [{"name": a, "stats": self.stats(a),
                                "sample": {"summary": runs[0].summary(),
                                           "timeline": [asdict(s) for s in runs[0].steps]}}
                               for a, runs in self.sessions.items()],
                "rung_shares": [{"name": k, "share": v} for k, v in self.rung_shares().items()],
                "suggestions": self.suggestions()}


def run(ladder: Ladder, experiment: Experiment, progress: Progress | None = None) -> AbrResult:
    """Every algorithm over the same `sessions` traces (session n gets the same trace for each)."""
    traces = [experiment.trace_for(n) for n in range(experiment.sessions)]
    total, done = len(traces) * len(experiment.algorithms), 0
    sessions: dict[str, list[Session]] = {}
    for name in experiment.algorithms:
        sessions[name] = []
        for trace in traces:
            sessions[name].append(simulate(ladder, trace, name, experiment.player))
            done += 1
            if progress:
                progress(done, total)
    return AbrResult(ladder, experiment, sessions)


CSV_COLUMNS = ("algorithm", "session", *METRICS, "stalls")


def csv_rows(result: AbrResult) -> list[list[object]]:
    """One row per algorithm and session under `CSV_COLUMNS`."""
    return [[a, n, *(getattr(s, m) for m in METRICS), s.stalls]
            for a, runs in result.sessions.items() for n, s in enumerate(runs)]

