"""Ingest one source: probe → plan → encode chunks in parallel → package once → verify → publish.

Task state persists in the job store, so a killed process resumes without re-encoding finished
chunks; a title reaches the origin and the catalog whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server import config
from server.backends import ExecutorFactory
from server.catalog import Catalog, Title
from server.diskspace import require_free
from server.errors import Cancelled, DiskFull, JobError, MediaError, MiniflixError
from server.events.api import ENCODE, VIDEOS, Publisher
from server.jobs.chunk_work import ChunkWork, chunk_spec, chunk_task_name
from server.jobs.executor import TaskSpec
from server.jobs.failures import crash_loop_error, failure_reason, in_users_words, space_needed_mb
from server.jobs.locks import is_locked, job_lock
from server.jobs.names import kept_source_name, title_from
from server.jobs.progress import JobProgress, ProgressTracker, stage_progress
from server.jobs.store import (
    DONE,
    FAILED,
    INTERRUPTED,
    PUBLISHED,
    PUBLISHING,
    QUEUED,
    RUNNING,
    JobRecord,
    JobStore,
)
from server.media import audio as audio_step
from server.media.chunks import plan_chunks
from server.media.codecs import codec_ladder, grid_segment
from server.media.ffmpeg import Tools, find_tools
from server.media.hw_encoders import chosen_encoder, require_encoders, with_encoders
from server.media.ladder import choose_ladder
from server.media.model import Chunk, MediaInfo, PackagedTitle, Rendition, WorkLayout
from server.media.package import package_title
from server.media.per_title import plan_rungs, record_analysis
from server.media.probe import probe, with_keyframes
from server.media.quality import QualityReport, measure_title
from server.media.reference_pieces import piece_every, written_reference
from server.media.subtitles_embedded import collect_text_tracks
from server.media.verify import IntegrityReport, verify_title
from server.paths import DataDir
from server.portable import children_cpu_s
from server.storage.blobstore import BlobStore, files_under, title_prefix

log = logging.getLogger(__name__)
Report = Callable[[JobProgress], None]


@dataclass(frozen=True)
class IngestOptions:
    """Per-run knobs; each defaults to its setting (server/config.py)."""

    workers: int
    segment_seconds: float
    retries: int
    preset: str
    min_chunk_seconds: float
    ladder: str = "fixed"
    codecs: tuple[str, ...] = ("h264",)
    segment_chosen: bool = True  # False: the default length, which AV1 may round (codecs.grid_segment)

    @classmethod
    def from_settings(cls, **overrides: Any) -> IngestOptions:
        values = {"workers": config.get("workers"), "segment_seconds": config.get("segment_seconds"),
                  "retries": config.get("chunk_retries"), "preset": config.get("x264_preset"),
                  "min_chunk_seconds": config.get("min_chunk_seconds"), "ladder": config.get("ladder"),
                  "codecs": config.get("codecs"), "segment_chosen": _segment_chosen(overrides)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class Plan:
    info: MediaInfo
    renditions: list[Rendition]
    chunks: list[Chunk]
    per_title: dict[str, Any] | None = None  # the per-title analysis (per_title.py), None when fixed
    segment_seconds: float = 4.0               # the title's grid: the option's, or grid_segment's

    def key(self, options: IngestOptions, tools: Tools) -> str:
        """Changes when anything that shapes the output changes; then old chunks are not reused."""
        blob = json.dumps([[r.to_dict() for r in self.renditions],
                           [(c.start, c.duration, c.frames) for c in self.chunks],
                           self.segment_seconds, options.preset, tools.version], sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()


def fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def new_video_id() -> str:
    return "v" + secrets.token_hex(6)


class Ingest:
    """Creates and runs ingest jobs against one data dir."""

    def __init__(self, data: DataDir, *, catalog: Catalog, blobs: BlobStore, jobs: JobStore,
                 executor: ExecutorFactory, publisher: Publisher,
                 options: IngestOptions | None = None) -> None:
        """Takes its parts from the engine (`server/engine.py`), which builds them once."""
        self.data, self.publisher = data, publisher
        self.options = options or IngestOptions.from_settings()
        self.store, self.catalog, self.blobs, self.executor = jobs, catalog, blobs, executor

    # ---- jobs -------------------------------------------------------------------------------
    def create_job(self, source: Path, original_name: str | None = None, *,
                   resume: bool = True) -> JobRecord:
        """A job for `source`; an unfinished job for the same file is resumed instead of duplicated."""
        source = Path(source)
        _check_readable(source)
        print_name = original_name or source.name
        if resume and (job := self.store.find_unfinished(fingerprint(source))):
            return job
        job = JobRecord(job_id="j" + secrets.token_hex(6), video_id=new_video_id(),
                        source=str(source.resolve()), fingerprint=fingerprint(source),
                        original_name=print_name, state=QUEUED, options=self.options.__dict__)
        self.store.save(job)
        self._video_event("uploaded", job, original_name=print_name, size=source.stat().st_size)
        return job

    def run(self, job: JobRecord, report: Report | None = None,
            stop: threading.Event | None = None) -> JobRecord:
        """Run (or resume) `job` to the end; returns it published or failed. Raises Cancelled on stop."""
        report, stop = report or (lambda p: None), stop or threading.Event()
        with job_lock(self._lock_path(job.video_id), f"Ingest of {job.original_name}"):
            self.discard_leftovers(mine=job.video_id)
            if self._crashed_too_often(job):
                return self._fail(job, crash_loop_error(job.original_name, job.crashes))
            meter = _Meter()
            try:
                return self._run_locked(job, report, stop, meter)
            except Cancelled:
                job.state = INTERRUPTED
                raise
            except Exception as exc:  # every failure ends the job, recorded once, bugs included
                reason = failure_reason(exc, job.original_name, self.data.root, self.data.work / job.video_id)
                return self._fail(job, in_users_words(reason, Path(job.source), job.original_name))
            finally:
                meter.charge(job)
                self._save_quietly(job)

    def discard_leftovers(self, mine: str = "") -> None:
        """Delete the staging dirs of packaging runs that were killed: no process holds their job's
        lock, or it is the job `mine` whose lock we hold and which has not begun packaging yet."""
        gone = self.blobs.discard_stale_staging(
            lambda video_id: video_id != mine and is_locked(self._lock_path(video_id)))
        if gone:
            log.info("removed the staging dirs a killed packaging run left: %s", ", ".join(gone))

    def _lock_path(self, video_id: str) -> Path:
        return self.data.work / f"{video_id}.lock"

    def _crashed_too_often(self, job: JobRecord) -> bool:
        """Count a run that ended without recording its outcome; True once `job_crash_limit` did.

        Called under the job's lock, so a job still stored as running is no longer running anywhere:
        its process died (a crash, a kill, a power cut). Counting makes a crash loop impossible.
        """
        stored = self.store.get(job.job_id)
        if stored.state not in (RUNNING, PUBLISHING):
            return False
        job.crashes = stored.crashes + 1
        log.warning("ingest of %s (%s) ended unexpectedly before (%d time(s))", job.original_name,
                    job.job_id, job.crashes)
        return job.crashes >= config.get("job_crash_limit")

    # ---- steps ------------------------------------------------------------------------------
    def _run_locked(self, job: JobRecord, report: Report, stop: threading.Event, meter: _Meter) -> JobRecord:
        tools = find_tools()
        require_encoders(tools, self.options.codecs)
        require_free(self.data.root, space_needed_mb(Path(job.source), self.data.origin))
        job.state, job.error = RUNNING, ""
        self.store.save(job)
        report(stage_progress(job.job_id, job.video_id, "probing"))
        stages: dict[str, float] = {}
        plan = self._plan(job, tools, stop, stages)
        layout = WorkLayout(self.data.work / job.video_id)
        encode_began = time.time()
        with _timed(stages, "encode"):
            self._encode(job, plan, layout, tools, report, stop, stages)
        timing = {"encode_started_at": encode_began, "encode_ended_at": time.time()}
        report(stage_progress(job.job_id, job.video_id, "packaging"))
        shutil.rmtree(layout.package_dir, ignore_errors=True)   # what a killed run half wrote
        layout.package_dir.mkdir(parents=True)
        packaged, quality = self._package(job, plan, layout, tools, layout.package_dir, stop, report, stages)
        if plan.per_title:
            record_analysis(packaged.root, plan.per_title)
        self._keep_source(job, layout.package_dir)
        job.state = PUBLISHING
        self.store.save(job)
        report(stage_progress(job.job_id, job.video_id, "publishing"))
        with _timed(stages, "publish"):  # the upload; the catalog entry adds milliseconds after it
            self._upload(job, layout.package_dir, stop)
        job.result = {"timing": timing, "stages": stages,
                      **({"quality": quality.to_dict()} if quality else {}),
                      **({"per_title": plan.per_title} if plan.per_title else {})}
        meter.charge(job)  # before job_done reports the title's cost
        self._publish(job, plan, packaged, layout)
        if quality is not None:
            self._video_event("quality_measured", job, sample_every=quality.sample_every,
                              renditions=[r.to_dict() for r in quality.rungs], notes=quality.notes)
        return job

    def _upload(self, job: JobRecord, folder: Path, stop: threading.Event) -> None:
        """Stage every packaged file in the origin, then make the title visible in one step; a
        failure or a stop leaves nothing visible (an older copy stays as it was)."""
        staging = self.blobs.stage(title_prefix(job.video_id))
        try:
            for rel, path in files_under(folder):
                if stop.is_set():
                    raise Cancelled(f"Ingest of {job.original_name} stopped; run it again to resume.")
                staging.add_file(rel, path)
            staging.commit()
        except BaseException:
            staging.abort()
            raise

    def _plan(self, job: JobRecord, tools: Tools, stop: threading.Event, stages: dict[str, float]) -> Plan:
        with _timed(stages, "probe"):
            info = with_keyframes(probe(Path(job.source), tools), tools)
        job.notes = list(info.notes)
        self._video_event("probed", job, duration=info.duration, notes=list(info.notes),
                          width=info.video.display_width if info.video else 0,
                          height=info.video.display_height if info.video else 0,
                          codec=info.video.codec if info.video else (info.audio.codec if info.audio else ""))
        opts, cache = self.options, self.data.work / job.video_id / "per_title.json"
        ladder, why = choose_ladder(opts.ladder, info)
        job.notes += [why] if why else []
        with _timed(stages, "analysis"):
            renditions, per_title = plan_rungs(info, ladder, cache, workers=opts.workers,
                                               preset=opts.preset, stop=stop)
        renditions = self._codec_rungs(job, tools, renditions)
        fps = info.video.fps if info.video else None
        segment, note = grid_segment(opts.codecs, opts.segment_seconds, fps,
                                     chosen=opts.segment_chosen) if fps else (opts.segment_seconds, "")
        job.notes += [note] if note else []
        chunks = plan_chunks(info.duration, fps, segment, self.options.workers,
                             min_chunk_seconds=self.options.min_chunk_seconds,
                             keyframes=info.keyframes or ()) if fps else []
        plan = Plan(info, renditions, chunks, per_title, segment)
        self._video_event("ladder_planned", job, renditions=[
            {k: r.to_dict()[k] for k in ("name", "width", "height", "bitrate_kbps")} for r in renditions],
            ladder=ladder, **({"per_title": per_title} if per_title else {}))
        key = plan.key(self.options, tools)
        if key != job.plan_key:
            names = [chunk_task_name(c) for c in chunks] + (["audio"] if info.audio else [])
            self.store.reset_tasks(job.job_id, names)
            # pieces of another chunk plan would pair the wrong frames (an executor that writes none
            # would leave them to be read)
            shutil.rmtree(WorkLayout(self.data.work / job.video_id).reference_dir, ignore_errors=True)
            job.plan_key = key
        self.store.save(job)
        return plan

    def _codec_rungs(self, job: JobRecord, tools: Tools, renditions: list[Rendition]) -> list[Rendition]:
        """The ladder in every codec of the `codecs` setting, each with its encoder (hardware when
        one works here); the choice and its reason go to the job's notes when there is a choice to tell:
        a hardware encoder, or a ladder in more than one codec."""
        if not renditions:
            return renditions
        choices = [chosen_encoder(tools, codec) for codec in self.options.codecs]
        # an H.264-only job on software (the default, on most machines) stays as quiet as before
        told = [c.reason for c in choices if c.hardware or len(choices) > 1]
        job.notes += [reason for reason in told if reason not in job.notes]
        return with_encoders(codec_ladder(renditions, self.options.codecs), choices)

    def _encode(self, job: JobRecord, plan: Plan, layout: WorkLayout, tools: Tools, report: Report,
                stop: threading.Event, stages: dict[str, float]) -> None:
        specs = self._task_specs(job, plan, layout, tools, stages)
        stored = self.store.tasks(job.job_id)
        done = {n for n, t in stored.items() if t.state == DONE and self._outputs_exist(n, plan, layout)}
        tracker = ProgressTracker(job.job_id, job.video_id, self.store, self.publisher,
                                  {s.name: s.seconds for s in specs}, done, report)
        # Longest first (LPT): the short tasks, audio among them, fill the gaps at the end, so the
        # last round does not leave a core idle while one long chunk finishes.
        pending = sorted((s for s in specs if s.name not in done), key=lambda s: -s.seconds)
        log.info("%s: %d tasks, %d already done", job.video_id, len(specs), len(done))
        executor = self.executor(self.options.workers, self.options.retries, origin=self.blobs)
        outcome = executor.run_all(pending, tracker, stop)
        job.retries += outcome.retries
        job.notes += [note for note in outcome.notes if note not in job.notes]
        if outcome.failed:
            name, error = next(iter(outcome.failed.items()))
            raise JobError(f"{job.original_name}: {name} failed after {self.options.retries + 1} "
                           f"attempts. {error}")
        if stop.is_set() or outcome.stopped:
            raise Cancelled(f"Ingest of {job.original_name} stopped; run it again to resume.")

    def _task_specs(self, job: JobRecord, plan: Plan, layout: WorkLayout, tools: Tools,
                    stages: dict[str, float]) -> list[TaskSpec]:
        opts, info = self.options, plan.info
        every = piece_every(info, self.data.work)  # the chunks write the quality measure's reference
        specs = [chunk_spec(ChunkWork(job.video_id, info, c, tuple(plan.renditions), plan.segment_seconds,
                                      opts.preset, str(info.path), str(layout.root), every))
                 for c in plan.chunks]
        if info.audio is not None:
            # One short single-threaded encode of the whole file; weighs ~5% of the encode stage.
            def run_audio(on_progress: Any, stop: threading.Event, threads: int) -> None:
                with _timed(stages, "audio"):  # beside the chunks, inside the encode stage
                    audio_step.encode_audio(tools, info, layout, on_progress=on_progress, stop=stop)
            specs.append(TaskSpec("audio", info.duration * 0.05, run_audio, light=True))
        return specs

    def _outputs_exist(self, name: str, plan: Plan, layout: WorkLayout) -> bool:
        if name == "audio":
            return layout.audio_file.is_file()
        index = int(name.split("-")[1])
        return all(layout.chunk_file(r.name, index).is_file() for r in plan.renditions)

    def _package(self, job: JobRecord, plan: Plan, layout: WorkLayout, tools: Tools, out_dir: Path,
                 stop: threading.Event, report: Report,
                 stages: dict[str, float]) -> tuple[PackagedTitle, QualityReport | None]:
        """Package, then verify and measure quality side by side while the thumbnails are made.
        Stages: `package` (text tracks, cut, manifests), `verify` (with the quality measure beside
        it), `thumbnails` (what the poster and sprite still took after both: they run alongside)."""
        began = time.monotonic()
        self._task_event("task_started", job, "package", attempt=1)
        video = plan.info.video
        fps = video.fps if video else None
        reports: list[IntegrityReport] = []
        measured: list[QualityReport | None] = []
        verified: list[float] = []

        def verify(title: PackagedTitle) -> None:  # while the thumbnails are still being made
            stages["package"] = round(time.monotonic() - began, 3)
            report(stage_progress(job.job_id, job.video_id, "verifying"))
            with _timed(stages, "verify"), ThreadPoolExecutor(1, thread_name_prefix="quality") as pool:
                quality = pool.submit(self._measure, job, plan, layout, title, stop)
                reports.append(verify_title(tools, title, plan.info.expected_frames, fps,
                                            plan.segment_seconds))
                measured.append(quality.result())
            verified.append(time.monotonic())

        text = collect_text_tracks(tools, plan.info, layout.root, stop=stop)  # warnings never stop a title
        job.notes = [*job.notes, *(note for note in text.notes if note not in job.notes)]
        packaged = package_title(tools, layout, plan.renditions, plan.chunks, fps,
                                 plan.segment_seconds, plan.info.audio, out_dir, stop=stop,
                                 alongside=verify, text_tracks=text.tracks,
                                 alternate_audio=audio_step.alternate_tracks(plan.info))
        stages["thumbnails"] = round(time.monotonic() - verified[-1], 3) if verified else 0.0
        [integrity], [quality] = reports, measured
        self._task_event("task_done", job, "package", wall_s=round(time.monotonic() - began, 3),
                         out_seconds=plan.info.duration)
        if not integrity.ok:
            raise JobError(f"{job.original_name}: the packaged title failed verification: "
                           + "; ".join(integrity.problems[:5]))
        if quality is not None:
            _attach_quality(packaged, integrity, quality)
            job.notes = [*job.notes, *quality.notes]
        return packaged, quality

    def _measure(self, job: JobRecord, plan: Plan, layout: WorkLayout, title: PackagedTitle,
                 stop: threading.Event) -> QualityReport | None:
        """VMAF/PSNR/SSIM of every rung (None when `quality_measure` is off); never fails the ingest.
        The sampled source frames come from the chunk encodes when they wrote them all."""
        if not config.get("quality_measure") or not title.renditions:
            return None
        began = time.monotonic()
        self._task_event("task_started", job, "quality", attempt=1)
        try:
            reference = written_reference(layout, plan.chunks, plan.segment_seconds, plan.info)
            quality = measure_title(plan.info, title, plan.segment_seconds, workers=self.options.workers,
                                    stop=stop, reference=reference)
        except Exception:  # a bug in measuring must cost the figures, never the title
            log.exception("measuring the quality of %s failed", job.original_name)
            quality = QualityReport(0, notes=["quality not measured: internal error (see the server log)"])
        self._task_event("task_done", job, "quality", wall_s=round(time.monotonic() - began, 3),
                         out_seconds=plan.info.duration)
        return quality

    def _keep_source(self, job: JobRecord, out_dir: Path) -> None:
        """Keep the original beside the title (a hard link when it sits on the same disk)."""
        target = out_dir / "source" / kept_source_name(job.original_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(job.source, target)
        except OSError:
            shutil.copy2(job.source, target)

    def _publish(self, job: JobRecord, plan: Plan, packaged: PackagedTitle, layout: WorkLayout) -> JobRecord:
        info = plan.info
        prefix = title_prefix(job.video_id)
        top = packaged.renditions[0] if packaged.renditions else {}
        title = self.catalog.add_published(Title(
            video_id=job.video_id, status=PUBLISHED, title=title_from(job.original_name),
            original_name=job.original_name, duration=info.duration,
            width=int(top.get("width", 0)), height=int(top.get("height", 0)),
            source_codec=info.video.codec if info.video else (info.audio.codec if info.audio else ""),
            audio_language=info.audio.language if info.audio else "",
            renditions=packaged.renditions, audio=packaged.audio, size_bytes=self.blobs.size(prefix)))
        job.state = PUBLISHED
        # Origin keys, not paths: the title may live in a bucket (`/origin/<key>` serves each).
        job.result = {**job.result, "master": f"{prefix}/{packaged.master}",
                      "mpd": f"{prefix}/{packaged.mpd}", "integrity": f"{prefix}/integrity.json",
                      "renditions": packaged.renditions, "audio": packaged.audio,
                      "duration": info.duration, "notes": list(job.notes)}
        self.store.save(job)
        self._task_event("job_done", job, "job", wall_s=round(job.wall_s, 3), cpu_s=round(job.cpu_s, 3),
                         chunks=len(plan.chunks), retries=job.retries, duration=info.duration)
        self._video_event("published", job, title=title.to_dict())
        shutil.rmtree(layout.root, ignore_errors=True)
        return job

    def _fail(self, job: JobRecord, exc: MiniflixError) -> JobRecord:
        job.state, job.error = FAILED, str(exc)
        log.warning("ingest of %s failed: %s", job.original_name, job.error)
        try:
            self.store.save(job)
        except DiskFull:
            # Unrecorded, the job would look "running" for ever: give back its scratch space (the
            # encoded chunks; a retry encodes again) and record it then.
            shutil.rmtree(self.data.work / job.video_id, ignore_errors=True)
            self.store.save(job)
        self._tell(lambda: self.catalog.record_failure(job.video_id, job.original_name, job.error))
        self._tell(lambda: self._video_event("failed", job, error=job.error,
                                             original_name=job.original_name))
        return job

    def _tell(self, notify: Callable[[], Any]) -> None:
        """Pass an outcome on (catalog, event log); the job record holds it already, so a failure
        here (a full disk, say) is logged instead of hiding the outcome from the caller."""
        try:
            notify()
        except Exception:
            log.exception("could not pass on a job's outcome")

    def _save_quietly(self, job: JobRecord) -> None:
        """The last save of a run: on a full disk the outcome stays as `_fail` could record it; a job
        the user removed since its outcome was saved is not brought back."""
        try:
            self.store.save_if_present(job)
        except DiskFull as exc:
            log.warning("could not save job %s: %s", job.job_id, exc)

    # ---- events -----------------------------------------------------------------------------
    def _video_event(self, kind: str, job: JobRecord, **extra: Any) -> None:
        self.publisher.publish(VIDEOS, job.video_id, {"type": kind, "video_id": job.video_id,
                                                      "job_id": job.job_id, "at": time.time(), **extra})

    def _task_event(self, kind: str, job: JobRecord, task: str, **extra: Any) -> None:
        self.publisher.publish(ENCODE, job.video_id, {"type": kind, "video_id": job.video_id,
                                                      "job_id": job.job_id, "task": task,
                                                      "at": time.time(), **extra})


@contextmanager
def _timed(stages: dict[str, float], name: str) -> Iterator[None]:
    """Record the block's wall seconds as `stages[name]` (added to, so a stage may be split)."""
    began = time.monotonic()
    try:
        yield
    finally:
        stages[name] = round(stages.get(name, 0.0) + time.monotonic() - began, 3)


def _attach_quality(packaged: PackagedTitle, integrity: IntegrityReport, quality: QualityReport) -> None:
    """Each rung's figures go into its catalog entry (the title record) and the integrity report."""
    by_name = quality.by_name()
    for rendition in packaged.renditions:
        if (rung := by_name.get(rendition["name"])) is not None:
            rendition["quality"] = {k: v for k, v in rung.to_dict().items()
                                    if k not in ("name", "width", "height")}
    integrity.quality = quality.to_dict()
    integrity.write(packaged.root)


def _segment_chosen(overrides: dict[str, Any]) -> bool:
    """Whether the user set the segment length (an option or MINIFLIX_SEGMENT_SECONDS), so it is kept."""
    env = config.SETTINGS["segment_seconds"].env
    return overrides.get("segment_seconds") is not None or bool(os.environ.get(env))


def _check_readable(source: Path) -> None:
    if not source.exists():
        raise MediaError(f"{source}: no such file.", hint="check the path and try again")
    if not source.is_file():
        raise MediaError(f"{source}: not a regular file.", hint="pass a video file, not a folder")
    if not os.access(source, os.R_OK):
        raise MediaError(f"{source}: cannot be read (permission denied).",
                         hint="make the file readable for your user and try again")


class _Meter:
    """Charges a job the wall time and child-process CPU time since the last charge (across resumes)."""

    def __init__(self) -> None:
        self.cpu, self.wall = children_cpu_s(), time.monotonic()

    def charge(self, job: JobRecord) -> None:
        cpu, wall = children_cpu_s(), time.monotonic()
        job.cpu_s += cpu - self.cpu
        job.wall_s += wall - self.wall
        self.cpu, self.wall = cpu, wall
