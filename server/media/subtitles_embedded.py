"""Text tracks of a title from every source at once: embedded streams and sidecar files.

Embedded text streams (SubRip, ASS/SSA, mov_text, WebVTT) are converted by ONE ffmpeg to WebVTT
files in the work dir, then read like a sidecar. Image subtitles (PGS, DVB, DVD) would need OCR:
they are listed as "not converted" with the reason, never dropped silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from server.errors import JobError
from server.media.ffmpeg import Tools, run
from server.media.model import MediaInfo, SubtitleInfo
from server.media.source_cut import whole
from server.media.subtitles import TextTrack, decode, find_sidecars, parse_text, read_sidecar, sidecar_flags

log = logging.getLogger(__name__)
TEXT_CODECS = {"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text", "microdvd", "subviewer"}
IMAGE_CODECS = {"hdmv_pgs_subtitle": "PGS", "dvb_subtitle": "DVB", "dvd_subtitle": "DVD (VobSub)",
                "xsub": "XSUB"}


@dataclass
class TextTracks:
    """Every track worth packaging and the notes for the job (warnings, what was not converted)."""

    tracks: list[TextTrack] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect_text_tracks(tools: Tools, info: MediaInfo, work_dir: Path, *, sidecars_of: Path | None = None,
                        stop: threading.Event | None = None) -> TextTracks:
    """The embedded text streams of `info` and the sidecars beside `sidecars_of` (default: the source)."""
    found = TextTracks()
    convertible = [s for s in info.subtitles if s.codec in TEXT_CODECS]
    for stream in info.subtitles:
        if stream.codec not in TEXT_CODECS:
            found.notes.append(not_converted_note(stream))
    if convertible:
        _read_embedded(tools, info, convertible, work_dir, found, stop)
    video = sidecars_of or info.path
    for path in find_sidecars(video):
        result = read_sidecar(path, sidecar_flags(video.stem, path), info.duration)
        found.notes += result.warnings
        if result.track is not None:
            found.tracks.append(result.track)
    return found


def not_converted_note(stream: SubtitleInfo) -> str:
    kind = IMAGE_CODECS.get(stream.codec)
    lang = f", {stream.language}" if stream.language else ""
    if kind:
        return (f"subtitle stream {stream.index} ({kind} images{lang}) not converted: picture-based "
                "subtitles need text recognition (OCR); add a .srt file beside the video instead.")
    return f"subtitle stream {stream.index} ({stream.codec}{lang}) not converted: not a text format we read."


def build_extract_args(tools: Tools, source: Path, streams: Sequence[SubtitleInfo],
                       out_dir: Path) -> list[str]:
    """ONE ffmpeg writing each embedded text stream as `sub_<index>.vtt` (ffmpeg converts every text
    codec to WebVTT, styling dropped). Times come out relative to the container's start (the seek of
    `source_cut.whole`: read plainly, a TS counts from its first packet of the streams read), the
    clock the video chunks and the audio are cut on, so cues land on the title's timeline."""
    args = [tools.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *whole().input_args(),
            "-i", str(source)]
    for stream in streams:
        args += ["-map", f"0:{stream.index}", "-c:s", "webvtt", "-f", "webvtt",
                 str(embedded_file(out_dir, stream))]
    return args


def embedded_file(out_dir: Path, stream: SubtitleInfo) -> Path:
    return out_dir / f"sub_{stream.index}.vtt"


def _read_embedded(tools: Tools, info: MediaInfo, streams: list[SubtitleInfo], work_dir: Path,
                   found: TextTracks, stop: threading.Event | None) -> None:
    out_dir = work_dir / "subtitles"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        run(build_extract_args(tools, info.path, streams, out_dir), "reading the embedded subtitles",
            stop=stop)
    except JobError as exc:  # the picture and sound are fine: publish without these tracks
        log.warning("embedded subtitles of %s: %s", info.path.name, exc)
        found.notes.append(f"embedded subtitles not converted: ffmpeg could not read them ({exc}).")
        return
    for stream in streams:
        # not `default`: muxers (ffmpeg's, mkvmerge's) flag subtitle streams default as a matter of
        # course, and a default HLS subtitle track is shown to every viewer
        track = TextTrack(language=stream.language if stream.language != "und" else "", name=stream.title,
                          forced=stream.forced, sdh=stream.sdh,
                          source=f"embedded stream {stream.index} ({stream.codec})")
        path = embedded_file(out_dir, stream)
        text, warnings = decode(path.read_bytes(), track.source) if path.is_file() else ("", [])
        result = parse_text(text or "", "vtt", track, info.duration, warnings)
        found.notes += result.warnings
        if result.track is not None:
            found.tracks.append(result.track)
