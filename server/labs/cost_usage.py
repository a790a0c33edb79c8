"""What the library used, measured from the studio's own record: bytes stored per title, rung and codec
(the origin store), bytes served by the edges and pulled from the origin (the `cdn` events in
analytics), views and the window they were recorded over, and encode CPU time (the job records).

Edge egress is every byte an edge sent a viewer (`hit` and `miss` events); origin egress is every byte
the origin sent an edge (`fill` events: pulls on a miss, prefetches and proactive pushes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from server.catalog import PUBLISHED, Catalog, Title
from server.errors import NotFound
from server.jobs.store import PUBLISHED as JOB_PUBLISHED
from server.jobs.store import JobStore
from server.storage.blobstore import BlobStore, title_prefix

if TYPE_CHECKING:
    import duckdb

MASTER = "master.m3u8"
INTEGRITY = "integrity.json"
SOURCE, OTHER, AUDIO = "source", "other", "audio"
# HLS CODECS sample entries → the codec's common name.
CODEC_NAMES = {"avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc", "av01": "av1",
               "vp09": "vp9", "mp4a": "aac", "ec-3": "eac3", "ac-3": "ac3", "opus": "opus"}

TRAFFIC_SQL = """SELECT video_id,
    COALESCE(SUM(bytes) FILTER (WHERE type IN ('hit', 'miss')), 0) AS edge_bytes,
    COALESCE(SUM(bytes) FILTER (WHERE type = 'fill'), 0) AS origin_bytes
FROM cdn_events WHERE type IN ('hit', 'miss', 'fill') GROUP BY video_id"""
VIEWS_SQL = """SELECT video_id, CAST(SUM(started) AS BIGINT) FROM playback_by_title GROUP BY video_id"""
WINDOW_SQL = """SELECT MIN(t), MAX(t) FROM (
    SELECT happened_at AS t FROM cdn_events WHERE type IN ('hit', 'miss', 'fill')
    UNION ALL SELECT happened_at FROM playback_events WHERE type = 'started')"""


@dataclass(frozen=True)
class Stored:
    """Bytes of one part of a title in the origin: a rung (with its codec and height), the kept source,
    the audio track, or everything else (manifests, thumbnails, reports)."""

    part: str
    kind: str          # "rung", "audio", "source" or "other"
    codec: str
    height: int
    bytes: int
    vmaf: float | None = None   # the rung's mean VMAF as measured at ingest (integrity report), if it was


@dataclass
class TitleUsage:
    """One published title's measured use; `cpu_s` is None when no finished job recorded its encode."""

    video_id: str
    title: str
    duration_s: float
    stored: list[Stored] = field(default_factory=list)
    edge_bytes: int = 0
    origin_bytes: int = 0
    views: int = 0
    cpu_s: float | None = None
    report: dict[str, Any] = field(default_factory=dict)   # the integrity report (quality, per_title)

    @property
    def stored_bytes(self) -> int:
        return sum(s.bytes for s in self.stored)

    def rung_bytes(self, codec: str | None = None) -> dict[int, int]:
        """Bytes per rung height, of one codec (or all)."""
        out: dict[int, int] = {}
        for s in self.stored:
            if s.kind == "rung" and (codec is None or s.codec == codec):
                out[s.height] = out.get(s.height, 0) + s.bytes
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"video_id": self.video_id, "title": self.title, "duration_s": self.duration_s,
                "stored": [asdict(s) for s in self.stored], "stored_bytes": self.stored_bytes,
                "edge_bytes": self.edge_bytes, "origin_bytes": self.origin_bytes, "views": self.views,
                "cpu_s": self.cpu_s}


@dataclass(frozen=True)
class Window:
    """When traffic was recorded (epoch seconds; both None when nothing was)."""

    start: float | None = None
    end: float | None = None

    @property
    def seconds(self) -> float:
        return (self.end - self.start) if self.start is not None and self.end is not None else 0.0


def stored_parts(store: BlobStore, title: Title, report: dict[str, Any] | None = None) -> list[Stored]:
    """The title's bytes in the origin by part; a rung's codec from the master playlist's CODECS, its
    VMAF from the integrity report's measured quality."""
    prefix = title_prefix(title.video_id)
    sizes: dict[str, int] = {}
    for key in store.list(prefix):
        part = part_of(key[len(prefix) + 1:])
        sizes[part] = sizes.get(part, 0) + store.stat(key).size
    codecs = rung_codecs(_text(store, f"{prefix}/{MASTER}"))
    heights = {str(r.get("name")): int(r.get("height", 0)) for r in title.renditions}
    vmaf = rung_vmaf(report or {})
    parts = [_stored(part, nbytes, codecs, heights, title) for part, nbytes in sorted(sizes.items())]
    return [replace(s, vmaf=vmaf.get(s.part)) if s.kind == "rung" else s for s in parts]


def rung_vmaf(report: dict[str, Any]) -> dict[str, float]:
    """Rung name → mean VMAF from the report's `quality` (empty when quality was not measured)."""
    quality = report.get("quality")
    rungs = quality.get("rungs") if isinstance(quality, dict) else None
    return {str(r["name"]): float(r["vmaf_mean"]) for r in rungs or []
            if isinstance(r, dict) and "name" in r and isinstance(r.get("vmaf_mean"), int | float)}


def _stored(part: str, nbytes: int, codecs: dict[str, str], heights: dict[str, int], title: Title) -> Stored:
    if part in (SOURCE, OTHER):
        return Stored(part, part, "", 0, nbytes)
    if part == AUDIO or part.startswith(AUDIO + "-"):   # the main track, then alternates (audio-<stream>)
        return Stored(part, AUDIO, _codec_name(str((title.audio or {}).get("codec", ""))), 0, nbytes)
    rendition = next((r for r in title.renditions if r.get("name") == part), {})
    stated = str(rendition.get("codec") or "")     # e.g. "avc1.42c01e", the rung's CODECS string
    codec = _codec_name(stated) if stated else codecs.get(part, "")
    return Stored(part, "rung", codec, heights.get(part, 0), nbytes)


def part_of(relative: str) -> str:
    """`cmaf/720p/seg_001.m4s` → `720p`, `source/x.mp4` → `source`, anything else → `other`."""
    pieces = relative.split("/")
    if pieces[0] == "cmaf" and len(pieces) > 2:
        return pieces[1]
    return SOURCE if pieces[0] == SOURCE and len(pieces) > 1 else OTHER


def rung_codecs(master: str) -> dict[str, str]:
    """Rung name → video codec, from each `EXT-X-STREAM-INF`'s CODECS and the URI after it."""
    out: dict[str, str] = {}
    pending = ""
    for line in (raw.strip() for raw in master.splitlines()):
        if line.startswith("#EXT-X-STREAM-INF:") and 'CODECS="' in line:
            pending = line.split('CODECS="', 1)[1].split('"', 1)[0]
        elif line and not line.startswith("#") and pending:
            video = [_codec_name(c) for c in pending.split(",") if _codec_name(c) not in ("aac", "eac3",
                                                                                       "ac3", "opus")]
            pieces = line.split("/")
            if len(pieces) > 2 and pieces[0] == "cmaf" and video:
                out[pieces[1]] = video[0]
            pending = ""
    return out


def _codec_name(sample_entry: str) -> str:
    tag = sample_entry.strip().split(".")[0]
    return CODEC_NAMES.get(tag, tag)


def _text(store: BlobStore, key: str) -> str:
    return store.read(key).decode("utf-8", "replace") if store.exists(key) else ""


def integrity_report(store: BlobStore, video_id: str) -> dict[str, Any]:
    """The title's integrity report (quality, per-title analysis), or {} when it has none readable."""
    try:
        report = json.loads(_text(store, f"{title_prefix(video_id)}/{INTEGRITY}") or "{}")
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def encode_cpu(jobs: JobStore) -> dict[str, float]:
    """CPU seconds of the ffmpeg processes of each title's published jobs (a resumed job counts every run)."""
    out: dict[str, float] = {}
    for job in jobs.list((JOB_PUBLISHED,)):
        out[job.video_id] = out.get(job.video_id, 0.0) + job.cpu_s
    return out


def _published(catalog: Catalog, video_id: str) -> Title:
    title = catalog.get(video_id)
    if title.status != PUBLISHED:
        raise NotFound(f"Title {video_id!r} is {title.status}, not published: it stores and serves nothing.",
                       hint="`miniflix videos` lists the published titles")
    return title


@dataclass(frozen=True)
class Traffic:
    """Per title: edge bytes, origin bytes and views; and the window it was recorded over."""

    edge: dict[str, int]
    origin: dict[str, int]
    views: dict[str, int]
    window: Window


def traffic(conn: duckdb.DuckDBPyConnection) -> Traffic:
    """Edge and origin egress and views per title, and the recorded window, from analytics."""
    edge, origin = {}, {}
    for video_id, edge_bytes, origin_bytes in conn.execute(TRAFFIC_SQL).fetchall():
        edge[str(video_id or "")] = int(edge_bytes)
        origin[str(video_id or "")] = int(origin_bytes)
    views = {str(v or ""): int(n or 0) for v, n in conn.execute(VIEWS_SQL).fetchall()}
    start, end = conn.execute(WINDOW_SQL).fetchone() or (None, None)
    return Traffic(edge, origin, views, Window(start, end))


def measure(catalog: Catalog, store: BlobStore, jobs: JobStore, recorded: Traffic,
            video_ids: Iterable[str] | None = None) -> list[TitleUsage]:
    """Every published title's use (or only `video_ids`, each of which must exist: NotFound else)."""
    titles = [_published(catalog, v) for v in video_ids] if video_ids is not None else catalog.list(PUBLISHED)
    cpu = encode_cpu(jobs)
    usages = []
    for t in titles:
        report = integrity_report(store, t.video_id)
        usages.append(TitleUsage(t.video_id, t.title, t.duration, stored_parts(store, t, report),
                                 recorded.edge.get(t.video_id, 0), recorded.origin.get(t.video_id, 0),
                                 recorded.views.get(t.video_id, 0), cpu.get(t.video_id), report))
    return usages
