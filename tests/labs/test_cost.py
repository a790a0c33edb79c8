"""The cost model by hand: a title of known bytes at known prices, the monthly projection, the prices'
checks, the what-ifs' "not measured" answers, and doubled caches measured by the replay lab over a real
DuckDB `cdn_events` table."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from server.analytics.schema import TABLES
from server.catalog import Title
from server.cdn.topology import EdgeSpec, Topology
from server.errors import InvalidRequest
from server.labs import cost
from server.labs.cost_prices import GB, Prices, prices_from
from server.labs.cost_usage import (
    Stored,
    TitleUsage,
    Window,
    part_of,
    rung_codecs,
    rung_vmaf,
    stored_parts,
)
from server.labs.cost_whatif import AV1, DOUBLE_CACHE, PER_TITLE, WHATIFS, Inputs, parse_whatifs
from server.labs.replay import replay
from server.labs.trace import recorded
from server.storage.blobstore import LocalBlobStore

MIB = 1024 * 1024
DAY = 86400.0
PRICES = Prices(storage_gb_month=0.02, egress_edge_gb=0.05, egress_origin_gb=0.1, cpu_hour=0.5)


def usage(video_id: str = "t1", **changes: object) -> TitleUsage:
    """A title of 3 GiB stored (2 GiB of 720p, 1 GiB source), 10 GiB served by edges, 1 GiB by the
    origin, 30 views, 2 CPU-hours of encoding."""
    fields: dict[str, object] = {
        "stored": [Stored("720p", "rung", "h264", 720, 2 * GB), Stored("source", "source", "", 0, GB)],
        "edge_bytes": 10 * GB, "origin_bytes": GB, "views": 30, "cpu_s": 7200.0, **changes}
    return TitleUsage(video_id, "Title", 60.0, **fields)  # type: ignore[arg-type]


def test_a_title_of_known_bytes_costs_what_the_prices_say_projected_from_its_window_to_a_month() -> None:
    result = cost.report([usage()], Window(0.0, 2 * DAY), PRICES)
    c = result.costs[0]
    month = 365.25 / 12 / 2                         # two recorded days -> a month
    assert c.storage_month == pytest.approx(3 * 0.02)
    assert c.edge_month == pytest.approx(10 * 0.05 * month)
    assert c.origin_month == pytest.approx(1 * 0.1 * month)
    assert c.encode_once == pytest.approx(2 * 0.5)
    assert c.monthly == pytest.approx(0.06 + 0.5 * month + 0.1 * month)
    body = result.to_dict()
    assert body["views_per_day"] == 15 and body["views_per_month"] == pytest.approx(15 * 365.25 / 12)
    assert body["library"]["stored_by_codec"] == {"h264": 2 * GB, "source": GB}


def test_the_library_adds_its_titles_and_a_title_without_a_job_record_has_no_encode_cost() -> None:
    result = cost.report([usage("a"), usage("b", cpu_s=None)], Window(0.0, 2 * DAY), PRICES)
    assert result.library.stored_bytes == 6 * GB and result.library.cpu_s == 7200.0
    assert result.library.monthly == pytest.approx(2 * result.costs[0].monthly)
    assert result.to_dict()["titles"][1]["cpu_hours"] is None
    rows = cost.csv_rows(result)
    assert [r["video_id"] for r in rows] == ["a", "b", "*"] and rows[1]["cpu_hours"] == ""


def test_a_window_shorter_than_a_day_counts_as_a_day() -> None:
    minutes = cost.report([usage()], Window(100.0, 700.0), PRICES)
    day = cost.report([usage()], Window(0.0, DAY), PRICES)
    assert minutes.projection.days == 1 and minutes.costs[0].edge_month == day.costs[0].edge_month


@pytest.mark.parametrize("raw", ["-0.01", "nan", "inf", "cheap"])
def test_a_bad_price_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(InvalidRequest, match="price_egress_edge"):
        prices_from({"price_egress_edge": raw})


def test_prices_default_to_the_documented_list_prices() -> None:
    p = prices_from({"price_storage": "", "price_cpu_hour": "1"})
    assert (p.storage_gb_month, p.egress_edge_gb, p.egress_origin_gb, p.cpu_hour) == (0.023, 0.085, 0.09, 1.0)
    assert "S3 Standard" in str(p.to_dict()["sources"])


def test_parts_and_codecs_of_a_title_in_the_origin() -> None:
    assert [part_of(k) for k in ("cmaf/720p/seg_1.m4s", "source/a.mp4", "master.m3u8", "thumbs/x.jpg",
                                 "cmaf/audio/init.mp4", "subs/en.vtt")] == [
        "720p", "source", "other", "other", "audio", "other"]
    master = ('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2"\n'
              'cmaf/720p/playlist.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="mp4a.40.2,av01.0.08M.08"\ncmaf/720p-av1/playlist.m3u8\n')
    assert rung_codecs(master) == {"720p": "h264", "720p-av1": "av1"}


def test_a_rungs_vmaf_comes_from_the_quality_measured_at_ingest() -> None:
    report = {"quality": {"measured": True, "rungs": [{"name": "720p", "vmaf_mean": 93.5},
                                                      {"name": "360p", "vmaf_mean": None}]}}
    assert rung_vmaf(report) == {"720p": 93.5}
    assert rung_vmaf({"quality": None}) == {} and rung_vmaf({}) == {}


def test_a_titles_origin_bytes_by_part_with_alternate_audio_kept_apart_from_rungs(tmp_path) -> None:
    store = LocalBlobStore(tmp_path / "origin")
    files = {"cmaf/720p/seg_1.m4s": 700, "cmaf/720p/playlist.m3u8": 10, "cmaf/audio/seg_1.m4s": 50,
             "cmaf/audio-2/seg_1.m4s": 40, "source/clip.mp4": 900, "thumbs/poster.jpg": 30}
    for rel, size in files.items():
        store.put(f"videos/t1/{rel}", b"x" * size)
    store.put("videos/t1/master.m3u8", b'#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001f"\n'
                                       b"cmaf/720p/playlist.m3u8\n")
    title = Title("t1", "published", renditions=[{"name": "720p", "height": 720}],
                  audio={"codec": "mp4a.40.2"})
    parts = {s.part: (s.kind, s.codec, s.bytes) for s in stored_parts(store, title)}
    master = len(store.read("videos/t1/master.m3u8"))
    assert parts == {"720p": ("rung", "h264", 710), "audio": ("audio", "aac", 50),
                     "audio-2": ("audio", "aac", 40), "source": ("source", "", 900),
                     "other": ("other", "", 30 + master)}


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    """A real DuckDB with the analytics tables."""
    db = duckdb.connect(":memory:")
    db.execute(TABLES)
    yield db
    db.close()


def played(db: duckdb.DuckDBPyConnection, edge: str, keys: list[str], size: int = MIB) -> None:
    """`keys` requested from `edge` in order, each object `size` bytes."""
    for i, key in enumerate(keys):
        db.execute("INSERT INTO cdn_events (edge, type, video_id, object, bytes, happened_at) "
                   "VALUES (?, 'miss', 't1', ?, ?, ?)", [edge, f"videos/t1/cmaf/720p/{key}", size, float(i)])


def one_edge(capacity: int, policy: str = "lru") -> Topology:
    return Topology([EdgeSpec("lon-1", "eu-west", 51.5, -0.1, 8, None, capacity, 0.0, policy)])


def test_doubling_the_caches_saves_what_the_replay_lab_measures_at_twice_the_capacity(conn) -> None:
    played(conn, "lon-1", ["a", "b", "a", "b", "c", "a"])
    inputs = Inputs([usage()], conn, one_edge(MIB))
    outcome = WHATIFS[DOUBLE_CACHE](inputs)
    trace = recorded(conn)
    now, doubled = (replay(trace, "lru", n * MIB).origin_bytes for n in (1, 2))
    # by hand: an LRU of one object misses every request; of two, "a b a b" hits twice
    assert (now, doubled) == (6 * MIB, 4 * MIB)
    assert outcome.library.measured and outcome.library.origin_bytes == -(now - doubled)
    assert outcome.figures["edges"][0]["origin_bytes_doubled"] == doubled
    result = cost.report([usage()], Window(0.0, 2 * DAY), PRICES, [outcome])
    after = result.whatif_dict(outcome)["library"]
    assert after["monthly_usd_change"] == pytest.approx(-2 * MIB / GB * 0.1 * 365.25 / 12 / 2)


def test_doubling_replays_each_edge_with_its_own_cache_and_names_edges_the_topology_lacks(conn) -> None:
    played(conn, "lon-1", ["a", "b", "a", "b"])
    played(conn, "gone-1", ["a", "b", "a", "b"])
    outcome = WHATIFS[DOUBLE_CACHE](Inputs([usage()], conn, one_edge(MIB)))
    by_edge = {e["edge"]: e for e in outcome.figures["edges"]}
    assert by_edge["lon-1"]["origin_bytes_doubled"] == 2 * MIB
    assert by_edge["gone-1"]["capacity_bytes"] == 256 * MIB        # the default cdn_capacity_mb
    assert "gone-1" in outcome.library.note


def test_with_no_recorded_requests_doubling_says_it_measured_nothing(conn) -> None:
    outcome = WHATIFS[DOUBLE_CACHE](Inputs([usage()], conn, one_edge(MIB)))
    assert not outcome.library.measured and "no edge requests recorded" in outcome.library.note
    assert "monthly_usd_after" not in cost.report([usage()], Window(), PRICES, [outcome]).whatif_dict(
        outcome)["library"]


def test_av1_and_per_title_say_not_measured_and_what_to_run_for_a_title_without_figures(conn) -> None:
    inputs = Inputs([usage()], conn, one_edge(MIB))
    av1, per_title = WHATIFS[AV1](inputs), WHATIFS[PER_TITLE](inputs)
    assert av1.titles["t1"].note.startswith("not measured for this title: it has no AV1 rungs")
    assert "--ladder per-title" in per_title.titles["t1"].note
    assert not av1.library.measured and not per_title.library.measured
    row = cost.csv_rows(cost.report([usage()], Window(0.0, DAY), PRICES, [av1]))[0]
    assert row["av1_monthly_usd"] == ""


def test_av1_lights_up_from_a_titles_own_av1_rungs(conn) -> None:
    stored = [Stored("720p", "rung", "h264", 720, 2 * GB, 94.0),
              Stored("720p-av1", "rung", "av1", 720, GB, 93.1)]
    outcome = WHATIFS[AV1](Inputs([usage(stored=stored)], conn, one_edge(MIB)))
    change = outcome.titles["t1"]
    assert change.measured and "50% of the H.264 bytes" in change.note
    assert "mean VMAF 93.1 (AV1) vs 94.0 (H.264)" in change.note
    assert (change.edge_bytes, change.origin_bytes) == (-5 * GB, -GB // 2)


def test_a_title_encoded_with_the_per_title_ladder_is_measured_as_already_switched(conn) -> None:
    chosen = [{"name": "720p", "width": 1280, "height": 720, "crf": 26, "kbps": 1500.0, "vmaf": 94.1},
              {"name": "360p", "width": 640, "height": 360, "crf": 32, "kbps": 400.0, "vmaf": 88.0}]
    report = {"per_title": {"points": chosen, "hull": chosen, "chosen": chosen, "seconds": 3.0}}
    outcome = WHATIFS[PER_TITLE](Inputs([usage(report=report), usage("t2")], conn, one_edge(MIB)))
    change = outcome.titles["t1"]
    assert change.measured and (change.stored_bytes, change.edge_bytes, change.origin_bytes) == (0, 0, 0)
    assert "already on the per-title ladder (720p 1500k VMAF 94.1, 360p 400k VMAF 88.0)" in change.note
    assert outcome.library.note == "measured for 1 of 2 titles"
    assert outcome.titles["t2"].note.startswith("not measured for this title")


def test_an_analysis_naming_both_ladders_scales_a_fixed_titles_rungs_and_egress(conn) -> None:
    report = {"per_title": {"applied": False, "chosen": [{"kbps": 1500}, {"kbps": 300}],
                            "fixed": [{"bitrate_kbps": 2800}, {"bitrate_kbps": 800}]}}
    outcome = WHATIFS[PER_TITLE](Inputs([usage(report=report)], conn, one_edge(MIB)))
    change = outcome.titles["t1"]
    assert change.measured and change.stored_bytes == round(2 * GB * (0.5 - 1))
    assert change.edge_bytes == -5 * GB and outcome.library.measured


def test_what_ifs_are_parsed_by_name() -> None:
    assert parse_whatifs("double-cache, av1,av1") == (DOUBLE_CACHE, AV1)
    assert parse_whatifs("all") == tuple(WHATIFS) and parse_whatifs("") == ()
    with pytest.raises(InvalidRequest, match="Unknown what-if 'triple-cache'"):
        parse_whatifs("triple-cache")
