"""Row-for-row comparison of two query results: same columns, same order, floats within 1e-9 relative."""

from __future__ import annotations

import math
from typing import Any

from server.analytics.results import Rows

REL = 1e-9


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=REL, abs_tol=0.0)
    return bool(a == b)


def assert_same_rows(expected: Rows, got: Rows, what: str) -> None:
    assert got.columns == expected.columns, what
    assert len(got.rows) == len(expected.rows), f"{what}: {len(got.rows)} rows, expected {len(expected.rows)}"
    for i, (want, row) in enumerate(zip(expected.rows, got.rows, strict=True)):
        same = all(same_value(a, b) for a, b in zip(want, row, strict=True))
        assert same, f"{what} row {i}: {row} != {want}"
