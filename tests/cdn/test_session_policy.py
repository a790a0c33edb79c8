"""The session-aware policy: it keeps what active viewers will ask for next, forgets what they all
passed, prefetches each viewer's next segment within its budget, and on the session trace beats
W-TinyLFU; on a real edge, a viewer's next segment is there before they ask."""

from __future__ import annotations

import pytest

from server.cdn import session_policy
from server.cdn.policies import POLICIES, SessionPolicy, WTinyLFU, make_policy
from server.cdn.session_policy import SessionAware, parse_segment
from server.cdn.simulate import replay, replay_sessions, session_oracle, zipf_trace
from tests.cdn.conftest import VIDEO_ID, EdgeMaker, fetch, wait_for


def seg(title: str, k: int) -> str:
    return f"videos/{title}/cmaf/r0/seg_{k:05d}.m4s"


def test_it_is_in_the_registry_and_says_it_knows_sessions() -> None:
    assert "session" in POLICIES and isinstance(make_policy("session", 1000), SessionPolicy)
    assert not isinstance(WTinyLFU(1000), SessionPolicy)
    assert parse_segment(seg("t1", 12)) == ("videos/t1/cmaf/r0", 12)
    assert parse_segment("videos/t1/master.m3u8") is None


def test_a_segment_every_viewer_has_passed_goes_before_one_a_viewer_is_about_to_reach() -> None:
    policy = SessionAware(300, prefetch_share=0)
    for k, key in enumerate((seg("a", 5), seg("b", 3))):
        policy.observe(key, f"v{k}", 100)
        policy.admit(key, 100)
    policy.observe(seg("a", 1), "v2", 100)       # a viewer at a/1: a/5 lies ahead of them
    policy.admit(seg("a", 1), 100)
    policy.observe(seg("b", 4), "v1", 100)       # the only viewer of b moves on past b/3
    assert policy.admit(seg("b", 4), 100) == [seg("b", 3)]
    assert seg("a", 5) in policy and seg("b", 3) not in policy


def test_it_prefetches_each_viewers_next_segment_within_its_byte_budget() -> None:
    policy = SessionAware(10_000, prefetch_share=0.5)
    policy.observe(seg("a", 0), "v1", 1000)
    assert policy.prefetch() == [seg("a", 1)]
    assert policy.prefetch() == []               # drained
    policy.prefetched(seg("a", 1), 400)          # 400 of a 500-byte budget spent
    assert seg("a", 1) in policy
    policy.observe(seg("b", 7), "v2", 0)
    assert policy.prefetch() == [seg("b", 8)]    # 400 < 0.5 x 1000
    policy.prefetched(seg("b", 8), 400)
    policy.observe(seg("c", 0), "v3", 0)
    assert policy.prefetch() == []               # 800 >= the budget: no more prefetch


def test_a_viewer_who_stops_asking_no_longer_holds_segments_ahead() -> None:
    policy = SessionAware(10_000, prefetch_share=0)
    policy.observe(seg("a", 1), "gone", 100)
    ahead = policy.rate(seg("a", 2))
    for i in range(2_000):                       # other viewers' requests; "gone" never returns
        policy.observe(seg(f"x{i % 50}", i // 50), f"w{i % 50}", 100)
    assert "gone" not in {session for session, _, _ in policy.viewers()}
    assert policy.rate(seg("a", 2)) < ahead / 100


@pytest.mark.parametrize("alpha", [0.8, 1.0])
def test_on_the_session_trace_it_beats_wtinylfu_and_prefetch_costs_little_origin(alpha: float) -> None:
    trace = zipf_trace(alpha, 30, 30_000, seed=3)
    capacity = int(trace.catalog_bytes * 0.1)
    ceiling = session_oracle(trace, capacity).byte_hit_ratio
    wtinylfu = replay(WTinyLFU(capacity), trace.requests)
    plain = replay_sessions(SessionAware(capacity, prefetch_share=0), trace)
    ahead = replay_sessions(SessionAware(capacity), trace)
    assert plain.byte_hit_ratio > wtinylfu.byte_hit_ratio
    assert plain.byte_hit_ratio > 0.9 * ceiling
    assert ahead.byte_hit_ratio > plain.byte_hit_ratio            # prefetched segments are hits
    assert ahead.prefetch_bytes > 0 and ahead.origin_bytes <= 1.1 * plain.origin_bytes


def test_without_sessions_it_is_still_a_working_cache() -> None:
    trace = zipf_trace(1.0, 30, 20_000, seed=5)
    capacity = int(trace.catalog_bytes * 0.1)
    assert replay(SessionAware(capacity), trace.requests).byte_hit_ratio > 0.3


def test_a_real_edge_prefetches_the_next_segment_for_a_viewer(make_edge: EdgeMaker) -> None:
    edge = make_edge(policy="session")
    first = edge.url_for(VIDEO_ID, "cmaf/90p/seg_000.m4s") + "?session=viewer-1"
    status, headers, _ = fetch(first)
    assert status == 200 and headers["X-Cache"] == "MISS"
    wait_for(lambda: edge.cache.has(f"videos/{VIDEO_ID}/cmaf/90p/seg_001.m4s"))
    status, headers, _ = fetch(edge.url_for(VIDEO_ID, "cmaf/90p/seg_001.m4s") + "?session=viewer-1")
    assert status == 200 and headers["X-Cache"] == "HIT"      # there before the viewer asked


def test_without_viewers_its_popularity_counts_still_age(monkeypatch: pytest.MonkeyPatch) -> None:
    """An edge whose requests carry no session tag: the counters halve on schedule (and objects
    seen once are forgotten), so a long-running edge does not remember every key for ever."""
    monkeypatch.setattr(session_policy, "DECAY_EVERY", 100)
    policy = SessionAware(10**9, prefetch_share=0)
    for i in range(250):
        policy.admit(f"videos/t/once-{i}.vtt", 10)
    assert len(policy._hits) < 100


def test_the_counts_halve_once_per_decay_point_even_with_a_prefetch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_policy, "DECAY_EVERY", 10)
    policy = SessionAware(10**9, prefetch_share=1.0)
    poster = "videos/a/thumbs/poster.jpg"
    for k in range(10):                          # step 10 is a decay point
        policy.observe(seg("a", k), "v1", 100)
        policy.touch(poster) if poster in policy else policy.admit(poster, 10)
    halved = policy.rate(poster)
    policy.prefetched(seg("a", 10), 100)         # admitted on the same step: no second halving
    assert policy.rate(poster) == halved
