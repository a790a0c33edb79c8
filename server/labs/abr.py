"""The ABR lab: simulated viewers play a title's real segment sizes over bandwidth traces, each ABR
algorithm of the registry picking the rungs; QoE and its parts per session, distributions per
algorithm, one session's buffer and rung over time, and ladder suggestions.

Player model (as in the MPC and Pensieve simulators): segments are fetched one after another; a
fetch takes the round trip plus the segment's bits integrated over the trace's throughput. Playback
starts once `startup_s` of media is buffered; while the buffer is empty during a fetch the viewer
waits (rebuffering). With `max_buffer_s` of media buffered the player idles until there is room.
QoE is the MPC paper's QoE_lin: sum of bitrates (Mbit/s) - 4.3 x rebuffer s - 1 x sum |bitrate change|
(Mbit/s); startup time is reported beside it, not inside it. With the `vmaf` utility (a title whose
rungs have measured VMAF) each segment's utility is its rung's mean VMAF (0-100) instead, with the
rebuffer penalty scaled the same way: 100 per second (one second of stall costs one segment at perfect
quality, as MPC's 4.3 is its top bitrate) and 1 per VMAF point of switch. The algorithms still decide
on bitrates (a player does not know VMAF); only the score changes.
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
UTILITIES = ("bitrate", "vmaf")
# Per utility: (weight of a segment's utility, rebuffer penalty per s, switch penalty per unit).
QOE_WEIGHTS = {"bitrate": (1.0, REBUFFER_PENALTY, SWITCH_PENALTY), "vmaf": (1.0, 100.0, 1.0)}
VMAF_TWIN = 2.0     # rungs closer than this in mean VMAF look the same to viewers (JND ~ 3-6 points)
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
    avg_vmaf: float | None
    rungs: list[int]
    steps: list[Step] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if k not in ("steps", "rungs")}


def qoe_lin(utilities: Sequence[float], rebuffer_s: float, utility: str = "bitrate") -> float:
    """QoE_lin of the MPC paper: sum q(R_k) - mu x rebuffer - lambda x sum |q(R_k+1) - q(R_k)|, with
    q(R) = R in Mbit/s (mu 4.3, lambda 1) or q(R) = the rung's VMAF (mu 100, lambda 1)."""
    weight, rebuffer_penalty, switch_penalty = QOE_WEIGHTS[utility]
    changes = sum(abs(b - a) for a, b in itertools.pairwise(utilities))
    return weight * sum(utilities) - rebuffer_penalty * rebuffer_s - switch_penalty * changes


def check_utility(utility: str, ladder: Ladder | None = None) -> str:
    """`bitrate` or `vmaf` (the latter only for a ladder whose rungs all have measured VMAF)."""
    if utility not in UTILITIES:
        raise InvalidRequest(f"Unknown QoE utility {utility[:40]!r}.", hint="bitrate or vmaf")
    if utility == "vmaf" and ladder is not None and not ladder.has_vmaf:
        raise InvalidRequest(f"Title {ladder.video_id!r} has no measured VMAF for every rung.",
                             hint="use the bitrate utility, or re-ingest it with quality_measure on")
    return utility


def simulate(ladder: Ladder, trace: BandwidthTrace, algorithm: str, player: Player = Player(),
             utility: str = "bitrate") -> Session:
    """Play the whole title once over `trace` with `algorithm` (see the module docstring)."""
    abr, bitrates = make_algorithm(algorithm), ladder.bitrates
    peaks, averages = ladder.peaks, ladder.averages
    clock = buffer = rebuffer = 0.0
    startup: float | None = None
    stalls, last, steps = 0, None, []
    for k, seg_s in enumerate(ladder.durations):
        if buffer + seg_s > player.max_buffer_s and startup is not None:
            idle = buffer + seg_s - player.max_buffer_s
            clock, buffer = clock + idle, buffer - idle
        rung = abr.choose(View(bitrates, buffer, player.max_buffer_s, last, seg_s, _upcoming(ladder, k),
                               peaks, averages))
        size = ladder.rungs[rung].sizes[k]
        ttfb = player.rtt_ms / 1000
        took = ttfb + trace.transfer_s(clock + ttfb, size)
        clock += took
        if startup is not None:
            stalled = max(took - buffer, 0.0)
            rebuffer, stalls = rebuffer + stalled, stalls + (stalled > 0)
            buffer = max(buffer - took, 0.0)
        buffer += seg_s
        if startup is None and (buffer >= player.startup_s or k == len(ladder.durations) - 1):
            startup = clock
        abr.observe(size, took, seg_s, ttfb)
        steps.append(Step(round(clock, 3), round(buffer, 3), rung, round(size * 8 / took / 1000, 1)))
        last = rung
    return _session(algorithm, ladder, steps, rebuffer, startup or 0.0, stalls, utility)


def _upcoming(ladder: Ladder, k: int) -> tuple[tuple[int, ...], ...]:
    """The sizes per rung of segment k and the next ones, as far as MPC looks ahead."""
    ahead = range(k, min(k + MPC_HORIZON, len(ladder.durations)))
    return tuple(tuple(r.sizes[j] for r in ladder.rungs) for j in ahead)


def _session(algorithm: str, ladder: Ladder, steps: list[Step], rebuffer: float, startup: float,
             stalls: int, utility: str = "bitrate") -> Session:
    rungs = [s.rung for s in steps]
    mbps = [ladder.bitrates[r] / 1e6 for r in rungs]
    vmaf = [ladder.rungs[r].vmaf or 0.0 for r in rungs] if ladder.has_vmaf else None
    media = sum(ladder.durations)
    avg = _time_mean(mbps, ladder.durations) * 1000
    qoe = qoe_lin(vmaf, rebuffer, "vmaf") if utility == "vmaf" and vmaf else qoe_lin(mbps, rebuffer)
    switches = sum(a != b for a, b in itertools.pairwise(rungs))
    return Session(algorithm, round(qoe, 4), round(avg, 1), round(rebuffer, 4),
                   round(rebuffer / (media + rebuffer), 5), round(startup, 3), switches, stalls,
                   None if vmaf is None else round(_time_mean(vmaf, ladder.durations), 2), rungs, steps)


def _time_mean(values: Sequence[float], durations: Sequence[float]) -> float:
    """The mean of per-segment values weighted by segment duration."""
    return sum(v * d for v, d in zip(values, durations, strict=True)) / max(sum(durations), 1e-9)


@dataclass(frozen=True)
class Experiment:
    """What to run: a trace spec (or a loaded trace), algorithms, sessions, seed, player settings."""

    trace: str
    algorithms: tuple[str, ...]
    sessions: int = 20
    seed: int = 1
    player: Player = Player()
    loaded: BandwidthTrace | None = None      # an imported file trace; sessions start at seeded offsets
    utility: str = "bitrate"                  # QoE utility per segment: bitrate or vmaf

    def __post_init__(self) -> None:
        check_utility(self.utility)
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

    @property
    def metrics(self) -> tuple[str, ...]:
        """METRICS, plus the mean VMAF seen when the title's rungs have measured VMAF."""
        return (*METRICS, "avg_vmaf") if self.ladder.has_vmaf else METRICS

    def stats(self, algorithm: str) -> dict[str, dict[str, float]]:
        runs = self.sessions[algorithm]
        return {m: distribution([float(getattr(s, m)) for s in runs]) for m in self.metrics}

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
        return out + self._vmaf_twins()

    def _vmaf_twins(self) -> list[str]:
        """Neighbouring rungs within VMAF_TWIN points of each other that these sessions both used:
        the higher one spends bits viewers do not see."""
        rungs, shares = self.ladder.rungs, self.rung_shares()
        out: list[str] = []
        if not self.ladder.has_vmaf:
            return out
        for low, high in itertools.pairwise(rungs):
            gap = (high.vmaf or 0.0) - (low.vmaf or 0.0)
            if gap < VMAF_TWIN and shares[high.name] > 0:
                ratio = high.bitrate(self.ladder.durations) / max(low.bitrate(self.ladder.durations), 1.0)
                out.append(f"{low.name} and {high.name} are within {VMAF_TWIN:g} VMAF ({low.vmaf:.1f} vs "
                           f"{high.vmaf:.1f}) while {high.name} costs {ratio:.1f}x the bits; it carried "
                           f"{shares[high.name]:.0%} of segments on these traces ({self.experiment.trace}).")
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
                             "seed": e.seed, "utility": e.utility, **asdict(e.player)},
                "qoe_weights": qoe_weights(e.utility),
                "algorithms": [{"name": a, "stats": self.stats(a),
                                "sample": {"summary": runs[0].summary(),
                                           "timeline": [asdict(s) for s in runs[0].steps]}}
                               for a, runs in self.sessions.items()],
                "rung_shares": [{"name": k, "share": v} for k, v in self.rung_shares().items()],
                "suggestions": self.suggestions()}


def qoe_weights(utility: str) -> dict[str, float]:
    """The QoE weights of a utility, named with their units (shown beside every result)."""
    weight, rebuffer_penalty, switch_penalty = QOE_WEIGHTS[utility]
    if utility == "vmaf":
        return {"vmaf": weight, "rebuffer_s": -rebuffer_penalty, "switch_vmaf": -switch_penalty}
    return {"bitrate_mbps": weight, "rebuffer_s": -rebuffer_penalty, "switch_mbps": -switch_penalty}


def run(ladder: Ladder, experiment: Experiment, progress: Progress | None = None) -> AbrResult:
    """Every algorithm over the same `sessions` traces (session n gets the same trace for each)."""
    check_utility(experiment.utility, ladder)
    traces = [experiment.trace_for(n) for n in range(experiment.sessions)]
    total, done = len(traces) * len(experiment.algorithms), 0
    sessions: dict[str, list[Session]] = {}
    for name in experiment.algorithms:
        sessions[name] = []
        for trace in traces:
            sessions[name].append(simulate(ladder, trace, name, experiment.player, experiment.utility))
            done += 1
            if progress:
                progress(done, total)
    return AbrResult(ladder, experiment, sessions)


CSV_COLUMNS = ("algorithm", "session", *METRICS, "stalls", "avg_vmaf")


def csv_rows(result: AbrResult) -> list[list[object]]:
    """One row per algorithm and session under `CSV_COLUMNS` (avg_vmaf empty when not measured)."""
    return [[a, n, *(getattr(s, m) for m in METRICS), s.stalls, "" if s.avg_vmaf is None else s.avg_vmaf]
            for a, runs in result.sessions.items() for n, s in enumerate(runs)]

