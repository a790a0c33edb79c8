"""Chunk encodes on a real Dask cluster: a scheduler and two worker processes on loopback, real
ffmpeg, the file origin as the store the chunks travel through. A title encoded there must come
out as the local executor makes it; a worker killed mid-chunk, a stop and a dead scheduler must
each end the way a user expects."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import m3u8
import psutil
import pytest

from server.cluster.dask import DaskCluster
from server.cluster.process import free_port, pid_alive
from server.engine import Engine
from server.errors import Cancelled
from server.jobs import dask_executor
from server.jobs.chunk_work import ChunkWork, chunk_spec
from server.jobs.pipeline import IngestOptions
from server.jobs.progress import JobProgress
from server.jobs.store import FAILED, PUBLISHED, JobRecord, JobStore
from server.media.model import Chunk, MediaInfo, Rendition
from server.paths import DataDir
from tests.conftest import generate_clip
from tests.jobs.helpers import cli, events, json_lines, popen_cli

pytestmark = pytest.mark.timeout(600)

OPTIONS = {"preset": "ultrafast", "min_chunk_seconds": 1, "workers": 2}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    dask = DaskCluster(tmp_path_factory.mktemp("dask"), workers=2).start()
    try:
        yield dask
    finally:
        pids = dask.pids
        dask.stop()
        assert not [pid for pid in pids if pid_alive(pid)], "a Dask process outlived the cluster"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_clip(tmp_path_factory.mktemp("clip") / "title.mp4", seconds=20, size="640x360")


@pytest.fixture(scope="module")
def local_title(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> tuple[Path, JobRecord]:
    """The same title encoded by the local executor: what every Dask encode must equal."""
    root = tmp_path_factory.mktemp("local")
    return root, ingest(root, clip, "local")


def ingest(root: Path, clip: Path, executor: str, report: Callable[[JobProgress], None] | None = None,
           stop: threading.Event | None = None, preset: str = "ultrafast") -> JobRecord:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MINIFLIX_EXECUTOR", executor)
        with Engine.open(str(root)) as engine:
            pipeline = engine.ingest(IngestOptions.from_settings(**{**OPTIONS, "preset": preset}))
            return pipeline.run(pipeline.create_job(clip), report=report, stop=stop)


def integrity(root: Path, job: JobRecord) -> dict[str, Any]:
    """The title's integrity report without its measured quality (`same_quality` compares that: two
    encodes of one chunk on different machines differ in the last bits, so bitrate and VMAF do too)."""
    report: dict[str, Any] = json.loads((root / "origin" / job.result["integrity"]).read_text())
    report.pop("quality", None)
    return report


def same_quality(root: Path, job: JobRecord, other_root: Path, other: JobRecord) -> None:
    """Every rung measured on both, VMAF means within 0.5 and bitrates within 1%."""
    def rungs(at: Path, record: JobRecord) -> dict[str, dict[str, Any]]:
        report = json.loads((at / "origin" / record.result["integrity"]).read_text())
        assert report["quality"]["measured"], report["quality"]["notes"]
        return {r["name"]: r for r in report["quality"]["rungs"]}
    ours, theirs = rungs(root, job), rungs(other_root, other)
    assert ours.keys() == theirs.keys()
    for name, rung in ours.items():
        assert abs(rung["vmaf_mean"] - theirs[name]["vmaf_mean"]) <= 0.5, name
        assert abs(rung["bitrate_kbps"] - theirs[name]["bitrate_kbps"]) <= 0.01 * theirs[name]["bitrate_kbps"]


def segment_durations(root: Path, job: JobRecord) -> dict[str, list[float]]:
    title = root / "origin" / Path(job.result["master"]).parent
    playlists = {r["name"]: m3u8.load(str(title / "cmaf" / r["name"] / "playlist.m3u8"))
                 for r in job.result["renditions"]}
    return {name: [s.duration for s in playlist.segments] for name, playlist in playlists.items()}


def top_rung_psnr(root: Path, job: JobRecord, source: Path) -> float:
    """Mean PSNR (dB) of the published top rung (its HLS playlist) against the source."""
    top = job.result["renditions"][0]
    playlist = root / "origin" / Path(job.result["master"]).parent / "cmaf" / top["name"] / "playlist.m3u8"
    graph = f"[1:v]scale={top['width']}:{top['height']}:flags=lanczos,format=yuv420p[ref];[0:v][ref]psnr"
    log = subprocess.run(["ffmpeg", "-hide_banner", "-i", str(playlist), "-i", str(source),
                          "-filter_complex", graph, "-f", "null", "-"],
                         check=True, capture_output=True, text=True).stderr
    return float(log.rsplit("average:", 1)[1].split()[0])


def chunk_events(root: Path, kind: str) -> list[dict[str, Any]]:
    return [e for e in events(root, "encode") if e["type"] == kind and e["task"].startswith("chunk-")]


def ffmpeg_under(cluster: DaskCluster, index: int) -> list[psutil.Process]:
    process = cluster.worker_processes[index]
    if process is None or process.poll() is not None:
        return []
    found = []
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:  # the worker ended after the poll
        return []
    for child in children:
        try:
            if child.name() == "ffmpeg":
                found.append(child)
        except psutil.NoSuchProcess:  # ended between the listing and the look
            continue
    return found


def mid_chunk(progress: JobProgress, low: float, high: float) -> bool:
    return any(low <= f < high for n, f in progress.tasks.items() if n.startswith("chunk-"))


def test_a_chunk_task_is_plain_data_that_pickles() -> None:
    """What a worker on another machine receives: no closure, no threading.Event."""
    info = MediaInfo(Path("/in/title.mp4"), 10, 20.0, "mov", None, None)
    work = ChunkWork("v1", info, Chunk(3, 8.0, 4.0, 100), (Rendition("360p", 640, 360, 800, 1600),),
                     4.0, "veryfast", "/in/title.mp4", "/work/v1")
    assert pickle.loads(pickle.dumps(work)) == work
    spec = chunk_spec(work)
    assert spec.name == "chunk-0003" and pickle.loads(pickle.dumps(spec.run)).args == (work,)
    assert work.outputs() == ["chunks/360p/chunk_00003.mp4"]
    # the local executor's chunks write the quality reference's piece; a worker's copy does not
    # ship raw frames back, the coordinator's measure decodes the source itself instead
    local = replace(work, reference_every=10)
    assert local.at("work/v1/source", "/scratch/v1").reference_every == 0


def test_two_dask_workers_publish_the_title_the_local_executor_makes(
        cluster: DaskCluster, clip: Path, local_title: tuple[Path, JobRecord], tmp_path: Path) -> None:
    local_root, local_job = local_title
    job = ingest(tmp_path, clip, cluster.executor_setting)
    assert job.state == PUBLISHED, job.error
    assert integrity(tmp_path, job) == integrity(local_root, local_job)
    assert integrity(tmp_path, job)["ok"]
    same_quality(tmp_path, job, local_root, local_job)
    assert segment_durations(tmp_path, job) == segment_durations(local_root, local_job)
    assert abs(top_rung_psnr(tmp_path, job, clip) - top_rung_psnr(local_root, local_job, clip)) <= 0.1
    done = chunk_events(tmp_path, "task_done")
    assert len(done) == len(chunk_events(local_root, "task_done")) >= 2
    assert {e["worker"] for e in done} <= {"worker-0", "worker-1"}, "each chunk names its worker"
    assert chunk_events(tmp_path, "task_progress"), "the workers' progress never reached the job"
    assert not (tmp_path / "origin" / "work").exists(), "the job's work objects stayed in the origin"
    assert not [p for i in range(2) for p in cluster.scratch(i).rglob(job.video_id)]


def kill_the_first_worker_seen_encoding(cluster: DaskCluster, killed: list[int],
                                        done: threading.Event) -> None:
    """Watch the workers' ffmpeg every 20 ms and SIGKILL the first worker running one. Progress
    reports come every 0.5 s, and an ultrafast chunk of this clip lasts about a second: a report
    inside a mid-chunk window is not certain, a live ffmpeg seen by polling is."""
    while not done.wait(0.02):
        busy = [i for i in range(cluster.workers) if ffmpeg_under(cluster, i)]
        if busy:
            killed.append(busy[0])
            cluster.kill_worker(busy[0])
            return


def test_a_worker_killed_mid_chunk_loses_nothing(
        cluster: DaskCluster, clip: Path, local_title: tuple[Path, JobRecord], tmp_path: Path) -> None:
    killed: list[int] = []
    done = threading.Event()
    killer = threading.Thread(target=kill_the_first_worker_seen_encoding, args=(cluster, killed, done))
    killer.start()
    try:
        job = ingest(tmp_path, clip, cluster.executor_setting)
    finally:
        done.set()
        killer.join()
        for index in killed:
            cluster.restart_worker(index)
    assert killed, "no worker was ever seen encoding"
    assert job.state == PUBLISHED, job.error
    assert integrity(tmp_path, job) == integrity(local_title[0], local_title[1])
    dead = cluster.worker_name(killed[0])
    again = {e["task"] for e in chunk_events(tmp_path, "task_started") if e["attempt"] == 2}
    assert again, "no chunk was started again after its worker died"
    assert {e["worker"] for e in chunk_events(tmp_path, "task_done") if e["task"] in again} == \
        {cluster.worker_name(1 - killed[0])}, f"a chunk of {dead} was not finished by the other worker"


def test_a_stop_kills_the_workers_ffmpeg(cluster: DaskCluster, clip: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    running: list[int] = []
    last: dict[str, float] = {}
    at_stop: dict[str, float] = {}

    def stop_mid_chunk(progress: JobProgress) -> None:
        last.update(progress.tasks)
        if mid_chunk(progress, 0.1, 0.5) and not stop.is_set():
            running.extend(p.pid for i in range(cluster.workers) for p in ffmpeg_under(cluster, i))
            at_stop.update(progress.tasks)
            stop.set()

    # ffmpeg reports every 0.5 s: an ultrafast chunk of this clip lasts about a second, so its first
    # report could already say past 50% (a CI run saw no report inside 10-50% and the title
    # published). A slow preset makes each report a small step, so one lands inside the window.
    with pytest.raises(Cancelled):
        ingest(tmp_path, clip, cluster.executor_setting, report=stop_mid_chunk, stop=stop, preset="slower")
    assert running, "the stop came before any worker ran ffmpeg"
    # ffmpeg's last report of a whole chunk says 99.5%; a stopped one ends far before that. A chunk
    # the other worker had already finished before the stop may say 99.5%: only those not yet half
    # done when the stop came count.
    assert not [n for n, f in last.items()
                if n.startswith("chunk-") and f >= 0.9 and at_stop.get(n, 0.0) < 0.5], \
        "a chunk encoding when the stop came ran on to its end"
    assert not [i for i in range(cluster.workers) if ffmpeg_under(cluster, i)], "a worker's ffmpeg lives on"
    assert not [pid for pid in running if pid_alive(pid)]


def test_a_killed_coordinator_resumes_without_encoding_stored_chunks_again(
        cluster: DaskCluster, clip: Path, tmp_path: Path) -> None:
    data = tmp_path / "d"
    args = ("ingest", str(clip), "--data-dir", str(data), "--json", "--workers", "2",
            "--segment-seconds", "2")
    env = {"MINIFLIX_EXECUTOR": cluster.executor_setting, "MINIFLIX_X264_PRESET": "ultrafast"}
    first = popen_cli(*args, env=env)
    deadline = time.monotonic() + 240
    while not (data / "events.sqlite").exists() or not chunk_events(data, "task_done"):
        assert time.monotonic() < deadline and first.poll() is None, "no chunk finished"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    stored = {e["task"] for e in chunk_events(data, "task_done")}
    run = cli(*args, env=env)
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published" and result["renditions"][0]["frames"] == 500
    starts = Counter(e["task"] for e in chunk_events(data, "task_started"))
    assert stored and not [t for t in stored if starts[t] > 1], f"re-encoded: {starts}"
    assert Counter(e["task"] for e in chunk_events(data, "task_done")).most_common(1)[0][1] == 1
    assert not (data / "origin" / "work").exists()


def test_a_cluster_without_workers_fails_the_job_naming_the_setting(
        tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_executor, "NO_WORKERS_S", 2.0)
    with DaskCluster(tmp_path / "lonely", workers=1) as lonely:
        lonely.kill_worker(0)
        job = ingest(tmp_path / "d", clip, lonely.executor_setting)
    assert job.state == FAILED and "MINIFLIX_EXECUTOR" in job.error and "no workers" in job.error
    assert not (tmp_path / "d" / "origin" / "videos" / job.video_id).exists()


@pytest.mark.parametrize("fallback", ["", "none"])
def test_an_unreachable_scheduler_is_named_before_any_work(tmp_path: Path, clip: Path, fallback: str) -> None:
    setting = f"dask://127.0.0.1:{free_port()}"
    run = cli("ingest", str(clip), "--data-dir", str(tmp_path / "d"), "--json",
              env={"MINIFLIX_EXECUTOR": setting, "MINIFLIX_EXECUTOR_FALLBACK": fallback})
    assert run.returncode == 2, run.stderr
    assert f"MINIFLIX_EXECUTOR='{setting}'" in run.stderr and "no Dask scheduler answers" in run.stderr
    assert JobStore(DataDir.resolve(tmp_path / "d").jobs_db).list() == []
    assert not any((tmp_path / "d" / "work").iterdir())


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_clip(tmp_path_factory.mktemp("short") / "short.mp4", seconds=6, size="320x180")


FALLEN_BACK = "Encoded on this machine, not on the Dask cluster"


def test_an_unreachable_scheduler_falls_back_to_local_when_asked_and_says_so(
        tmp_path: Path, short_clip: Path) -> None:
    setting = f"dask://127.0.0.1:{free_port()}"
    run = cli("ingest", str(short_clip), "--data-dir", str(tmp_path / "d"), "--json",
              env={"MINIFLIX_EXECUTOR": setting, "MINIFLIX_EXECUTOR_FALLBACK": "local",
                   "MINIFLIX_X264_PRESET": "ultrafast"})
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published" and result["renditions"][0]["frames"] == 150
    [note] = [n for n in result["notes"] if FALLEN_BACK in n]
    assert f"MINIFLIX_EXECUTOR='{setting}'" in note and "no Dask scheduler answers" in note
    [job] = JobStore(DataDir.resolve(tmp_path / "d").jobs_db).list()
    assert [n for n in job.notes if FALLEN_BACK in n], "the job's record does not say it fell back"
    assert "MINIFLIX_EXECUTOR_FALLBACK=local" in run.stderr, "no warning when the fallback was taken"
    assert not [e for e in chunk_events(tmp_path / "d", "task_done") if e.get("worker")]


def test_a_scheduler_gone_after_start_up_falls_back_when_asked(tmp_path: Path, short_clip: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The server built its executor while the cluster was up; the scheduler dies before a job."""
    monkeypatch.setenv("MINIFLIX_EXECUTOR_FALLBACK", "local")
    with DaskCluster(tmp_path / "brief", workers=1) as brief:
        monkeypatch.setenv("MINIFLIX_EXECUTOR", brief.executor_setting)
        engine = Engine.open(str(tmp_path / "d"))
        assert engine.executor  # built (and the scheduler checked) while the cluster runs
    with engine:
        pipeline = engine.ingest(IngestOptions.from_settings(**OPTIONS))
        job = pipeline.run(pipeline.create_job(short_clip))
    assert job.state == PUBLISHED, job.error
    assert [n for n in job.notes if FALLEN_BACK in n] and [n for n in job.result["notes"] if FALLEN_BACK in n]


def test_a_bad_fallback_setting_is_named_before_any_work(tmp_path: Path, short_clip: Path) -> None:
    run = cli("ingest", str(short_clip), "--data-dir", str(tmp_path / "d"), "--json",
              env={"MINIFLIX_EXECUTOR": f"dask://127.0.0.1:{free_port()}",
                   "MINIFLIX_EXECUTOR_FALLBACK": "cloud"})
    assert run.returncode == 2, run.stderr
    assert "MINIFLIX_EXECUTOR_FALLBACK='cloud'" in run.stderr and "none" in run.stderr
    assert JobStore(DataDir.resolve(tmp_path / "d").jobs_db).list() == []


def test_losing_every_worker_mid_job_fails_it_clearly_and_a_rerun_resumes(
        cluster: DaskCluster, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_executor, "NO_WORKERS_S", 3.0)
    killed: list[int] = []
    once = threading.Lock()  # progress arrives from more than one thread

    def kill_every_worker(progress: JobProgress) -> None:
        # mid-job: a chunk stored, another not yet (a fast chunk's progress may skip mid_chunk's window)
        with once:
            if not killed and 1 <= progress.chunks_done < progress.chunks_total:
                killed.extend(range(cluster.workers))
                for index in killed:
                    cluster.kill_worker(index)

    try:
        job = ingest(tmp_path, clip, cluster.executor_setting, report=kill_every_worker)
    finally:
        cluster.restart_worker(*killed)
    assert killed, "the job was never seen between its first and its last chunk"
    assert job.state == FAILED
    assert "MINIFLIX_EXECUTOR" in job.error and "lost every worker" in job.error, job.error
    assert "attempts" not in job.error, "no chunk failed: the workers were lost"
    stored = {e["task"] for e in chunk_events(tmp_path, "task_done")}
    assert stored
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MINIFLIX_EXECUTOR", cluster.executor_setting)
        with Engine.open(str(tmp_path)) as engine:
            again = engine.ingest(IngestOptions.from_settings(**OPTIONS)).run(job)
    assert again.state == PUBLISHED, again.error
    assert integrity(tmp_path, again)["ok"]
    starts = Counter(e["task"] for e in chunk_events(tmp_path, "task_started"))
    assert not [t for t in stored if starts[t] > 1], f"a stored chunk was encoded again: {starts}"
