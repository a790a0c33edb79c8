"""Ladder planning: never upscale (by the short side), keep shape, even sizes, sensible bitrates."""

from __future__ import annotations

from fractions import Fraction

import pytest

from server.errors import MediaError
from server.media.ladder import DEFAULT_RUNGS, MIN_SOURCE_SIDE, plan_ladder
from server.media.model import Rendition, VideoInfo


def video(width: int, height: int, *, sar: Fraction = Fraction(1), rotation: int = 0) -> VideoInfo:
    return VideoInfo(index=0, codec="h264", width=width, height=height, sar=sar, rotation=rotation,
                     fps=Fraction(25), vfr=False, interlaced=False, pix_fmt="yuv420p", bit_depth=8,
                     full_range=False, hdr=False)


def shapes(rungs: list[Rendition]) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in rungs]


def test_default_rungs_are_the_documented_ladder() -> None:
    assert [(r.name, r.width, r.height, r.bitrate_kbps, r.bufsize_kbps) for r in DEFAULT_RUNGS] == [
        ("1080p", 1920, 1080, 5000, 10000), ("720p", 1280, 720, 2800, 5600), ("480p", 854, 480, 1400, 2800),
        ("360p", 640, 360, 800, 1600), ("240p", 426, 240, 400, 800)]


def test_a_1080p_source_gets_the_whole_ladder_highest_first() -> None:
    assert plan_ladder(video(1920, 1080)) == list(DEFAULT_RUNGS)


def test_a_720p_source_is_never_upscaled() -> None:
    assert shapes(plan_ladder(video(1280, 720))) == [
        ("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360), ("240p", 426, 240)]


def test_a_portrait_source_gets_portrait_rungs_compared_by_its_short_side() -> None:
    ladder = plan_ladder(video(720, 1280))
    assert shapes(ladder) == [
        ("720p", 720, 1280), ("480p", 480, 854), ("360p", 360, 640), ("240p", 240, 426)]
    # same pixel count as the landscape rung → same bitrate
    assert [r.bitrate_kbps for r in ladder] == [2800, 1400, 800, 400]


def test_a_rotated_phone_clip_is_planned_upright() -> None:
    assert shapes(plan_ladder(video(568, 320, rotation=90))) == [("240p", 240, 426)]


def test_a_source_smaller_than_every_rung_gets_one_rung_at_its_own_size() -> None:
    qcif = plan_ladder(video(176, 144, sar=Fraction(128, 117)))   # shown 193x144
    assert shapes(qcif) == [("144p", 192, 144)]
    assert 50 <= qcif[0].bitrate_kbps < 400
    assert qcif[0].bufsize_kbps == 2 * qcif[0].bitrate_kbps


def test_an_anamorphic_source_gets_square_pixel_rungs_of_its_display_shape() -> None:
    ladder = plan_ladder(video(720, 576, sar=Fraction(16, 15)))    # PAL 4:3, shown 768x576
    assert shapes(ladder) == [("480p", 640, 480), ("360p", 480, 360), ("240p", 320, 240)]
    assert all(r.width * 3 == r.height * 4 for r in ladder)


def test_odd_sources_give_even_sizes() -> None:
    for source in (video(268, 156), video(1919, 1079), video(721, 481, sar=Fraction(10, 11)),
                   video(353, 287, rotation=270)):
        for rung in plan_ladder(source):
            assert rung.width % 2 == 0 and rung.height % 2 == 0, (source, rung)


def test_bitrate_follows_pixel_count_for_wide_frames() -> None:
    scope = plan_ladder(video(1920, 800))                            # 2.4:1 → short side 800
    assert shapes(scope)[0] == ("720p", 1728, 720)
    assert 2800 < scope[0].bitrate_kbps < 2800 * 1728 / 1280         # more pixels, less than linear
    assert all(r.bufsize_kbps == 2 * r.bitrate_kbps for r in scope)


def test_custom_rungs_are_used_in_quality_order() -> None:
    rungs = (Rendition("low", 320, 180, 300, 600), Rendition("high", 640, 360, 900, 1800))
    assert shapes(plan_ladder(video(640, 360), rungs)) == [("high", 640, 360), ("low", 320, 180)]


@pytest.mark.parametrize("width,height", [(3840, 2160), (1280, 536), (480, 480)])
def test_no_rung_exceeds_the_source(width: int, height: int) -> None:
    for rung in plan_ladder(video(width, height)):
        assert min(rung.width, rung.height) <= min(width, height)
        assert max(rung.width, rung.height) <= max(width, height) + 1


@pytest.mark.parametrize("width,height", [(1, 1), (3, 3), (2, 240), (15, 600)])
def test_a_source_too_small_for_any_rung_is_refused_clearly(width: int, height: int) -> None:
    with pytest.raises(MediaError) as refused:
        plan_ladder(video(width, height))
    assert str(refused.value).startswith(f"the source: {width}x{height} is too small; the smallest source "
                                         f"MiniFlix encodes is {MIN_SOURCE_SIDE}x{MIN_SOURCE_SIDE}.")


def test_the_smallest_sources_get_even_rungs_no_larger_than_themselves() -> None:
    assert shapes(plan_ladder(video(16, 16))) == [("16p", 16, 16)]
    assert shapes(plan_ladder(video(17, 17))) == [("16p", 16, 16)]
    assert shapes(plan_ladder(video(17, 33))) == [("16p", 16, 32)]
