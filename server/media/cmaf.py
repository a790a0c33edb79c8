"""One packaged CMAF track as facts read from its files: segments, timing, sizes and bit rates.

Playlists (HLS and DASH) and the integrity check are both written from a `Track`, so what they
state is what the segment files contain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from server.errors import JobError
from server.media.mp4box import Fragment, TrackInit, read_fragment, read_init

INIT_NAME = "init.mp4"
PLAYLIST_NAME = "playlist.m3u8"
SEGMENT_PATTERN = "seg_{:05d}.m4s"
_SEGMENT_RE = re.compile(r"seg_(\d{5})\.m4s")


@dataclass(frozen=True)
class Track:
    """A directory `cmaf/<name>/` holding init.mp4 and seg_00001.m4s…, parsed."""

    name: str
    directory: Path
    init: TrackInit
    fragments: tuple[Fragment, ...]

    @property
    def timescale(self) -> int:
        return self.init.timescale

    @property
    def segment_files(self) -> list[str]:
        return [SEGMENT_PATTERN.format(i + 1) for i in range(len(self.fragments))]

    @property
    def frames(self) -> int:
        """Samples in the track (video frames, or AAC frames for audio)."""
        return sum(f.samples for f in self.fragments)

    def seconds(self, ticks: int) -> float:
        return ticks / self.timescale

    def start_times(self) -> list[Fraction]:
        """Presentation start of each segment in seconds (decode time + first CTO - edit list); the
        first one is below 0 when the edit list hides AAC priming."""
        return [Fraction(f.decode_time + f.first_cto - self.init.media_time, self.timescale)
                for f in self.fragments]

    def end_time(self) -> Fraction:
        """Presentation end: decode end shifted like the first sample (B-frame delay, AAC priming)."""
        return Fraction(self._end_ticks(), self.timescale)

    def timeline(self) -> list[tuple[int, int]]:
        """(start, duration) of each segment as presented, in timescale ticks: up to the next
        segment's start, nothing before 0 (the AAC priming an edit list hides is not presented).

        This is the timeline a player sees once it applied the edit list, as browsers (MSE) and
        ffmpeg do, so it is the one both manifests state (EXTINF, and the MPD's S@t/@d with
        presentationTimeOffset 0)."""
        starts = [max(0, f.decode_time + f.first_cto - self.init.media_time) for f in self.fragments]
        ends = [*starts[1:], self._end_ticks()] if starts else []
        return [(start, end - start) for start, end in zip(starts, ends, strict=True)]

    def durations(self) -> list[float]:
        """Presented seconds of each segment (see `timeline`)."""
        return [duration / self.timescale for _start, duration in self.timeline()]

    def _end_ticks(self) -> int:
        if not self.fragments:
            return 0
        first, last = self.fragments[0], self.fragments[-1]
        return last.decode_time + last.duration + first.first_cto - self.init.media_time

    @property
    def duration(self) -> float:
        """Presentation length in seconds."""
        return sum(self.durations())

    def bytes(self) -> int:
        return sum(f.size for f in self.fragments)


def scan_track(directory: Path) -> Track:
    """Parse init.mp4 and every seg_NNNNN.m4s of one track; the numbering must have no hole."""
    init = read_init(directory / INIT_NAME)
    numbers = sorted(int(m.group(1)) for p in directory.iterdir() if (m := _SEGMENT_RE.fullmatch(p.name)))
    if not numbers:
        raise JobError(f"{directory} holds no media segments.", hint="re-run packaging for this title")
    if numbers != list(range(1, len(numbers) + 1)):
        raise JobError(f"{directory}: segment numbers are not 1..{len(numbers)} without gaps.",
                       hint="re-run packaging for this title")
    fragments = tuple(read_fragment(directory / SEGMENT_PATTERN.format(n), init) for n in numbers)
    return Track(directory.name, directory, init, fragments)


def peak_bitrate(durations: list[float], sizes: list[int], target: float) -> int:
    """RFC 8216 peak segment bit rate: the highest rate of any run of contiguous segments whose
    total duration lies between 0.5 and 1.5 target durations (whole track if none qualifies)."""
    best = 0.0
    for start in range(len(durations)):
        total_s, total_b = 0.0, 0
        for end in range(start, len(durations)):
            total_s += durations[end]
            total_b += sizes[end]
            if total_s > 1.5 * target + 1e-9:
                break
            if total_s >= 0.5 * target - 1e-9 and total_s > 0:
                best = max(best, total_b * 8 / total_s)
    if best == 0.0 and sum(durations) > 0:
        best = sum(sizes) * 8 / sum(durations)
    return int(best + 0.999)


def track_peak(track: Track, target: float) -> int:
    return peak_bitrate(track.durations(), [f.size for f in track.fragments], target)


def track_average(track: Track) -> int:
    """Average bit rate over the whole track (bytes of all segments / presentation length)."""
    duration = track.duration
    return int(track.bytes() * 8 / duration + 0.999) if duration > 0 else 0
