"""Eviction policies on synthetic traces: byte accounting, and the behaviour that sets them apart."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest

from server.cdn.policies import FIFO, LRU, POLICIES, S3FIFO, WTinyLFU, make_policy
from server.cdn.simulate import Trace, belady, interval_bound, irm_trace, replay, static_oracle, zipf_trace
from server.errors import InvalidRequest


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_used_bytes_match_the_admitted_objects_and_never_exceed_capacity(name: str) -> None:
    rng = random.Random(7)
    policy = make_policy(name, 10_000)
    sizes: dict[str, int] = {}
    for i in range(5_000):
        key = f"o{rng.randrange(200)}"
        if key in policy and i % 50 == 0:
            policy.remove(key)                 # the edge dropped it (TTL, origin 404)
            assert key not in policy
        if key in policy:
            policy.touch(key)
            continue
        size = sizes.setdefault(key, rng.randrange(100, 3_000))
        for gone in policy.admit(key, size):
            assert gone not in policy
        assert policy.used <= policy.capacity
        assert policy.used == sum(sizes[k] for k in sizes if k in policy)


def test_an_object_larger_than_the_cache_is_not_admitted_and_evicts_nothing() -> None:
    for name in POLICIES:
        policy = make_policy(name, 100)
        policy.admit("a", 60)
        assert policy.admit("huge", 101) == [] and "huge" not in policy and "a" in policy


def test_lru_evicts_the_least_recently_used_and_fifo_ignores_hits() -> None:
    lru, fifo = LRU(3), FIFO(3)
    for policy in (lru, fifo):
        for key in "abc":
            policy.admit(key, 1)
        policy.touch("a")
    assert lru.admit("d", 1) == ["b"]
    assert fifo.admit("d", 1) == ["a"]


def test_s3fifo_and_wtinylfu_keep_a_hot_set_through_a_one_time_scan_that_flushes_lru() -> None:
    hot = [f"hot{i}" for i in range(8)]
    scan = [f"scan{i}" for i in range(40)]
    results = {}
    for policy in (LRU(10), S3FIFO(10), WTinyLFU(10)):
        for _ in range(3):
            for key in hot:
                if key in policy:
                    policy.touch(key)
                else:
                    policy.admit(key, 1)
        for key in scan:
            policy.admit(key, 1)
        results[type(policy).__name__] = sum(key in policy for key in hot)
    assert results == {"LRU": 0, "S3FIFO": 8, "WTinyLFU": 8}


def test_s3fifo_sends_a_quick_return_to_main_but_forgets_a_slow_one() -> None:
    policy = S3FIFO(100)                       # small queue 5 bytes, ghosts a quarter of main: 23 bytes
    policy.admit("quick", 1)
    policy.admit("slow", 1)
    for i in range(100):
        policy.admit(f"a{i}", 1)               # both leave the small queue unhit, as ghosts
    assert "quick" not in policy and "slow" not in policy
    policy.admit("quick", 1)                   # a ghost hit: straight to main
    for i in range(30):
        policy.admit(f"b{i}", 1)               # more one-hit wonders than the ghost queue remembers
    policy.admit("slow", 1)                    # forgotten: probation in the small queue again
    for i in range(200):
        policy.admit(f"c{i}", 1)
    assert "quick" in policy and "slow" not in policy


def test_unknown_policy_names_the_choices() -> None:
    with pytest.raises(InvalidRequest, match="lru"):
        make_policy("arc", 10)


def test_belady_is_the_ceiling_on_a_zipf_trace() -> None:
    trace = zipf_trace(alpha=0.9, titles=30, requests=6_000, seed=3)
    capacity = int(trace.catalog_bytes * 0.1)
    best = belady(trace.requests, capacity)
    for name in POLICIES:
        stats = replay(make_policy(name, capacity), trace.requests)
        assert stats.hit_ratio <= best.hit_ratio and stats.byte_hit_ratio <= best.byte_hit_ratio
    assert 0 < replay(LRU(capacity), trace.requests).hit_ratio < best.hit_ratio


def test_zipf_trace_is_reproducible_from_its_seed() -> None:
    a, b = zipf_trace(1.0, 10, 500, seed=1), zipf_trace(1.0, 10, 500, seed=1)
    assert a.requests == b.requests and a.requests != zipf_trace(1.0, 10, 500, seed=2).requests


def test_the_static_oracle_holds_the_most_popular_objects_and_beats_lru() -> None:
    trace = zipf_trace(alpha=1.0, titles=30, requests=6_000, seed=3)
    capacity = int(trace.catalog_bytes * 0.1)
    oracle = static_oracle(trace, capacity)
    assert oracle.byte_hit_ratio > replay(LRU(capacity), trace.requests).byte_hit_ratio
    top = max(trace.popularity, key=trace.popularity.__getitem__)
    assert top.endswith("seg_00000.m4s") and "/t0/" in top      # most popular title, first segment
    cold = static_oracle(trace, capacity, preload=False)         # misses each kept object's first request
    assert 0 < oracle.hits - cold.hits <= len({key for key, _ in trace.requests})


def test_wtinylfu_admits_a_newcomer_only_if_it_is_requested_more_than_its_victim() -> None:
    policy = WTinyLFU(100, window_fraction=0.1)        # window 10 bytes, main 90
    for _ in range(3):
        policy.touch("old") if "old" in policy else policy.admit("old", 90)
    assert "old" in policy
    policy.admit("once", 10)                          # fits the window
    policy.admit("new", 10)                           # pushes "once" out of the window: it loses to "old"
    assert "old" in policy and "once" not in policy and "new" in policy
    for _ in range(5):
        policy.touch("new")
    policy.admit("x", 10)                             # now "new" leaves the window and beats "old"
    assert "new" in policy and "old" not in policy


def test_belady_bypasses_a_newcomer_without_evicting_what_could_not_make_room_for_it() -> None:
    # c (8 bytes) is needed before a but after b: evicting a alone frees too little, so keep a.
    requests = [("a", 5), ("b", 5), ("c", 8), ("b", 5), ("c", 8), ("a", 5)]
    assert belady(requests, 10).hits == 2


@pytest.mark.parametrize("make_trace", [irm_trace, zipf_trace])
def test_the_interval_bound_is_above_belady_and_every_policy(make_trace: Callable[..., Trace]) -> None:
    trace = make_trace(0.9, 30, 6_000, seed=5)
    capacity = int(trace.catalog_bytes * 0.1)
    bound, best = interval_bound(trace.requests, capacity), belady(trace.requests, capacity)
    assert best.byte_hit_ratio <= bound.byte_hit_ratio < 1.0 and best.hit_ratio <= bound.hit_ratio
    for name in POLICIES:
        assert replay(make_policy(name, capacity), trace.requests).byte_hit_ratio <= bound.byte_hit_ratio


def test_irm_requests_follow_popularity_but_not_playback_order() -> None:
    irm, sessions = irm_trace(1.0, 20, 20_000, seed=2), zipf_trace(1.0, 20, 20_000, seed=2)
    assert irm.popularity == sessions.popularity and irm.sizes == sessions.sizes
    counts = Counter(key for key, _ in irm.requests)
    first = sum(n for key, n in counts.items() if key.endswith("seg_00000.m4s"))
    deep = sum(n for key, n in counts.items() if key.endswith("seg_00030.m4s"))
    assert 3 < first / deep < 7                       # exp(30 / 20) = 4.5: early abandonment
    assert _next_segment_follows(sessions) > 0.5 > 0.1 > _next_segment_follows(irm)


def _next_segment_follows(trace: Trace) -> float:
    """Share of requests for segment k > 0 whose segment k-1 was asked for in the 50 requests before."""
    keys = [key for key, _ in trace.requests]
    follows = later = 0
    for i, key in enumerate(keys):
        k = int(key[-9:-4])
        if k:
            later += 1
            follows += f"{key[:-9]}{k - 1:05d}.m4s" in keys[max(0, i - 50):i]
    return follows / later


def test_wtinylfu_main_evicts_its_least_frequent_object_even_if_just_requested() -> None:
    policy = WTinyLFU(100, window_fraction=0.1)        # window 10 bytes, main 90
    for key, hits in (("a", 5), ("b", 3), ("c", 1)):
        policy.admit(key, 30)
        for _ in range(hits):
            policy.touch(key)
    policy.touch("c")                                   # c: most recent, least frequent (3 requests)
    for _ in range(3):
        assert policy.admit("new", 30) == [] and "new" not in policy    # 1..3 requests do not beat c's 3
    assert policy.admit("new", 30) == ["c"]                             # 4 do; LRU would have evicted a
    assert all(key in policy for key in ("a", "b", "new")) and policy.used == 90


@pytest.mark.parametrize("make_trace", [irm_trace, zipf_trace])
def test_frequency_aware_policies_get_close_to_the_popularity_oracle_in_a_small_cache(
        make_trace: Callable[..., Trace]) -> None:
    trace = make_trace(0.9, 30, 30_000, seed=4)
    capacity = int(trace.catalog_bytes * 0.02)
    oracle = static_oracle(trace, capacity).byte_hit_ratio
    lru = replay(LRU(capacity), trace.requests).byte_hit_ratio
    for policy in (S3FIFO(capacity), WTinyLFU(capacity)):
        bhr = replay(policy, trace.requests).byte_hit_ratio
        assert bhr > 1.5 * lru and bhr > 0.78 * oracle, type(policy).__name__     # before tuning: 0.73-0.77
