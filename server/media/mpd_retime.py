"""Bring MPDs written before the one timing model in line with their media, in place.

Until December 2026 the MPD repeated the init segment's edit list as `presentationTimeOffset`, so a
browser's DASH player shifted the video twice and dropped its first segment. The segments themselves
were right; only the MPD's SegmentTimeline and offset change, rebuilt from the segments as the
packager now writes them, checked, and swapped in atomically.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from server.errors import MiniflixError
from server.media.cmaf import INIT_NAME, Track, scan_track
from server.media.mpd_timing import timing_problems
from server.media.playlists import DASH_NS, timeline_runs

log = logging.getLogger(__name__)
NS = {"d": DASH_NS}
MPD_NAME = "manifest.mpd"


def has_offset(mpd: Path) -> bool:
    """Whether any SegmentTemplate of `mpd` states a non-zero presentationTimeOffset (cheap: no media
    is read), the mark of an MPD written under the old timing model."""
    root = ET.parse(mpd).getroot()
    return any(t.get("presentationTimeOffset", "0") != "0"
               for t in root.iterfind(".//d:SegmentTemplate", NS))


def retime_mpd(title_dir: Path) -> bool:
    """Rewrite `title_dir`'s MPD on the presented timeline when it has an offset; True when it did.
    The new MPD is checked against the media before it replaces the old one."""
    mpd = title_dir / MPD_NAME
    if not mpd.is_file() or not has_offset(mpd):
        return False
    tracks = {p.name: scan_track(p) for p in sorted((title_dir / "cmaf").iterdir())
              if (p / INIT_NAME).is_file()}
    ET.register_namespace("", DASH_NS)
    tree: ET.ElementTree[ET.Element] = ET.parse(mpd)
    for rep in tree.getroot().iterfind(".//d:Representation", NS):
        track = tracks.get(rep.get("id", ""))
        template = rep.find("d:SegmentTemplate", NS)
        if track is not None and template is not None:
            _retime(template, track)
    return _replace_checked(tree, mpd, list(tracks.values()))


def _retime(template: ET.Element, track: Track) -> None:
    template.attrib.pop("presentationTimeOffset", None)
    template.set("timescale", str(track.timescale))
    timeline = template.find("d:SegmentTimeline", NS)
    if timeline is None:
        timeline = ET.SubElement(template, f"{{{DASH_NS}}}SegmentTimeline")
    for child in list(timeline):
        timeline.remove(child)
    for t, d, repeat in timeline_runs(track.timeline()):
        attrs = {"t": str(t), "d": str(d), **({"r": str(repeat)} if repeat else {})}
        ET.SubElement(timeline, f"{{{DASH_NS}}}S", attrs)


def _replace_checked(tree: ET.ElementTree[ET.Element], mpd: Path, tracks: list[Track]) -> bool:
    """Write beside the MPD, check it, then rename over it: a reader sees the old or the new one."""
    fresh = mpd.with_name(f".{mpd.name}.retimed")
    ET.indent(tree)
    tree.write(fresh, encoding="utf-8", xml_declaration=True)
    problems = timing_problems(fresh, tracks)
    if problems:
        fresh.unlink(missing_ok=True)
        log.warning("left %s as it was: %s", mpd, problems[0])
        return False
    os.replace(fresh, mpd)
    return True


def retime_library(titles_root: Path, video_ids: list[str]) -> list[str]:
    """Retime every listed title's MPD that needs it; one title that cannot be read is logged and
    skipped, never stops the rest. Returns the ids whose MPD was rewritten."""
    done = []
    for video_id in video_ids:
        try:
            if retime_mpd(titles_root / video_id):
                done.append(video_id)
        except (MiniflixError, OSError, ET.ParseError, ValueError) as exc:
            log.warning("could not retime the MPD of %s: %s", video_id, exc)
    return done
