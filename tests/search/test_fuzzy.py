"""Edit distance used for typo candidates: swaps of neighbours count once, and the bound cuts work."""

from __future__ import annotations

from server.search.fuzzy import distance


def test_distance_counts_insert_delete_substitute_and_swap_as_one_edit() -> None:
    assert distance("station", "station", 2) == 0
    assert distance("statoin", "station", 2) == 1  # swapped neighbours
    assert distance("staton", "station", 2) == 1
    assert distance("stattion", "station", 2) == 1
    assert distance("stetion", "station", 2) == 1
    assert distance("sttoin", "station", 2) == 2


def test_distance_gives_up_past_the_limit() -> None:
    assert distance("galaxy", "station", 1) == 2  # limit + 1, whatever the true distance
    assert distance("abc", "xyz", 5) == 3
