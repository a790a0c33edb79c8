"""The embedded log's guarantees, on real SQLite files: per-key order, dense offsets, consumer groups
(at-least-once across restarts, replay), prompt wake-up, retention, clear errors."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from server.errors import InvalidRequest
from server.events.admin import Retention
from server.events.log import EventLog
from server.events.model import Event

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log(tmp_path: Path):
    with EventLog(tmp_path / "events.sqlite", partitions=4) as opened:
        yield opened


def drain(log: EventLog, group: str, topics: list[str]) -> list[Event]:
    events: list[Event] = []
    while batch := log.poll(group, topics, max_events=1000, timeout=0):
        events += batch
    return events


def assert_per_key_order_and_dense(events: list[Event]) -> None:
    by_key: dict[str, list[int]] = defaultdict(list)
    by_partition: dict[int, list[int]] = defaultdict(list)
    for e in sorted(events, key=lambda e: (e.partition, e.offset)):
        by_key[e.key].append(e.value["seq"])
        by_partition[e.partition].append(e.offset)
    for key, seqs in by_key.items():
        assert seqs == sorted(seqs), f"events of {key} out of order"
    for partition, offsets in by_partition.items():
        assert offsets == list(range(len(offsets))), f"partition {partition} has gaps or reuse"


def test_same_key_same_partition_in_publish_order(log: EventLog) -> None:
    placed = [log.publish("videos", "vid-1", {"type": "uploaded", "seq": i}) for i in range(5)]
    assert len({p for p, _ in placed}) == 1
    assert [o for _, o in placed] == [0, 1, 2, 3, 4]
    events = drain(log, "g", ["videos"])
    assert [e.value["seq"] for e in events] == [0, 1, 2, 3, 4]
    assert len({e.id for e in events}) == 5


def test_concurrent_thread_producers_keep_per_key_order(log: EventLog) -> None:
    def produce(worker: int) -> None:
        for i in range(150):
            log.publish("playback", f"session-{worker}-{i % 3}", {"type": "segment", "seq": i})

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = drain(log, "check", ["playback"])
    assert len(events) == 8 * 150
    assert_per_key_order_and_dense(events)


PRODUCER = """
import sys
from server.events.log import EventLog
log = EventLog(sys.argv[1], partitions=4)
for i in range(200):
    log.publish("cdn", f"edge-{sys.argv[2]}-{i % 4}", {"type": "hit", "seq": i})
log.close()
"""


def test_concurrent_process_producers_keep_per_key_order(log: EventLog) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", PRODUCER, str(log.path), str(n)], cwd=ROOT)
             for n in range(3)]
    for i in range(200):
        log.publish("cdn", f"edge-main-{i % 4}", {"type": "hit", "seq": i})
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    events = drain(log, "check", ["cdn"])
    assert len(events) == 4 * 200
    assert_per_key_order_and_dense(events)


def test_restarted_consumer_resumes_after_last_commit(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    with EventLog(path, partitions=2) as first:
        for i in range(10):
            first.publish("encode", "vid", {"type": "task_done", "seq": i})
        got = first.poll("analytics", ["encode"], max_events=4, timeout=0)
        first.commit("analytics", got)
        first.poll("analytics", ["encode"], max_events=3, timeout=0)  # killed before committing these
    with EventLog(path, partitions=2) as second:
        again = drain(second, "analytics", ["encode"])
    assert [e.value["seq"] for e in again] == [4, 5, 6, 7, 8, 9]


def test_new_group_replays_and_latest_group_sees_only_new(log: EventLog) -> None:
    for i in range(3):
        log.publish("videos", f"v{i}", {"type": "published", "seq": i})
    drain(log, "old", ["videos"])
    assert len(drain(log, "replayer", ["videos"])) == 3
    assert log.poll("tail", ["videos"], timeout=0, start="latest") == []
    log.publish("videos", "v9", {"type": "deleted", "seq": 9})
    assert [e.key for e in log.poll("tail", ["videos"], timeout=0)] == ["v9"]


def test_waiting_poll_wakes_when_a_thread_publishes(log: EventLog) -> None:
    timer = threading.Timer(0.3, lambda: log.publish("videos", "v", {"type": "uploaded", "seq": 1}))
    timer.start()
    began = time.monotonic()
    events = log.poll("waiter", ["videos"], timeout=30)
    assert [e.key for e in events] == ["v"]
    assert time.monotonic() - began < 15, "the poll slept through the publish"


def waited_for_another_process(log: EventLog, timeout: float) -> float:
    """Seconds a poll on an empty topic waited for the event another process publishes a second later."""
    code = ("import sys, time; from server.events.log import EventLog; time.sleep(1); "
            "log = EventLog(sys.argv[1], partitions=4); log.publish('videos', 'x', {'type': 'deleted'}); "
            "log.close()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(log.path)], cwd=ROOT)
    began = time.monotonic()
    events = log.poll("waiter", ["videos"], timeout=timeout)
    proc.wait(timeout=60)
    assert [e.value["type"] for e in events] == ["deleted"]
    return time.monotonic() - began


def test_waiting_poll_wakes_when_another_process_publishes(log: EventLog) -> None:
    waited = waited_for_another_process(log, timeout=60)
    assert waited < 30, "the poll slept through the other process's publish"


def test_the_doorbell_wakes_a_consumer_with_no_periodic_check_to_fall_back_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's commit rings this log's socket: the wait needs no polling loop at all. In a
    short folder of its own: pytest's tmp_path can outgrow a socket name (from pytest-1000 on it did,
    and the log then rightly fell back to its periodic check, which this test turns off)."""
    import server.events.log as event_log
    monkeypatch.setattr(event_log, "DOORBELL_SAFETY_S", 120.0)
    monkeypatch.setattr(event_log, "CROSS_PROCESS_CHECK_S", 120.0)
    with tempfile.TemporaryDirectory(prefix="ev", dir="/tmp") as short, \
            EventLog(Path(short) / "events.sqlite", partitions=4) as log:
        assert log._doorbell.start(), "no doorbell socket here: the test proves nothing"
        waited = waited_for_another_process(log, timeout=90)
    assert waited < 60, "no ring arrived: the poll waited for its timeout"


def test_a_dead_consumers_doorbell_socket_is_cleared_by_the_next_commit(log: EventLog) -> None:
    bells = log.path.with_name(log.path.name + ".bells")
    bells.mkdir(mode=0o700, exist_ok=True)
    stale = bells / "dead-consumer"
    import socket
    gone = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    gone.bind(str(stale))
    gone.close()  # the socket file stays behind, as after a killed process
    log.publish("videos", "v", {"type": "uploaded"})
    assert not stale.exists()
    assert bells.stat().st_mode & 0o077 == 0


def test_retention_by_age_and_size_never_reuses_offsets(tmp_path: Path) -> None:
    retention = Retention(per_topic={"playback": (3600.0, None), "cdn": (None, 2000)})
    with EventLog(tmp_path / "e.sqlite", partitions=1, retention=retention) as log:
        for i in range(50):
            log.publish("playback", "s", {"type": "segment", "seq": i})
            log.publish("cdn", "edge", {"type": "hit", "seq": i, "pad": "x" * 80})
        assert log.enforce_retention(now=time.time() + 7200) >= 50
        assert drain(log, "a", ["playback"]) == []
        kept = drain(log, "a", ["cdn"])
        assert 0 < len(kept) < 50 and kept[-1].value["seq"] == 49
        assert log.publish("playback", "s", {"type": "segment", "seq": 50}) == (0, 50)


def test_bad_topic_and_bad_value_are_refused_and_nothing_is_written(log: EventLog) -> None:
    with pytest.raises(InvalidRequest, match="Invalid topic"):
        log.publish("Bad Topic!", "k", {"type": "x"})
    with pytest.raises(InvalidRequest, match="not JSON"):
        log.publish("videos", "k", {"type": "x", "when": object()})
    with pytest.raises(InvalidRequest, match="must be a dict"):
        log.publish("videos", "k", ["not", "a", "dict"])  # type: ignore[arg-type]
    assert drain(log, "g", ["videos"]) == []


def test_describe_shows_heads_and_group_lag(log: EventLog) -> None:
    for i in range(6):
        log.publish("steering", "vid", {"type": "decision", "seq": i})
    log.commit("search", log.poll("search", ["steering"], max_events=2, timeout=0))
    rows = [r for r in log.describe() if r.topic == "steering" and r.next_offset]
    assert len(rows) == 1
    assert (rows[0].next_offset, rows[0].kept, rows[0].lags) == (6, 6, {"search": 4})


def test_two_logs_on_one_file_take_turns_without_reusing_offsets(tmp_path: Path) -> None:
    """Each instance has its own writer (as two processes would): one must notice the other's commits."""
    path = tmp_path / "shared.sqlite"
    with EventLog(path, partitions=2) as first, EventLog(path, partitions=2) as second:
        for i in range(30):
            (first if i % 3 else second).publish_many("playback", [("s", {"type": "segment", "seq": i}),
                                                                  ("t", {"type": "segment", "seq": i})])
        events = drain(first, "check", ["playback"])
    assert len(events) == 60
    assert_per_key_order_and_dense(events)


def test_a_cyclic_value_is_refused_clearly(log: EventLog) -> None:
    value: dict[str, object] = {"type": "x"}
    value["self"] = value
    with pytest.raises(InvalidRequest, match="not JSON"):
        log.publish("videos", "k", value)
    assert drain(log, "g", ["videos"]) == []
