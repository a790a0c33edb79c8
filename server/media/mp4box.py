"""Read the facts of CMAF files straight from their ISO-BMFF boxes: codec, size, timing, keyframes.

Packaging writes playlists from these facts and verification checks them, so both rely on what
is really in `init.mp4` and each `.m4s`, not on what an encoder or ffmpeg's playlist claimed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from server.errors import JobError
from server.media.codecs import av1_codec_string, hevc_codec_string

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"mvex", b"moof", b"traf"}
NON_SYNC = 0x10000  # sample_is_non_sync_sample bit of the ISO-BMFF sample flags


@dataclass(frozen=True)
class TrackInit:
    """What an init segment says about its one track."""

    kind: str                  # "video" or "audio"
    timescale: int
    codec: str                 # RFC 6381 string, e.g. "avc1.64001f", "av01.0.05M.08", "mp4a.40.2"
    width: int = 0
    height: int = 0
    channels: int = 0
    sample_rate: int = 0
    media_time: int = 0        # edit list start (priming or composition delay), in timescale units
    default_duration: int = 0  # trex defaults, used when a fragment leaves them out
    default_flags: int = 0


@dataclass(frozen=True)
class Fragment:
    """One media segment: where it sits on the decode timeline and what samples it holds."""

    decode_time: int           # tfdt baseMediaDecodeTime, timescale units
    durations: tuple[int, ...]
    sync: tuple[bool, ...]     # per sample: is it a sync sample (keyframe)
    first_cto: int             # composition offset of the first sample
    size: int                  # bytes of the file

    @property
    def samples(self) -> int:
        return len(self.durations)

    @property
    def duration(self) -> int:
        return sum(self.durations)

    def sync_offsets(self) -> list[int]:
        """Decode-time offsets (from the segment start) of every sync sample."""
        offsets, t = [], 0
        for d, s in zip(self.durations, self.sync, strict=True):
            if s:
                offsets.append(t)
            t += d
        return offsets


@dataclass
class _Defaults:
    duration: int = 0
    size: int = 0
    flags: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, payload start, payload end) for each box in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {kind!r} at byte {pos} overruns its parent")
        yield kind, pos + header, pos + size
        pos += size


def find_box(data: bytes, path: list[bytes], start: int = 0,
             end: int | None = None) -> tuple[int, int] | None:
    """Payload range of the first box along `path` (e.g. [b"moov", b"trak", b"mdia"])."""
    for kind, lo, hi in iter_boxes(data, start, end):
        if kind == path[0]:
            return (lo, hi) if len(path) == 1 else find_box(data, path[1:], lo, hi)
    return None


def read_init(path: Path) -> TrackInit:
    """Parse an init segment (ftyp+moov) with one track; JobError names the file if it is not one."""
    data = _read(path)
    try:
        return _parse_init(data)
    except (ValueError, struct.error, IndexError) as exc:
        raise JobError(f"{path} is not a valid CMAF init segment: {exc}.",
                       hint="re-run packaging for this title") from exc


def read_fragment(path: Path, init: TrackInit) -> Fragment:
    """Parse a media segment (moof+mdat); JobError names the file if it is damaged."""
    data = _read(path)
    try:
        return _parse_fragment(data, init)
    except (ValueError, struct.error, IndexError) as exc:
        raise JobError(f"{path} is not a valid CMAF media segment: {exc}.",
                       hint="re-run packaging for this title") from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise JobError(f"cannot read {path}: {exc.strerror}.",
                       hint="re-run packaging for this title") from exc


def _parse_init(data: bytes) -> TrackInit:
    trak = find_box(data, [b"moov", b"trak"])
    if trak is None:
        raise ValueError("no moov/trak box")
    mdhd = _need(data, [b"mdia", b"mdhd"], trak)
    version = data[mdhd[0]]
    timescale = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))[0]
    handler = data[_need(data, [b"mdia", b"hdlr"], trak)[0] + 8:][:4]
    stsd = _need(data, [b"mdia", b"minf", b"stbl", b"stsd"], trak)
    entry = _sample_entry(data, stsd[0] + 8)
    trex = _trex(data)
    common = {"timescale": timescale, "media_time": _media_time(data, trak),
              "default_duration": trex.duration, "default_flags": trex.flags}
    if handler == b"vide":
        return TrackInit(kind="video", **common, **entry)
    if handler == b"soun":
        return TrackInit(kind="audio", **common, **entry)
    raise ValueError(f"track handler {handler!r} is neither video nor audio")


def _need(data: bytes, path: list[bytes], parent: tuple[int, int]) -> tuple[int, int]:
    found = find_box(data, path, *parent)
    if found is None:
        raise ValueError(f"missing {'/'.join(p.decode() for p in path)} box")
    return found


def _sample_entry(data: bytes, pos: int) -> dict:
    kind, lo, hi = next(iter_boxes(data, pos))
    if kind in (b"avc1", b"avc3"):
        width, height = struct.unpack_from(">HH", data, lo + 24)
        avcc = find_box(data, [b"avcC"], lo + 78, hi)
        if avcc is None:
            raise ValueError("avc1 sample entry without avcC")
        profile = data[avcc[0] + 1: avcc[0] + 4].hex()
        return {"codec": f"{kind.decode()}.{profile}", "width": width, "height": height}
    if kind in (b"av01", b"hvc1", b"hev1"):
        width, height = struct.unpack_from(">HH", data, lo + 24)
        return {"codec": _config_codec(data, kind, lo + 78, hi), "width": width, "height": height}
    if kind == b"mp4a":
        channels, _bits, _pre, _res, rate = struct.unpack_from(">HHHHI", data, lo + 16)
        esds = find_box(data, [b"esds"], lo + 28, hi)
        codec, configured = _mp4a_codec(data, esds) if esds else ("mp4a.40.2", 0)
        # ffmpeg writes 2 in the sample entry of a CMAF 5.1 track; the AAC config has the real count
        return {"codec": codec, "channels": configured or channels, "sample_rate": rate >> 16}
    raise ValueError(f"unsupported sample entry {kind!r}")


def _config_codec(data: bytes, kind: bytes, lo: int, hi: int) -> str:
    """The RFC 6381 string of an AV1 or HEVC sample entry, from its configuration box."""
    box = b"av1C" if kind == b"av01" else b"hvcC"
    found = find_box(data, [box], lo, hi)
    if found is None:
        raise ValueError(f"{kind.decode()} sample entry without {box.decode()}")
    payload = data[found[0]:found[1]]
    return av1_codec_string(payload) if kind == b"av01" else hevc_codec_string(kind.decode(), payload)


def _mp4a_codec(data: bytes, esds: tuple[int, int]) -> tuple[str, int]:
    """'mp4a.OTI.AOT' from the ES descriptor (object type indication and audio object type), and
    the channels its AudioSpecificConfig states (0: not stated)."""
    body = data[esds[0] + 4: esds[1]]
    oti, aot, channels = 0x40, 2, 0
    i = 0
    while i < len(body):
        tag = body[i]
        length, i = _descriptor_length(body, i + 1)
        if tag == 0x03:      # ES_Descriptor: ES_ID(2) + flags(1), then children
            flags = body[i + 2]
            i += 3 + (2 if flags & 0x80 else 0) + (2 if flags & 0x20 else 0)
            if flags & 0x40:
                i += 1 + body[i]
            continue
        if tag == 0x04:      # DecoderConfigDescriptor: OTI first, children after 13 bytes
            oti = body[i]
            i += 13
            continue
        if tag == 0x05:      # DecoderSpecificInfo: AudioSpecificConfig, AOT in the top 5 bits
            aot, channels = body[i] >> 3, _asc_channels(body[i:i + length])
            break
        i += length
    return f"mp4a.{oti:02x}.{aot}", channels


def _asc_channels(config: bytes) -> int:
    """Channels of an AudioSpecificConfig (ISO 14496-3 1.6.2.1; configuration 7 is 7.1), 0 if unsaid."""
    head = config[:6]
    bits, left = int.from_bytes(head, "big"), len(head) * 8

    def take(n: int) -> int:
        nonlocal left
        left -= n
        return (bits >> left) & ((1 << n) - 1) if left >= 0 else 0
    if take(5) == 31:  # escaped object type
        take(6)
    if take(4) == 15:  # explicit sampling rate
        take(24)
    configuration = take(4)
    return 8 if configuration == 7 else configuration


def _descriptor_length(body: bytes, i: int) -> tuple[int, int]:
    length = 0
    for _ in range(4):
        byte = body[i]
        i += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return length, i


def _media_time(data: bytes, trak: tuple[int, int]) -> int:
    elst = find_box(data, [b"edts", b"elst"], *trak)
    if elst is None:
        return 0
    version, count = data[elst[0]], struct.unpack_from(">I", data, elst[0] + 4)[0]
    pos = elst[0] + 8
    for _ in range(count):
        if version == 1:
            _dur, media_time = struct.unpack_from(">Qq", data, pos)
            pos += 16
        else:
            _dur, media_time = struct.unpack_from(">Ii", data, pos)
            pos += 8
        if media_time != -1:  # -1 is an empty edit (a leading gap); the next entry holds the start
            return int(media_time)
    return 0


def _trex(data: bytes) -> _Defaults:
    trex = find_box(data, [b"moov", b"mvex", b"trex"])
    if trex is None:
        return _Defaults()
    _vf, _tid, _desc, duration, size, flags = struct.unpack_from(">IIIIII", data, trex[0])
    return _Defaults(duration, size, flags)


def _parse_fragment(data: bytes, init: TrackInit) -> Fragment:
    if b"mdat" not in [kind for kind, _lo, _hi in iter_boxes(data)]:  # walking all boxes finds a cut-off one
        raise ValueError("no mdat box")
    traf = find_box(data, [b"moof", b"traf"])
    if traf is None:
        raise ValueError("no moof/traf box")
    defaults = _tfhd(data, _need(data, [b"tfhd"], traf), init)
    tfdt = _need(data, [b"tfdt"], traf)
    version = data[tfdt[0]]
    decode_time = struct.unpack_from(">Q" if version == 1 else ">I", data, tfdt[0] + 4)[0]
    durations: list[int] = []
    sync: list[bool] = []
    ctos: list[int] = []
    for kind, lo, _hi in iter_boxes(data, *traf):
        if kind == b"trun":
            _trun(data, lo, defaults, durations, sync, ctos)
    return Fragment(decode_time, tuple(durations), tuple(sync), ctos[0] if ctos else 0, len(data))


def _tfhd(data: bytes, tfhd: tuple[int, int], init: TrackInit) -> _Defaults:
    flags = struct.unpack_from(">I", data, tfhd[0])[0] & 0xFFFFFF
    pos = tfhd[0] + 8
    pos += 8 if flags & 0x01 else 0   # base_data_offset
    pos += 4 if flags & 0x02 else 0   # sample_description_index
    out = _Defaults(init.default_duration, 0, init.default_flags)
    if flags & 0x08:
        out.duration = struct.unpack_from(">I", data, pos)[0]
        pos += 4
    if flags & 0x10:
        out.size = struct.unpack_from(">I", data, pos)[0]
        pos += 4
    if flags & 0x20:
        out.flags = struct.unpack_from(">I", data, pos)[0]
    return out


def _trun(data: bytes, pos: int, defaults: _Defaults, durations: list[int], sync: list[bool],
          ctos: list[int]) -> None:
    word, count = struct.unpack_from(">II", data, pos)
    version, flags = word >> 24, word & 0xFFFFFF
    pos += 8 + (4 if flags & 0x01 else 0)
    first_flags = None
    if flags & 0x04:
        first_flags = struct.unpack_from(">I", data, pos)[0]
        pos += 4
    for i in range(count):
        duration, sample_flags, cto = defaults.duration, defaults.flags, 0
        if flags & 0x100:
            duration = struct.unpack_from(">I", data, pos)[0]
            pos += 4
        pos += 4 if flags & 0x200 else 0  # sample size: not needed
        if flags & 0x400:
            sample_flags = struct.unpack_from(">I", data, pos)[0]
            pos += 4
        if flags & 0x800:
            cto = struct.unpack_from(">i" if version else ">I", data, pos)[0]
            pos += 4
        if i == 0 and first_flags is not None:
            sample_flags = first_flags
        durations.append(duration)
        sync.append(not sample_flags & NON_SYNC)
        ctos.append(cto)
