"""Where a DASH player puts each segment, read from the MPD, checked against where its media presents.

A player maps a segment's media time to the Period by subtracting the presentationTimeOffset, and
the browser applies the init segment's edit list on its own. An MPD whose times disagree with the
media (an offset that repeats the edit list, say) shifts a track: the video's first keyframe then
lands before the append window and the whole first segment is dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from server.media.cmaf import Track

DASH_NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


@dataclass(frozen=True)
class RepresentationTimes:
    """One Representation's SegmentTemplate timing: timescale, offset and every S start."""

    rep_id: str
    timescale: int
    offset: int                # presentationTimeOffset, timescale units
    starts: tuple[int, ...]    # S@t of every segment (repeats expanded)

    def seconds(self) -> list[Fraction]:
        """Each segment's start on the Period's timeline, as a player computes it."""
        return [Fraction(t - self.offset, self.timescale) for t in self.starts]


def read_mpd_times(path: Path) -> dict[str, RepresentationTimes]:
    """Representation id -> its timing, for every Representation with a SegmentTimeline."""
    out = {}
    for rep in ET.parse(path).getroot().iterfind(".//d:Representation", DASH_NS):
        template = rep.find("d:SegmentTemplate", DASH_NS)
        if template is None or template.find("d:SegmentTimeline", DASH_NS) is None:
            continue
        rep_id = rep.get("id", "")
        out[rep_id] = RepresentationTimes(rep_id, int(template.get("timescale", "1")),
                                          int(template.get("presentationTimeOffset", "0")),
                                          tuple(_starts(template)))
    return out


def _starts(template: ET.Element) -> list[int]:
    """Expand S@t/@d/@r: a missing @t continues from the previous segment's end."""
    starts: list[int] = []
    t = 0
    for s in template.iterfind("d:SegmentTimeline/d:S", DASH_NS):
        t = int(s.get("t", t))
        for _ in range(1 + int(s.get("r", "0"))):
            starts.append(t)
            t += int(s.get("d", "0"))
    return starts


def timing_problems(mpd: Path, tracks: Sequence[Track]) -> list[str]:
    """Every track whose segments the MPD places elsewhere than their media presents them (more
    than one tick apart), or that it does not list; empty when the MPD agrees with the media."""
    try:
        times = read_mpd_times(mpd)
    except (ET.ParseError, OSError, ValueError) as exc:
        return [f"{mpd.name} cannot be read for its timing: {exc}."]
    problems = []
    for track in tracks:
        stated = times.get(track.name)
        if stated is None:
            problems.append(f"{mpd.name} has no Representation {track.name!r} with a SegmentTimeline.")
            continue
        problems += _track_problems(mpd.name, track, stated)
    return problems


def _track_problems(mpd_name: str, track: Track, stated: RepresentationTimes) -> list[str]:
    presented = [Fraction(start, track.timescale) for start, _duration in track.timeline()]
    if len(stated.starts) != len(presented):
        return [f"{mpd_name} lists {len(stated.starts)} segments of {track.name}, "
                f"its media has {len(presented)}."]
    tick = Fraction(1, min(stated.timescale, track.timescale))
    for k, (said, real) in enumerate(zip(stated.seconds(), presented, strict=True)):
        if abs(said - real) > tick:
            return [f"{mpd_name} puts segment {k + 1} of {track.name} at {float(said):.3f} s, but its "
                    f"media presents from {float(real):.3f} s (after the init segment's edit list): "
                    f"a DASH player would shift the track by {float(said - real):+.3f} s."]
    return []
