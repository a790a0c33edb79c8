"""A per-title ladder: encode short sample windows of the title at every candidate resolution x a few
CRFs, measure each encode's bitrate and VMAF, and take the rungs from the convex hull (convex_hull.py).

Steps, all real ffmpeg, run in parallel on the ingest's worker count:
1. cut `window_count` windows of `WINDOW_SECONDS` (2 under 30 s, else 4) spread over the title,
   normalised as the encoder sees the source (deinterlaced, constant rate, tone-mapped, upright,
   square pixels) and stored lossless, so every later step reads the same frames;
2. per window: one ffmpeg decodes it once, scales it to every resolution once and encodes each at
   every CRF in `CRFS`, then one measuring ffmpeg (quality.py) scores all those encodes against the
   window (upscaled bicubic to the display size, the standard way);
3. per resolution x CRF: bits over all windows → kbps, mean VMAF of the scored frames → one point.

Candidate resolutions are the fixed ladder's sizes that fit the source (never upscaled). The preset
is the encode's own (veryfast by default): ultrafast drops CABAC and B-frames and spends ~30-40%
more bits at the same CRF, so its bitrates would not predict the real encode's.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from server import config
from server.errors import Cancelled, MediaError, ToolMissing
from server.media import ffmpeg
from server.media.convex_hull import RatePoint, Rules, crossovers, pick_rungs, upper_hull
from server.media.filters import constant_rate, deinterlace, display_chain, tonemap
from server.media.ladder import plan_ladder
from server.media.model import MediaInfo, Rendition, VideoInfo
from server.media.probe import with_keyframes
from server.media.quality import (
    TRIPLES_FROM,
    FrameScore,
    build_measure_args,
    build_reference_args,
    parse_log,
)
from server.media.quality_run import run_piped
from server.media.source_cut import cut
from server.media.verify import REPORT_NAME
from server.portable import children_cpu_s

log = logging.getLogger(__name__)
T = TypeVar("T")
FEATURES = "feature=name=psnr|name=float_ssim"  # what quality.libvmaf_filter adds to VMAF

config.register("per_title_floor_kbps", 200, "Bitrate of a per-title ladder's bottom rung, for thin "
                "links (kbit/s; lower where per_title_floor_vmaf costs less, higher when the title's "
                "cheapest encode costs more).", int)
config.register("per_title_floor_vmaf", 60.0, "A per-title ladder's bottom rung costs no more than the "
                "title needs to look this good (VMAF; 0: per_title_floor_kbps alone).", float)

# The analysis is a fixed cost per title (it does not grow with the title's length): 4 windows of 1 s
# x 3 CRFs cost ~26 CPU-s on a 720p title against ~34 for 3 x 2 s x 4 CRFs, with one ffmpeg per window
# (bench/per_title.py); the windows' spread over the title matters more than their length.
# CRFs 6 apart, not 8 (20/28/36): each size's curve is read linearly between its points, and 8 apart
# missed where sizes cross and the film-grain title's 720p CRF 24-26 (VMAF 70 at 117-279 kbit/s, 85
# at CRF 20 and 20 Mbit/s). Rungs read off the titles' true sweeps (bench/per_title_rules.py
# --analysis): 8.9% -> 16.5% saved on average over 9 titles, worst -26.1 -> -1.8 (film grain -26.1
# -> 22.4, bbb 4.8 -> 8.5, sport 0.2 -> 3.9), for ~10-25% more analysis CPU.
WINDOWS = 4
WINDOW_SECONDS = 1.0
# A title under SHORT_TITLE_S gets SHORT_WINDOWS, each scored more densely (`analysis_every`): the
# analysis is a fixed cost, 1.7-11.4x one ffmpeg encoding the fixed ladder on the 5-20 s titles of
# bench/per_title.py (VMAF at display size, the same for every size, about half of it; the windows'
# cut and encodes the rest). On those 9 titles, rungs read off the true sweeps
# (bench/per_title_budget.py), two windows of 1 s scored one frame in 3 save 16.3% on average like
# four (worst title 1.9 against 0.8; talking head 30.4 -> 27.8, the largest move) for 0.59x the CPU
# (174.6 against 293.5 CPU-s); 4 x 0.5 s lost PAL (-80.9%) and HEVC 10-bit (-3.1%). A longer title
# keeps four: nothing measured says two windows catch its scenes.
SHORT_WINDOWS = 2
SHORT_TITLE_S = 30.0
CRFS = (18, 24, 30, 36)
# VMAF costs ~90 ms a frame at 720p and ~200 ms at 1080p (one core, this machine's libvmaf), whatever
# the rung's size, and there is one point per resolution x CRF. Frame-to-frame VMAF swings by several
# points inside one second (and the frame after the window's keyframe, which quality.py's sampling
# scores first, reads low at good quality), so a point needs many frames: against full-frame VMAF of
# the same encodes, one scored frame a window missed by up to 27 points a point (portrait clip), 5
# by 2.6, one in 4 (quality.py's triples, 6-7 a window at 24-31 fps) by at most 1.3 and 0.41 on
# average over a title's points, every frame by 0 at about twice the cost (bench/per_title_sampling.py,
# docs/BENCHMARKS.md). So one frame in 4 at 24-31 fps, about 8 a window at higher rates.
SCORED_PER_WINDOW = 8
PEAK_HEADROOM = 1.5       # a rung's -maxrate over its predicted average: CRF decides, peaks are capped
MIN_KBPS = 50


@dataclass
class Analysis:
    """What the analysis measured and chose, as the job report and the studio's chart show it."""

    windows: list[list[float]]                   # [start, seconds] of each sample window
    points: list[RatePoint]
    hull: list[RatePoint]
    chosen: list[RatePoint]
    seconds: float                               # wall time the analysis took
    preset: str
    notes: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0                     # CPU of its ffmpeg runs (0 where not counted)

    def to_dict(self) -> dict[str, Any]:
        return {"windows": self.windows, "crfs": list(CRFS), "preset": self.preset,
                "points": [p.to_dict() for p in self.points], "hull": [p.to_dict() for p in self.hull],
                "crossovers": crossovers(self.hull), "chosen": [p.to_dict() for p in self.chosen],
                "seconds": round(self.seconds, 2), "notes": list(self.notes),
                "cpu_seconds": round(self.cpu_seconds, 2)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        def points(key: str) -> list[RatePoint]:
            return [RatePoint(**p) for p in data[key]]
        return cls(data["windows"], points("points"), points("hull"), points("chosen"),
                   float(data["seconds"]), data["preset"], list(data.get("notes", [])),
                   float(data.get("cpu_seconds", 0.0)))


# ---- windows and argv (pure) -----------------------------------------------------------------

def window_count(duration: float) -> int:
    """How many sample windows a title of `duration` seconds gets (see SHORT_TITLE_S)."""
    return SHORT_WINDOWS if duration < SHORT_TITLE_S else WINDOWS


def sample_windows(duration: float, count: int | None = None,
                   seconds: float = WINDOW_SECONDS) -> list[tuple[float, float]]:
    """`count` windows (default: `window_count`) of `seconds`, centred in equal parts of the title;
    one window of the whole title when it is shorter than the windows together."""
    count = count or window_count(duration)
    if duration <= count * seconds:
        return [(0.0, duration)]
    part = duration / count
    return [(round(min(max(0.0, (i + 0.5) * part - seconds / 2), duration - seconds), 3), seconds)
            for i in range(count)]


def window_frames(seconds: float, fps: Fraction) -> int:
    return max(1, math.floor(seconds * fps))


def window_video(video: VideoInfo) -> VideoInfo:
    """A cut window as a source: already upright, square-pixel, 8-bit, limited range, progressive."""
    return replace(video, index=0, codec="h264", width=video.display_width, height=video.display_height,
                   sar=Fraction(1), rotation=0, vfr=False, interlaced=False, pix_fmt="yuv420p",
                   bit_depth=8, full_range=False, hdr=False, transfer="", tonemap=False)


def build_window_args(ffmpeg_bin: str, info: MediaInfo, start: float, seconds: float, out: Path) -> list[str]:
    """Cut one window, normalised as the encoder normalises the source, lossless (x264 -qp 0), from
    the source as a chunk encode cuts it (source_cut.py: seeking the PAL MXF clip straight to 3.475 s
    made the window 16 copies of one picture and 9 real frames, its bitrate read 2.3x low)."""
    video = _video(info)
    window = cut(info.keyframes, Fraction(start), Fraction(seconds) + Fraction(1, 2))
    chain = ",".join([*window.head_filters(), *deinterlace(video), *constant_rate(video.fps),
                      *tonemap(video), *display_chain(video)])
    return [ffmpeg_bin, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1",
            *window.input_args(), "-i", str(info.path),
            "-filter_complex", f"[0:{video.index}]{chain}[w]", "-map", "[w]",
            "-frames:v", str(window_frames(seconds, video.fps)), "-an", "-sn", "-dn",
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", str(out)]


def build_probe_encode_args(ffmpeg_bin: str, window: Path, sizes: Sequence[tuple[int, int]],
                            crfs: Sequence[int], preset: str, outs: Sequence[Path]) -> list[str]:
    """One window at every resolution x CRF in one ffmpeg: one decode, each size scaled once, raw
    H.264 outputs (their size is the bits), `outs` in size-major order."""
    splits = "".join(f"[s{j}]" for j in range(len(sizes)))
    graph = [f"[0:0]split={len(sizes)}{splits}"]
    for j, (width, height) in enumerate(sizes):
        labels = "".join(f"[c{j}_{i}]" for i in range(len(crfs)))
        graph.append(f"[s{j}]scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p,"
                     f"split={len(crfs)}{labels}")
    args = [ffmpeg_bin, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1",
            "-i", str(window), "-filter_complex", ";".join(graph)]
    pairs = [(j, i, crf) for j in range(len(sizes)) for i, crf in enumerate(crfs)]
    for (j, i, crf), out in zip(pairs, outs, strict=True):
        args += ["-map", f"[c{j}_{i}]", "-c:v", "libx264", "-preset", preset, "-profile:v", "high",
                 "-crf", str(crf), "-threads", "1", "-sc_threshold", "0", "-f", "h264", str(out)]
    return args


# ---- running ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Measured:
    """One window x resolution x CRF: its bits, seconds and scored frames."""

    rung: Rendition
    crf: int
    bits: int
    seconds: float
    scores: list[FrameScore]


def analyse(info: MediaInfo, *, workers: int = 1, preset: str = "veryfast", rules: Rules | None = None,
            stop: threading.Event | None = None) -> Analysis:
    """Measure the title's hull and pick its rungs; MediaError when nothing could be measured.
    The windows are cut from the scanned keyframes (source_cut.py); an `info` without the scan
    (a bench or a test that only probed) gets it here, so a TS or MXF window is not cut off-time."""
    began, cpu = time.monotonic(), children_cpu_s()
    info = info if info.keyframes is not None else with_keyframes(info)
    video = _video(info)
    candidates = plan_ladder(video)
    windows = sample_windows(info.duration)
    main, tool = ffmpeg.find_tools().ffmpeg, ffmpeg.find_measuring_tool()
    with tempfile.TemporaryDirectory(prefix="miniflix-per-title-") as scratch, \
            ThreadPoolExecutor(max(1, workers), thread_name_prefix="per-title") as pool:
        cuts = [Path(scratch) / f"window{i}.mkv" for i in range(len(windows))]
        waits = [pool.submit(ffmpeg.run, build_window_args(main, info, start, seconds, cut),
                             "cutting a sample window", stop=stop)
                 for (start, seconds), cut in zip(windows, cuts, strict=True)]
        _results(waits, stop)
        batches = _results([pool.submit(_measure_window, main, tool, video, preset, cut, seconds, candidates,
                                        stop, i, len(windows))
                            for i, (cut, (_, seconds)) in enumerate(zip(cuts, windows, strict=True))], stop)
    points = _points([m for batch in batches for m in batch])
    chosen = pick_rungs(points, rules or default_rules())
    return Analysis([list(w) for w in windows], points, upper_hull(points), chosen,
                    time.monotonic() - began, preset, cpu_seconds=children_cpu_s() - cpu)


def _results(futures: Sequence[Future[T]], stop: threading.Event | None) -> list[T]:
    """Every task's result; Cancelled when the ingest was stopped (its ffmpeg was killed)."""
    try:
        return [f.result() for f in futures]
    except ffmpeg.FFmpegFailed:
        if stop is not None and stop.is_set():
            raise Cancelled("The per-title analysis stopped; run the ingest again to resume.") from None
        raise


def _measure_window(main: str, tool: str, video: VideoInfo, preset: str, cut: Path, seconds: float,
                    rungs: Sequence[Rendition], stop: threading.Event | None, index: int,
                    windows: int) -> list[_Measured]:
    """Encode window `index` (of `windows`) at every resolution x CRF (one ffmpeg) and score every
    encode against the window (one measuring ffmpeg): per window two processes, whatever the candidates."""
    pairs = [(rung, crf) for rung in rungs for crf in CRFS]
    outs = [cut.with_name(f"{cut.stem}_{rung.name}_crf{crf}.h264") for rung, crf in pairs]
    ffmpeg.run(build_probe_encode_args(main, cut, [(r.width, r.height) for r in rungs], CRFS, preset, outs),
               "encoding a sample window", stop=stop)
    frames = window_frames(seconds, video.fps)
    scored = score_vmaf(main, tool, outs, cut, window_video(video), frames, stop, window_index=index,
                        windows=windows)
    keyframes = seconds / float(config.get("segment_seconds"))
    return [_Measured(rung, crf, title_bits(out.read_bytes(), frames, keyframes), frames / float(video.fps),
                      scores) for (rung, crf), out, scores in zip(pairs, outs, scored, strict=True)]


def keyframe_bytes(stream: bytes) -> int:
    """Bytes of a raw H.264 (Annex B) stream's IDR slices and parameter sets/SEI (NAL types 5-8)."""
    return sum(len(nal) for nal in stream.split(b"\x00\x00\x01")[1:] if nal and 5 <= nal[0] & 0x1F <= 8)


def title_bits(stream: bytes, frames: int, keyframes: float) -> int:
    """A window's bits as the title's encode would spend them: a window starts on a keyframe, the
    encode has one a segment (4 s), so a 1 s window counted as it is overstates a static title's
    bitrate by half (measured: 249 against 164 kbit/s at 720p CRF 28); the keyframe counts
    `keyframes` times (the window's share of a segment) and a predicted frame stands in for it."""
    key = keyframe_bytes(stream)
    rest = len(stream) - key
    if frames < 2 or key == 0 or rest <= 0:
        return len(stream) * 8
    return round(8 * (rest * frames / (frames - 1) + key * min(1.0, keyframes)))


def _points(measured: Sequence[_Measured]) -> list[RatePoint]:
    """One point per resolution x CRF over every window: total bits / total seconds, mean VMAF."""
    groups: dict[tuple[str, int], list[_Measured]] = {}
    for m in measured:
        groups.setdefault((m.rung.name, m.crf), []).append(m)
    points = []
    for (name, crf), group in groups.items():
        vmaf = [s.vmaf for m in group for s in m.scores]
        if not vmaf:
            continue
        kbps = sum(m.bits for m in group) / 1000 / sum(m.seconds for m in group)
        rung = group[0].rung
        points.append(RatePoint(name, rung.width, rung.height, crf, round(kbps, 1),
                                round(statistics.fmean(vmaf), 2)))
    if not points:
        raise MediaError("the per-title analysis scored no frame.", hint="ingest with --ladder fixed")
    return points


DENSE_EVERY = 3  # one frame in 3 where a title has fewer windows than WINDOWS


def analysis_every(frames: int, window: int = 0, windows: int = WINDOWS) -> int:
    """Score one frame in N of window `window` (of `windows`): about SCORED_PER_WINDOW a window, one
    in 4 at most (quality.py's triples) and 1.5 times sparser in every second window; with fewer
    windows (a short title) one in 3 at most (libvmaf's own subsampling, 8-10 a window at 24-30
    fps), so a point still gets ~17 scored frames; every frame of a window too short for two triples.

    Frame-to-frame VMAF swings, and x264's B-B-B-P pattern makes the phase matter: N = 4 everywhere
    misses a point by up to 1.54 on the portrait clip, 4 and 6 alternating by 0.65 (0.37 on a
    title's average; bench/per_title_sampling.py --rows on session 8's full-frame logs, with
    quality.py scoring every phase at N = 4; before that fix 1.55 / 0.61, sport reading low).
    Two windows at one in 3 (8-10 scored a window): within 1.24 of full-frame VMAF on a point
    (portrait clip; HEVC 10-bit 1.06), 0.58 on a title's average (bench/per_title_sampling.py).
    """
    if frames < 2 * TRIPLES_FROM:
        return 1
    if windows < WINDOWS:
        return max(DENSE_EVERY, frames // SCORED_PER_WINDOW)
    every = max(TRIPLES_FROM, frames // SCORED_PER_WINDOW)
    return every if window % 2 == 0 else every * 3 // 2


def build_vmaf_args(tool: str, encodes: Sequence[Path], video: VideoInfo, frames: int, logs: Sequence[Path],
                    every: int) -> list[str]:
    """quality.py's measuring argv with VMAF alone: PSNR and SSIM would add a third to the cost and
    the hull does not use them."""
    args = build_measure_args(tool, [str(e) for e in encodes], video, frames, logs, every)
    graph = args.index("-filter_complex") + 1
    args[graph] = args[graph].replace(f":{FEATURES}", "")
    return args


def score_vmaf(main: str, tool: str, encodes: Sequence[Path], window: Path, video: VideoInfo, frames: int,
               stop: threading.Event | None, every: int | None = None, *,
               window_index: int = 0, windows: int = WINDOWS) -> list[list[FrameScore]]:
    """Scored frames of each encode against the window (the window decoded once, piped), sampled
    as the analysis samples window `window_index` of `windows`; `every` overrides the analysis'
    sampling (1: every frame, bench/per_title_sampling.py's yardstick)."""
    every = every or analysis_every(frames, window_index, windows)
    logs = [e.with_suffix(".json") for e in encodes]
    run_piped(build_reference_args(main, str(window), video, frames, every),
              build_vmaf_args(tool, encodes, video, frames, logs, every),
              f"measuring {len(encodes)} sample encode(s)", stop)
    return [parse_log(json.loads(p.read_text(encoding="utf-8")), every) for p in logs]


def default_rules() -> Rules:
    return Rules(floor_kbps=float(config.get("per_title_floor_kbps")),
                 floor_vmaf=float(config.get("per_title_floor_vmaf")))


# ---- the ladder ------------------------------------------------------------------------------

def renditions_from(chosen: Sequence[RatePoint]) -> list[Rendition]:
    """The chosen points as rungs, top first: capped CRF with -maxrate PEAK_HEADROOM x the predicted
    average and -bufsize twice that (the fixed ladder's ratio); a second rung at one size gets a suffix."""
    rungs: list[Rendition] = []
    for point in sorted(chosen, key=lambda p: -p.kbps):
        taken = sum(1 for r in rungs if r.name.split("-")[0] == point.name)
        name = point.name if not taken else f"{point.name}-{taken + 1}"
        maxrate = max(MIN_KBPS, round(point.kbps * PEAK_HEADROOM / 10) * 10)
        rungs.append(Rendition(name, point.width, point.height, maxrate, 2 * maxrate, round(point.crf)))
    return rungs


def plan_per_title(info: MediaInfo, cache: Path, *, workers: int, preset: str,
                   stop: threading.Event | None = None) -> tuple[list[Rendition], Analysis]:
    """The title's per-title rungs and their analysis; a resumed job reads the analysis it made
    before from `cache` (the ladder, and so the encoded chunks, stay the same)."""
    if cache.is_file():
        analysis = Analysis.from_dict(json.loads(cache.read_text(encoding="utf-8")))
    else:
        analysis = analyse(info, workers=workers, preset=preset, stop=stop)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(analysis.to_dict()), encoding="utf-8")
    rungs = ", ".join(f"{p.name}@{p.kbps:.0f}k/VMAF {p.vmaf:.1f}" for p in analysis.chosen)
    log.info("%s: per-title ladder %s in %.1f s", info.path.name, rungs, analysis.seconds)
    return renditions_from(analysis.chosen), analysis


def _video(info: MediaInfo) -> VideoInfo:
    if info.video is None:
        raise MediaError(f"{info.path.name} has no video stream to analyse.",
                         hint="an audio-only title has no ladder")
    return info.video


def plan_rungs(info: MediaInfo, ladder: str, cache: Path, *, workers: int, preset: str,
               stop: threading.Event | None = None) -> tuple[list[Rendition], dict[str, Any] | None]:
    """The title's rungs under the `ladder` setting, with the per-title analysis (None when fixed)."""
    if info.video is None:
        return [], None
    if ladder != "per-title":
        return plan_ladder(info.video), None
    try:
        ffmpeg.find_measuring_tool()
    except ToolMissing as exc:  # no VMAF, no hull: the title still gets the fixed ladder
        log.warning("%s: per-title ladder not possible, the fixed ladder instead: %s", info.path.name, exc)
        return plan_ladder(info.video), None
    renditions, analysis = plan_per_title(info, cache, workers=workers, preset=preset, stop=stop)
    return renditions, analysis.to_dict()


def record_analysis(title_root: Path, analysis: dict[str, Any]) -> None:
    """Add the analysis to the packaged title's integrity report under `per_title`."""
    report = title_root / REPORT_NAME
    data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
    data["per_title"] = analysis
    report.write_text(json.dumps(data, indent=2), encoding="utf-8")
