"""The replay lab's numbers on traces small enough to check by hand, and properties that hold on every
trace (Belady's MIN is a ceiling for equal sizes; a shared cache beats the same bytes split by title)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.cdn.policies import POLICIES
from server.labs.replay import Fill, Latency, belady, partitions, quantile, replay
from tests.labs.conftest import MIB, hand_trace

CYCLE = ["t1/a", "t1/b", "t1/c"] * 2


def test_lru_on_a_cycle_one_object_longer_than_the_cache_never_hits_while_min_keeps_two() -> None:
    trace = hand_trace(CYCLE)
    assert replay(trace, "lru", 2 * MIB).hits == 0           # each object is evicted just before its return
    assert belady(trace, 2 * MIB).hits == 2                   # MIN keeps a and b, lets c pass


def test_lru_counts_the_one_reuse_within_reach_exactly() -> None:
    # a b a c b a with room for 2: only the second a is a hit (b was evicted by c, a then by b).
    outcome = replay(hand_trace(["t1/a", "t1/b", "t1/a", "t1/c", "t1/b", "t1/a"]), "lru", 2 * MIB)
    assert (outcome.hits, outcome.requests) == (1, 6)


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_when_everything_fits_only_first_requests_miss_and_the_origin_sends_each_object_once(policy) -> None:
    sizes = {"t1/a": 1000, "t1/b": 3000, "t2/c": 6000}
    trace = hand_trace(["t1/a", "t1/b", "t2/c", "t1/a", "t1/b", "t2/c", "t2/c"], sizes=sizes)
    outcome = replay(trace, policy, 100 * MIB)
    assert (outcome.hits, outcome.bytes, outcome.origin_bytes) == (4, 26_000, 10_000)
    assert outcome.byte_hit_ratio == pytest.approx(16_000 / 26_000)


def test_a_ttl_turns_a_request_after_expiry_into_a_miss() -> None:
    trace = hand_trace(["t1/a", "t1/a", "t1/a", "t1/a"], times=[0, 5, 20, 25])
    assert replay(trace, "lru", 10 * MIB).hits == 3
    assert replay(trace, "lru", 10 * MIB, ttl_s=10).hits == 2      # 0 miss, 5 hit, 20 refetch, 25 hit


def test_p95_is_the_hit_latency_when_95_percent_of_requests_hit() -> None:
    model = Latency(edge_rtt_ms=10, edge_mbps=8, origin_rtt_ms=80, origin_mbps=8)
    outcome = replay(hand_trace(["t1/a"] * 20, size=1000), "lru", MIB, latency=model)
    assert outcome.hits == 19
    assert outcome.p95_ms == pytest.approx(11.0)             # 10 ms + 8000 bit at 8 Mbit/s
    assert model.miss_ms(1000) == pytest.approx(11.0 + 80 + 1)


def test_quantile_of_weighted_values() -> None:
    assert quantile([(5.0, 1), (1.0, 98), (9.0, 1)], 0.95) == 1.0
    assert quantile([(5.0, 10), (1.0, 90)], 0.95) == 5.0
    assert quantile([], 0.95) is None


def test_edges_split_requests_by_title_each_title_on_one_edge() -> None:
    keys = [f"t{n % 7}/s{n % 3}" for n in range(200)]
    trace = hand_trace(keys)
    parts = partitions(trace, 3)
    assert sum(len(p) for p in parts) == 200
    homes = [{trace.titles[o] for o in part} for part in parts]
    assert sum(len(h) for h in homes) == 7 and set().union(*homes) == set(trace.titles)
    assert replay(trace, "lru", 4 * MIB, edges=1) == replay(trace, "lru", 4 * MIB)


keys_strategy = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=300)


@settings(max_examples=60, deadline=None)
@given(keys_strategy, st.integers(1, 12))
def test_belady_hits_at_least_as_often_as_every_policy_on_equal_sizes(pairs, slots) -> None:
    trace = hand_trace([f"t{t}/s{s}" for t, s in pairs])
    ceiling = belady(trace, slots * MIB).hits
    for policy in POLICIES:
        assert replay(trace, policy, slots * MIB).hits <= ceiling, policy


@settings(max_examples=60, deadline=None)
@given(keys_strategy, st.integers(1, 6), st.integers(2, 4))
def test_one_shared_cache_beats_the_same_bytes_split_over_edges_for_the_optimal_policy(pairs, slots, edges):
    trace = hand_trace([f"t{t}/s{s}" for t, s in pairs])
    assert belady(trace, edges * slots * MIB).hits >= belady(trace, slots * MIB, edges=edges).hits


def test_with_room_for_everything_ttl_expiry_is_the_same_on_any_number_of_edges() -> None:
    keys = [f"t{n % 5}/s{n % 4}" for n in range(120)]
    trace = hand_trace(keys, times=[n * 3.0 for n in range(120)])     # each object every 60 s
    one = replay(trace, "lru", 100 * MIB, ttl_s=100)
    assert one.hits == 60       # per object at 0, 60, ..., 300 s: fetch, hit, expired, hit, expired, hit
    for edges in (2, 3):
        assert replay(trace, "lru", 100 * MIB, ttl_s=100, edges=edges).hits == one.hits


def test_a_daily_fill_pushes_yesterdays_top_title_so_todays_first_viewer_hits() -> None:
    """Day 0: t1 watched three times, t2 once. Day 1 opens with the fill: t1's two objects pushed, so
    its first request that day is a hit; t2's is not (top 1 only); day 0 had nothing to rank."""
    day = 86400.0
    keys = ["t1/a", "t1/b", "t1/a", "t1/a", "t2/x", "t1/b", "t2/x", "t3/y"]
    times = [10, 20, 30, 40, 50, day + 10, day + 20, day + 30]
    trace = hand_trace(keys, times=times, size=1000)
    # a cache of two objects: without fill t1/b was evicted on day 0 (LRU: a, x newer), so it misses
    plain = replay(trace, "lru", 2000)
    filled = replay(trace, "lru", 2000, fill=Fill(titles=1))
    assert [plain.hits, filled.hits] == [3, 4]
    assert (filled.fill_titles, filled.fill_bytes) == (1, 1000)    # t1/a was cached still: only t1/b sent
    assert filled.origin_bytes == plain.origin_bytes - 1000


def test_fill_lands_on_each_title_s_home_edge_only() -> None:
    """Day 0: t5 twice, then eleven other titles once, through 3 edges holding one object each. Day 1's
    fill (top 1) sends t5 back to its home edge alone (1000 bytes; every edge would be 3000), and its
    viewer that day gets a hit."""
    keys = ["t5/s", "t5/s", *[f"t{n}/s" for n in range(12) if n != 5], "t5/s"]
    times = [float(i) for i in range(len(keys) - 1)] + [86400.0]
    trace = hand_trace(keys, times=times, size=1000)
    plain = replay(trace, "lru", 1000, edges=3)
    filled = replay(trace, "lru", 1000, edges=3, fill=Fill(titles=1))
    assert (plain.hits, filled.hits, filled.fill_bytes) == (1, 2, 1000)
    cold = replay(hand_trace(keys[:1], size=1000), "lru", 10 * MIB, edges=3, fill=Fill(titles=12))
    assert cold.fill_bytes == 0                                     # no earlier day to rank titles by
