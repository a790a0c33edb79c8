"""The replay lab's numbers on traces small enough to check by hand, and properties that hold on every
trace (Belady's MIN is a ceiling for equal sizes; a shared cache beats the same bytes split by title)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.cdn.policies import POLICIES
from server.labs.replay import Latency, belady, partitions, quantile, replay
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
