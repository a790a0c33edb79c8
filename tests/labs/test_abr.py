"""The ABR lab's player model and algorithms on hand-made ladders whose outcomes can be checked by hand."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from server.errors import InvalidRequest
from server.labs import abr
from server.labs.abr_algorithms import ALGORITHMS, BBA, Bola, View, _PlanSearch, parse_algorithms
from server.labs.abr_manifest import Ladder, Rung
from server.labs.abr_traces import steady

KBPS = 1000


def ladder(kbps: tuple[int, ...] = (200, 800, 2000), segments: int = 10, seg_s: float = 4.0) -> Ladder:
    """Constant-bitrate rungs: every segment of a rung is kbps x seg_s / 8 bytes."""
    rungs = tuple(Rung(f"{k}k", k, (int(k * KBPS * seg_s / 8),) * segments) for k in kbps)
    return Ladder("hand", (seg_s,) * segments, rungs)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_a_link_far_above_the_top_rung_ends_every_algorithm_on_the_top_rung_without_stalls(algorithm) -> None:
    session = abr.simulate(ladder(segments=15), steady(100.0), algorithm)
    assert session.rungs[-1] == 2
    assert session.rebuffer_s == 0 and session.stalls == 0


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if a not in ("throughput", "dynamic")])
def test_a_link_below_the_lowest_rung_counts_the_rebuffering_exactly(algorithm) -> None:
    # 200 kbit/s segments of 4 s (100 kB) over 100 kbit/s take 8 s each (no RTT): playback starts after
    # the first (startup 8 s), then each of the 2 further fetches outlasts the 4 s buffer by 4 s.
    session = abr.simulate(ladder(segments=3), steady(0.1), algorithm, abr.Player(rtt_ms=0))
    assert session.rungs == [0, 0, 0]
    assert session.startup_s == pytest.approx(8.0)
    assert session.rebuffer_s == pytest.approx(8.0) and session.stalls == 2
    assert session.rebuffer_ratio == pytest.approx(8.0 / 20.0)


def test_the_throughput_rule_starts_as_hls_js_does_then_drops_to_what_the_link_carries() -> None:
    # hls.js raises its 500 kbit/s first guess to the first-listed (top) rung's BANDWIDTH, at most
    # 5 Mbit/s: the 2 Mbit/s rung here; one slow segment later its estimate is the link's 0.1 Mbit/s.
    session = abr.simulate(ladder(segments=3), steady(0.1), "throughput", abr.Player(rtt_ms=0))
    assert session.rungs == [2, 0, 0]
    top_above_5m = ladder((200, 800, 2000, 6000), segments=2)
    assert abr.simulate(top_above_5m, steady(100.0), "throughput").rungs[0] == 2


def test_the_rtt_is_paid_once_per_segment() -> None:
    session = abr.simulate(ladder((200,), segments=2), steady(0.1), "bba", abr.Player(rtt_ms=500))
    assert session.startup_s == pytest.approx(8.5)
    assert session.rebuffer_s == pytest.approx(4.5)


def test_qoe_lin_on_three_segments_by_hand() -> None:
    # 1 + 3 + 1 Mbit/s, 2 s rebuffering, switches |3-1| + |1-3| = 4: 5 - 8.6 - 4 = -7.6
    assert abr.qoe_lin([1.0, 3.0, 1.0], 2.0) == pytest.approx(-7.6)
    assert abr.qoe_lin([0.5, 0.5, 0.5], 0.0) == pytest.approx(1.5)


def view(buffer_s: float, last: int | None = None, rates: tuple[float, ...] = (2e5, 8e5, 2e6)) -> View:
    return View(rates, buffer_s, 30.0, last, 4.0)


def test_bba_rate_map_is_lowest_up_to_the_reservoir_and_highest_past_the_cushion() -> None:
    bba = BBA(reservoir_s=5, cushion_s=10)
    rates = (2e5, 8e5, 2e6)
    assert bba.rate_map(rates, 5.0) == 2e5 and bba.rate_map(rates, 15.0) == 2e6
    assert bba.rate_map(rates, 10.0) == pytest.approx(1.1e6)
    assert bba.choose(view(5.0, last=2)) == 0
    assert bba.choose(view(15.0, last=0)) == 2
    assert bba.choose(view(14.9, last=2)) == 2          # f(B) 1.98 Mbit/s: no lower rung crossed
    assert bba.choose(view(5.1, last=0)) == 0


def test_bba_keeps_its_rung_until_the_map_crosses_the_next_one() -> None:
    bba = BBA(reservoir_s=5, cushion_s=10)
    # f(B) = 0.2 + (B - 5) / 10 x 1.8 Mbit/s: 0.8 at B = 8.33 s
    assert bba.choose(view(8.0, last=0)) == 0
    assert bba.choose(view(8.5, last=0)) == 1
    assert bba.choose(view(8.0, last=1)) == 1
    assert bba.choose(view(6.0, last=1)) == 1          # f = 0.38, still above the rung below
    assert bba.choose(view(5.0, last=1)) == 0          # the reservoir


def test_bola_picks_higher_rungs_as_the_buffer_grows() -> None:
    bola = Bola()
    picks = [bola.choose(view(float(b))) for b in range(0, 27)]
    assert picks == sorted(picks)
    assert picks[0] == 0 and picks[-1] == 2


def test_unknown_algorithms_and_bad_sessions_are_clear_errors() -> None:
    with pytest.raises(InvalidRequest, match="Unknown ABR algorithm 'pensieve'"):
        parse_algorithms("bba,pensieve")
    assert parse_algorithms("all") == tuple(ALGORITHMS)
    with pytest.raises(InvalidRequest, match="Sessions must be 1 to"):
        abr.Experiment("steady:5M", ("bba",), sessions=0)


def test_a_run_reports_distributions_a_timeline_and_ladder_suggestions() -> None:
    # 2.5 Mbit/s steady: the 2 Mbit/s rung fits under the throughput rule's 0.9 safety; nobody needs 800k
    # for long, and a 6 Mbit/s rung added on top is never picked.
    result = abr.run(ladder((200, 800, 2000, 6000)), abr.Experiment("steady:2.5M", ("throughput", "bba"),
                                                                    sessions=3))
    body = result.to_dict()
    algorithms = {a["name"]: a for a in body["algorithms"]}  # type: ignore[attr-defined]
    stats = algorithms["throughput"]["stats"]
    assert set(stats) == set(abr.METRICS) and set(stats["qoe"]) == {"mean", "p5", "p50", "p95"}
    timeline = algorithms["bba"]["sample"]["timeline"]
    assert len(timeline) == 10 and {"t", "buffer_s", "rung", "kbps"} <= set(timeline[0])
    assert body["rung_shares"][-1] == {"name": "6000k", "share": 0}  # type: ignore[index]
    assert any("No session ever picked 6000k" in s for s in result.suggestions())
    assert len(abr.csv_rows(result)) == 6


def brute_force_qoe(view: View, bps: float, horizon: int) -> float:
    """The best QoE_lin of every rung plan, each tried in full (MPC as the paper states it)."""
    mbps = [b / 1e6 for b in view.bitrates]
    best = -math.inf
    for plan in itertools.product(range(len(mbps)), repeat=horizon):
        buffer, last, qoe = view.buffer_s, view.last, 0.0
        for step, rung in enumerate(plan):
            took = view.upcoming[step][rung] * 8 / bps
            qoe += mbps[rung] - 4.3 * max(took - buffer, 0.0)
            qoe -= abs(mbps[rung] - mbps[last]) if last is not None else 0.0
            buffer, last = max(buffer - took, 0.0) + view.segment_s, rung
        best = max(best, qoe)
    return best


def test_mpcs_pruned_search_finds_the_best_plan_of_every_plan() -> None:
    rng = random.Random(5)
    for _ in range(300):
        rates = tuple(sorted(rng.uniform(1e5, 6e6) for _ in range(rng.randint(1, 5))))
        horizon = rng.randint(1, 5)
        upcoming = tuple(tuple(int(r * 2 / 8 * rng.uniform(0.5, 1.5)) for r in rates) for _ in range(horizon))
        view = View(rates, rng.uniform(0, 30), 30.0, rng.choice([None, *range(len(rates))]), 2.0, upcoming)
        bps = rng.uniform(5e4, 8e6)
        search = _PlanSearch(view, bps, horizon)
        search.best_first_rung()
        assert search.best == pytest.approx(brute_force_qoe(view, bps, horizon), abs=1e-9)


def test_a_top_rung_taken_with_throughput_to_spare_suggests_a_higher_one() -> None:
    result = abr.run(ladder(segments=20), abr.Experiment("steady:50M", ("throughput", "mpc"), sessions=2))
    assert any("a higher rung would be used" in s and "(2000k, 2000 kbit/s)" in s
               for s in result.suggestions())
    tight = abr.run(ladder(segments=20), abr.Experiment("steady:2.5M", ("throughput",), sessions=2))
    assert not any("higher rung" in s for s in tight.suggestions())
