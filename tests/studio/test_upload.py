"""Upload view on the real server: drops become jobs, progress flows, titles publish or are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.client import ApiClient
from studio.views.upload import UploadView
from studio.views.upload_jobs import expand
from studio.views.upload_report import stages_line
from tests.conftest import generate_clip
from tests.studio.conftest import drop, http_json, wait_published

PUBLISH_MS = 120_000


def row_named(view: UploadView, name: str) -> Any:
    return next((r for r in view.queue.rows.values() if r.name == name), None)


def test_dropped_clip_encodes_live_and_lands_in_the_library(qtbot: Any, studio_window: Any,
                                                            tmp_path: Path) -> None:
    # Long and large enough that the encode spans several progress reports even on a quiet machine.
    clip = generate_clip(tmp_path / "dropped sunrise.mp4", seconds=12.0, size="640x360")
    upload = studio_window.upload
    progress: list[tuple[str, float]] = []  # every job's: another test's finished job may report too
    upload.queue.job_progress.connect(lambda key, percent: progress.append((key, percent)))
    with qtbot.waitSignal(upload.queue.published, timeout=PUBLISH_MS) as published:
        assert drop(studio_window, clip)
        assert studio_window.current_view() == "upload"
        qtbot.waitUntil(lambda: upload.model.rowCount() > 0 and row_named(upload, clip.name).is_job)
        assert upload.selected_key() == row_named(upload, clip.name).key
    row = row_named(upload, clip.name)
    assert published.args[0]["video_id"] == row.video_id
    percents = [percent for key, percent in progress if key == row.key]
    assert percents and percents[0] < 100 and percents[-1] == 100, progress
    assert len([t for t in row.tasks if t.startswith("chunk-")]) >= 2  # the grid had several columns
    grid = upload.detail.grid
    qtbot.waitUntil(lambda: grid.cells() >= 3 and grid.done_cells() == grid.cells())
    assert grid.rows() == ["360p", "240p", "audio"]
    qtbot.waitUntil(lambda: "Passed every check" in upload.detail.report.text(), timeout=10_000)
    stages = upload.detail.stages.text()   # where the time went, from the job's own stage timings
    assert stages.startswith("Took ") and "encode" in stages and "verify" in stages, stages
    assert upload.detail.stages.isVisibleTo(upload.detail)
    assert "Published" in studio_window.toast.text()
    library = studio_window.library
    qtbot.waitUntil(lambda: library.model.row_of(row.video_id) >= 0, timeout=10_000)


def test_a_refused_file_shows_its_reason(qtbot: Any, studio_window: Any, tmp_path: Path) -> None:
    bogus = tmp_path / "holiday.mp4"
    bogus.write_bytes(b"this is a shopping list, not a video\n" * 50)
    upload = studio_window.upload
    with qtbot.waitSignal(upload.queue.refused, timeout=60_000) as refused:
        assert drop(studio_window, bogus)
    row = row_named(upload, "holiday.mp4")
    assert row.state == "failed" and refused.args[1] == row.error
    assert "holiday.mp4" in row.error
    upload.select(row.key)
    upload.repaint_now()
    assert upload.detail.error.isVisible() and upload.detail.error.text() == row.error
    assert upload.retry_button.isEnabled() and not upload.cancel_button.isEnabled()


def test_a_missing_file_is_refused_before_it_becomes_a_job(qtbot: Any, api_client: ApiClient,
                                                           tmp_path: Path) -> None:
    view = UploadView(api_client)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.queue.refused, timeout=20_000) as refused:
        view.add_paths([tmp_path / "gone.mp4"])
    assert "no such file" in refused.args[1]
    row = view.queue.rows[refused.args[0]]
    assert row.state == "refused" and not row.is_job
    view.queue.remove(row.key)
    assert refused.args[0] not in view.queue.rows


def test_cancel_then_retry_then_remove(qtbot: Any, studio_window: Any, tmp_path: Path) -> None:
    clip = generate_clip(tmp_path / "second try.mp4", seconds=3.0)
    upload = studio_window.upload
    queue = upload.queue
    upload.add_paths([clip])
    qtbot.waitUntil(lambda: row_named(upload, clip.name).is_job, timeout=20_000)   # a loaded machine
    key = row_named(upload, clip.name).key
    qtbot.waitUntil(upload.cancel_button.isEnabled, timeout=20_000)
    upload.cancel_button.click()
    qtbot.waitUntil(lambda: queue.rows[key].state in ("cancelled", "interrupted"), timeout=20_000)
    with qtbot.waitSignal(queue.published, timeout=PUBLISH_MS):
        upload.select(key)
        upload.repaint_now()
        upload.retry_button.click()
    upload.select(key)
    upload.repaint_now()
    upload.remove_button.click()
    qtbot.waitUntil(lambda: key not in queue.rows, timeout=10_000)


class RemoteClient(ApiClient):
    """The same server seen as remote: the file must travel as an upload, not as a path."""

    @property
    def is_local(self) -> bool:
        return False


def test_remote_server_gets_the_bytes_with_upload_progress(qtbot: Any, studio_server: Any,
                                                           tmp_path: Path) -> None:
    client = RemoteClient(studio_server.url)
    view = UploadView(client)
    qtbot.addWidget(view)
    clip = generate_clip(tmp_path / "far away.mp4", seconds=1.0, size="160x90")
    states: list[str] = []
    view.queue.job_progress.connect(lambda key, _p: states.append(view.queue.rows[key].state))
    key = view.add_paths([clip])[0]
    qtbot.waitUntil(lambda: row_named(view, clip.name).is_job, timeout=20_000)
    row = row_named(view, clip.name)
    assert "uploading" in states and key != row.key
    assert [p.name[11:] for p in studio_server.services.data.uploads.iterdir()
            if p.name.endswith("far_away.mp4")] == ["far_away.mp4"]
    client.post(f"/api/jobs/{row.key}/cancel")
    client.close()


def test_the_stages_line_names_each_stage_once_in_pipeline_order() -> None:
    line = stages_line({"publish": 0.4, "probe": 1.25, "analysis": 0.0, "encode": 80.4, "audio": 2.1,
                        "package": 3.0, "verify": 10.0, "thumbnails": 0.0})
    assert line == ("Took 1:35 — probe 1.2 s · <b>encode 80.4 s (audio 2.1 s beside it)</b> · "
                    "package 3.0 s · verify 10.0 s · publish 0.4 s")
    assert stages_line({}) == "" and stages_line(None) == ""


def test_folders_expand_to_their_media_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("a.mp4", "sub/b.MOV", "notes.txt", ".hidden/c.mp4", "sub/.d.mkv"):
        (tmp_path / name).write_bytes(b"x")
    loose = tmp_path / "notes.txt"
    assert expand([tmp_path, loose]) == [tmp_path / "a.mp4", tmp_path / "sub/b.MOV", loose]


def test_a_file_over_the_servers_limit_is_refused_before_it_is_sent(qtbot: Any, studio_server: Any,
                                                                    tmp_path: Path) -> None:
    from server.http.app import create_app
    from server.http.runner import HttpServer

    small = HttpServer(create_app(studio_server.services, {"UPLOAD_LIMIT_BYTES": 4096})).start()
    client = RemoteClient(small.url)
    try:
        view = UploadView(client)
        qtbot.addWidget(view)
        clip = generate_clip(tmp_path / "too big.mp4", seconds=1.0, size="160x90")
        before = sorted(p.name for p in studio_server.services.data.uploads.iterdir())
        view.add_paths([clip])
        qtbot.waitUntil(lambda: row_named(view, clip.name).state == "refused", timeout=20_000)
        message = row_named(view, clip.name).error
        assert "too big.mp4" in message and "accepts uploads up to" in message
        assert sorted(p.name for p in studio_server.services.data.uploads.iterdir()) == before
    finally:
        client.close()
        small.stop()


def test_the_grid_names_the_cluster_worker_of_each_chunk(qtbot: Any, api_client: ApiClient) -> None:
    """On the Dask executor each chunk's `task_done` names its worker; the grid shows it per column."""
    from studio.views.upload_jobs import JobQueue, JobRow
    from studio.views.upload_report import JobDetail

    queue = JobQueue(api_client)
    row = JobRow("job-1", "clip.mp4", state="running", video_id="v1", rungs=["360p"])
    queue.rows[row.key] = row
    queue.on_events([{"topic": "encode", "key": "v1",
                      "value": {"type": "task_done", "task": task, "worker": worker}}
                     for task, worker in (("chunk-00000", "worker-0"), ("chunk-00001", "worker-1"))])
    detail = JobDetail()
    qtbot.addWidget(detail)
    detail.show_row(row)
    assert detail.grid.rows() == ["360p", "worker"]
    assert [detail.grid.worker_of(c) for c in ("chunk-00000", "chunk-00001")] == ["worker-0", "worker-1"]
    local = JobRow("job-2", "local.mp4", state="running", video_id="v2", rungs=["360p"],
                   tasks={"chunk-00000": 1.0})
    detail.show_row(local)
    assert detail.grid.rows() == ["360p"], "a local encode has no worker row"


def test_the_grid_fills_the_panel_and_tells_each_chunks_speed_and_worker(qtbot: Any,
                                                                         api_client: ApiClient) -> None:
    """The chunk grid takes the room of the job panel, a finished chunk prints its speed (seconds of
    video per second of encode, from its `task_done`), and hovering a cell says chunk, rung, speed
    and worker."""
    from PySide6.QtCore import QPointF

    from studio.views.upload_jobs import JobQueue, JobRow
    from studio.views.upload_report import JobDetail

    queue = JobQueue(api_client)
    row = JobRow("job-1", "clip.mp4", state="running", video_id="v1", rungs=["720p", "360p"])  # 2 chunks
    queue.rows[row.key] = row
    queue.on_events([
        {"topic": "encode", "key": "v1", "value": {"type": "task_done", "task": "chunk-00000",
                                                   "worker": "worker-1", "wall_s": 2.0, "out_seconds": 4.0}},
        {"topic": "encode", "key": "v1", "value": {"type": "task_progress", "task": "chunk-00001",
                                                   "fraction": 0.25}}])
    detail = JobDetail()
    qtbot.addWidget(detail)
    detail.resize(600, 700)
    detail.show()
    detail.show_row(row)
    grid = detail.grid
    qtbot.waitUntil(lambda: grid.height() > 300)   # not a strip at the top of an empty panel
    assert row.speeds == {"chunk-00000": 2.0}
    assert grid.cell_rect(0, 0).height() >= 60 and grid.cell_rect(0, 0).width() >= 100   # cells grew
    first = grid.cell_at(grid.cell_rect(0, 0).center())
    assert first == ("720p", "chunk-00000")
    assert grid.describe(*first) == "chunk 1 of 2 · 720p\ndone at 2.0x realtime\non worker-1"
    second = grid.cell_at(grid.cell_rect(1, 1).center())
    assert second == ("360p", "chunk-00001") and "encoding, 25%" in grid.describe(*second)
    assert grid.cell_at(QPointF(5, 5)) is None   # the row label is no cell


def test_the_jobs_notes_are_shown_with_it(qtbot: Any, studio_server: Any, api_client: ApiClient,
                                         tmp_path: Path) -> None:
    """What a job noted on its way (here: full-range levels converted) is shown under its state, from
    the real job record the server keeps."""
    from studio.views.upload_jobs import JobRow
    from studio.views.upload_report import JobDetail

    clip = generate_clip(tmp_path / "full-range.mp4", seconds=2.0, extra=["-pix_fmt", "yuvj420p"])
    job = http_json(f"{studio_server.url}/api/jobs", {"path": str(clip), "name": "Full range"})
    wait_published(studio_server.url, job["job_id"])
    record = http_json(f"{studio_server.url}/api/jobs/{job['job_id']}")
    assert any("full-range" in note for note in record["notes"])
    detail = JobDetail()
    qtbot.addWidget(detail)
    detail.show()
    detail.show_row(JobRow(record["job_id"], "full-range.mp4", state="published", job=record))
    assert detail.notes.isVisible() and "full-range (JPEG) levels" in detail.notes.text()
    detail.show_row(JobRow("job-2", "plain.mp4", state="published", job={"notes": []}))
    assert not detail.notes.isVisible()
