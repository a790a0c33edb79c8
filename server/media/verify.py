"""Check a packaged title before it is published, from the packaged files themselves.

Frame counts (no frame lost or doubled at a chunk seam), keyframe-aligned segments on the same grid
in every rung, bounded segment durations, audio as long as video, the MPD's times equal to where the
media presents, and every file the manifests name present. The report is written to `integrity.json`
beside the manifests; the quality measured alongside (quality.py) is added to it once it is known.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from server.errors import JobError
from server.media.chunks import boundary_frame
from server.media.cmaf import Track, scan_track
from server.media.ffmpeg import Tools, probe_json
from server.media.manifest_refs import missing_references
from server.media.model import PackagedTitle
from server.media.mpd_timing import timing_problems
from server.media.subtitles_verify import check_text_tracks

REPORT_NAME = "integrity.json"
AAC_FRAME = 1024  # samples per AAC-LC frame


@dataclass
class IntegrityReport:
    """Outcome of verify_title: ok when `problems` is empty; `checks` holds the measured facts."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    # VMAF/PSNR/SSIM per rung (quality.QualityReport.to_dict()); None until measured or when off
    quality: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": list(self.problems), "checks": self.checks,
                "quality": self.quality}

    def write(self, title_root: Path) -> None:
        """(Re)write `integrity.json` in the title's directory."""
        (title_root / REPORT_NAME).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")


@dataclass(frozen=True)
class Grid:
    """Where segments must start: the frame nearest to each k·S (as the encoder forced them)."""

    starts: tuple[int, ...]
    total: int
    fps: Fraction
    segment_seconds: float

    @classmethod
    def plan(cls, expected_frames: int, fps: Fraction, segment_seconds: float) -> Grid:
        """The chunk planner's own grid (boundary_frame), so encoder and check agree to the frame."""
        starts, k = [], 0
        while (start := boundary_frame(k, segment_seconds, fps)) < expected_frames or k == 0:
            starts.append(start)
            k += 1
        return cls(tuple(starts), expected_frames, fps, segment_seconds)

    def frames_in(self, k: int) -> int:
        end = self.starts[k + 1] if k + 1 < len(self.starts) else self.total
        return end - self.starts[k]


def verify_title(tools: Tools, packaged: PackagedTitle, expected_frames: int, fps: Fraction | None,
                 segment_seconds: float) -> IntegrityReport:
    """Check the packaged title and write packaged.root/integrity.json; never raises for a bad title."""
    problems: list[str] = []
    checks: dict[str, Any] = {"expected_frames": expected_frames, "fps": str(fps) if fps else None,
                              "segment_seconds": segment_seconds, "renditions": {}, "audio": None}
    videos = _scan_all(packaged, problems)
    if packaged.renditions and fps:
        grid = Grid.plan(expected_frames, fps, segment_seconds)
        # one ffprobe per rung, all at once: they are the slow part of the check and independent
        with ThreadPoolExecutor(max(1, len(videos)), thread_name_prefix="verify") as pool:
            packets = list(pool.map(lambda track: _demuxed_packets(tools, track), videos))
        for track, count in zip(videos, packets, strict=True):
            checks["renditions"][track.name] = _check_rung(track, count, grid, problems)
        _check_alignment(videos, fps, problems)
    elif packaged.renditions:
        problems.append("the title has video renditions but no frame rate to check them against.")
    audio = _scan_audio(packaged, problems) if packaged.audio is not None else None
    if audio is not None:
        checks["audio"] = _check_audio(audio, videos, expected_frames, fps, segment_seconds, problems)
    alternates = _scan_alternates(packaged, problems)
    checks["alternate_audio"] = {
        t.name: _check_audio(t, videos, expected_frames, fps, segment_seconds, problems) for t in alternates}
    tracks = [*videos, *([audio] if audio else []), *alternates]
    if packaged.text_tracks:
        checks["text_tracks"] = check_text_tracks(packaged.root, packaged.text_tracks,
                                                  tracks[0] if tracks else None, problems)
    checks["dash_timing"] = timing_problems(packaged.root / packaged.mpd, tracks)
    problems += checks["dash_timing"]
    checks["missing_files"] = missing_references(packaged.root, packaged.master, packaged.mpd)
    problems += [f"{name} is named by a manifest but does not exist." for name in checks["missing_files"]]
    report = IntegrityReport(ok=not problems, problems=problems, checks=checks)
    report.write(packaged.root)
    return report


def _scan_all(packaged: PackagedTitle, problems: list[str]) -> list[Track]:
    tracks = []
    for rendition in packaged.renditions:
        try:
            tracks.append(scan_track(packaged.root / "cmaf" / rendition["name"]))
        except (JobError, OSError) as exc:
            problems.append(f"rung {rendition['name']}: {exc}")
    return tracks


def _check_rung(track: Track, packets: int | None, grid: Grid, problems: list[str]) -> dict[str, Any]:
    """One rung against the grid; `packets` is ffprobe's own count of its frames (None if unreadable)."""
    starts = [round(t * grid.fps) for t in track.start_times()]
    if track.frames != grid.total or packets != grid.total:
        problems.append(f"rung {track.name}: {track.frames} frames in the segments "
                        f"({packets} read back by ffprobe), expected {grid.total}"
                        f"{_first_bad_segment(track, grid)}.")
    if len(track.fragments) != len(grid.starts):
        problems.append(f"rung {track.name}: {len(track.fragments)} segments, expected {len(grid.starts)}.")
    problems += _segment_problems(track, starts, grid)
    return {"frames": track.frames, "expected": grid.total, "demuxed_packets": packets,
            "segments": len(track.fragments), "expected_segments": len(grid.starts),
            "keyframe_times": [round(float(s / grid.fps), 6) for s in starts],
            "segment_durations": [round(d, 6) for d in track.durations()],
            "segment_frames": [f.samples for f in track.fragments]}


def _segment_problems(track: Track, starts: list[int], grid: Grid) -> list[str]:
    """Each segment: opens with a keyframe, exactly on the planner's grid, at most S + 1 frame long."""
    problems = []
    limit = grid.segment_seconds + 1 / grid.fps + 1e-6
    for k, (frag, start, duration) in enumerate(zip(track.fragments, starts, track.durations(), strict=True)):
        where = f"rung {track.name} segment {k + 1} ({track.segment_files[k]})"
        if not frag.sync or not frag.sync[0]:
            problems.append(f"{where} does not start on a keyframe.")
        if k < len(grid.starts) and start != grid.starts[k]:
            problems.append(f"{where} starts at {float(start / grid.fps):.3f} s, off the segment grid "
                            f"({float(grid.starts[k] / grid.fps):.3f} s): a keyframe is misplaced.")
        if duration > limit:
            problems.append(f"{where} lasts {duration:.3f} s, "
                            f"more than {grid.segment_seconds:g} s + 1 frame.")
    return problems


def _first_bad_segment(track: Track, grid: Grid) -> str:
    """Name the first segment whose frame count differs from the grid: where a seam lost or doubled."""
    for k, frag in enumerate(track.fragments):
        expected = grid.frames_in(k) if k < len(grid.starts) else 0
        if frag.samples != expected:
            return (f"; first difference in segment {k + 1} ({track.segment_files[k]}): "
                    f"{frag.samples} frames, expected {expected}")
    return ""


def _demuxed_packets(tools: Tools, track: Track) -> int | None:
    """Packets ffprobe reads through the media playlist: an independent count of the frames."""
    try:
        info = probe_json(str(track.directory / "playlist.m3u8"), tools.ffprobe,
                          select_streams="v:0", count_packets=None)
        return int(info["streams"][0]["nb_read_packets"])
    except (ffmpeg_python.Error, LookupError, ValueError):
        return None


def _check_alignment(videos: list[Track], fps: Fraction, problems: list[str]) -> None:
    """Every rung must switch at the same instants: same segment start frames in every rung."""
    if len(videos) < 2:
        return
    reference = videos[0]
    ref_starts = [round(t * fps) for t in reference.start_times()]
    for track in videos[1:]:
        starts = [round(t * fps) for t in track.start_times()]
        for k, (a, b) in enumerate(zip(ref_starts, starts, strict=False)):
            if a != b:
                where = f"rung {track.name} segment {k + 1} ({track.segment_files[k]})"
                problems.append(f"{where} starts at {float(b / fps):.3f} s "
                                f"but at {float(a / fps):.3f} s in rung {reference.name}.")
                break


def _scan_audio(packaged: PackagedTitle, problems: list[str]) -> Track | None:
    try:
        return scan_track(packaged.root / "cmaf" / "audio")
    except (JobError, OSError) as exc:
        problems.append(f"audio: {exc}")
        return None


def _scan_alternates(packaged: PackagedTitle, problems: list[str]) -> list[Track]:
    """The alternate audio renditions (every audio track but the main one), scanned."""
    tracks = []
    for rendition in packaged.audio_tracks[1:]:
        try:
            tracks.append(scan_track(packaged.root / "cmaf" / rendition["name"]))
        except (JobError, OSError) as exc:
            problems.append(f"audio {rendition['name']}: {exc}")
    return tracks


def _check_audio(audio: Track, videos: list[Track], expected_frames: int, fps: Fraction | None,
                 segment_seconds: float, problems: list[str]) -> dict[str, Any]:
    frame_s = AAC_FRAME / audio.timescale
    facts: dict[str, Any] = {"duration": round(audio.duration, 6), "segments": len(audio.fragments),
                             "segment_durations": [round(d, 6) for d in audio.durations()]}
    for k, start in enumerate(audio.start_times()):
        if abs(float(start) - k * segment_seconds) > frame_s + 1e-6:
            problems.append(f"{audio.name} segment {k + 1} ({audio.segment_files[k]}) starts at "
                            f"{float(start):.3f} s, more than one audio frame from the grid "
                            f"({k * segment_seconds:.3f} s).")
    if videos and fps:
        facts.update(_audio_vs_video(audio, expected_frames, fps, problems))
    return facts


def _audio_vs_video(audio: Track, expected_frames: int, fps: Fraction, problems: list[str]) -> dict[str, Any]:
    video_s = float(expected_frames / fps)
    tolerance = float(1 / fps) + AAC_FRAME / audio.timescale
    difference = audio.duration - video_s
    if abs(difference) > tolerance + 1e-6:
        problems.append(f"{audio.name} lasts {audio.duration:.3f} s but video {video_s:.3f} s: "
                        f"{abs(difference) * 1000:.0f} ms apart, "
                        f"more than {tolerance * 1000:.0f} ms allowed.")
    return {"video_duration": round(video_s, 6), "difference": round(difference, 6),
            "tolerance": round(tolerance, 6)}
