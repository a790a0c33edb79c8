"""`main.py events migrate --to nats://…` against a real 3-node NATS cluster: the embedded log's
history moves onto the bus in order, once, however often the command runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.cluster.nats import NatsCluster
from server.events.log import EventLog, open_event_log
from server.events.migrate import migrate
from server.events.model import Event
from server.events.nats_log import NatsEventLog
from server.paths import DataDir
from tests.events.test_events_cli import cli

TOPICS = ["videos", "playback"]


@pytest.fixture()
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A cluster per test: the migration records are per topic, and every test copies `videos`."""
    with NatsCluster(tmp_path_factory.mktemp("nats")) as nodes:
        yield nodes


def fill(data: DataDir, start: int, count: int) -> None:
    """`count` events on two topics and a few keys each, numbered from `start`."""
    with open_event_log(data) as log:
        for n in range(start, start + count):
            log.publish("videos", f"vid-{n % 3}", {"type": "probed", "n": n})
            log.publish("playback", f"session-{n % 5}", {"type": "segment", "n": n})


def by_partition(events: list[Event]) -> dict[tuple[str, int], list[tuple[str, int, float]]]:
    """Each partition's events as (key, n, timestamp), in the order they are read."""
    out: dict[tuple[str, int], list[tuple[str, int, float]]] = {}
    for e in events:
        out.setdefault((e.topic, e.partition), []).append((e.key, e.value["n"], e.timestamp))
    return out


def read_all(log: EventLog | NatsEventLog, group: str) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batch = log.poll(group, TOPICS, max_events=1000, timeout=0.3)
        if not batch and events:
            return events
        events += batch
    return events


def test_migrate_copies_the_history_in_order_and_a_rerun_copies_only_what_is_new(
        cluster: NatsCluster, tmp_path: Path) -> None:
    data = DataDir.resolve(tmp_path / "data")
    fill(data, 0, 150)
    with open_event_log(data) as source:
        source.commit("search", source.poll("search", ["videos"], max_events=40, timeout=0))

    first = cli(data, "migrate", "--to", cluster.url)
    again = cli(data, "migrate", "--to", cluster.url)
    fill(data, 150, 10)
    more = cli(data, "migrate", "--to", cluster.url)

    assert first.returncode == 0, first.stderr
    assert "300 events copied, 0 already on the bus, 300 in the embedded log" in first.stdout
    assert "events migrate: videos: 150/150 events" in first.stderr  # progress on stderr
    assert "0 events copied, 300 already on the bus" in again.stdout
    assert "20 events copied, 300 already on the bus, 320 in the embedded log" in more.stdout
    with open_event_log(data) as source, NatsEventLog(cluster.urls) as bus:
        assert by_partition(read_all(bus, "check")) == by_partition(read_all(source, "check"))
        resumed = bus.poll("search", ["videos"], max_events=1000, timeout=5)
        expected = source.poll("search", ["videos"], max_events=1000, timeout=0)
        assert sorted(e.value["n"] for e in resumed) == sorted(e.value["n"] for e in expected)
        assert len(expected) == 160 - 40  # search goes on where it was, not from the start


def test_a_run_cut_short_resumes_without_duplicates(cluster: NatsCluster, tmp_path: Path) -> None:
    """Copies stored but not yet recorded (the process died in between) are not stored twice."""
    data = DataDir.resolve(tmp_path / "data")
    fill(data, 0, 30)
    with open_event_log(data) as source, NatsEventLog(cluster.urls) as bus:
        source.seek("peek", {s: 0 for s in source.heads(["videos"])})
        head = source.poll("peek", ["videos"], max_events=7, timeout=0)
        for topic in TOPICS:
            bus.create_topic(topic, source.partitions_of(topic))
        bus.append_copies(head)  # ... and the run ends here, before recording its progress

        report = migrate(source, bus)

        assert (report.copied, report.present, report.complete) == (60 - len(head), len(head), True)
        assert sum(r.kept for r in bus.describe() if r.topic in TOPICS) == 60


def test_migrate_without_a_target_says_what_to_give(tmp_path: Path) -> None:
    data = DataDir.resolve(tmp_path / "data")
    result = cli(data, "migrate")
    assert result.returncode == 2
    assert "--to nats://HOST:PORT" in result.stderr
