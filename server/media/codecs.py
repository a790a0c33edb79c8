"""The video codecs a title's ladder can be encoded in: H.264 (libx264), AV1 (libsvtav1), HEVC (libx265).

One registry, so encode, packaging and the manifests agree on what each codec is: its software
encoder and ffmpeg arguments, its CMAF sample entry, its RFC 6381 CODECS string (read from the
init segment's configuration box) and the bitrate factor of its ladder against H.264.

Keyframes: every rung switches at the same instants (segment boundaries, closed GOPs). libx264 and
libx265 honour `-force_key_frames`; the libsvtav1 wrapper of ffmpeg 5.1 ignores it, so an AV1 rung
gets a fixed intra period equal to the segment's frame count, which needs a grid whose segments
all hold the same whole number of frames (e.g. 4 s at 25 or 30 fps; not 4 s at 29.97 fps, where the
default length becomes 4.004 s = 120 frames: grid_segment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from server.errors import InvalidRequest, MediaError
from server.media.model import Rendition

H264, AV1, HEVC = "h264", "av1", "hevc"

# x264 preset name -> SVT-AV1 preset (0 slowest .. 13 fastest), about the same place on each curve
SVT_PRESETS = {"ultrafast": 12, "superfast": 12, "veryfast": 11, "faster": 10, "fast": 9,
               "medium": 8, "slow": 6, "slower": 5, "veryslow": 4, "placebo": 3}


@dataclass(frozen=True)
class Codec:
    """One video codec of the ladder."""

    name: str                  # "h264", "av1", "hevc": the setting's word and the rung name suffix
    encoder: str               # ffmpeg's software encoder
    sample_entry: str          # the CMAF sample entry its init segments carry
    bitrate_factor: float      # its rung bitrate / the H.264 rung's at the same resolution
    crf_offset: int            # its CRF = the H.264 rung's CRF + this (the scales differ)
    label: str                 # what a person reads: "H.264", "AV1", "HEVC"


# Factors: AV1 and HEVC reach H.264's quality with about 40% and 30% fewer bits (AOM/JCT-VC reports,
# and our bench/codec_ladder.py); CRF offsets put each encoder's default quality near x264's CRF 23.
CODECS: dict[str, Codec] = {
    H264: Codec(H264, "libx264", "avc1", 1.0, 0, "H.264"),
    AV1: Codec(AV1, "libsvtav1", "av01", 0.6, 12, "AV1"),
    HEVC: Codec(HEVC, "libx265", "hvc1", 0.7, 5, "HEVC"),
}


def parse_codecs(raw: str) -> tuple[str, ...]:
    """`h264,av1` -> ("h264", "av1"): known names, no repeats, H.264 always first (every client
    decodes it, so it stays the ladder that players and thumbnails fall back on)."""
    aliases = {"avc": H264, "h.264": H264, "x264": H264, "h265": HEVC, "h.265": HEVC, "x265": HEVC,
               "hevc": HEVC, "av01": AV1}
    names: list[str] = []
    for word in (w.strip().lower() for w in raw.split(",")):
        if not word:
            continue
        name = aliases.get(word, word)
        if name not in CODECS:
            raise InvalidRequest(f"codec {word!r} is not one MiniFlix encodes.",
                                 hint="use h264, av1 and/or hevc, comma-separated (MINIFLIX_CODECS, "
                                      "or --codecs on ingest)")
        if name not in names:
            names.append(name)
    return (H264, *(n for n in names if n != H264))


def codec_of(rendition: Rendition) -> Codec:
    return CODECS[rendition.codec]


def rung_name(base: str, codec: str) -> str:
    """`720p` for H.264, `720p-av1` for another codec."""
    return base if codec == H264 else f"{base}-{codec}"


def codec_ladder(renditions: Sequence[Rendition], codecs: Sequence[str]) -> list[Rendition]:
    """The H.264 ladder, then for every other codec the same resolutions at its bitrate factor."""
    ladder = list(renditions)
    for name in codecs:
        if name == H264:
            continue
        codec = CODECS[name]
        ladder += [replace(r, name=rung_name(r.name, name), codec=name,
                           bitrate_kbps=max(1, round(r.bitrate_kbps * codec.bitrate_factor)),
                           bufsize_kbps=max(1, round(r.bufsize_kbps * codec.bitrate_factor)))
                   for r in renditions]
    return ladder


def grid_segment(codecs: Sequence[str], segment_seconds: float, fps: Fraction, *,
                 chosen: bool) -> tuple[float, str]:
    """The segment length of the title's grid, and a note for the job when it is not the one asked.

    With an AV1 ladder the segments must hold a whole number of frames (see the module docstring).
    A length the user `chosen` is kept or refused (check_grid); the default one is rounded to the
    nearest whole number of frames for the whole title (every codec's rungs share the grid), e.g.
    4 s at 30000/1001 fps -> 4.004 s = 120 frames."""
    frames = _frames(segment_seconds, fps)
    if AV1 not in codecs or frames.denominator == 1:
        return segment_seconds, ""
    if chosen:
        check_grid(codecs, segment_seconds, fps)
    whole = _whole_frame_seconds(frames, fps)
    return float(whole), (f"segments {float(whole):g} s instead of {segment_seconds:g} s: AV1 needs "
                          f"whole frames at {_fps_label(fps)} fps")


def check_grid(codecs: Sequence[str], segment_seconds: float, fps: Fraction) -> None:
    """Refuse AV1 on a grid whose segments hold a fractional number of frames, before any encode,
    naming the nearest segment length that works (see the module docstring)."""
    frames = _frames(segment_seconds, fps)
    if AV1 not in codecs or frames.denominator == 1:
        return
    whole = _whole_frame_seconds(frames, fps)
    raise MediaError(f"an AV1 ladder needs segments of a whole number of frames; {segment_seconds:g} s at "
                     f"{float(fps):.3f} fps is {float(frames):.2f} frames.",
                     hint=f"use --segment-seconds {float(whole):.6g} ({whole * fps} frames), leave the "
                          "segment length unset so MiniFlix picks it, or leave av1 out of the codecs")


def _frames(segment_seconds: float, fps: Fraction) -> Fraction:
    return Fraction(segment_seconds).limit_denominator(1_000_000) * fps


def _whole_frame_seconds(frames: Fraction, fps: Fraction) -> Fraction:
    """The length of the nearest whole number of frames (at least one)."""
    return max(1, round(frames)) / fps


def _fps_label(fps: Fraction) -> str:
    """29.97, 23.976, 25: what a person calls the rate."""
    return f"{float(fps):.3f}".rstrip("0").rstrip(".")


def encoder_args(rendition: Rendition, preset: str, threads: int, gop: int, keyframe_interval: int | None,
                 encoder: str = "") -> list[str]:
    """The `-c:v …` arguments of one rung: capped CRF, closed GOPs, keyframes only where told.

    `keyframe_interval` is the frame count of every segment of the chunk when they are all equal
    (None otherwise); AV1 needs it (see the module docstring). `encoder` overrides the software one
    (a hardware encoder, see hw_encoders.py)."""
    if encoder and encoder != CODECS[rendition.codec].encoder:
        return hardware_args(rendition, encoder, gop)
    if rendition.codec == AV1:
        return svtav1_args(rendition, preset, threads, keyframe_interval)
    if rendition.codec == HEVC:
        return x265_args(rendition, preset, threads, gop)
    return x264_args(rendition, preset, threads, gop)


def _rate(rendition: Rendition, crf_offset: int) -> list[str]:
    return ["-crf", str(rendition.crf + crf_offset), "-maxrate", f"{rendition.bitrate_kbps}k",
            "-bufsize", f"{rendition.bufsize_kbps}k"]


def x264_args(rendition: Rendition, preset: str, threads: int, gop: int) -> list[str]:
    """libx264 capped CRF, High profile, closed GOPs, no scene-cut keyframes."""
    return ["-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
            *_rate(rendition, 0), "-threads", str(threads),
            "-g", str(gop), "-sc_threshold", "0", "-flags", "+cgop",
            "-forced-idr", "1", "-color_range", "tv"]


def x265_args(rendition: Rendition, preset: str, threads: int, gop: int) -> list[str]:
    """libx265 capped CRF, Main profile, closed GOPs (forced keyframes are IDRs), tagged `hvc1`
    (Apple's players and Chromium's MSE accept HEVC in MP4 only under that sample entry)."""
    params = (f"keyint={gop}:min-keyint=1:scenecut=0:open-gop=0:pools={threads}:frame-threads=1"
              ":log-level=error")
    return ["-c:v", "libx265", "-preset", preset, "-profile:v", "main", "-pix_fmt", "yuv420p",
            *_rate(rendition, CODECS[HEVC].crf_offset), "-x265-params", params,
            "-forced-idr", "1", "-tag:v", "hvc1", "-color_range", "tv"]


def svtav1_args(rendition: Rendition, preset: str, threads: int, keyframe_interval: int | None) -> list[str]:
    """libsvtav1 capped CRF, a keyframe (closed GOP) every `keyframe_interval` frames from the
    chunk's first one, which is where the segments start."""
    if not keyframe_interval:
        raise MediaError(f"rung {rendition.name}: AV1 needs segments of one whole number of frames.",
                         hint="choose a segment length that is a whole number of frames at the title's "
                              "frame rate, or leave av1 out of the codecs")
    params = f"irefresh-type=2:scd=0:lp={threads}"
    return ["-c:v", "libsvtav1", "-preset", str(SVT_PRESETS.get(preset, 10)), "-pix_fmt", "yuv420p",
            *_rate(rendition, CODECS[AV1].crf_offset), "-g", str(keyframe_interval),
            "-svtav1-params", params, "-color_range", "tv"]


def hardware_args(rendition: Rendition, encoder: str, gop: int) -> list[str]:
    """A hardware encoder at the rung's bitrate (VBR capped at it), closed GOPs, forced IDRs."""
    rate = ["-b:v", f"{rendition.bitrate_kbps}k", "-maxrate", f"{rendition.bitrate_kbps}k",
            "-bufsize", f"{rendition.bufsize_kbps}k"]
    tag = ["-tag:v", "hvc1"] if rendition.codec == HEVC else []
    return ["-c:v", encoder, *rate, "-g", str(gop), "-forced-idr", "1", *tag]


# ---- RFC 6381 CODECS strings from the init segment's configuration boxes ----------------------

def av1_codec_string(av1c: bytes) -> str:
    """`av01.P.LLT.DD` from an AV1CodecConfigurationRecord (AV1-ISOBMFF §5): profile, level and
    tier, bit depth; the optional colour fields are left out (their defaults apply)."""
    if len(av1c) < 4 or av1c[0] & 0x7F != 1:
        raise ValueError("av1C box is not an AV1 codec configuration record version 1")
    profile, level = av1c[1] >> 5, av1c[1] & 0x1F
    tier = "H" if av1c[2] & 0x80 else "M"
    high, twelve = bool(av1c[2] & 0x40), bool(av1c[2] & 0x20)
    depth = 12 if (profile == 2 and high and twelve) else 10 if high else 8
    return f"av01.{profile}.{level:02d}{tier}.{depth:02d}"


def hevc_codec_string(entry: str, hvcc: bytes) -> str:
    """`hvc1.P.C.TL.B…` from an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 Annex E.3):
    profile (with its space letter), compatibility flags bit-reversed in hex, tier and level, the
    constraint bytes with trailing zero bytes left out."""
    if len(hvcc) < 13:
        raise ValueError("hvcC box is too short")
    space = "" if hvcc[1] >> 6 == 0 else "ABC"[(hvcc[1] >> 6) - 1]
    tier, profile = "H" if hvcc[1] & 0x20 else "L", hvcc[1] & 0x1F
    flags = int.from_bytes(hvcc[2:6], "big")
    reversed_flags = int(f"{flags:032b}"[::-1], 2)
    constraints = list(hvcc[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [entry, f"{space}{profile}", f"{reversed_flags:X}", f"{tier}{hvcc[12]}",
             *(f"{b:X}" for b in constraints)]
    return ".".join(parts)
