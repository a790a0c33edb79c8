"""A published title's real ladder for the ABR lab: per rung, every segment's byte size and duration,
read from its HLS media playlists in the origin (`videos/<id>/cmaf/<rung>/playlist.m3u8`); the bitrates
the master playlist declares for each rung (BANDWIDTH, the peak, and AVERAGE-BANDWIDTH: what hls.js
compares its estimate with) and the rung's measured VMAF from the title record, when it was measured.

A segment's size is its `#EXT-X-BYTERANGE` length or its file's size in the origin store. The audio
track's bytes are added to every rung's segments pro rata by time (a player fetches both; audio
segments need not line up with video ones, AAC frames do not fall on video segment boundaries).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace

from server.catalog import PUBLISHED, Catalog
from server.errors import InvalidRequest, NotFound
from server.storage.blobstore import BlobStore

PLAYLIST = "playlist.m3u8"
MASTER = "master.m3u8"
STREAM_INF_ATTR = re.compile(r"(?:^|,)([A-Z-]+)=(\"[^\"]*\"|[^,]*)")


@dataclass(frozen=True)
class Rung:
    """One rung as the lab sees it: name, segment sizes, the master playlist's declared peak and
    average bit/s (0 when not declared), and its measured VMAF mean and 5th percentile (None when not
    measured)."""

    name: str
    height: int
    sizes: tuple[int, ...]
    peak_bps: float = 0.0
    average_bps: float = 0.0
    vmaf: float | None = None
    vmaf_p5: float | None = None

    def bitrate(self, durations: tuple[float, ...]) -> float:
        """The rung's mean bit/s from its segment sizes."""
        return sum(self.sizes) * 8 / max(sum(durations), 1e-9)

    def peak(self, durations: tuple[float, ...]) -> float:
        """The declared peak (BANDWIDTH), or the largest segment's bit/s when none is declared."""
        if self.peak_bps:
            return self.peak_bps
        return max(n * 8 / max(d, 1e-9) for n, d in zip(self.sizes, durations, strict=True))


@dataclass(frozen=True)
class Ladder:
    """A title's rungs, lowest bitrate first, over one segment timeline."""

    video_id: str
    durations: tuple[float, ...]
    rungs: tuple[Rung, ...]

    @property
    def bitrates(self) -> tuple[float, ...]:
        return tuple(r.bitrate(self.durations) for r in self.rungs)

    @property
    def peaks(self) -> tuple[float, ...]:
        """Per rung, the bit/s a player reads as the level's BANDWIDTH."""
        return tuple(r.peak(self.durations) for r in self.rungs)

    @property
    def averages(self) -> tuple[float, ...]:
        """Per rung, the declared AVERAGE-BANDWIDTH, or the mean from the segment sizes."""
        return tuple(r.average_bps or r.bitrate(self.durations) for r in self.rungs)

    @property
    def has_vmaf(self) -> bool:
        return all(r.vmaf is not None for r in self.rungs)

    def describe(self) -> dict[str, object]:
        return {"video_id": self.video_id, "segments": len(self.durations),
                "duration_s": round(sum(self.durations), 3),
                "rungs": [{"name": r.name, "height": r.height, "kbps": round(b / 1000, 1),
                           "peak_kbps": round(r.peak(self.durations) / 1000, 1), "vmaf": r.vmaf,
                           "vmaf_p5": r.vmaf_p5}
                          for r, b in zip(self.rungs, self.bitrates, strict=True)]}


def parse_playlist(text: str) -> list[tuple[float, str, int | None]]:
    """(duration, URI, byte-range length or None) per segment of a media playlist."""
    segments: list[tuple[float, str, int | None]] = []
    duration, length = None, None
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line.startswith("#EXT-X-BYTERANGE:"):
            length = int(line[17:].split("@")[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, line, length))
            duration, length = None, None
    return segments


def load_ladder(catalog: Catalog, store: BlobStore, video_id: str) -> Ladder:
    """The title's rungs with real segment sizes; NotFound for an unknown or unpublished title."""
    title = catalog.get(video_id)
    if title.status != PUBLISHED or not title.renditions:
        raise NotFound(f"Title {video_id!r} is not a published video title.",
                       hint="`miniflix videos` lists the titles.")
    rungs, durations = [], None
    for rendition in title.renditions:
        segments = _segments(store, video_id, rendition["name"])
        durations = durations or tuple(d for d, _, _ in segments)
        sizes = [_size(store, video_id, rendition["name"], s) for s in segments[:len(durations)]]
        quality = rendition.get("quality") or {}
        rungs.append(Rung(rendition["name"], int(rendition.get("height", 0)), tuple(sizes),
                          vmaf=quality.get("vmaf_mean"), vmaf_p5=quality.get("vmaf_p5")))
    assert durations is not None
    audio = _audio_sizes(store, video_id, durations) if title.audio else None
    if audio:
        rungs = [replace(r, sizes=tuple(a + b for a, b in zip(r.sizes, audio, strict=True))) for r in rungs]
    declared = _declared_bitrates(store, video_id)
    rungs = [replace(r, peak_bps=declared.get(r.name, (0.0, 0.0))[0],
                     average_bps=declared.get(r.name, (0.0, 0.0))[1]) for r in rungs]
    if any(len(r.sizes) != len(durations) for r in rungs):
        raise InvalidRequest(f"Title {video_id!r}: its rungs have different numbers of segments.")
    ordered = sorted(rungs, key=lambda r: r.bitrate(durations))
    return Ladder(video_id, durations, tuple(ordered))


def parse_master(text: str) -> dict[str, tuple[float, float]]:
    """Rung name -> (BANDWIDTH, AVERAGE-BANDWIDTH or 0) of each `cmaf/<rung>/…` variant of a master."""
    found: dict[str, tuple[float, float]] = {}
    attrs: dict[str, str] | None = None
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = {k: v.strip('"') for k, v in STREAM_INF_ATTR.findall(line[18:])}
        elif line and not line.startswith("#") and attrs is not None:
            parts = line.split("?")[0].split("/")
            if len(parts) >= 3 and parts[-3] == "cmaf" and attrs.get("BANDWIDTH", "").isdigit():
                average = attrs.get("AVERAGE-BANDWIDTH", "0")
                found[parts[-2]] = (float(attrs["BANDWIDTH"]), float(average) if average.isdigit() else 0.0)
            attrs = None
    return found


def _declared_bitrates(store: BlobStore, video_id: str) -> dict[str, tuple[float, float]]:
    key = f"videos/{video_id}/{MASTER}"
    return parse_master(store.read(key).decode("utf-8", "replace")) if store.exists(key) else {}


def _key(video_id: str, rung: str, name: str = PLAYLIST) -> str:
    return f"videos/{video_id}/cmaf/{rung}/{name}"


def _segments(store: BlobStore, video_id: str, rung: str) -> list[tuple[float, str, int | None]]:
    key = _key(video_id, rung)
    if not store.exists(key):
        raise NotFound(f"Title {video_id!r} has no HLS playlist for rung {rung}.",
                       hint="re-publish the title")
    segments = parse_playlist(store.read(key).decode("utf-8", "replace"))
    if not segments:
        raise InvalidRequest(f"Title {video_id!r}: the {rung} playlist lists no segments.")
    return segments


def _size(store: BlobStore, video_id: str, rung: str, segment: tuple[float, str, int | None]) -> int:
    _, uri, length = segment
    if length is not None:
        return length
    return store.stat(posixpath.normpath(_key(video_id, rung, uri))).size


def _audio_sizes(store: BlobStore, video_id: str, durations: tuple[float, ...]) -> tuple[int, ...] | None:
    """The audio bytes falling in each video segment's time span (each audio segment's bytes spread
    evenly over its duration); None when the title has no audio playlist."""
    if not store.exists(_key(video_id, "audio")):
        return None
    audio = [(s[0], _size(store, video_id, "audio", s)) for s in _segments(store, video_id, "audio")]
    return spread(audio, durations)


def spread(parts: list[tuple[float, int]], durations: tuple[float, ...]) -> tuple[int, ...]:
    """(duration, bytes) pieces on one timeline, shared out over consecutive spans of `durations` by
    time overlap; bytes past the last span go to it, so the total is kept."""
    shares = [0.0] * len(durations)
    edges = [sum(durations[:i + 1]) for i in range(len(durations))]
    start = 0.0
    for seconds, nbytes in parts:
        end, at = start + seconds, start
        for i, edge in enumerate(edges):
            if at >= end or seconds <= 0:
                break
            if edge <= at and i < len(edges) - 1:
                continue
            upto = end if i == len(edges) - 1 else min(edge, end)
            shares[i] += nbytes * (upto - at) / seconds
            at = upto
        if seconds <= 0:
            shares[-1] += nbytes
        start = end
    return tuple(round(x) for x in shares)
