"""The sweep and the size-for-target search on traces whose answer is known."""

from __future__ import annotations

import pytest

from server.errors import InvalidRequest
from server.labs.sweep import WhatIf, csv_rows, parse_policies, parse_size, parse_sizes, run_sweep
from tests.labs.conftest import MIB, hand_trace

# Ten 1 MiB objects requested in turn 100 times: LRU hits 99% with 10 MiB, never with less.
LOOP = hand_trace([f"t{n}/s" for n in range(10)] * 100)


def test_the_needed_size_is_found_between_the_swept_sizes() -> None:
    result = run_sweep(LOOP, WhatIf((MIB, 64 * MIB), ("lru",), target=0.9))
    [need] = result.needed
    assert 10 * MIB <= need.cache_bytes < 11 * MIB and need.hit_ratio == pytest.approx(0.99)
    assert result.headline() == "lru: your edge would need 10.0 MiB to reach 90%"


def test_a_target_above_the_first_request_ceiling_is_reported_unreachable() -> None:
    trace = hand_trace([f"t{n}/s" for n in range(10)] * 5)     # 10 first requests of 50: at most 80%
    [need] = run_sweep(trace, WhatIf((MIB,), ("lru",), target=0.9)).needed
    assert need.cache_bytes is None and need.ceiling == pytest.approx(0.8)
    assert "cannot reach 90%" in need.sentence(1) and "at most 80.0%" in need.sentence(1)
    assert run_sweep(trace, WhatIf((MIB,), ("lru", "fifo"), target=0.9)).headline() == (
        "No policy reaches 90% on this trace at any cache size: first requests always miss, so at most 80.0%")


def test_the_sweep_has_every_size_times_policy_plus_belady_and_reports_progress() -> None:
    seen: list[tuple[int, int]] = []
    whatif = WhatIf((2 * MIB, 4 * MIB), ("lru", "fifo"), edges=2)
    result = run_sweep(LOOP, whatif, progress=lambda done, total: seen.append((done, total)))
    assert [(p.policy, p.cache_bytes) for p in result.points] == [
        (name, size) for size in (2 * MIB, 4 * MIB) for name in ("lru", "fifo", "belady")]
    assert seen[-1] == (8, 8) and len(csv_rows(result.points)) == 6
    assert result.to_dict()["settings"]["edges"] == 2


def test_sizes_and_policies_parse_with_clear_errors() -> None:
    assert parse_sizes("1G, 64M,256m") == (64 * MIB, 256 * MIB, 1024 * MIB)
    assert parse_size("1.5GiB") == 1536 * MIB and parse_policies("all")[0] == "lru"
    with pytest.raises(InvalidRequest, match="'64 parsecs' is not a size"):
        parse_size("64 parsecs")
    with pytest.raises(InvalidRequest, match="Unknown eviction policy 'mru'"):
        parse_policies("lru,mru")
    with pytest.raises(InvalidRequest, match="edges must be 1 to 256"):
        WhatIf((MIB,), edges=0)
    with pytest.raises(InvalidRequest, match="at least one cache size"):
        WhatIf(())
