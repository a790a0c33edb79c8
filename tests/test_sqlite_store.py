"""The small SQLite stores on a full disk and from older versions: reads keep working while the disk
is full, a write that cannot fit says "out of disk space" (507), and an older jobs file is upgraded."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.catalog import Catalog, Title
from server.errors import DiskFull
from server.jobs.store import JobStore
from tests.jobs.helpers import fill, mounted_small_disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_small_disk(tmp_path / "disk") as disk:
        yield disk


def test_a_full_disk_leaves_reads_working_and_a_write_says_out_of_disk_space(small_disk: Path) -> None:
    catalog = Catalog(small_disk / "catalog.sqlite")
    catalog.add_published(Title(video_id="v1", status="published", title="Kept"))
    fill(small_disk)
    assert [t.title for t in catalog.list()] == ["Kept"]
    assert [t.title for t in Catalog(small_disk / "catalog.sqlite").list()] == ["Kept"]
    with pytest.raises(DiskFull) as raised:
        catalog.add_published(Title(video_id="v2", status="published", title="x" * 200_000))
    assert raised.value.status == 507
    assert raised.value.message.startswith(f"Out of disk space in {small_disk} (0")


def test_a_jobs_file_from_before_the_crash_count_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE jobs (job_id TEXT PRIMARY KEY, video_id TEXT NOT NULL, source TEXT NOT NULL,
            fingerprint TEXT NOT NULL, original_name TEXT NOT NULL, state TEXT NOT NULL,
            options TEXT NOT NULL DEFAULT '{}', plan_key TEXT NOT NULL DEFAULT '',
            error TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '[]',
            retries INTEGER NOT NULL DEFAULT 0, cpu_s REAL NOT NULL DEFAULT 0,
            wall_s REAL NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL, updated_at REAL NOT NULL);
        INSERT INTO jobs (job_id, video_id, source, fingerprint, original_name, state, created_at,
            updated_at) VALUES ('j1', 'v1', '/x.mp4', 'f', 'x.mp4', 'running', 1, 1);
    """)
    old.close()
    store = JobStore(path)
    [job] = store.list()
    assert (job.job_id, job.state, job.crashes) == ("j1", "running", 0)
    job.crashes = 2
    assert store.save(job) and store.get("j1").crashes == 2


def test_a_job_removed_before_its_runs_last_save_stays_removed(tmp_path: Path) -> None:
    """The studio may remove a job the moment it published, while the pipeline's run still ends
    with one more save (CI: the Upload view's Remove came back)."""
    from server.jobs.store import PUBLISHED, JobRecord

    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.save(JobRecord("j1", "v1", "/x.mp4", "f", "x.mp4", PUBLISHED))
    store.delete("j1")
    job.cpu_s = 3.0
    assert not store.save_if_present(job)
    assert store.list() == []
    kept = store.save(JobRecord("j2", "v2", "/y.mp4", "f", "y.mp4", PUBLISHED))
    kept.cpu_s = 2.0
    assert store.save_if_present(kept) and store.get("j2").cpu_s == 2.0
