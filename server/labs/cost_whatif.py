"""The cost lab's "what if"s, each a function from measured use to measured changes, behind one registry.

A what-if answers with byte and CPU changes only where a figure was measured: the replay lab's origin
egress for doubled edge caches, a title's own AV1 rungs, a title's own per-title analysis. Where the
figure does not exist it says so, and what to run to get it, instead of inventing a percentage. A new
what-if is one function plus one line in `WHATIFS`; the AV1 and per-title ones light up by themselves
once titles carry AV1 rungs or a `per_title` analysis in their integrity report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from server import config
from server.cdn.topology import MIB, EdgeSpec, Topology
from server.errors import InvalidRequest
from server.labs.cost_usage import TitleUsage
from server.labs.replay import replay
from server.labs.trace import RECORDED, ReplayTrace, build

if TYPE_CHECKING:
    import duckdb

DOUBLE_CACHE, AV1, PER_TITLE = "double-cache", "av1", "per-title"
EDGE_SQL = """SELECT edge, object, video_id, bytes, happened_at FROM cdn_events
WHERE type IN ('hit', 'miss') AND object IS NOT NULL AND object <> '' ORDER BY happened_at, rowid"""


@dataclass(frozen=True)
class Change:
    """Measured changes against what was recorded: bytes stored, bytes served by edges and by the origin
    over the recorded window, encode CPU seconds. `measured` False: `note` says what to run."""

    measured: bool
    note: str = ""
    stored_bytes: int = 0
    edge_bytes: int = 0
    origin_bytes: int = 0
    cpu_s: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """One what-if: a change for the whole library and one per title, and the figures behind them."""

    name: str
    label: str
    library: Change
    titles: dict[str, Change] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inputs:
    """What a what-if may read: the titles' measured use, the analytics connection, the edges."""

    usages: Sequence[TitleUsage]
    conn: duckdb.DuckDBPyConnection
    topology: Topology


def _not_measured(what: str) -> Change:
    return Change(False, f"not measured for this title: {what}")


# --- double the edge caches -----------------------------------------------------------------------

def edge_traces(conn: duckdb.DuckDBPyConnection) -> dict[str, ReplayTrace]:
    """The recorded `cdn` log split by the edge that served each request, each in its order."""
    rows: dict[str, list[tuple[str, str, int, float]]] = {}
    for edge, key, video_id, nbytes, when in conn.execute(EDGE_SQL).fetchall():
        rows.setdefault(str(edge or ""), []).append((key, video_id, nbytes, when))
    return {edge: build(RECORDED, part) for edge, part in rows.items()}


def edge_spec(topology: Topology, name: str) -> tuple[EdgeSpec, bool]:
    """The configured edge of that name, or (False) one with the default capacity, TTL and policy: an
    edge the log names that the topology no longer has."""
    try:
        return topology.edge(name), True
    except KeyError:
        default = EdgeSpec(name, "", 0, 0, 0, None, int(config.get("cdn_capacity_mb")) * MIB,
                           float(config.get("cdn_ttl_s")), str(config.get("cdn_policy")))
        return default, False


def replay_edge(trace: ReplayTrace, spec: EdgeSpec, factor: float) -> int:
    """Origin egress of one edge's recorded requests replayed through its policy at `factor` x its cache."""
    return replay(trace, spec.policy, int(spec.capacity_bytes * factor), ttl_s=spec.ttl_s).origin_bytes


def double_cache(inputs: Inputs) -> Outcome:
    """Replay each edge's recorded requests at its own capacity and at twice it: the origin bytes saved."""
    traces = edge_traces(inputs.conn)
    per_edge: list[dict[str, Any]] = []
    unknown, saved = [], 0
    for name, trace in sorted(traces.items()):
        spec, known = edge_spec(inputs.topology, name)
        if not known:
            unknown.append(name)
        now, doubled = replay_edge(trace, spec, 1), replay_edge(trace, spec, 2)
        saved += now - doubled
        per_edge.append({"edge": name, "policy": spec.policy, "capacity_bytes": spec.capacity_bytes,
                         "ttl_s": spec.ttl_s, "requests": len(trace), "origin_bytes_now": now,
                         "origin_bytes_doubled": doubled})
    note = ("replayed the recorded edge requests (replay lab) at 1x and 2x each edge's cache"
            if per_edge else "not measured: no edge requests recorded yet (play a title through the edges)")
    if unknown:
        note += f"; not in the configured topology, replayed with the default cache: {', '.join(unknown)}"
    library = Change(bool(per_edge), note, origin_bytes=-saved)
    titles = {u.video_id: Change(False, "library-wide only: every title shares the edges' caches")
              for u in inputs.usages}
    return Outcome(DOUBLE_CACHE, "Double the edge caches", library, titles,
                   {"edges": per_edge, "origin_bytes_saved": saved})


# --- add an AV1 ladder ---------------------------------------------------------------------------

def av1_ladder(inputs: Inputs) -> Outcome:
    """Per title with both H.264 and AV1 rungs of the same heights: its AV1 rungs' bytes against its
    H.264 rungs' bytes, applied to its egress (every viewer served AV1)."""
    titles = {u.video_id: _av1_change(u) for u in inputs.usages}
    return Outcome(AV1, "Add an AV1 ladder", _sum(titles, "AV1"), titles,
                   {"ratios": {v: c.note for v, c in titles.items() if c.measured}})


def _av1_change(usage: TitleUsage) -> Change:
    av1, h264 = usage.rung_bytes("av1"), usage.rung_bytes("h264")
    shared = sorted(set(av1) & set(h264))
    if not shared:
        return _not_measured("it has no AV1 rungs beside H.264 ones of the same heights; ingest it "
                             "with an AV1 ladder (libsvtav1) and run the cost lab again")
    ratio = sum(av1[h] for h in shared) / max(1, sum(h264[h] for h in shared))
    return Change(True, f"AV1 rungs are {ratio:.0%} of the H.264 bytes at {len(shared)} heights"
                  f"{_vmaf_note(usage, shared)}",
                  edge_bytes=round(usage.edge_bytes * (ratio - 1)),
                  origin_bytes=round(usage.origin_bytes * (ratio - 1)))


def _vmaf_note(usage: TitleUsage, heights: list[int]) -> str:
    """`, mean VMAF 93.1 (AV1) vs 94.0 (H.264)` when both codecs' rungs at those heights were measured."""
    means = {}
    for codec in ("av1", "h264"):
        scores = [s.vmaf for s in usage.stored
                  if s.codec == codec and s.height in heights and s.vmaf is not None]
        if len(scores) < len(heights):
            return ""
        means[codec] = sum(scores) / len(scores)
    return f", mean VMAF {means['av1']:.1f} (AV1) vs {means['h264']:.1f} (H.264)"


# --- switch to the per-title ladder ----------------------------------------------------------------

def per_title_ladder(inputs: Inputs) -> Outcome:
    """Per title whose integrity report holds a per-title analysis (`per_title`, written when the title
    was encoded with the per-title ladder): already applied, so no change, and its chosen rungs. A
    future analysis of a fixed-ladder title (`applied: false`) that names the bitrates of both ladders
    (`chosen` and `fixed`, rungs with `kbps` or `bitrate_kbps`) scales rung storage and egress by
    chosen / fixed."""
    titles = {u.video_id: _per_title_change(u) for u in inputs.usages}
    return Outcome(PER_TITLE, "Switch to the per-title ladder", _sum(titles, "per-title"), titles)


def ladder_kbps(rungs: Any) -> float:
    """The sum of `kbps` (or `bitrate_kbps`) over a list of rungs; 0 when there is none."""
    if not isinstance(rungs, list):
        return 0.0
    return sum(float(r.get("kbps", r.get("bitrate_kbps", 0)) or 0) for r in rungs if isinstance(r, dict))


def _per_title_change(usage: TitleUsage) -> Change:
    analysis = usage.report.get("per_title")
    if not isinstance(analysis, dict):
        return _not_measured("its report has no per-title analysis; re-ingest it with the per-title "
                             "ladder (--ladder per-title) and run the cost lab again")
    chosen, fixed = ladder_kbps(analysis.get("chosen")), ladder_kbps(analysis.get("fixed"))
    against = f"; {chosen / fixed:.0%} of the fixed ladder's bits" if chosen > 0 and fixed > 0 else ""
    if analysis.get("applied", True):
        return Change(True, f"already on the per-title ladder ({_rungs_text(analysis.get('chosen'))}"
                            f"{against}): what it stores and serves is that ladder's")
    if not against:
        return _not_measured("its per-title analysis names no bitrates of both ladders to compare")
    ratio = chosen / fixed
    rungs = sum(usage.rung_bytes().values())
    return Change(True, f"the per-title ladder is {ratio:.0%} of the fixed ladder's bits",
                  stored_bytes=round(rungs * (ratio - 1)), edge_bytes=round(usage.edge_bytes * (ratio - 1)),
                  origin_bytes=round(usage.origin_bytes * (ratio - 1)))


def _rungs_text(rungs: Any) -> str:
    """`720p 1500k VMAF 94.1, 360p 400k VMAF 88.0` from the analysis's chosen points."""
    if not isinstance(rungs, list):
        return "its chosen rungs"
    return ", ".join(f"{r.get('name', '?')} {float(r.get('kbps', r.get('bitrate_kbps', 0)) or 0):.0f}k"
                     + (f" VMAF {float(r['vmaf']):.1f}" if isinstance(r.get("vmaf"), int | float) else "")
                     for r in rungs if isinstance(r, dict)) or "its chosen rungs"


def _sum(titles: dict[str, Change], what: str) -> Change:
    """The library's change: the sum over the titles where it was measured (and how many those are)."""
    measured = [c for c in titles.values() if c.measured]
    total = Change(bool(measured), f"measured for {len(measured)} of {len(titles)} titles" if measured
                   else f"not measured for any title: no title carries {what} figures yet")
    for c in measured:
        total = replace(total, stored_bytes=total.stored_bytes + c.stored_bytes,
                        edge_bytes=total.edge_bytes + c.edge_bytes,
                        origin_bytes=total.origin_bytes + c.origin_bytes, cpu_s=total.cpu_s + c.cpu_s)
    return total


WHATIFS: dict[str, Callable[[Inputs], Outcome]] = {
    DOUBLE_CACHE: double_cache, AV1: av1_ladder, PER_TITLE: per_title_ladder}


def parse_whatifs(text: str) -> tuple[str, ...]:
    """`double-cache,av1` (or `all`, or empty: none) → the registry's names, checked."""
    if text.strip().lower() == "all":
        return tuple(WHATIFS)
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in WHATIFS]
    if unknown:
        raise InvalidRequest(f"Unknown what-if {unknown[0][:40]!r}.", hint=f"one of {', '.join(WHATIFS)}")
    return tuple(dict.fromkeys(names))
