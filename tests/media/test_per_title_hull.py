"""The bitrate-VMAF hull and the rung choice, on points worked out by hand (no ffmpeg)."""

from __future__ import annotations

import itertools

import pytest

from server.media.convex_hull import (
    RatePoint,
    Rules,
    crossovers,
    kbps_at,
    pick_rungs,
    target_vmafs,
    top_vmaf,
    upper_hull,
    vmaf_at,
)
from server.media.per_title import renditions_from, sample_windows


def pt(name: str, crf: float, kbps: float, vmaf: float) -> RatePoint:
    sizes = {"1080p": (1920, 1080), "720p": (1280, 720), "360p": (640, 360)}
    return RatePoint(name, *sizes[name], crf, kbps, vmaf)


# Two resolutions whose curves cross: 360p wins below ~1 Mbit/s, 720p above.
SMALL = [pt("360p", 36, 200, 50), pt("360p", 30, 400, 65), pt("360p", 24, 800, 72),
         pt("360p", 18, 1600, 75)]
LARGE = [pt("720p", 36, 500, 55), pt("720p", 30, 1000, 78), pt("720p", 24, 2000, 90),
         pt("720p", 18, 4000, 95)]


def test_the_hull_keeps_only_points_no_mix_of_two_others_beats() -> None:
    hull = upper_hull(SMALL + LARGE)
    # 360p@800 (72) lies under the line 360p@400 (65) - 720p@1000 (78), which gives 75 there;
    # 720p@500 (55) lies under 360p@400-360p@800; 360p@1600 costs more than 720p@1000 for less.
    assert [(p.name, p.kbps) for p in hull] == [("360p", 200), ("360p", 400), ("720p", 1000),
                                                ("720p", 2000), ("720p", 4000)]


def test_the_hull_rises_ever_more_slowly() -> None:
    hull = upper_hull(SMALL + LARGE)
    slopes = [(b.vmaf - a.vmaf) / (b.kbps - a.kbps) for a, b in itertools.pairwise(hull)]
    assert all(s > 0 for s in slopes)
    assert slopes == sorted(slopes, reverse=True)


def test_the_crossover_is_where_the_hull_changes_resolution() -> None:
    assert crossovers(upper_hull(SMALL + LARGE)) == [{"from": "360p", "to": "720p", "kbps": [400.0, 1000.0]}]


def test_reading_the_hull_between_vertices() -> None:
    hull = upper_hull(SMALL + LARGE)
    assert vmaf_at(hull, 700) == pytest.approx(71.5)       # halfway from 65 to 78
    assert kbps_at(hull, 84) == pytest.approx(1500)        # halfway from 78 to 90
    assert vmaf_at(hull, 100) == 50 and vmaf_at(hull, 9000) == 95   # clamped to the ends


def test_the_top_stops_where_quality_stops_paying() -> None:
    hull = upper_hull(SMALL + LARGE)
    assert top_vmaf(hull, Rules(top_vmaf=95, min_slope=1.0)) == 95
    # 2 -> 4 Mbit/s buys 5 VMAF: 2.5 a Mbit/s; at a 3-a-Mbit/s threshold the top is the 2 Mbit/s vertex
    assert top_vmaf(hull, Rules(top_vmaf=99, min_slope=3.0)) == 90
    assert top_vmaf(hull, Rules(top_vmaf=85, min_slope=1.0)) == 85


def test_rungs_are_spaced_about_one_jnd_from_the_top_down_to_the_floor() -> None:
    hull = upper_hull(SMALL + LARGE)
    targets = target_vmafs(hull, Rules(top_vmaf=95, floor_kbps=200, jnd=6, max_rungs=10))
    assert targets[0] == 95 and targets[-1] == 50          # the floor's quality
    gaps = [a - b for a, b in itertools.pairwise(targets)]
    assert all(g == pytest.approx(45 / 8) for g in gaps)     # round(45 / 6) = 8 equal steps
    capped = target_vmafs(hull, Rules(top_vmaf=95, floor_kbps=200, jnd=6, max_rungs=4))
    assert len(capped) == 4


def test_each_rung_takes_the_resolution_that_looks_best_at_its_bitrate() -> None:
    rungs = pick_rungs(SMALL + LARGE, Rules(top_vmaf=90, floor_kbps=300, jnd=6, max_rungs=6))
    assert rungs[0].name == "720p" and rungs[0].kbps == pytest.approx(2000) and rungs[0].crf == 24
    assert rungs[-1].name == "360p" and rungs[-1].kbps == pytest.approx(300)
    # CRF interpolated in log(bitrate) between 36 @ 200 and 30 @ 400: 300 kbit/s is 58% of the way
    assert rungs[-1].crf == pytest.approx(36 - 6 * 0.585, abs=0.01)
    assert [r.kbps for r in rungs] == sorted((r.kbps for r in rungs), reverse=True)


def test_on_a_crossover_the_nearer_measured_end_beats_a_starved_curve() -> None:
    # Static colour bars: 360p's higher CRF costs about as much as its lower one (the keyframe is most
    # of the bits), so its own curve is one point; 240p's curve spans the crossover but looks worse.
    small = [pt("360p", 26, 5.3, 97), pt("360p", 38, 5.4, 91)]
    tiny = [RatePoint("240p", 426, 240, c, k, v) for c, k, v in ((38, 3.0, 80), (32, 6.0, 90), (26, 8.0, 92))]
    [top] = pick_rungs(small + tiny, Rules(top_vmaf=95, floor_kbps=200))
    assert (top.name, top.kbps, top.vmaf) == ("360p", 5.3, 97)


def test_a_title_whose_top_costs_about_the_floor_gets_one_rung() -> None:
    cheap = [pt("720p", 30, 150, 93), pt("720p", 24, 220, 96), pt("360p", 30, 80, 80)]
    rungs = pick_rungs(cheap, Rules(top_vmaf=95, floor_kbps=200))
    assert [(r.name, round(r.vmaf)) for r in rungs] == [("720p", 95)]


def test_rungs_become_renditions_with_the_fixed_ladders_cap_and_unique_names() -> None:
    chosen = [pt("720p", 24.4, 2000, 90), pt("720p", 29.6, 1000, 78), pt("360p", 33, 300, 58)]
    rungs = renditions_from(chosen)
    assert [r.name for r in rungs] == ["720p", "720p-2", "360p"]
    assert [(r.crf, r.bitrate_kbps, r.bufsize_kbps) for r in rungs] == [(24, 3000, 6000), (30, 1500, 3000),
                                                                          (33, 450, 900)]


def test_sample_windows_spread_over_the_title() -> None:
    assert sample_windows(60.0) == [(7.0, 1.0), (22.0, 1.0), (37.0, 1.0), (52.0, 1.0)]
    assert sample_windows(3.0) == [(0.0, 3.0)]   # shorter than four windows: the whole title
