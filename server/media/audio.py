"""Encode the kept audio track once for the whole title: AAC-LC stereo 48 kHz, on the video's clock.

Never per chunk: every AAC encode starts with priming samples, so per-chunk audio leaves gaps.
Every audio track of a video title that is surround (6 channels or more) is also kept as 5.1: a
second rendition of the same stream, encoded by the same ffmpeg run; the stereo downmix of the main
track stays the default, since every player and headphone can play it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from server.errors import MediaError
from server.media import ffmpeg
from server.media.audio_tracks import audio_label
from server.media.encode import part_path, seconds
from server.media.ffmpeg import Tools
from server.media.model import AudioInfo, MediaInfo, WorkLayout
from server.media.progress import ProgressUpdate
from server.media.source_cut import whole

AUDIO_BITRATE = "128k"
AUDIO_RATE = 48000
SURROUND_CHANNELS = 6  # 5.1: a source with this many channels or more also gets a 5.1 rendition
SURROUND_BITRATE = "384k"  # 64k a channel, as the stereo track's 128k


def audio_filters() -> str:
    """Start on the title's clock (silence before a late first sample, gaps filled), pad the tail.

    Input timestamps are relative to the container's start (the seek of `source_cut.whole`), as are
    the video chunks', so `first_pts=0` puts the first sample where it plays against the picture;
    `-t` then trims the padding.
    """
    return f"aresample={AUDIO_RATE}:async=1:first_pts=0,apad"


def build_audio_args(tools: Tools, info: MediaInfo, out: Path,
                     alternates: Sequence[tuple[AudioInfo, Path]] = ()) -> list[str]:
    """argv that writes `out` (m4a): the kept track downmixed to stereo AAC-LC, exactly the title long;
    and in the same run each of `alternates` (a rendition of a stream, see `alternate_tracks`) to its
    own file, encoded the same way (one read of the source for every audio rendition): stereo, or 6
    channels at `SURROUND_BITRATE` for a 5.1 rendition (`surround`)."""
    track = _track(info)
    # read plainly, a TS counts from its audio's first packet: a track starting 0.48 s after the
    # picture played 0.48 s early
    args = [tools.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *whole().input_args(),
            "-i", str(info.path)]
    for rendition, path in [(track, out), *alternates]:
        surround = rendition.surround
        channels, bitrate = (("6", SURROUND_BITRATE) if surround else ("2", AUDIO_BITRATE))
        layout = ["-channel_layout", "5.1"] if surround else []
        args += ["-map", f"0:{rendition.index}", "-vn", "-sn", "-dn", "-map_metadata", "-1",
                 "-map_chapters", "-1", "-af", audio_filters(), "-ac", channels, *layout,
                 "-ar", str(AUDIO_RATE), "-c:a", "aac", "-profile:a", "aac_low", "-b:a", bitrate,
                 "-t", seconds(info.duration), "-f", "mp4", str(path)]
    return args


def encode_audio(tools: Tools, info: MediaInfo, layout: WorkLayout, *,
                 on_progress: Callable[[ProgressUpdate], None] | None = None,
                 stop: threading.Event | None = None) -> None:
    """Write `layout.audio_file` (and a video title's alternate tracks); they appear only when ffmpeg
    succeeded (temp names, then renames, the main track last: its presence means all are done)."""
    final = layout.audio_file
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = part_path(final)
    finals = [(a, layout.alternate_audio_file(a.index, a.surround)) for a in alternate_tracks(info)]
    temps = [(a, part_path(path)) for a, path in finals]
    try:
        ffmpeg.run(build_audio_args(tools, info, temp, temps), f"encode audio of {info.path.name}",
                   on_progress=on_progress, stop=stop)
    except BaseException:
        for path in [temp, *(p for _a, p in temps)]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    for (_a, path), (_same, final_path) in zip(temps, finals, strict=True):
        path.replace(final_path)
    temp.replace(final)


def alternate_tracks(info: MediaInfo) -> tuple[AudioInfo, ...]:
    """The audio renditions besides the main (stereo) one, in menu order: a video title's 5.1 copy of
    its main track if that is surround, then each other track as stereo followed by its own 5.1 copy
    when it has one ("Français", "Français 5.1"). An audio-only title publishes its main track alone."""
    if info.video is None:
        return ()
    main = surround_rendition(info.audio)
    others = [r for a in info.dropped_audio for r in (a, surround_rendition(a, main=False)) if r is not None]
    return (*([main] if main else []), *others)


def surround_rendition(stream: AudioInfo | None, *, main: bool = True) -> AudioInfo | None:
    """A stream as its 5.1 rendition (same stream index, `surround`, labelled e.g. "English 5.1"; never
    the default), or None if it has fewer than `SURROUND_CHANNELS` channels."""
    if stream is None or stream.channels < SURROUND_CHANNELS:
        return None
    return dataclasses.replace(stream, channels=SURROUND_CHANNELS, default=False, surround=True,
                               title=f"{audio_label(stream, main)} 5.1")


def _track(info: MediaInfo) -> AudioInfo:
    if info.audio is None:
        raise MediaError(f"{info.path.name} has no audio track to encode.",
                         hint="a title without audio is published video-only")
    return info.audio
