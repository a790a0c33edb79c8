"""Source → renditions: the default H.264 ladder cut to what the source can fill, never upscaled.

Rungs are named by their short side ("720p" is 1280x720 landscape or 720x1280 portrait), so a
source is compared with a rung by its short side and every rung keeps the source's shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from server import config
from server.errors import MediaError
from server.media.model import MediaInfo, Rendition, VideoInfo

DEFAULT_CRF = 23
# One H.264 macroblock. Smaller pictures (1x1, 3x3) cannot become an even-sized rung at all, or only
# a 2x2 one that players and hardware decoders refuse; no real video is that small.
MIN_SOURCE_SIDE = 16


def _rung(name: str, width: int, height: int, kbps: int) -> Rendition:
    return Rendition(name, width, height, kbps, 2 * kbps, DEFAULT_CRF)


DEFAULT_RUNGS: tuple[Rendition, ...] = (
    _rung("1080p", 1920, 1080, 5000),
    _rung("720p", 1280, 720, 2800),
    _rung("480p", 854, 480, 1400),
    _rung("360p", 640, 360, 800),
    _rung("240p", 426, 240, 400),
)

# Bits per pixel fall as a frame grows (more of it is smooth, predictable area), so a rung's bitrate
# follows its pixel count to the power 0.75 rather than linearly.
BITRATE_EXPONENT = 0.75


def plan_ladder(video: VideoInfo, rungs: Sequence[Rendition] = DEFAULT_RUNGS) -> list[Rendition]:
    """The rungs whose short side fits in the source's upright, square-pixel short side, highest first.

    A source smaller than every rung gets one rung at its own (even) size, named by its short side;
    one under `MIN_SOURCE_SIDE` on a side is refused (`check_size`).
    """
    check_size(video, "the source")
    width, height = video.display_width, video.display_height
    short = min(width, height)
    ordered = sorted(rungs, key=lambda r: min(r.width, r.height), reverse=True)
    fitting = [r for r in ordered if min(r.width, r.height) <= short]
    if fitting:
        return [fit_rung(r, width, height) for r in fitting]
    lowest = ordered[-1]
    own_w, own_h = _even_shape(width, height, short - short % 2)
    own_w, own_h = min(own_w, width - width % 2), min(own_h, height - height % 2)  # never 1 px up
    own = Rendition(f"{min(own_w, own_h)}p", own_w, own_h, lowest.bitrate_kbps, lowest.bufsize_kbps,
                    lowest.crf)
    return [_with_bitrate(own, lowest)]


def check_size(video: VideoInfo, name: str) -> None:
    """MediaError naming `name` when the upright picture is under `MIN_SOURCE_SIDE` on a side."""
    width, height = video.display_width, video.display_height
    if min(width, height) < MIN_SOURCE_SIDE:
        smallest = f"{MIN_SOURCE_SIDE}x{MIN_SOURCE_SIDE}"
        raise MediaError(f"{name}: {width}x{height} is too small; the smallest source MiniFlix encodes "
                         f"is {smallest}.",
                         hint=f"choose a video of at least {smallest} pixels; scaling a tiny one up "
                              "adds no detail")


def fit_rung(rung: Rendition, width: int, height: int) -> Rendition:
    """`rung` reshaped to the source's aspect ratio (short side kept), bitrate scaled by pixel count."""
    size = _even_shape(width, height, min(rung.width, rung.height))
    return _with_bitrate(Rendition(rung.name, *size, rung.bitrate_kbps, rung.bufsize_kbps, rung.crf), rung)


def _even_shape(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(w, h) with the given short side, the long side from the source's aspect ratio, both even."""
    short_side = _even(short_side)
    if width >= height:
        return _even(short_side * width / height), short_side
    return short_side, _even(short_side * height / width)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _with_bitrate(shaped: Rendition, nominal: Rendition) -> Rendition:
    """`shaped` with maxrate/bufsize scaled from `nominal` by (pixels / nominal pixels) ** 0.75."""
    ratio = (shaped.width * shaped.height) / (nominal.width * nominal.height)
    kbps = max(50, round(nominal.bitrate_kbps * ratio ** BITRATE_EXPONENT / 10) * 10)
    bufsize = round(kbps * nominal.bufsize_kbps / nominal.bitrate_kbps)
    return Rendition(shaped.name, shaped.width, shaped.height, kbps, bufsize, shaped.crf)


# The per-title analysis is a fixed cost per title (its windows do not grow with the title), the
# encode grows with the title's length: the analysis is worth its CPU only from some length on.
config.register("per_title_auto_seconds", 400.0, "With the `auto` ladder: titles at least this long "
                "(seconds) get the per-title ladder, shorter ones the fixed one. The analysis is a fixed "
                "cost per title; on the 9-title set it costs at most a quarter of the fixed ladder's "
                "encode CPU from titles of 140-400 s (docs/BENCHMARKS.md, issue 19).", float)


def choose_ladder(setting: str, info: MediaInfo) -> tuple[str, str]:
    """The ladder `info` gets under the `ladder` setting, and a note for the job when `auto` chose.

    `auto` takes the per-title ladder for a video at least `per_title_auto_seconds` long and the fixed
    one for anything shorter (or with no video), where the analysis would cost more than it saves."""
    if setting != "auto":
        return setting, ""
    least = float(config.get("per_title_auto_seconds"))
    if info.video is not None and info.duration >= least:
        return "per-title", f"auto ladder: per-title ({info.duration:.0f} s title, at least {least:.0f} s)"
    return "fixed", (f"auto ladder: fixed (a {info.duration:.0f} s title; the per-title analysis pays "
                     f"from {least:.0f} s)")
