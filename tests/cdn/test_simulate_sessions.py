"""Session traces and the lookahead oracle: how much knowing the sessions already under way is worth
against Belady's MIN and the popularity oracle (figures in `bench/cache_policy.py`)."""

from __future__ import annotations

import hashlib

import pytest

from server.cdn.simulate import belady, irm_trace, session_oracle, static_oracle, zipf_trace
from server.errors import InvalidRequest


def test_recording_sessions_leaves_the_seeded_requests_as_they_were() -> None:
    # Digest taken from the generator before it recorded sessions: every benchmark figure depends on it.
    trace = zipf_trace(0.9, 10, 2_000, seed=7)
    digest = hashlib.sha256(repr(trace.requests).encode()).hexdigest()
    assert digest == "d04667ba5719bb9f019c57533d0c696f499784608159929a21e198a99bd11fcc"


def test_each_session_plays_one_title_rung_from_its_first_segment_in_order() -> None:
    trace = zipf_trace(1.0, 20, 5_000, seed=2)
    assert len(trace.session) == len(trace.requests)
    by_session: dict[int, list[int]] = {}
    for i, sid in enumerate(trace.session):
        by_session.setdefault(sid, []).append(i)
    assert sorted(by_session) == list(range(len(trace.session_start)))
    for sid, indices in by_session.items():
        assert indices[0] == trace.session_start[sid]
        keys = [trace.requests[i][0] for i in indices]
        assert keys == [f"{keys[0][:-9]}{k:05d}.m4s" for k in range(len(keys))], sid


@pytest.mark.parametrize(("seed", "percent"), [(1, 5), (2, 10), (3, 25)])
def test_the_lookahead_oracle_lies_between_the_popularity_oracle_and_min(seed: int, percent: int) -> None:
    """Knowing started sessions beats popularity alone (both start cold) but stays below MIN; seeing
    sessions before they start closes the rest of the gap: MIN's lead is foresight of new viewers."""
    trace = zipf_trace(0.9, 30, 6_000, seed=seed)
    capacity = int(trace.catalog_bytes * percent / 100)
    cold = static_oracle(trace, capacity, preload=False).byte_hit_ratio
    lookahead = session_oracle(trace, capacity).byte_hit_ratio
    foreseen = session_oracle(trace, capacity, foresight=500).byte_hit_ratio
    everything = session_oracle(trace, capacity, foresight=len(trace.requests)).byte_hit_ratio
    best = belady(trace.requests, capacity).byte_hit_ratio
    assert cold < lookahead <= foreseen <= everything <= best
    assert best - everything < 0.01 < best - lookahead


def test_the_lookahead_oracle_refuses_a_trace_without_sessions() -> None:
    trace = irm_trace(0.9, 10, 1_000, seed=1)
    with pytest.raises(InvalidRequest, match="session trace"):
        session_oracle(trace, trace.catalog_bytes // 10)
