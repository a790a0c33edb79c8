"""Check the ABR lab against a real client: hls.js in a browser plays a title through an edge that
follows a bandwidth trace (`abr_throttle.TraceThrottle`), the page records the level hls.js loaded
for every fragment (resources/web/abr_probe.html), and the lab's `throughput` rule plays the same
trace over the same segment sizes; the figure is the share of segments within one rung.

Alignment: the simulation starts at the trace time when hls.js asked for its first fragment (the
manifest and playlists load before), with the edge's RTT as each fetch's first-byte time, playback
starting on the first fragment, and hls.js's real buffer ceiling: maxBufferLength 30 s is a floor,
hls.js buffers up to 60 MB (maxBufferSize) of the level, capped at maxMaxBufferLength 600 s.
The browser itself is driven by the caller (bench/abr_validation.py, tests/labs/test_abr_hlsjs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from server.cdn.topology import EdgeSpec, Topology
from server.errors import InvalidRequest
from server.labs import abr
from server.labs.abr_manifest import Ladder
from server.labs.abr_throttle import Throttled, TraceThrottle
from server.labs.abr_traces import BandwidthTrace

HLSJS_MAX_BUFFER_BYTES = 60e6        # maxBufferSize
HLSJS_MAX_BUFFER_S, HLSJS_MAX_MAX_BUFFER_S = 30.0, 600.0
TARGET_WITHIN_ONE = 0.9
EDGE_NAME, REGION = "abr-lab-1", "abr-lab"


def validation_topology(rtt_ms: float = 40.0, capacity_bytes: int = 1 << 30) -> Topology:
    """One edge in its own region, so steering can only send the player there."""
    spec = EdgeSpec(EDGE_NAME, REGION, 0.0, 0.0, rtt_ms, None, capacity_bytes, 3600.0, "lru")
    return Topology([spec], {REGION: (0.0, 0.0)})


def hlsjs_player(ladder: Ladder, rtt_ms: float) -> abr.Player:
    """The lab's player set up as hls.js's defaults behave on this ladder (see the module docstring)."""
    ceiling = max(HLSJS_MAX_BUFFER_BYTES * 8 / max(ladder.peaks), HLSJS_MAX_BUFFER_S)
    return abr.Player(rtt_ms=rtt_ms, startup_s=min(ladder.durations[0], 600.0),
                      max_buffer_s=min(ceiling, HLSJS_MAX_MAX_BUFFER_S))


@dataclass(frozen=True)
class Fragment:
    """One main-track fragment hls.js loaded: its segment number (from 1), rung and load times (Unix s)."""

    sn: int
    rung: str
    nbytes: int
    start: float
    end: float


def fragments_from(report: dict[str, Any]) -> list[Fragment]:
    """The probe page's record, in load order; a bad record is an error saying what is wrong."""
    rows = report.get("fragments")
    if not isinstance(rows, list) or not rows:
        raise InvalidRequest("The player's report has no loaded fragments.",
                             hint=f"the page reported: fatal={report.get('fatal')!r}")
    try:
        return [Fragment(int(r["sn"]), str(r["rung"]), int(r["bytes"]), float(r["start"]) / 1000,
                         float(r["end"]) / 1000) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"A fragment in the player's report is malformed ({exc!r}).") from None


@dataclass
class Comparison:
    """hls.js's rung and the lab's per segment, and the agreement between them."""

    trace: str
    offset_s: float                  # trace time at hls.js's first fragment request
    ladder: list[str]
    hlsjs: list[int]                 # rung index per segment (lowest first), the last load of each
    lab: list[int]
    reloads: int = 0                 # segments hls.js loaded more than once
    emergency_aborts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def within_one(self) -> float:
        return _share(self.hlsjs, self.lab, 1)

    @property
    def exact(self) -> float:
        return _share(self.hlsjs, self.lab, 0)

    def to_dict(self) -> dict[str, Any]:
        return {"trace": self.trace, "segments": len(self.hlsjs), "within_one": round(self.within_one, 4),
                "exact": round(self.exact, 4), "offset_s": round(self.offset_s, 3), "ladder": self.ladder,
                "hlsjs": self.hlsjs, "lab": self.lab, "reloads": self.reloads,
                "emergency_aborts": self.emergency_aborts, **self.extra}


def _share(a: Sequence[int], b: Sequence[int], tolerance: int) -> float:
    pairs = list(zip(a, b, strict=True))
    return sum(abs(x - y) <= tolerance for x, y in pairs) / max(len(pairs), 1)


def compare(ladder: Ladder, trace: BandwidthTrace, fragments: Sequence[Fragment], trace_started: float,
            rtt_ms: float) -> Comparison:
    """The lab's throughput rule on `trace` from hls.js's first request (`trace_started`: Unix time of
    the trace's 0) against the rungs hls.js loaded."""
    index = {r.name: i for i, r in enumerate(ladder.rungs)}
    last: dict[int, int] = {}
    for f in fragments:
        if f.rung not in index:
            raise InvalidRequest(f"hls.js loaded rung {f.rung!r}, which the title does not have.")
        last[f.sn] = index[f.rung]
    count = len(ladder.durations)
    missing = [k + 1 for k in range(count) if k + 1 not in last]
    if missing:
        raise InvalidRequest(f"hls.js never loaded segment(s) {missing[:5]} of {count}.")
    offset = max(min(f.start for f in fragments) - trace_started, 0.0)
    session = abr.simulate(ladder, trace.shifted(offset), "throughput", hlsjs_player(ladder, rtt_ms))
    return Comparison(trace.name, offset, [r.name for r in ladder.rungs],
                      [last[k + 1] for k in range(count)], session.rungs, len(fragments) - len(last),
                      extra={"link": link_fidelity(trace, fragments, trace_started, rtt_ms)})


def link_fidelity(trace: BandwidthTrace, fragments: Sequence[Fragment], trace_started: float,
                  rtt_ms: float) -> dict[str, float]:
    """How long hls.js's fragments really took over how long the trace says they should have (RTT
    plus the bytes integrated from the request on): median and 10th/90th percentiles. Above 1, the
    edge delivered less than the trace; then hls.js measures less than the lab does."""
    rtt = rtt_ms / 1000
    ratios = sorted((f.end - f.start) / (rtt + trace.transfer_s(f.start - trace_started + rtt, f.nbytes))
                    for f in fragments if f.end > f.start)
    if not ratios:
        return {}
    def rank(q: float) -> float:
        return round(ratios[min(len(ratios) - 1, round(q * (len(ratios) - 1)))], 3)
    return {"p10": rank(0.1), "median": rank(0.5), "p90": rank(0.9)}


Play = Callable[[], dict[str, Any]]


def validate(ladder: Ladder, trace: BandwidthTrace, edge: Throttled, play: Play, rtt_ms: float) -> Comparison:
    """Throttle `edge` to `trace`, let `play()` run the browser until it has loaded every segment and
    return the page's report, then compare with the lab's prediction."""
    with TraceThrottle(trace, [edge]) as throttle:
        report = play()
    assert throttle.started_wall is not None
    comparison = compare(ladder, trace, fragments_from(report), throttle.started_wall, rtt_ms)
    comparison.emergency_aborts = len(report.get("aborted") or [])
    return comparison


def loaded_every_segment(report: dict[str, Any], segments: int) -> bool:
    """Whether the probe page's report names a load of every segment 1..segments (or a fatal error)."""
    seen = {r.get("sn") for r in report.get("fragments") or [] if isinstance(r, dict)}
    return bool(report.get("fatal")) or all(k in seen for k in range(1, segments + 1))
