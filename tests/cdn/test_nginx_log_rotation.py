"""An nginx edge's logs are rotated once they outgrow their limit, and no request is lost or counted
twice on the way: real nginx on loopback, its real logs, the edge's tail thread and the separate hit
tail process (which does not see the app's settings: it only follows the files)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from server.cdn import hit_tail, log_rotation
from server.cdn.log_rotation import Position, locate, rotated
from server.cdn.origin import StoreOrigin
from server.events.log import EventLog
from server.paths import DataDir
from tests.cdn.conftest import VIDEO_ID, Recorder, fetch, wait_for
from tests.cdn.test_nginx_edge import (
    SEGMENT,
    CdnMaker,
    cdn_events,
    edge_of,
    make_cdn,
    nginx_cdn_logging_to,
    nginx_is_installed,
)

__all__ = ["make_cdn"]          # the fixture, used by name
LIMIT = 4_000                   # ~25 log lines: every burst below outgrows it


def lines_in(log: Path) -> int:
    """Lines in `log` and in its renamed file, if any."""
    return sum(p.read_bytes().count(b"\n") for p in (log, rotated(log)) if p.exists())


def serve_in_bursts(url: str, bursts: int, per_burst: int) -> None:
    """Requests in bursts with a pause in between, long enough for the edge's rotation check."""
    for _ in range(bursts):
        for _ in range(per_burst):
            fetch(url)
        time.sleep(0.7)


def test_the_logs_are_rotated_and_every_request_is_one_event(make_cdn: CdnMaker, recorder: Recorder,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_rotation, "ROTATE_BYTES", LIMIT)
    cdn = make_cdn()
    edge = edge_of(cdn)
    url = edge.url_for(VIDEO_ID, SEGMENT)
    missing = edge.url_for(VIDEO_ID, "cmaf/90p/seg_404.m4s")
    for _ in range(6):
        serve_in_bursts(url, 1, 40)
        for _ in range(30):
            assert fetch(missing)[0] == 404          # access.log lines (not hits)
    wait_for(lambda: len(recorder.of("cdn", "hit")) == 239, timeout=30)
    hits_log, access_log = edge.layout.hits_log, edge.layout.access_log
    wait_for(lambda: not rotated(hits_log).exists() and not rotated(access_log).exists(), timeout=30)
    assert lines_in(hits_log) < 100, "the hits log was never rotated"
    assert lines_in(access_log) < 100, "the access log was never rotated"
    cdn.stop()
    assert (len(recorder.of("cdn", "miss")), len(recorder.of("cdn", "hit"))) == (1, 239)


def test_the_hit_tail_process_follows_a_rotated_log(data_dir: DataDir, origin: StoreOrigin,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    nginx_is_installed()
    monkeypatch.setattr(log_rotation, "ROTATE_BYTES", LIMIT)
    with EventLog(data_dir.root / "events.sqlite") as events:
        with nginx_cdn_logging_to(events, data_dir, origin) as cdn:
            edge = edge_of(cdn)
            assert edge.hit_tail is not None and edge.hit_tail.running
            serve_in_bursts(edge.url_for(VIDEO_ID, SEGMENT), 6, 40)
            wait_for(lambda: cdn.health()[0]["hits"] == 239, timeout=30)
            hits_log = edge.layout.hits_log
            wait_for(lambda: not rotated(hits_log).exists(), timeout=30)   # the tail let go of it
            assert lines_in(hits_log) < 239, "the hits log was never rotated"
        served = [e for e in cdn_events(events) if e["type"] in ("hit", "miss")]
    assert (sum(e["type"] == "miss" for e in served), sum(e["type"] == "hit" for e in served)) == (1, 239)


def test_a_renamed_log_is_read_before_the_new_one_and_a_read_one_left_by_a_crash_is_deleted(
        tmp_path: Path) -> None:
    log = tmp_path / "hits.log"
    log.write_text("a\nb\n")
    at = Position(2, log.stat().st_ino)                       # a reader after "a\n"
    log.rename(rotated(log))
    log.write_text("c\n")                                     # nginx reopened: a new file
    assert locate(log, at) == (rotated(log), at), "the rest of the renamed log comes first"
    moved = log_rotation.finish(log, read_to=4)
    assert moved == Position(0, log.stat().st_ino)
    # the reader saved `moved`, then died before deleting the renamed log: the next look deletes it
    assert locate(log, moved) == (log, moved)
    assert not rotated(log).exists()


def hit_line(n: int) -> str:
    """One cache hit as nginx logs it (access_log.LOG_FIELDS); `n` is its time, to tell lines apart."""
    return f"{1000 + n}.000\t200\tHIT\t{100 + n}\t-\tOK\t-\t-\t/t/token/videos/v1/cmaf/90p/seg_{n:03d}.m4s\n"


def test_a_rename_between_locating_the_log_and_reading_it_repeats_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "hits.log"
    log.write_text("".join(hit_line(n) for n in range(3)))
    hits = hit_tail.HitLog(log, "edge-1", "eu")
    published: list[float] = []

    def publish(batch: list[tuple[str, dict[str, Any]]]) -> None:
        published.extend(event["at"] for _, event in batch)

    hits.drain(publish)
    with log.open("a") as f:
        f.write("".join(hit_line(n) for n in (3, 4)))
    real_locate, renamed = hit_tail.locate, []

    def edge_renames_right_after(path: Path, at: Position) -> tuple[Path, Position]:
        found = real_locate(path, at)
        if not renamed:                         # the edge rotates in this window, nginx reopens
            renamed.append(path)
            path.rename(rotated(path))
            path.write_text(hit_line(5))
        return found

    monkeypatch.setattr(hit_tail, "locate", edge_renames_right_after)
    hits.drain(publish)
    hits.drain(publish)
    assert published == [1000.0 + n for n in range(6)]
    assert not rotated(log).exists()


def test_a_renamed_log_still_to_read_is_due_though_the_new_log_is_as_long_as_the_offset(
        tmp_path: Path) -> None:
    """The tail's offset is in the renamed log: the new, empty log must not look "all published"."""
    log = tmp_path / "hits.log"
    rotated(log).write_text(hit_line(0))
    log.write_text("")
    assert hit_tail.Lull(log).now_due(0, time.monotonic())
