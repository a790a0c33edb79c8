"""Properties of object keys: whatever string a URL or a caller hands the store, it is either refused
with a clear error (InvalidRequest, Forbidden) or it names a place inside the origin — nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.errors import Forbidden, InvalidRequest, NotFound
from server.storage.blobstore import MAX_KEY_BYTES, MAX_PART_BYTES, LocalBlobStore, safe_key

# Parts that matter to a path: separators, dots, drive letters, NUL, a lone surrogate, wide letters.
TRICKY = st.sampled_from(["/", "\\", ".", "..", ":", "\x00", "\ud800", "~", "%2e", "é", "视", "videos"])
KEYS = st.lists(st.one_of(TRICKY, st.text(max_size=20), st.text(alphabet="ab", min_size=250, max_size=300)),
                max_size=12).map("".join)
REFUSED = (InvalidRequest, Forbidden)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalBlobStore:
    return LocalBlobStore(tmp_path_factory.mktemp("origin"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=KEYS)
@example(key="videos/" + "a" * 300)
@example(key="../etc/passwd")
@example(key="videos/\ud800")
@example(key="c:/windows")
@example(key="x/" * 600)
def test_a_key_is_refused_or_stays_inside_the_origin(store: LocalBlobStore, key: str) -> None:
    try:
        normal = safe_key(key)
    except REFUSED:
        return
    parts = normal.split("/")
    assert ".." not in parts and "" not in parts and not any(p.startswith(".") for p in parts)
    assert len(normal.encode()) <= MAX_KEY_BYTES and max(len(p.encode()) for p in parts) <= MAX_PART_BYTES
    assert safe_key(normal) == normal, "normalising twice changes nothing"
    assert store.path(key).resolve().is_relative_to(store.root)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=KEYS)
def test_reading_any_key_is_found_refused_or_not_found(store: LocalBlobStore, key: str) -> None:
    """What the origin route does with a URL: never an OSError (name too long, bad bytes) or worse."""
    try:
        store.stat(key)
    except (*REFUSED, NotFound):
        pass


def test_the_limits_are_what_file_systems_hold(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    longest = "videos/" + "é" * (MAX_PART_BYTES // 2)
    store.put(longest + "/x", b"fits")
    assert store.read(longest + "/x") == b"fits"
    with pytest.raises(InvalidRequest, match="at most 255"):
        store.put("videos/" + "é" * (MAX_PART_BYTES // 2 + 1), b"too long")
