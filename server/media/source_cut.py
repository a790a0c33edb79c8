"""Cut the source from time t: where ffmpeg seeks, and the filters that drop what came before t.

A chunk encode and a per-title analysis window both read the source from some exact time. Seeking
straight there (`-ss t` before `-i`) is exact only where the container's seek is: in an MP4 the
demuxer lands on the keyframe before t and ffmpeg drops the frames before t. Elsewhere it is not
(measured on the real files in ../shared/media, tests/media/test_chunk_seek.py):
- MPEG-TS has no index: the seek lands on whatever packet is near t, often not a keyframe. The
  decoder starts on missing references, and a chunk of the 10-bit HEVC sample came out 0.5 s off
  for its whole length.
- MXF (the PAL MPEG-2 sample) gives its I- and P-frames no presentation time, and after a seek
  it labels the frames 0.25-0.6 s off: 13 pictures at a chunk start came from before it.
The keyframe scan (`probe.keyframe_times`) gives the times where a decode can begin. So the
decode starts there, ffmpeg is told not to drop anything itself (`-noaccurate_seek`), and the
head of the filter chain shifts the timestamps so that t is 0; what is before it goes (the rate
filter picks from the last second before t the picture due at t, see BEFORE). The
frames kept, and their timestamps, are what a seek to t gives where seeking is exact; where it is
not, they are what decoding the title from its start gives. A source whose keyframes have no
times (the MXF) is decoded from its start: a chunk then decodes everything before it (its cost on
long MXF files is not measured).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

MICRO = 1_000_000
# The smallest seek, used for "from the start". ffmpeg counts time from the container's start after
# any seek, but an MPEG-TS read from its start (no `-ss`, or `-ss 0`) is "corrected" to count from
# the first frame of the streams it reads: the portrait TS sample's video starts 1.4 frames after
# its audio, so a first chunk read that way sat one frame off the others (a frame doubled at the
# seam). One microsecond in, every cut counts from the container's start, as the keyframe scan does.
TIMELINE = Fraction(1, MICRO)
# How much of the source before a cut reaches the rate filter. On a variable-rate source the picture
# a decode from the title's start shows at the cut can be one from before it: the rate filter shows,
# at each output time, the last picture due by then. Trimmed at the cut, a chunk started on the next
# picture instead (the VP8 sample's frame 60: one picture shown twice, one never). The rate filter
# (`filters.constant_rate`, always next but for the deinterlacer, which gets the previous picture as
# context too) keeps the last picture due at 0 and drops the others; a second covers any gap but a
# slideshow's.
BEFORE = Fraction(1)


def micro_floor(value: Fraction) -> Fraction:
    """`value` rounded down to whole microseconds, what ffmpeg's `-ss` parses exactly."""
    return Fraction(math.floor(value * MICRO), MICRO)


def text(value: Fraction, *, round_up: bool = False) -> str:
    """A time in whole microseconds for ffmpeg's command line (no exponent, no float error)."""
    micro = math.ceil(value * MICRO) if round_up else math.floor(value * MICRO)
    sign, micro = ("-" if micro < 0 else ""), abs(micro)
    return f"{sign}{micro // MICRO}.{micro % MICRO:06d}"


def decode_from(keyframes: Sequence[float] | None, at: Fraction) -> Fraction:
    """Where the decode of a cut at `at` starts: one microsecond past the printed time of the last
    keyframe at or before it (so the seek cannot land in the GOP before); the container's start
    when the source's keyframes have no times; `at` itself when they were not scanned (seek
    straight there). Never 0 itself: see `TIMELINE`."""
    if keyframes is None:
        return max(at, TIMELINE)
    before = bisect.bisect_right(keyframes, float(at)) - 1
    if before < 0 or keyframes[before] <= 0:
        return TIMELINE
    return Fraction(round(keyframes[before] * MICRO) + 1, MICRO)


@dataclass(frozen=True)
class Cut:
    """How ffmpeg reads `seconds` of the source from `start`."""

    start: Fraction            # the exact time of the first frame wanted (whole microseconds)
    seek: Fraction             # where the decode starts (TIMELINE: the container's start)
    seconds: Fraction | None   # how much is wanted from `start` (None: to the end)

    def input_args(self) -> list[str]:
        """Options before `-i`: the seek, with nothing dropped by ffmpeg itself."""
        return ["-noaccurate_seek", "-ss", text(self.seek)]

    def head_filters(self) -> list[str]:
        """The first filters on the source's video: `start` becomes time 0, frames from
        `start + seconds` on go (ffmpeg's own `-ss`/`-t` trim did this on exact seeks), and so do
        those more than BEFORE before `start`; the rate filter after it drops the rest of them."""
        lead = self.start - self.seek
        shift = [f"setpts=PTS-({text(lead)})/TB"] if lead else []
        end = f":end={text(self.seconds, round_up=True)}" if self.seconds is not None else ""
        return [*shift, f"trim=start=-{text(BEFORE)}{end}"]


def cut(keyframes: Sequence[float] | None, start: Fraction, seconds: Fraction | None) -> Cut:
    """The cut of `seconds` from `start` (floored to microseconds, as `-ss` always was)."""
    begin = micro_floor(start)
    return Cut(begin, decode_from(keyframes, begin), seconds)


def whole() -> Cut:
    """The whole title on the chunks' timeline (the quality measure's reference)."""
    return Cut(Fraction(0), TIMELINE, None)
