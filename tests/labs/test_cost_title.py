"""The cost lab over a real ingested title (its origin files, its job record with the encode's CPU time)
whose segments were played through a real edge, the `cdn` events through the real log into DuckDB;
and `main.py lab cost` over that data dir: JSON, CSV, the double-cache what-if, clear errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from server.catalog import Catalog
from server.cdn.clock import ManualClock
from server.cdn.edge import EdgeNode
from server.cdn.origin import StoreOrigin
from server.cdn.tokens import Signer
from server.events.log import open_event_log
from server.jobs.store import JobStore
from server.labs.replay import replay
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore
from tests.cdn.conftest import SPEC, fetch, wait_for
from tests.http.conftest import Made
from tests.jobs.helpers import cli
from tests.labs.conftest import recorded_trace


@pytest.fixture
def ingested(short_title: Made, tmp_path: Path) -> DataDir:
    """A copy of the data dir the real ingest published the short title in (catalog, jobs, origin, log)."""
    shutil.copytree(short_title.folder.parents[2], tmp_path / "data")
    return DataDir.resolve(tmp_path / "data")


def video_id(data: DataDir) -> str:
    return Catalog(data.catalog_db).list()[0].video_id


def segment_names(data: DataDir) -> list[str]:
    folder = data.origin / "videos" / video_id(data) / "cmaf"
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.m4s"))


@pytest.fixture
def played(ingested: DataDir, signer: Signer, clock: ManualClock) -> tuple[DataDir, int, int]:
    """The title's segments fetched through a real edge; (data, bytes served, bytes pulled from origin)."""
    names = segment_names(ingested)
    wanted = [names[0], names[1], names[0], names[-1], names[1]]
    vid, folder = video_id(ingested), ingested.origin / "videos" / video_id(ingested) / "cmaf"
    with open_event_log(ingested) as log:
        edge = EdgeNode(SPEC, StoreOrigin(LocalBlobStore(ingested.origin)), ingested.root / "edge", signer,
                        log, clock)
        edge.start()
        try:
            for name in wanted:
                clock.advance(1.0)
                assert fetch(edge.url_for(vid, f"cmaf/{name}"))[0] == 200
            served = sum((folder / n).stat().st_size for n in wanted)
            wait_for(lambda: edge.health()["hit_bytes"] + edge.health()["miss_bytes"] == served)
            edge.events.flush()
        finally:
            edge.stop()
            edge.events.flush()   # its last (health) event, before the log closes
    return ingested, served, sum((folder / n).stat().st_size for n in set(wanted))


def test_cli_prices_the_real_title_from_its_origin_bytes_edge_traffic_and_job_record(played,
                                                                                    tmp_path) -> None:
    data, served, pulled = played
    out = tmp_path / "cost.csv"
    done = cli("lab", "cost", "--data-dir", str(data.root), "--price-storage", "1", "--price-cpu-hour", "2",
               "--what-if", "double-cache,av1", "--json", "--csv", str(out))
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    vid = video_id(data)
    [title] = body["titles"]
    on_disk = sum(p.stat().st_size for p in (data.origin / "videos" / vid).rglob("*") if p.is_file())
    assert title["video_id"] == vid and title["stored_bytes"] == on_disk
    assert {s["part"]: s["codec"] for s in title["stored"] if s["kind"] == "rung"} == {
        "360p": "h264", "240p": "h264"}
    report = json.loads((data.origin / "videos" / vid / "integrity.json").read_text())
    measured = {r["name"]: r["vmaf_mean"] for r in (report.get("quality") or {}).get("rungs", [])}
    assert {s["part"]: s["vmaf"] for s in title["stored"] if s["kind"] == "rung"} == {
        name: measured.get(name) for name in ("360p", "240p")}
    assert title["edge_bytes"] == served and title["origin_bytes"] == pulled
    cpu_s = JobStore(data.jobs_db).list()[0].cpu_s
    assert cpu_s > 0 and title["cpu_s"] == pytest.approx(cpu_s)
    assert title["storage_usd_month"] == pytest.approx(on_disk / 2**30)
    assert title["encode_usd"] == pytest.approx(cpu_s / 3600 * 2)
    assert body["window"]["days"] == 1          # five requests over seconds count as a day
    whatifs = {w["name"]: w for w in body["whatifs"]}
    assert whatifs["av1"]["titles"][0]["note"].startswith("not measured for this title")
    rows = list(csv.DictReader(out.open()))
    assert [r["video_id"] for r in rows] == [vid, "*"] and float(rows[0]["stored_bytes"]) == on_disk
    assert rows[0]["av1_monthly_usd"] == "" and rows[1]["double-cache_monthly_usd"] != ""


def test_the_double_cache_what_if_is_the_replay_labs_figure_for_the_recorded_log(played) -> None:
    data, _served, _pulled = played
    done = cli("lab", "cost", "--data-dir", str(data.root), "--what-if", "double-cache", "--json")
    assert done.returncode == 0, done.stderr
    [edge] = json.loads(done.stdout)["whatifs"][0]["figures"]["edges"]
    trace = recorded_trace(data)
    # test-1 is not a configured edge: replayed with the default cache (256 MiB, wtinylfu, 3600 s)
    assert (edge["edge"], edge["capacity_bytes"]) == ("test-1", 256 * 2**20)
    for key, factor in (("origin_bytes_now", 1), ("origin_bytes_doubled", 2)):
        assert edge[key] == replay(trace, edge["policy"], factor * 256 * 2**20, ttl_s=3600).origin_bytes


def test_cli_text_report_names_the_title_and_the_library(played) -> None:
    data, _served, _pulled = played
    done = cli("lab", "cost", "--data-dir", str(data.root), "--what-if", "per-title")
    assert done.returncode == 0, done.stderr
    assert video_id(data) in done.stdout and "library" in done.stdout
    assert "what if: Switch to the per-title ladder: not measured for any title" in done.stdout


def test_cli_refuses_a_negative_price_and_an_unknown_title_clearly(ingested) -> None:
    done = cli("lab", "cost", "--data-dir", str(ingested.root), "--price-egress-origin", "-1")
    assert done.returncode == 1 and "Price 'price_egress_origin' must be a number from 0" in done.stderr
    done = cli("lab", "cost", "--data-dir", str(ingested.root), "--title", "nope")
    assert done.returncode == 1 and "No title 'nope'" in done.stderr
    done = cli("lab", "cost", "--data-dir", str(ingested.root), "--what-if", "triple")
    assert done.returncode == 1 and "Unknown what-if 'triple'" in done.stderr
