"""Read ffprobe's stream facts: which streams to keep, the output frame rate, and what needs fixing.

Pure functions over ffprobe JSON (dicts), so every rule is tested without a process.
"""

from __future__ import annotations

import itertools
import statistics
from fractions import Fraction
from typing import Any

from server.media.model import AudioInfo, SubtitleInfo, VideoInfo

# Frame rates a viewer expects; a measured rate snaps to the nearest one.
STANDARD_RATES: tuple[Fraction, ...] = tuple(Fraction(r) for r in (
    1, 2, 5, 10, 12, Fraction(25, 2), 15, 20, Fraction(24000, 1001), 24, 25, Fraction(30000, 1001), 30,
    48, 50, Fraction(60000, 1001), 60))
MAX_FPS = Fraction(60)
NOMINAL_TOLERANCE = 0.03   # a container's own standard rate wins when this close to the measured one
VFR_JITTER = 0.10          # a frame interval this far from the median counts as irregular
INTERLACED_ORDERS = {"tt", "bb", "tb", "bt"}
HDR_TRANSFERS = {"smpte2084", "arib-std-b67"}

Stream = dict[str, Any]


def choose_video(streams: list[Stream]) -> tuple[Stream | None, list[Stream]]:
    """(the video stream to encode, the video streams ignored): the default one first, else the first.

    Ignored: cover art (attached pictures) and any further video stream (an angle, a preview).
    """
    pictures = [s for s in streams if s.get("codec_type") == "video"]
    chosen = _first_default([s for s in pictures if not _disposition(s, "attached_pic")])
    return chosen, [s for s in pictures if s is not chosen]


def choose_audio(streams: list[Stream]) -> tuple[Stream | None, list[Stream]]:
    """(the kept audio track, the dropped ones): the first default track is kept."""
    tracks = [s for s in streams if s.get("codec_type") == "audio"]
    kept = _first_default(tracks)
    return kept, [s for s in tracks if s is not kept]


def subtitle_streams(streams: list[Stream]) -> tuple[SubtitleInfo, ...]:
    """Every subtitle stream, text or image, with its language, name and flags."""
    return tuple(subtitle_info(s) for s in streams if s.get("codec_type") == "subtitle")


def subtitle_info(stream: Stream) -> SubtitleInfo:
    tags = stream.get("tags", {})
    return SubtitleInfo(index=int(stream["index"]), codec=str(stream.get("codec_name", "") or "unknown"),
                        language=str(tags.get("language", "")), title=str(tags.get("title", "")),
                        default=_disposition(stream, "default"), forced=_disposition(stream, "forced"),
                        sdh=_disposition(stream, "hearing_impaired"))


def _first_default(streams: list[Stream]) -> Stream | None:
    return next((s for s in streams if _disposition(s, "default")), streams[0] if streams else None)


def _disposition(stream: Stream, key: str) -> bool:
    return bool(stream.get("disposition", {}).get(key))


def packet_end(line: str) -> tuple[int, float] | None:
    """(stream index, pts + duration) of one `stream_index,pts_time,duration_time` CSV line."""
    fields = line.strip().split(",")
    try:
        duration = float(fields[2]) if len(fields) > 2 and fields[2] not in ("", "N/A") else 0.0
        return int(fields[0]), float(fields[1]) + duration
    except (IndexError, ValueError):
        return None


def frame_intervals(frames: list[dict[str, Any]]) -> list[float]:
    """Positive gaps between the decoded frames' timestamps, in display order."""
    times = sorted({float(f["best_effort_timestamp_time"]) for f in frames
                    if f.get("best_effort_timestamp_time") not in (None, "N/A")})
    return [b - a for a, b in itertools.pairwise(times) if b - a > 1e-6]


def rate(text: Any) -> Fraction | None:
    """ffprobe's "30000/1001" as a Fraction; None for "0/0" and other non-rates."""
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def snap_rate(measured: float) -> Fraction:
    """The standard rate nearest `measured` (relative distance), never above MAX_FPS."""
    return min(STANDARD_RATES, key=lambda std: abs(float(std) - measured) / measured)


def output_fps(stream: Stream, intervals: list[float], interlaced: bool) -> Fraction:
    """The constant output rate: the container's nominal rate snapped to a standard one, capped at 60.

    The nominal rate is `r_frame_rate` (for interlaced streams, whose `r_frame_rate` is the field
    rate, `avg_frame_rate`). The rate measured from decoded frames is used when the nominal one is
    not near any standard rate or is over twice the measured one (a bogus header would make every
    frame be encoded several times).
    """
    measured = 1 / statistics.median(intervals) if intervals else None
    nominal = rate(stream.get("avg_frame_rate" if interlaced else "r_frame_rate"))
    if nominal and _plausible(nominal, measured):
        return snap_rate(float(nominal))
    if measured:
        return snap_rate(measured)
    return snap_rate(float(nominal)) if nominal else Fraction(25)


def _plausible(nominal: Fraction, measured: float | None) -> bool:
    near = nominal > MAX_FPS or abs(float(nominal - snap_rate(float(nominal)))) <= NOMINAL_TOLERANCE * nominal
    return near and (measured is None or nominal <= 2.2 * measured)


def is_vfr(stream: Stream, intervals: list[float], interlaced: bool) -> bool:
    """Irregular frame intervals, or (progressive) a container whose nominal and average rates differ."""
    if len(intervals) >= 2:
        median = statistics.median(intervals)
        irregular = sum(abs(i - median) > VFR_JITTER * median for i in intervals)
        if irregular > VFR_JITTER * len(intervals):
            return True
    r, avg = rate(stream.get("r_frame_rate")), rate(stream.get("avg_frame_rate"))
    return bool(r and avg and not interlaced and r != avg)


def is_interlaced(stream: Stream, frames: list[dict[str, Any]]) -> bool:
    """The stream says fields (tt/bb/…) or, when it says nothing, most decoded frames are interlaced."""
    order = str(stream.get("field_order", "unknown"))
    if order in INTERLACED_ORDERS:
        return True
    flagged = sum(int(f.get("interlaced_frame") or 0) for f in frames)
    return order in ("unknown", "") and flagged * 2 > len(frames)


def rotation(stream: Stream) -> int:
    """Degrees clockwise to turn the picture upright, from the display matrix or a `rotate` tag."""
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return round(-float(side["rotation"]) / 90) * 90 % 360  # matrix angle is counter-clockwise
    tag = stream.get("tags", {}).get("rotate")
    try:
        return round(float(tag) / 90) * 90 % 360 if tag is not None else 0
    except ValueError:
        return 0


def bit_depth(stream: Stream) -> int:
    """Bits per sample from bits_per_raw_sample or the pixel format name (…p10le → 10)."""
    raw = str(stream.get("bits_per_raw_sample", ""))
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    pix = str(stream.get("pix_fmt", ""))
    for depth in (16, 14, 12, 10, 9):
        if f"p{depth}" in pix:
            return depth
    return 8


def video_info(stream: Stream, frames: list[dict[str, Any]], zscale: bool) -> VideoInfo:
    """VideoInfo from the stream's facts and its first decoded frames."""
    intervals = frame_intervals(frames)
    interlaced = is_interlaced(stream, frames)
    transfer = str(stream.get("color_transfer", ""))
    hdr = transfer in HDR_TRANSFERS or stream.get("color_primaries") == "bt2020"
    pix_fmt = str(stream.get("pix_fmt", ""))
    return VideoInfo(
        index=int(stream["index"]), codec=str(stream.get("codec_name", "")),
        width=int(stream.get("width", 0)), height=int(stream.get("height", 0)),
        sar=rate(str(stream.get("sample_aspect_ratio", "1")).replace(":", "/")) or Fraction(1),
        rotation=rotation(stream), fps=output_fps(stream, intervals, interlaced),
        vfr=is_vfr(stream, intervals, interlaced), interlaced=interlaced, pix_fmt=pix_fmt,
        bit_depth=bit_depth(stream),
        full_range=pix_fmt.startswith("yuvj") or stream.get("color_range") == "pc",
        hdr=hdr, transfer=transfer, tonemap=hdr and zscale)


def audio_info(stream: Stream) -> AudioInfo:
    tags = stream.get("tags", {})
    return AudioInfo(index=int(stream["index"]), codec=str(stream.get("codec_name", "")),
                     channels=int(stream.get("channels", 0)),
                     sample_rate=int(stream.get("sample_rate", 0) or 0),
                     language=str(tags.get("language", "")), default=_disposition(stream, "default"),
                     title=str(tags.get("title", "")), comment=_disposition(stream, "comment"),
                     descriptions=_disposition(stream, "visual_impaired")
                     or _disposition(stream, "descriptions"))


def video_notes(stream: Stream | None, video: VideoInfo | None, ignored: list[Stream]) -> list[str]:
    """Plain words for what the pipeline does about this picture."""
    notes = [f"{'cover art' if _disposition(c, 'attached_pic') else 'extra video stream'} ignored "
             f"(stream {c['index']}, {c.get('codec_name', '?')})" for c in ignored]
    if stream is None or video is None:
        return [*notes, "audio only: no video stream"]
    return notes + _picture_notes(stream, video)


def _picture_notes(stream: Stream, video: VideoInfo) -> list[str]:
    fps = _fps_text(video.fps)
    notes = ["deinterlaced (bwdif)"] if video.interlaced else []
    notes += [f"rotated upright ({video.rotation}° clockwise)"] if video.rotation else []
    if video.sar != 1:
        notes.append(f"non-square pixels (SAR {video.sar.numerator}:{video.sar.denominator}): scaled to "
                     f"square pixels, {video.display_width}x{video.display_height}")
    notes += [f"variable frame rate: made constant {fps} fps"] if video.vfr else []
    nominal = rate(stream.get("r_frame_rate"))
    if nominal and nominal > MAX_FPS and video.fps == MAX_FPS:
        notes.append(f"{_fps_text(nominal)} fps capped to {fps} fps")
    notes += [f"{video.bit_depth}-bit ({video.pix_fmt}): converted to 8-bit yuv420p"] \
        if video.bit_depth > 8 else []
    notes += ["full-range (JPEG) levels: converted to limited range"] if video.full_range else []
    notes += _hdr_notes(video)
    if video.width % 2 or video.height % 2:
        notes.append(f"odd size {video.width}x{video.height}: renditions use even sizes")
    return notes


def _hdr_notes(video: VideoInfo) -> list[str]:
    if not video.hdr:
        return []
    what = video.transfer or "BT.2020"
    if video.tonemap and video.transfer not in HDR_TRANSFERS:
        return [f"wide-gamut BT.2020 ({what}): converted to BT.709"]
    if video.tonemap:
        return [f"HDR ({what}): tone-mapped to SDR BT.709"]
    return [f"HDR ({what}): this FFmpeg has no zscale filter, so it was converted to 8-bit without tone "
            "mapping (colours will look flat); install an FFmpeg built with libzimg to tone-map"]


def audio_notes(kept: Stream | None, dropped: list[Stream], alternates: bool = False) -> list[str]:
    """Plain words for the audio: downmix, and the other tracks (alternate renditions of a video
    title, dropped from an audio-only one)."""
    notes = []
    if kept is not None and int(kept.get("channels", 0)) > 2:
        notes.append(f"{kept.get('channels')}-channel audio ({kept.get('channel_layout', '?')}): "
                     "downmixed to stereo")
    if dropped:
        described = ", ".join(_describe_track(s) for s in dropped)
        fate = "kept as alternate audio" if alternates else "dropped"
        notes.append(f"{len(dropped)} audio track{'s' if len(dropped) > 1 else ''} {fate}: {described}")
    return notes


def _describe_track(stream: Stream) -> str:
    language = stream.get("tags", {}).get("language", "und")
    codec, channels = stream.get("codec_name", "?"), stream.get("channels", "?")
    return f"stream {stream['index']} ({language}, {codec} {channels}ch)"


def _fps_text(fps: Fraction) -> str:
    return str(fps.numerator) if fps.denominator == 1 else f"{float(fps):.3f}".rstrip("0").rstrip(".")
