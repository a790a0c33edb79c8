"""Probe and validate a source: what it is, what must be normalised, and whether it is whole.

Three ffprobe runs: the container and its streams (through ffmpeg-python); a demux-only scan of
packet times, streamed line by line (the real content length: a truncated file's header still
claims the full length and ffmpeg exits 0 on it); and a decode of the first frames of the chosen
stream (proves it decodes; gives the true frame interval, interlacing, and field-coded streams'
frame rate, which packet times do not). The packet scan reads only the title's last
`TAIL_SCAN_S` seconds when every kept stream has packets there (see `content_ends`).

Duration rule: a video title lasts as long as its picture, an audio-only title as long as its
sound, never longer than the container claims. A file whose content ends before
`TRUNCATED_RATIO` of the claimed length and more than `TRUNCATED_GAP_S` seconds short is refused as
truncated; a smaller shortfall is accepted with a note.
"""

from __future__ import annotations

import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from server.errors import MediaError
from server.media.ffmpeg import Tools, capture, find_tools, popen, probe_json
from server.media.ladder import check_size
from server.media.model import MediaInfo
from server.media.streams import (
    audio_info,
    audio_notes,
    choose_audio,
    choose_video,
    packet_end,
    subtitle_streams,
    video_info,
    video_notes,
)

TRUNCATED_RATIO = 0.5
TRUNCATED_GAP_S = 2.0
NOTE_GAP_S = 0.5
TAIL_SCAN_S = 10.0  # the packet scan of a longer title starts this far before its declared end
# Containers whose seek lands on real packets with their real times (a sample index, cues, or PCR
# bisection). MXF is not one: after a seek ffmpeg 5.1 stops or mistimes packets (10.2 s for 10.6).
TAIL_SCAN_FORMATS = ("mov", "mp4", "matroska", "webm", "mpegts")
SAMPLE_PACKETS = 30   # 1 s at 30 fps; 60 and 120 gave the same facts on every sample file, at 1.5-3x the cost
log = logging.getLogger(__name__)
REENCODE_HINT = "re-export or re-copy the complete file (H.264/AAC in MP4 is the safest choice)"


def probe(path: Path, tools: Tools | None = None) -> MediaInfo:
    """Everything the pipeline needs about `path`, or MediaError saying why it cannot be a title."""
    tools = tools or find_tools()
    path = Path(path)
    size = check_file(path)
    data = run_ffprobe(path, tools)
    streams = data.get("streams", [])
    video_stream, ignored = choose_video(streams)
    kept, dropped = choose_audio(streams)
    if video_stream is None and kept is None:
        raise MediaError(f"{path.name} has no video or audio stream (it holds: {_kinds(streams)}).",
                         hint="choose a video or audio file")
    check_not_still(path, data["format"], video_stream, kept)
    kept_indexes = [s["index"] for s in (video_stream, kept) if s]
    with ThreadPoolExecutor(2, thread_name_prefix="probe") as pool:  # the demux scan beside the decode
        ends = pool.submit(content_ends, path, tools, data["format"], kept_indexes)
        zscale = pool.submit(has_zscale, tools) if video_stream else None
        frames = sample_frames(path, tools, video_stream or kept or {})
    video = video_info(video_stream, frames, zscale.result()) if video_stream and zscale else None
    if video is not None:
        check_size(video, path.name)
    if video is not None and kept is None and len(frames) == 1:  # a picture in a video container
        raise still_image(path, video_stream or {})
    primary = video_stream or kept or {}
    duration, declared, duration_notes = content_duration(
        path, data["format"], ends.result(), primary.get("index", -1), kept_indexes)
    notes = [*video_notes(video_stream, video, ignored),
             *audio_notes(kept, dropped, alternates=video is not None), *duration_notes]
    return MediaInfo(path=path, size=size, duration=duration, format_name=_format(data, "format_name"),
                     video=video, audio=audio_info(kept) if kept else None,
                     dropped_audio=tuple(audio_info(s) for s in dropped), notes=tuple(notes),
                     declared_duration=declared, subtitles=subtitle_streams(streams))


def check_file(path: Path) -> int:
    """The file's size, after checking it exists, is a regular file, is not empty and can be read."""
    if not path.exists():
        raise MediaError(f"{path} does not exist.", hint="check the path and try again")
    if not path.is_file():
        raise MediaError(f"{path} is not a regular file.", hint="choose a video or audio file")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes).",
                         hint="the copy or download probably failed; " + REENCODE_HINT)
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise MediaError(f"{path.name} cannot be read: {exc.strerror or exc}.",
                         hint="give your user read permission (e.g. chmod u+r) or copy it somewhere "
                              "readable") from exc
    return size


def check_not_still(path: Path, container: dict[str, Any], video: dict[str, Any] | None,
                    audio: dict[str, Any] | None) -> None:
    """MediaError for a still picture (PNG, JPEG, …): FFmpeg reads it as one frame lasting no time."""
    formats = str(container.get("format_name", "")).split(",")
    if video is not None and audio is None and any(_is_image_demuxer(name) for name in formats):
        raise still_image(path, video)


def _is_image_demuxer(name: str) -> bool:
    """FFmpeg reads single pictures with `image2` (by file name) or a `<codec>_pipe` demuxer."""
    return name == "image2" or name.endswith("_pipe")


def still_image(path: Path, video: dict[str, Any]) -> MediaError:
    codec = str(video.get("codec_name", "picture")).upper()
    size = f"{video.get('width', '?')}x{video.get('height', '?')}"
    return MediaError(f"{path.name} is a still image ({codec}, {size}, one frame), not a video.",
                      hint="MiniFlix makes titles from video or audio files; to publish a picture, "
                           "make a clip of it first: ffmpeg -loop 1 -i picture.png -t 5 "
                           "-vf scale=-2:720,format=yuv420p clip.mp4")


def run_ffprobe(path: Path, tools: Tools, **options: Any) -> dict[str, Any]:
    """ffprobe's JSON (format, streams, plus `options` such as show_entries); MediaError if it fails."""
    try:
        data: dict[str, Any] = probe_json(str(path), tools.ffprobe, **options)
    except ffmpeg_python.Error as exc:
        reason = _last_line(exc.stderr) or "ffprobe failed"
        raise MediaError(f"{path.name} is not a video or audio file FFmpeg can read ({reason}).",
                         hint="check that it is a complete video or audio file; " + REENCODE_HINT) from exc
    if not data.get("format"):
        raise MediaError(f"{path.name} is not a video or audio file FFmpeg can read.",
                         hint="choose a video or audio file")
    return data


def sample_frames(path: Path, tools: Tools, stream: dict[str, Any]) -> list[dict[str, Any]]:
    """Decode the first frames of `stream`; MediaError when none decodes."""
    entries = "frame=best_effort_timestamp_time,interlaced_frame"
    # threads=0: ffprobe decodes single-threaded unless told, and 60 HD frames take ~1 s that way
    data = run_ffprobe(path, tools, select_streams=str(stream.get("index", 0)), threads="0",
                       read_intervals=f"%+#{SAMPLE_PACKETS}", show_entries=entries)
    frames: list[dict[str, Any]] = data.get("frames", [])
    if not frames:
        kind, codec = stream.get("codec_type", "media"), stream.get("codec_name", "unknown codec")
        raise MediaError(f"{path.name}: no frame of its {kind} stream ({codec}) could be decoded.",
                         hint="the file is damaged or uses a codec this FFmpeg cannot decode; "
                              + REENCODE_HINT)
    return frames


def content_ends(path: Path, tools: Tools, container: dict[str, Any], kept: list[int],
                 tail_seconds: float = TAIL_SCAN_S) -> dict[int, float]:
    """Each stream's last packet end, read from the title's last `tail_seconds` when that suffices.

    A demux scan still reads every packet's data: 1.3 GB and ~1 s for one minute of 1080p at a
    camera's bitrate, an hour's worth for a long recording, before any encode can start. The last
    packets are the same in a scan of the tail, which reads to the end of the file from wherever
    the seek lands. The whole file is scanned when the title is short, when a kept stream has no
    packet in the tail (it ended earlier, or the seek failed), or when the tail says the file is
    truncated, so a refusal always rests on the full scan. Only containers whose seek is exact
    (`TAIL_SCAN_FORMATS`) are scanned by the tail.
    """
    declared = _float(container.get("duration"))
    formats = str(container.get("format_name", "")).split(",")
    if declared > 2 * tail_seconds and any(name in TAIL_SCAN_FORMATS for name in formats):
        since = _float(container.get("start_time")) + declared - tail_seconds
        ends = packet_ends(path, tools, since=since)
        content = max(_lengths(container, ends, kept).values(), default=0.0)
        if kept and all(index in ends for index in kept) and not _looks_truncated(declared, content):
            return ends
    return packet_ends(path, tools)


def packet_ends(path: Path, tools: Tools, since: float | None = None) -> dict[int, float]:
    """Each stream's last packet end (pts + duration, container time), from a demux-only scan of
    the whole file, or from the packets after seeking to `since` seconds (container time).

    Read line by line so a two-hour file costs constant memory (its packets number ~10^6).
    """
    window = ["-read_intervals", f"{since:.3f}%"] if since is not None else []
    argv = [tools.ffprobe, "-v", "error", *window, "-show_entries",
            "packet=stream_index,pts_time,duration_time", "-of", "csv=p=0", str(path)]
    log.debug("packet scan: %s", " ".join(argv))
    ends: dict[int, float] = {}
    with popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
               text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            parsed = packet_end(line)
            if parsed is not None and parsed[1] > ends.get(parsed[0], float("-inf")):
                ends[parsed[0]] = parsed[1]
    return ends


def content_duration(path: Path, container: dict[str, Any], ends: dict[int, float], primary: int,
                     kept: list[int]) -> tuple[float, float, list[str]]:
    """(duration, declared, notes): the real content length; MediaError for a truncated file.

    `ends` are packet ends in container time; durations count from the container's start, which
    is where the chunks' `-ss` and the audio's first sample are measured from too.
    """
    declared = _float(container.get("duration"))
    lengths = _lengths(container, ends, kept)
    content = max(lengths.values(), default=0.0)
    if _looks_truncated(declared, content):
        raise MediaError(f"{path.name} looks truncated: its header claims {_clock(declared)} but the "
                         f"data ends after {_clock(content)}.", hint=REENCODE_HINT)
    own = lengths.get(primary, 0.0)
    duration = min(declared, own) if declared > 0 and own > 0 else (own or declared)
    if duration <= 0:
        raise MediaError(f"{path.name} has no playable content (duration 0).", hint=REENCODE_HINT)
    notes = []
    if declared - duration > NOTE_GAP_S:
        notes.append(f"content ends at {duration:.2f} s although the file claims {declared:.2f} s: "
                     f"using {duration:.2f} s")
    return duration, declared, notes


def _lengths(container: dict[str, Any], ends: dict[int, float], kept: list[int]) -> dict[int, float]:
    """Each kept stream's content length, counted from the container's start."""
    start = _float(container.get("start_time"))
    return {index: max(0.0, ends[index] - start) for index in kept if index in ends}


def _looks_truncated(declared: float, content: float) -> bool:
    """The content ends before `TRUNCATED_RATIO` of the declared length and over `TRUNCATED_GAP_S` short."""
    return declared > 0 and content < TRUNCATED_RATIO * declared and declared - content > TRUNCATED_GAP_S


@lru_cache(maxsize=4)
def has_zscale(tools: Tools) -> bool:
    """Whether this ffmpeg has the zscale filter (libzimg), needed to tone-map HDR properly."""
    try:
        out = capture([tools.ffmpeg, "-hide_banner", "-h", "filter=zscale"], timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "Unknown filter" not in out.stdout + out.stderr


def _kinds(streams: list[dict[str, Any]]) -> str:
    kinds = [f"{s.get('codec_type', '?')} ({s.get('codec_name', '?')})" for s in streams]
    return ", ".join(kinds) or "nothing"


def _format(data: dict[str, Any], key: str) -> str:
    return str(data.get("format", {}).get(key, ""))


def _last_line(stderr: bytes | None) -> str:
    lines = [line.strip() for line in (stderr or b"").decode("utf-8", "replace").splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    return last.rsplit(": ", 1)[-1]  # "name.mp4: Invalid data found…" → the reason alone


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d} ({seconds:.1f} s)" if minutes else f"{seconds:.1f} s"


def keyframe_times(path: Path, stream_index: int, tools: Tools | None = None) -> list[float]:
    """Times (seconds from the title's start, as `-ss` counts them) of the video stream's keyframes,
    from a demux-only scan of its packets' flags: no frame is decoded.

    A chunk decodes from the source keyframe before its start and throws those frames away, so the
    chunk planner starts chunks just after these (long-GOP sources, see chunks.py).
    """
    tools = tools or find_tools()
    argv = [tools.ffprobe, "-v", "error", "-select_streams", str(stream_index), "-show_entries",
            "format=start_time:packet=pts_time,flags", "-of", "csv=p=0", str(path)]
    log.debug("keyframe scan: %s", " ".join(argv))
    times, start = [], 0.0
    with popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
               text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            fields = line.strip().split(",")
            if len(fields) == 1:  # the format section, printed after the packets
                start = _float(fields[0])
            elif len(fields) >= 2 and "K" in fields[1] and fields[0] not in ("", "N/A"):
                times.append(_float(fields[0]))
    return sorted(t - start for t in times)


def with_keyframes(info: MediaInfo, tools: Tools | None = None) -> MediaInfo:
    """`info` with its video's keyframe times, where chunks and analysis windows cut the source
    from (source_cut.py); an audio-only title has none to scan."""
    if info.video is None:
        return replace(info, keyframes=())
    return replace(info, keyframes=tuple(keyframe_times(info.path, info.video.index, tools)))
