"""The sample clip for the demo and the first start, made by real ffmpeg."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from server.media.probe import probe
from server.media.sample import make_sample_clip


def test_two_requests_at_once_get_one_whole_clip(tmp_path: Path) -> None:
    """A double click on "Try a sample clip": both requests succeed with the same, complete file."""
    out = tmp_path / "uploads" / "sample-2s.mp4"
    with ThreadPoolExecutor(2) as pool:
        made = list(pool.map(lambda _: make_sample_clip(out, 2), range(2)))
    assert made == [out, out]
    info = probe(out)
    assert info.duration == pytest.approx(2.0, abs=0.05) and info.audio is not None
    assert sorted(p.name for p in out.parent.iterdir()) == ["sample-2s.mp4"]  # no .partial left


def test_an_existing_clip_is_kept(tmp_path: Path) -> None:
    out = make_sample_clip(tmp_path / "sample-2s.mp4", 2)
    before = out.stat().st_mtime_ns
    assert make_sample_clip(out, 2) == out and out.stat().st_mtime_ns == before
