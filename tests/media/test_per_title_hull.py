"""The bitrate-VMAF hull and the rung choice, on points worked out by hand (no ffmpeg)."""

from __future__ import annotations

import itertools
import math

import pytest

from server import config
from server.media.convex_hull import (
    RatePoint,
    Rules,
    bits_lost,
    crossovers,
    floor_kbps,
    kbps_at,
    pick_rungs,
    rung_span,
    target_vmafs,
    top_vmaf,
    upper_hull,
    vmaf_at,
)
from server.media.per_title import default_rules, renditions_from, sample_windows


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
    targets = target_vmafs(hull, Rules(top_vmaf=95, floor_kbps=200, jnd=6, max_rungs=10, min_step=1))
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
    top = pick_rungs(small + tiny, Rules(top_vmaf=95, floor_kbps=200))[0]
    assert (top.name, top.kbps, top.vmaf) == ("360p", 5.3, 97)


def test_a_title_whose_cheapest_encode_costs_about_its_top_gets_one_rung() -> None:
    cheap = [pt("720p", 30, 150, 93), pt("720p", 24, 220, 96), pt("360p", 30, 165, 80)]
    rungs = pick_rungs(cheap, Rules(top_vmaf=95, floor_kbps=200))
    assert [(r.name, round(r.vmaf)) for r in rungs] == [("720p", 95)]


def test_a_title_whose_top_costs_a_few_dozen_kbps_gets_one_rung() -> None:
    # The slides' true hull (generated screen recording, 720p): VMAF 95 at 21 kbit/s, 50 at 11.
    slides = real([("720p", 18, 41.6, 97.29), ("720p", 24, 30.0, 97.05), ("720p", 30, 24.4, 96.41),
                   ("720p", 34, 21.9, 95.54), ("720p", 36, 20.9, 94.77), ("720p", 40, 19.6, 92.93),
                   ("360p", 34, 14.1, 81.59), ("360p", 40, 12.2, 77.14), ("240p", 40, 10.6, 49.58)])
    assert [(r.name, round(r.vmaf)) for r in pick_rungs(slides, Rules())] == [("720p", 95)]
    assert len(pick_rungs(slides, Rules(min_floor_kbps=0))) == 2


def test_rungs_become_renditions_with_the_fixed_ladders_cap_and_unique_names() -> None:
    chosen = [pt("720p", 24.4, 2000, 90), pt("720p", 29.6, 1000, 78), pt("360p", 33, 300, 58)]
    rungs = renditions_from(chosen)
    assert [r.name for r in rungs] == ["720p", "720p-2", "360p"]
    assert [(r.crf, r.bitrate_kbps, r.bufsize_kbps) for r in rungs] == [(24, 3000, 6000), (30, 1500, 3000),
                                                                          (33, 450, 900)]


def test_sample_windows_spread_over_the_title() -> None:
    assert sample_windows(60.0) == [(7.0, 1.0), (22.0, 1.0), (37.0, 1.0), (52.0, 1.0)]
    assert sample_windows(30.0) == [(3.25, 1.0), (10.75, 1.0), (18.25, 1.0), (25.75, 1.0)]
    assert sample_windows(3.0, 4) == [(0.0, 3.0)]   # shorter than four windows: the whole title


def test_a_title_under_30_s_gets_two_windows_not_four() -> None:
    # The analysis is a fixed cost, 1.7-11.4x the fixed ladder's encode on 5-20 s titles; two windows
    # chose rungs saving as much on the 9 titles of bench/per_title.py (docs/BENCHMARKS.md, session 9).
    assert sample_windows(20.0) == [(4.5, 1.0), (14.5, 1.0)]
    assert sample_windows(5.3) == [(0.825, 1.0), (3.475, 1.0)]
    assert sample_windows(1.5) == [(0.0, 1.5)]      # shorter than two windows: the whole title


# True hull points of two real titles (bench/per_title_ceiling.py: the whole title encoded at every
# size x CRF, veryfast, measured like a published rung), (size, CRF, kbit/s, VMAF).
# The PAL clip (mpeg2_pal_anamorphic.mxf) looks 88.7 at 220 kbit/s and 60 at 18; its fixed ladder's
# rungs: 480p 262@89.5, 360p 144@83.6, 240p 52@68.6.
PAL = [("480p", 18, 543.1, 92.67), ("480p", 20, 414.2, 91.62), ("480p", 22, 307.5, 90.26),
       ("480p", 24, 220.5, 88.65), ("480p", 26, 151.9, 86.69), ("480p", 28, 101.6, 84.01),
       ("480p", 30, 67.1, 80.96), ("480p", 32, 45.6, 77.68), ("480p", 34, 33.1, 74.22),
       ("360p", 32, 27.3, 70.62), ("360p", 34, 22.1, 66.62), ("360p", 36, 18.7, 62.54),
       ("360p", 38, 16.4, 56.71), ("240p", 34, 14.3, 50.42), ("240p", 36, 12.9, 45.37),
       ("240p", 38, 11.8, 40.05), ("240p", 40, 10.9, 32.79)]
PAL_FIXED = [(262.2, 89.49), (143.8, 83.59), (52.3, 68.61)]
# Big Buck Bunny (bbb_720p_aac_5.1.mp4): VMAF 60 costs 243 kbit/s, over the 200 kbit/s floor.
BBB = [("720p", 18, 2692.4, 95.67), ("720p", 20, 2049.2, 94.04), ("720p", 22, 1560.2, 92.03),
       ("720p", 24, 1197.2, 89.41), ("480p", 22, 844.4, 85.22), ("480p", 24, 630.4, 81.38),
       ("480p", 26, 471.1, 76.58), ("480p", 28, 357.4, 70.68), ("480p", 30, 278.3, 64.07),
       ("360p", 28, 243.4, 60.15), ("360p", 30, 188.5, 52.71), ("360p", 32, 146.6, 44.4),
       ("240p", 30, 99.8, 32.92), ("240p", 32, 77.4, 26.06), ("240p", 34, 60.1, 19.85),
       ("240p", 36, 47.6, 14.46), ("240p", 40, 31.0, 5.04)]
SIZES = {"720p": (1280, 720), "480p": (854, 480), "360p": (640, 360), "240p": (426, 240)}


def real(points: list[tuple[str, int, float, float]]) -> list[RatePoint]:
    return [RatePoint(name, *SIZES[name], crf, kbps, vmaf) for name, crf, kbps, vmaf in points]


def ladder_kbps_at(rungs: list[RatePoint], vmaf: float) -> float:
    """What a ladder spends for `vmaf`: log(bitrate) linear between its rungs (as BD-rate reads it)."""
    ordered = sorted(rungs, key=lambda p: p.vmaf)
    for a, b in itertools.pairwise(ordered):
        if a.vmaf <= vmaf <= b.vmaf:
            share = (vmaf - a.vmaf) / (b.vmaf - a.vmaf)
            return math.exp(math.log(a.kbps) + share * (math.log(b.kbps) - math.log(a.kbps)))
    raise AssertionError(f"VMAF {vmaf} outside the ladder {ordered[0].vmaf}-{ordered[-1].vmaf}")


def test_a_title_that_looks_good_on_few_bits_gets_rungs_for_links_far_under_the_kbps_floor() -> None:
    # Before: the 200 kbit/s floor cut the PAL ladder at 200@88 (two rungs, 543 and 200 kbit/s): a
    # link under 200 got nothing, and the fixed ladder's 144 and 52 kbit/s rungs had no counterpart.
    rungs = pick_rungs(real(PAL), Rules())
    assert rungs[-1].kbps == pytest.approx(25, abs=0.1) and rungs[-1].vmaf < 70   # the floor, not 200
    assert len(rungs) >= 4
    assert ladder_kbps_at(rungs, 83.59) < 0.7 * 143.8      # the fixed 360p's quality for 70% of its bits
    assert rungs[-1].vmaf > 68.61 and rungs[-1].kbps < 0.5 * 52.3   # the fixed 240p's for half


def test_the_floor_is_the_lower_of_the_kbps_setting_and_what_the_floor_quality_costs() -> None:
    pal, bbb = upper_hull(real(PAL)), upper_hull(real(BBB))
    assert floor_kbps(pal, 543, Rules(min_floor_kbps=0)) == pytest.approx(kbps_at(pal, 60))   # 18 kbit/s
    assert floor_kbps(bbb, 2400, Rules()) == 200                                     # 60 costs 243
    assert floor_kbps(pal, 543, Rules(floor_vmaf=0)) == 200                          # the setting alone
    assert floor_kbps(pal, 543, Rules(floor_vmaf=0, floor_share=0.1)) == pytest.approx(54.3)
    assert floor_kbps(pal, 543, Rules(floor_kbps=5)) == 25                # never under 25 kbit/s ...
    assert floor_kbps(pal, 543, Rules(floor_kbps=5, min_floor_kbps=0)) == 10.9   # ... nor the cheapest point


def test_the_floor_settings_reach_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_PER_TITLE_FLOOR_KBPS", "150")
    monkeypatch.setenv("MINIFLIX_PER_TITLE_FLOOR_VMAF", "0")
    assert config.get("per_title_floor_kbps") == 150
    rungs = pick_rungs(real(PAL), default_rules())
    assert rungs[-1].kbps == pytest.approx(150, abs=1)


def test_rungs_sit_where_the_hull_bends_and_lose_fewer_bits_than_rungs_a_jnd_apart() -> None:
    for points in (real(PAL), real(BBB)):
        hull = upper_hull(points)
        bends = pick_rungs(points, Rules(min_step=1, min_floor_kbps=0))
        even = pick_rungs(points, Rules(placement="jnd", min_step=1, min_floor_kbps=0))
        assert len(bends) == len(even)
        assert (bends[0].vmaf, bends[-1].vmaf) == pytest.approx((even[0].vmaf, even[-1].vmaf), abs=0.01)
        assert bits_lost(hull, bends) < 0.7 * bits_lost(hull, even)
        assert all(vmaf_at(hull, p.kbps) == pytest.approx(p.vmaf, abs=0.2) for p in bends)   # on the hull


def test_rungs_are_never_closer_than_the_minimum_gap_and_step() -> None:
    for points in (real(PAL), real(BBB), SMALL + LARGE):
        for gap, step in ((2.0, 1.0), (3.0, 1.5), (5.0, 2.0)):
            rungs = pick_rungs(points, Rules(min_gap=gap, min_step=step))
            assert len(rungs) >= 3
            assert all(a.vmaf - b.vmaf >= gap - 1e-9 for a, b in itertools.pairwise(rungs))
            assert all(a.kbps >= step * b.kbps * 0.999 for a, b in itertools.pairwise(rungs))


def test_a_cheap_title_gets_fewer_rungs_than_its_quality_span_alone_would_give() -> None:
    # A static title: VMAF 63 at 24 kbit/s to 95 at 126, a CRF sweep 2 apart on one size. Five JNDs
    # of quality but only a factor 5 of bitrate: rungs 1.5x apart give four, not six.
    talk = [RatePoint("720p", 1280, 720, crf, round(kbps, 1), round(100 - 60 * math.exp(-kbps / 50), 2))
            for crf, kbps in zip(range(40, 17, -2), [24 * 1.25 ** i for i in range(12)], strict=True)]
    assert len(pick_rungs(talk, Rules(min_step=1))) == 6
    rungs = pick_rungs(talk, Rules())
    assert len(rungs) == 4 and rungs[0].vmaf == 95 and rungs[-1].kbps == 25


def test_an_unknown_placement_is_refused() -> None:
    with pytest.raises(ValueError, match="placement 'spread'"):
        pick_rungs(SMALL + LARGE, Rules(placement="spread"))


def test_the_ladder_has_as_many_rungs_as_its_span_counts_where_they_fit() -> None:
    # The 10-bit HEVC clip's analysis (sample windows, CRF 20/28/36): 95 at 112 kbit/s down to 66 at
    # 26. Three rungs (112, 54, 26) lost fewer bits by area than four, but left the 54-112 kbit/s gap
    # where the fixed ladder's rungs lie (the real ingest: 4% more bits than fixed).
    analysis = real([("240p", 20, 112.2, 95.0), ("240p", 28, 51.8, 86.43), ("240p", 36, 26.4, 65.81),
                     ("360p", 20, 239.9, 99.4), ("360p", 28, 107.0, 94.63), ("360p", 36, 49.2, 78.33)])
    hull = upper_hull(analysis)
    _, _, count = rung_span(hull, Rules())
    rungs = pick_rungs(analysis, Rules())
    assert count == 4 and len(rungs) == 4
    assert all(a.kbps >= 1.5 * b.kbps * 0.999 for a, b in itertools.pairwise(rungs))
