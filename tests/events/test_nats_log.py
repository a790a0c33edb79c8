"""The JetStream event log against a real 3-node NATS cluster on loopback (replicas 3)."""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from server.analytics.service import AnalyticsService
from server.catalog import Catalog, Title
from server.cluster.nats import NatsCluster, free_port
from server.events.model import Event, partition_for
from server.events.nats_log import EventBusError, NatsEventLog, open_nats_log
from server.paths import DataDir
from server.search.service import GROUP as SEARCH_GROUP
from server.search.service import SearchService
from tests.analytics.conftest import publish_scenario
from tests.conftest import engine_processes
from tests.jobs.helpers import cli

WAIT_S = 30.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    folder = tmp_path_factory.mktemp("nats")
    nodes = NatsCluster(folder)
    try:
        yield nodes.start()
    finally:
        nodes.stop()
        assert engine_processes("nats-server", folder) == [], "nats-server processes outlived the tests"


@pytest.fixture()
def log(cluster: NatsCluster) -> Iterator[NatsEventLog]:
    with open_nats_log(cluster.url, None) as opened:  # type: ignore[arg-type]  # data dir unused
        yield opened


def drain(log: NatsEventLog, group: str, topics: list[str], want: int) -> list[Event]:
    """Poll until `want` events arrived (bounded)."""
    got: list[Event] = []
    deadline = time.monotonic() + WAIT_S
    while len(got) < want and time.monotonic() < deadline:
        got += log.poll(group, topics, max_events=500, timeout=0.5)
    return got


def test_round_trip_keeps_per_key_order_across_partitions(log: NatsEventLog) -> None:
    keys = [f"video-{i}" for i in range(20)]
    for n in range(10):
        log.publish_many("order", [(k, {"type": "step", "n": n}) for k in keys])
    placed = log.publish("order", "video-0", {"type": "step", "n": 10})

    events = drain(log, "indexer", ["order"], 201)

    assert len(events) == 201
    assert {e.partition for e in events} == {partition_for(k, 8) for k in keys}
    assert all(e.partition == partition_for(e.key, 8) for e in events)
    for key in keys:
        assert [e.value["n"] for e in events if e.key == key] == list(range(11 if key == "video-0" else 10))
    assert placed in {(e.partition, e.offset) for e in events}
    log.commit("indexer", events)
    assert log.poll("indexer", ["order"], timeout=0.3) == []
    heads = log.heads(["order"])
    assert log.committed("indexer") == {s: o for s, o in heads.items() if o}
    lags = {(r.partition): r.lags for r in log.describe() if r.topic == "order"}
    assert all(lag.get("indexer", 0) == 0 for lag in lags.values())


def test_consumer_groups_are_independent(log: NatsEventLog) -> None:
    log.publish_many("groups", [(f"s{i}", {"type": "view", "i": i}) for i in range(50)])

    first = drain(log, "analytics", ["groups"], 50)
    log.commit("analytics", first)
    second = drain(log, "search", ["groups"], 50)

    assert sorted(e.id for e in first) == sorted(e.id for e in second)
    rows = [r for r in log.describe() if r.topic == "groups" and r.kept]
    assert all(r.lags["analytics"] == 0 for r in rows)
    assert sum(r.kept for r in rows) == 50


def test_uncommitted_events_come_again_and_an_idempotent_consumer_counts_once(cluster: NatsCluster) -> None:
    with open_nats_log(cluster.url, None) as producer:  # type: ignore[arg-type]
        producer.publish_many("again", [(f"k{i}", {"type": "view", "i": i}) for i in range(40)])
    seen: dict[str, Event] = {}
    with open_nats_log(cluster.url, None) as crashed:  # type: ignore[arg-type]
        for e in drain(crashed, "counter", ["again"], 40)[:25]:
            seen[e.id] = e  # applied, but the process ends before it commits
    with open_nats_log(cluster.url, None) as restarted:  # type: ignore[arg-type]
        again = drain(restarted, "counter", ["again"], 40)
        for e in again:
            seen.setdefault(e.id, e)
        restarted.commit("counter", again)
        assert restarted.poll("counter", ["again"], timeout=0.3) == []

    assert len(again) == 40  # nothing was committed: every event comes again
    assert sorted(e.value["i"] for e in seen.values()) == list(range(40))  # counted once by id


def test_a_stuck_consumer_does_not_keep_events_from_its_group(cluster: NatsCluster) -> None:
    """Handed out but never acknowledged (the holder hangs): redelivered after `ack_wait`."""
    stuck = NatsEventLog(cluster.urls, ack_wait=1.0)
    other = NatsEventLog(cluster.urls, ack_wait=1.0)
    try:
        stuck.publish_many("stuck", [(f"k{i}", {"type": "view", "i": i}) for i in range(10)])
        held = drain(stuck, "loader", ["stuck"], 10)
        took_over = drain(other, "loader", ["stuck"], 10)
        other.commit("loader", took_over)
    finally:
        other.close()
        stuck.close()
    assert sorted(e.id for e in took_over) == sorted(e.id for e in held)


def test_commit_ahead_skips_and_seek_replays(log: NatsEventLog) -> None:
    log.publish_many("seek", [(f"k{i}", {"type": "old", "i": i}) for i in range(30)])
    log.commit("search", log.heads(["seek"]))  # a rebuilt index: everything so far is reflected
    log.publish("seek", "k1", {"type": "new"})

    assert [e.type for e in drain(log, "search", ["seek"], 1)] == ["new"]

    log.seek("replay", {slot: 0 for slot in log.heads(["seek"])})
    assert len(drain(log, "replay", ["seek"], 31)) == 31


def test_forget_hands_the_uncommitted_events_out_again(log: NatsEventLog) -> None:
    """The search indexer's retry: applying a batch failed, so it must read it again."""
    log.publish_many("retry", [(f"k{i}", {"type": "upsert", "i": i}) for i in range(20)])
    first = log.poll("indexer", ["retry"], max_events=10, timeout=WAIT_S)
    log.commit("indexer", first)
    rest = drain(log, "indexer", ["retry"], 20 - len(first))

    log.forget("indexer")
    again = drain(log, "indexer", ["retry"], len(rest))

    assert len(first) + len(rest) == 20
    assert sorted(e.id for e in again) == sorted(e.id for e in rest)
    assert log.rewinds == 0  # a redelivery asked for is no lost delivery: no replay from the floor


def test_analytics_loads_from_jetstream_without_double_counts(cluster: NatsCluster, tmp_path: Path) -> None:
    data = DataDir.resolve(tmp_path / "data")
    with open_nats_log(cluster.url, data) as bus:
        publish_scenario(bus)
        first = AnalyticsService(data, bus)  # type: ignore[arg-type]  # the engine types it by protocol
        first.catch_up()
        views = {r["video_id"]: r["views"] for r in first.query("title_engagement")}
        first.stop()
    with open_nats_log(cluster.url, data) as bus:  # a restart: the same events may come again
        again = AnalyticsService(data, bus)  # type: ignore[arg-type]
        again.catch_up()
        assert {r["video_id"]: r["views"] for r in again.query("title_engagement")} == views
        again.stop()
    assert views["v1"] == 2


def test_search_follows_jetstream_and_a_replay_indexes_nothing_twice(cluster: NatsCluster,
                                                                     tmp_path: Path) -> None:
    data = DataDir.resolve(tmp_path / "data")
    catalog = Catalog(data.catalog_db)
    with open_nats_log(cluster.url, data) as bus:
        search = SearchService(data, bus, catalog)  # type: ignore[arg-type]  # typed by protocol
        for video_id, name in (("zeb-1", "Zebra parade"), ("zeb-2", "Zebra crossing at night")):
            row = catalog.add_published(Title(video_id=video_id, status="published", title=name,
                                              description="", tags=[], duration=10.0, height=360,
                                              created_at=time.time(), renditions=[]))
            bus.publish("videos", video_id, {"type": "published", "video_id": video_id, "at": time.time(),
                                             "title": row.to_dict()})
        search.catch_up()
        first = search.search("zebra")
        bus.seek(SEARCH_GROUP, {slot: 0 for slot in bus.heads(["videos"])})  # every event comes again
        search.catch_up()
        again = search.search("zebra")
    assert sorted(h["video_id"] for h in first.hits) == ["zeb-1", "zeb-2"]
    assert (again.total, sorted(h["video_id"] for h in again.hits)) == (2, ["zeb-1", "zeb-2"])


def test_events_command_shows_the_offsets_and_lags_of_the_bus(cluster: NatsCluster, tmp_path: Path) -> None:
    data = DataDir.resolve(tmp_path / "data")
    with open_nats_log(cluster.url, data) as bus:
        placed = bus.publish_many("ledger", [("acct-1", {"type": "entry", "n": n}) for n in range(5)])
        bus.commit("auditor", drain(bus, "auditor", ["ledger"], 5)[:2])
    shown = cli("events", "--data-dir", str(data.root), env={"MINIFLIX_EVENT_LOG": cluster.url})
    [row] = [line.split() for line in shown.stdout.splitlines() if line.startswith("ledger ")]
    partition, first, last = placed[0][0], placed[0][1], placed[-1][1]
    assert shown.returncode == 0, shown.stderr
    assert row[1:5] == [str(partition), str(first), str(last + 1), "5"]  # part, earliest, next, kept
    assert row[5] == f"auditor={last - placed[1][1]}"  # head minus the committed offset


def test_committed_offsets_read_back_whole_every_time(log: NatsEventLog) -> None:
    """nats-py's KeyValue.keys() now and then said "no keys" under load (3 of 200 reads at load 6):
    the `events` command then showed a group with committed offsets as having none."""
    placed = log.publish_many("tally", [(f"k{n}", {"type": "n", "n": n}) for n in range(16)])
    offsets: dict[tuple[str, int], int] = {}
    for partition, offset in placed:
        offsets[("tally", partition)] = max(offsets.get(("tally", partition), 0), offset + 1)
    log.commit("reader-of-tally", offsets)
    reads = [log.committed("reader-of-tally") for _ in range(100)]
    assert all(read == offsets for read in reads), [len(read) for read in reads]


def test_a_stream_without_atomic_batches_still_takes_every_event_in_order(cluster: NatsCluster) -> None:
    """A topic's stream made by an earlier build refuses atomic batches: events go one by one."""
    asyncio.run(_create_stream_without_atomic_batches(cluster.urls, "legacy"))
    with NatsEventLog(cluster.urls) as log:
        placed = log.publish_many("legacy", [("k", {"type": "step", "n": n}) for n in range(20)])
        events = drain(log, "reader", ["legacy"], 20)
    assert [(e.partition, e.offset) for e in events] == placed
    assert [e.value["n"] for e in events] == list(range(20))


async def _create_stream_without_atomic_batches(servers: list[str], topic: str) -> None:
    nc = await nats.connect(servers=servers)
    try:
        await nc.jetstream().add_stream(StreamConfig(
            name=f"MINIFLIX_{topic.upper()}", subjects=[f"miniflix.{topic}.*"], num_replicas=3,
            duplicate_window=120.0, metadata={"partitions": "8"}))
    finally:
        await nc.close()


def test_an_unreachable_cluster_is_a_clear_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(EventBusError, match="Cannot reach the JetStream cluster") as caught:
        NatsEventLog([f"nats://127.0.0.1:{free_port()}"], connect_timeout=2.0)
    assert "event_log" in str(caught.value)


def test_killing_a_node_during_a_burst_loses_no_acknowledged_event(cluster: NatsCluster) -> None:
    producer = NatsEventLog(cluster.urls)
    consumer = NatsEventLog(cluster.urls)
    acked: dict[tuple[int, int], int] = {}
    acked_lock = threading.Lock()
    failures: list[str] = []

    def publish(thread: int) -> None:
        try:
            for batch in range(25):
                base = thread * 10_000 + batch * 50
                items = [(f"session-{thread}-{i % 10}", {"type": "beat", "n": base + i}) for i in range(50)]
                placed = producer.publish_many("burst", items)
                with acked_lock:
                    acked.update({slot: item[1]["n"] for slot, item in zip(placed, items, strict=True)})
        except BaseException as exc:  # reported below, with the thread's context
            failures.append("".join(traceback.format_exception(exc)))

    received: dict[str, Event] = {}
    handed: list[tuple[int, int]] = []
    stop = threading.Event()

    def consume() -> None:
        try:
            while not stop.is_set():
                batch = consumer.poll("loader", ["burst"], max_events=500, timeout=0.3)
                for e in batch:
                    received.setdefault(e.id, e)
                    handed.append((e.partition, e.offset))
                consumer.commit("loader", batch)
        except BaseException as exc:  # the consumer must go on through the node loss
            failures.append("".join(traceback.format_exception(exc)))

    url = producer.connected_url
    victim = next(i for i, n in enumerate(cluster.nodes) if url.endswith(f":{n.client_port}"))
    try:
        threads = [threading.Thread(target=publish, args=(t,)) for t in range(4)]
        reader = threading.Thread(target=consume)
        for t in [*threads, reader]:
            t.start()
        while len(acked) < 1000 and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        cluster.kill(victim)
        for t in threads:
            t.join(90)
        deadline = time.monotonic() + WAIT_S
        while len(received) < len(acked) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        reader.join(10)

        assert not failures, failures[0]
        assert len(acked) == 5000
        by_id = {(e.partition, e.offset): e.value["n"] for e in received.values()}
        assert {slot: by_id.get(slot) for slot in acked} == acked  # every acknowledged event arrived
        assert sorted(by_id.values()) == sorted(acked.values())  # and each one once, by id
        for p in {p for p, _ in handed}:  # each partition in order (analytics dedupes by offset)
            firsts = list(dict.fromkeys(o for q, o in handed if q == p))
            assert firsts == sorted(firsts), f"partition {p} out of order"

        cluster.restart(victim)
        assert _caught_up(producer, "burst", len(cluster.nodes))
    finally:
        stop.set()
        consumer.close()
        producer.close()
        if not cluster.nodes[victim].running():
            cluster.restart(victim)


def _caught_up(log: NatsEventLog, topic: str, nodes: int) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        status = log.replicas(topic)
        if len(status) == nodes and all(status.values()):
            return True
        time.sleep(0.2)
    return False


def test_a_delivery_lost_in_transit_comes_again_after_later_commits(cluster: NatsCluster) -> None:
    """A node dying mid-delivery loses a fetched message: the server redelivers it after `ack_wait`,
    after later events of its partition were handed out and committed; it must still arrive."""
    with NatsEventLog(cluster.urls, ack_wait=1.0) as log:
        assert log.poll("loader", ["transit"], timeout=0) == []  # the group's consumer exists now
        time.sleep(0.2)  # its (10 ms) pull request has expired: nothing is on its way to it
        placed = log.publish_many("transit", [("k", {"type": "beat", "n": n}) for n in range(5)])
        lost = asyncio.run(_fetch_and_drop(cluster.urls, "loader", "MINIFLIX_TRANSIT"))
        handed: list[tuple[int, int]] = []
        deadline = time.monotonic() + WAIT_S
        while len(set(handed)) < len(placed) and time.monotonic() < deadline:
            batch = log.poll("loader", ["transit"], timeout=0.5)
            handed += [(e.partition, e.offset) for e in batch]
            log.commit("loader", batch)
    assert lost < placed[-1][1]  # the lost one lies below what the group committed after it
    assert handed == placed  # every event, once, in its partition's order


async def _fetch_and_drop(servers: list[str], durable: str, stream: str) -> int:
    """Take the consumer's next message and never answer it, as a connection that died would."""
    nc = await nats.connect(servers=servers)
    try:
        sub = await nc.jetstream().pull_subscribe_bind(durable, stream)
        msgs = await sub.fetch(1, timeout=5)
        return int(msgs[0].metadata.sequence.stream) - 1
    finally:
        await nc.close()
