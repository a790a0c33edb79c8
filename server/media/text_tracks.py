"""Text tracks written for players: segmented WebVTT for HLS, one WebVTT file per track for DASH.

HLS subtitle segments follow the video's own segments (same count, same durations), each with an
`X-TIMESTAMP-MAP` tying its cue times to the CMAF tracks' clock; cue times stay absolute (title
time), and a cue that crosses a segment boundary is written in every segment it overlaps (players
drop the repeat). `subs/tracks.json` keeps every track's cues and flags, for search and for
editing the tracks later without touching the video.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.media.cmaf import Track
from server.media.subtitles import Cue, TextTrack

SUBS_DIR = "subs"
TRACKS_FILE = f"{SUBS_DIR}/tracks.json"
PLAYLIST = "playlist.m3u8"
SEGMENT = "seg_{:05d}.vtt"
MPEGTS_HZ = 90_000
LANGUAGE_NAMES = {
    "en": "English", "eng": "English", "fr": "Français", "fre": "Français", "fra": "Français",
    "de": "Deutsch", "ger": "Deutsch", "deu": "Deutsch", "es": "Español", "spa": "Español",
    "it": "Italiano", "ita": "Italiano", "pt": "Português", "por": "Português", "nl": "Nederlands",
    "nld": "Nederlands", "dut": "Nederlands", "ja": "日本語", "jpn": "日本語", "zh": "中文", "chi": "中文",
    "zho": "中文", "ru": "Русский", "rus": "Русский", "ar": "العربية", "ara": "العربية", "ko": "한국어",
    "kor": "한국어", "sv": "Svenska", "swe": "Svenska", "pl": "Polski", "pol": "Polski",
}
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class TextRendition:
    """One packaged text track: how manifests announce it and where its files are (title-relative)."""

    id: str
    language: str
    name: str
    forced: bool
    sdh: bool
    default: bool
    source: str
    playlist: str               # subs/<id>/playlist.m3u8
    vtt: str                    # subs/<id>.vtt, the whole track (DASH)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "language": self.language, "name": self.name, "forced": self.forced,
                "sdh": self.sdh, "default": self.default, "source": self.source,
                "playlist": self.playlist, "vtt": self.vtt}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextRendition:
        return cls(**{k: data[k] for k in ("id", "language", "name", "forced", "sdh", "default", "source",
                                           "playlist", "vtt")})


def track_ids(tracks: Sequence[TextTrack]) -> list[str]:
    """Directory names: `en`, `en-sdh`, `fr-forced`, `und`; a repeat gets `-2`, `-3`…"""
    ids: list[str] = []
    for track in tracks:
        base = _SAFE.sub("-", track.language or "und").strip("-")[:20] or "und"
        base += "-forced" if track.forced else "-sdh" if track.sdh else ""
        candidate, n = base, 2
        while candidate in ids:
            candidate, n = f"{base}-{n}", n + 1
        ids.append(candidate)
    return ids


def display_name(track: TextTrack) -> str:
    """What a menu shows: the track's own name, else the language's name plus (SDH)/(forced)."""
    if track.name:
        return track.name
    language = track.language.split("-")[0].lower()
    name = LANGUAGE_NAMES.get(language) or track.language or "Unknown language"
    return name + (" (forced)" if track.forced else " (SDH)" if track.sdh else "")


def unique_names(names: Sequence[str]) -> list[str]:
    """The names with a repeat numbered (`English`, `English 2`): HLS wants them unique in a group."""
    out: list[str] = []
    for name in names:
        candidate, n = name, 2
        while candidate in out:
            candidate, n = f"{name} {n}", n + 1
        out.append(candidate)
    return out


def timestamp(seconds: float) -> str:
    """WebVTT's `HH:MM:SS.mmm`."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def webvtt(cues: Sequence[Cue], mpegts: int | None = None) -> str:
    """A WebVTT document; with `mpegts`, the HLS header mapping LOCAL 0 to that 90 kHz time."""
    lines = ["WEBVTT"]
    if mpegts is not None:
        lines.append(f"X-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000")
    lines.append("")
    for cue in cues:
        # cue text is plain (tags were stripped when read): & < > are characters, not markup
        text = "\n".join(html.escape(line, quote=False) for line in cue.text.splitlines() if line.strip())
        lines += [f"{timestamp(cue.start)} --> {timestamp(cue.end)}", text, ""]
    # ends with a blank line: a reader that joins segments (ffmpeg's HLS demuxer) would otherwise
    # take the next segment's header for more text of the last cue
    return "\n".join(lines) + "\n"


def segment_cues(cues: Sequence[Cue], segments: Sequence[tuple[float, float]]) -> list[list[Cue]]:
    """The cues shown during each (start, duration) segment: a cue overlapping two segments is in both."""
    return [[c for c in cues if c.start < start + duration and c.end > start] for start, duration in segments]


def media_playlist(durations: Sequence[float]) -> str:
    """A VOD subtitle playlist whose segments last exactly as long as the video's."""
    target = max(1, max((int(d + 0.5) for d in durations), default=1))
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:1",
             "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i, duration in enumerate(durations, 1):
        lines += [f"#EXTINF:{duration:.6f},", SEGMENT.format(i)]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def write_text_tracks(out_dir: Path, tracks: Sequence[TextTrack], segments: Sequence[tuple[float, float]],
                      mpegts: int) -> list[TextRendition]:
    """Write subs/<id>/ (playlist + segments), subs/<id>.vtt and subs/tracks.json into `out_dir`."""
    subs = out_dir / SUBS_DIR
    renditions: list[TextRendition] = []
    default = next((i for i, t in enumerate(tracks) if t.default), -1)  # HLS allows one DEFAULT=YES
    names = unique_names([display_name(t) for t in tracks])
    for number, (track, track_id) in enumerate(zip(tracks, track_ids(tracks), strict=True)):
        folder = subs / track_id
        folder.mkdir(parents=True, exist_ok=True)
        for i, part in enumerate(segment_cues(track.cues, segments), 1):
            (folder / SEGMENT.format(i)).write_text(webvtt(part, mpegts), encoding="utf-8")
        (folder / PLAYLIST).write_text(media_playlist([d for _s, d in segments]), encoding="utf-8")
        (subs / f"{track_id}.vtt").write_text(webvtt(track.cues), encoding="utf-8")
        renditions.append(TextRendition(track_id, track.language, names[number], track.forced,
                                        track.sdh, number == default, track.source,
                                        f"{SUBS_DIR}/{track_id}/{PLAYLIST}", f"{SUBS_DIR}/{track_id}.vtt"))
    if renditions:
        save_tracks(out_dir, renditions, tracks)
    return renditions


def write_following(out_dir: Path, tracks: Sequence[TextTrack], reference: Track) -> list[TextRendition]:
    """`write_text_tracks` on the segments of `reference` (the first rung, or the audio), cue times
    mapped to its clock: LOCAL 0 is the 90 kHz time of its first segment's decode start."""
    segments = [(start / reference.timescale, duration / reference.timescale)
                for start, duration in reference.timeline()]
    mpegts = reference.fragments[0].decode_time * MPEGTS_HZ // reference.timescale
    return write_text_tracks(out_dir, tracks, segments, mpegts)


def save_tracks(out_dir: Path, renditions: Sequence[TextRendition], tracks: Sequence[TextTrack]) -> None:
    """subs/tracks.json: every track's description and cues, `[start, end, text]` each."""
    data = [{**r.to_dict(), "cues": [[c.start, c.end, c.text] for c in t.cues]}
            for r, t in zip(renditions, tracks, strict=True)]
    path = out_dir / TRACKS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"tracks": data}, ensure_ascii=False, indent=1), encoding="utf-8")


def load_tracks(data: bytes) -> list[tuple[TextRendition, list[Cue]]]:
    """subs/tracks.json read back: each rendition with its cues."""
    out = []
    for item in json.loads(data.decode("utf-8")).get("tracks", []):
        cues = [Cue(float(s), float(e), str(t)) for s, e, t in item.get("cues", [])]
        out.append((TextRendition.from_dict(item), cues))
    return out
