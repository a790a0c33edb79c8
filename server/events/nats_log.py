"""The event log on a NATS JetStream cluster (`event_log = nats://h:p,h:p,…`), with the embedded
log's semantics (`server/events/log.py`):

- topic -> stream `MINIFLIX_<TOPIC>` (replicas 3 on a cluster, 1 on one server); key -> partition by
  the same crc32 rule, stored on subject `miniflix.<topic>.<partition>`, so per-key order is kept.
- offset = the stream sequence - 1: unique and increasing per partition, but not dense (partitions
  share one sequence), so lags (`head - committed`) count stream positions, 0 exactly when caught up.
- `publish*` returns once JetStream acknowledged (PubAck: stored on a quorum). Events go in atomic
  batches (one ack per batch); every event carries a `Nats-Msg-Id`, so a batch that lost its ack
  and is sent again event by event (after a node loss) is stored once.
- consumer group -> one durable pull consumer per topic (explicit ack, redelivery after `ack_wait`)
  plus the group's committed offsets per partition in the KV bucket `miniflix_offsets`, which make
  `commit` of offsets not yet delivered (a consumer skipping ahead) and `committed()` exact.
- Each partition is handed out in offset order, as consumers that dedupe by offset (analytics)
  need. JetStream would redeliver a lost delivery (a node died with it on its way, a fetch was cut)
  only after `ack_wait`, behind later events. So a gap in the consumer's delivery sequence, or a
  consumer that an earlier instance left with unacknowledged deliveries, makes the instance start the
  consumer again at its ack floor (`_rewind`): events it handed out before are recognised (held ones
  refreshed, committed ones skipped) and the rest come in order.
- A poll never loses what it fetched: fetches run as tasks that outlive a poll that timed out and
  fill a per-subscription queue; the caller's thread takes the events from that queue.

nats-py is asyncio; the log owns one event loop in a background thread and offers the embedded
log's synchronous API to the (threaded) engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any
from urllib.parse import quote

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.kv import KeyValue

from server.errors import InvalidRequest
from server.events import admin
from server.events.log import next_offsets
from server.events.model import Event, check_topic, encode_value, partition_for
from server.events.nats_wire import (
    KEY_HEADER,
    REQUEST_TIMEOUT_S,
    STREAM_PREFIX,
    TRANSIENT,
    TS_HEADER,
    EventBusError,
    Slot,
    T,
    ack_all,
    as_coroutine,
    event_of,
    headers_for,
    nak_all,
    retrying,
    safe_name,
    servers_of,
    slot_of,
    stream_name,
)
from server.paths import DataDir

OFFSETS_BUCKET = "miniflix_offsets"
IDENTITY_KEY = "identity"  # in the migrations bucket: this bus's uuid (see `identity`)
MIGRATIONS_BUCKET = "miniflix_migrations"  # per partition: the next offset of the embedded log to copy
ORIGIN_HEADER = "Miniflix-Origin-Offset"  # a copied event's offset in the embedded log it came from
CONNECT_TIMEOUT_S = 10.0
PUBLISH_DEADLINE_S = 60.0  # a publish retries (node loss, leader election) this long, then fails
ATOMIC_BATCH = 500  # events per atomic batch (the server takes up to 1000)
PUB_ACK_WAIT_S = 5.0  # a batch's ack is awaited this long, then its events are sent one by one
MULTI_TOPIC_WAIT_S = 0.05  # a poll over several topics waits this long on each in turn
ACK_WAIT_S = 10.0  # an event handed out and not committed (or lost on its way) comes again after this
FETCH_GRACE_S = 1.0  # a poll waits this long past its timeout for a fetch under way, then returns
FETCH_HANG_S = 10.0  # a fetch that outlives its own timeout by this much is abandoned (it comes again)


class NatsEventLog:
    """Implements `server.events.api.Publisher` and the embedded log's consumer API on JetStream."""

    def __init__(self, servers: Sequence[str], partitions: int = 8, *, replicas: int | None = None,
                 ack_wait: float = ACK_WAIT_S, retention: admin.Retention | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT_S) -> None:
        if partitions < 1:
            raise InvalidRequest(f"An event log needs at least one partition, not {partitions}.")
        self.servers = list(servers)
        self.partitions = partitions
        self.replica_count = replicas or min(3, len(self.servers))
        self.ack_wait = ack_wait
        self.connect_timeout = connect_timeout
        self.retention = retention if retention is not None else admin.Retention.from_settings()
        self._topics: dict[str, int] = {}
        self._subs: dict[tuple[str, str], JetStreamContext.PullSubscription] = {}
        self._floor: dict[str, dict[Slot, int]] = {}  # committed or sought: below it, ack and drop
        self._positions: dict[str, dict[Slot, int]] = {}  # handed out to this instance's consumer
        self._held: dict[str, dict[tuple[Slot, int], Msg]] = {}  # handed out, not yet committed
        self._ready: dict[tuple[str, str], deque[Msg]] = {}  # (group, topic) -> fetched, not handed out
        self._fetching: dict[tuple[str, str], asyncio.Future[None]] = {}  # the fetch under way
        self._delivered: dict[tuple[str, str], int] = {}  # last consumer sequence received
        self._creating = asyncio.Lock()  # streams are created one at a time (see _ensure_stream)
        self.rewinds = 0  # consumers started again after a lost delivery (diagnostics)
        self._committed_groups: set[str] = set()
        self._lock = threading.Lock()
        self._turn = 0
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-event-log", daemon=True)
        self._thread.start()
        try:
            self._nc, self._js, self._kv = self._run(self._connect(), connect_timeout + REQUEST_TIMEOUT_S)
        except BaseException:
            self._stop_loop()
            raise

    # -- producing -------------------------------------------------------------------------------
    def publish(self, topic: str, key: str, value: dict[str, Any]) -> tuple[int, int]:
        """Store one event on a quorum; returns its `(partition, offset)`."""
        return self.publish_many(topic, [(key, value)])[0]

    def publish_many(self, topic: str, items: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[int, int]]:
        try:
            return self.publish_async(topic, items).result(PUBLISH_DEADLINE_S + REQUEST_TIMEOUT_S)
        except TimeoutError as exc:
            raise EventBusError(f"Publishing to topic {topic!r} was not acknowledged in time.",
                                hint="check the event_log setting and the cluster's nodes") from exc

    def publish_async(self, topic: str, items: Iterable[tuple[str, dict[str, Any]]]
                      ) -> Future[list[tuple[int, int]]]:
        """Resolves once every event is acknowledged. Events of one call are sent in order; after a
        node loss the ones not yet acknowledged are sent again (deduplicated by their msg id)."""
        n = self.partitions_of(topic)
        batch = [(partition_for(str(k), n), str(k), encode_value(topic, v).encode()) for k, v in items]
        return asyncio.run_coroutine_threadsafe(self._publish_batch(topic, batch), self._loop)

    def partitions_of(self, topic: str) -> int:
        """The topic's partition count, fixed when its stream was created (by any process)."""
        n = self._topics.get(check_topic(topic))
        if n is None:
            n = self._topics[topic] = self._run(self._ensure_stream(topic))
        return n

    # -- consuming -------------------------------------------------------------------------------
    def poll(self, group: str, topics: Sequence[str], max_events: int = 500, timeout: float = 1.0,
             *, start: str = "earliest") -> list[Event]:
        """Up to `max_events` events after the group's position, waiting up to `timeout` seconds for
        the first. Uncommitted events come again after a restart (or `ack_wait`): at-least-once."""
        if start not in ("earliest", "latest"):
            raise InvalidRequest(f"start must be 'earliest' or 'latest', not {start!r}.")
        for topic in topics:
            self.partitions_of(topic)
        self._run(self._subscribe(group, list(topics), start))
        self._turn += 1
        k = self._turn % len(topics) if topics else 0
        order = list(topics[k:]) + list(topics[:k])
        timeout = max(0.0, timeout)
        filling = asyncio.run_coroutine_threadsafe(self._fill(group, order, max_events, timeout), self._loop)
        try:
            filling.result(timeout + FETCH_GRACE_S + REQUEST_TIMEOUT_S)
        except TimeoutError:  # the loop is starved; the fetches go on and fill the queue for next time
            filling.cancel()
        return self._take(group, order, max_events)

    def commit(self, group: str, events_or_offsets: Iterable[Event] | Mapping[Slot, int]) -> None:
        """Record the group's progress (acks the events, stores the offsets) durably."""
        offsets = next_offsets(events_or_offsets)
        if offsets:
            self._run(self._commit(group, offsets))

    def seek(self, group: str, offsets: Mapping[Slot, int]) -> None:
        """Move the group's position (not committed): its consumers restart at the lowest offset
        per topic, and events below each partition's own position are skipped."""
        by_topic: dict[str, int] = {}
        for (topic, _), offset in offsets.items():
            by_topic[topic] = min(by_topic.get(topic, offset), offset)
        self._seek_in_memory(group, offsets)
        for topic, lowest in by_topic.items():
            self.partitions_of(topic)
            self._run(self._restart_consumer(group, topic, lowest))

    def forget(self, group: str) -> None:
        """Drop this instance's position of `group`: what it was handed and did not commit comes
        again (nak). A group that never committed (e.g. one event-stream connection) is deleted."""
        self._run(self._forget(group))

    def groups_in_memory(self) -> list[str]:
        with self._lock:
            return sorted(set(self._positions) | set(self._floor))

    def committed(self, group: str) -> dict[Slot, int]:
        name = safe_name(group)
        return {(t, p): o for (g, t, p), o in self._run(self._all_committed()).items() if g == name}

    def heads(self, topics: Sequence[str] | None = None) -> dict[Slot, int]:
        """Next offset past the last event of every partition of `topics` (default: all)."""
        names = list(topics) if topics is not None else self._run(self._topic_names())
        heads: dict[Slot, int] = {}
        for topic in names:
            heads.update(self._run(self._heads(topic, self.partitions_of(topic))))
        return heads

    def identity(self) -> str:
        """Which bus this is: a uuid made once, by whichever process asks first (a KV create is
        atomic). A consumer keeping its own offsets (analytics) checks it, since offsets are per log."""
        return str(self._run(self._identity()))

    async def _identity(self) -> str:
        made, kv = uuid.uuid4().hex, await self._migrations()
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
            await retrying(lambda: kv.create(IDENTITY_KEY, made.encode()))
            return f"nats:{made}"
        entry = await retrying(lambda: kv.get(IDENTITY_KEY))
        return f"nats:{(entry.value or b'').decode()}"

    @property
    def connected_url(self) -> str:
        """The server this log talks to now (it moves on when that node goes away)."""
        url = self._nc.connected_url
        return url.geturl() if url is not None else ""

    def replicas(self, topic: str) -> dict[str, bool]:
        """Each server holding the topic's stream -> whether it is current (the leader is)."""
        info = self._run(self._js.stream_info(stream_name(check_topic(topic))))
        cluster = info.cluster
        if cluster is None:
            return {}
        status = {str(cluster.leader): True} if cluster.leader else {}
        status.update({str(r.name): bool(r.current) for r in cluster.replicas or []})
        return status

    # -- copying another log in (server/events/migrate.py) ---------------------------------------
    def create_topic(self, topic: str, partitions: int) -> int:
        """The topic's partition count; a new topic gets `partitions` (those of the log copied in)."""
        n = self._topics.get(check_topic(topic))
        if n is None:
            n = self._topics[topic] = self._run(self._ensure_stream(topic, partitions))
        return n

    def append_copies(self, events: Sequence[Event]) -> list[int]:
        """Store copies of another log's events (key, time, payload and partition kept); returns
        their offsets here. Each partition's are sent one after the other, so they stay in order
        through a failover; each is deduplicated by its origin (`topic/partition/offset`)."""
        return self._run(self._append_copies(list(events)), PUBLISH_DEADLINE_S * 2)

    def copied_through(self, topic: str, partition: int) -> int:
        """The next offset of the copied log to copy into `partition`: the recorded progress, or
        past the partition's last copy should the record lag behind it (a run cut short)."""
        return int(self._run(self._copied_through(topic, partition)))

    def record_copied(self, topic: str, partition: int, next_offset: int) -> None:
        self._run(self._record_copied(topic, partition, next_offset))

    # -- housekeeping ----------------------------------------------------------------------------
    def enforce_retention(self, now: float | None = None) -> int:
        """JetStream applies the streams' age and size limits itself; nothing to do here."""
        return 0

    def describe(self) -> list[admin.PartitionInfo]:
        """Every partition with its first kept offset, head, events kept and each group's lag."""
        committed = self._run(self._all_committed())
        rows: list[admin.PartitionInfo] = []
        for topic in sorted(self._run(self._topic_names())):
            rows += self._run(self._describe_topic(topic, self.partitions_of(topic), committed))
        return rows

    def close(self) -> None:
        """Give back what was handed out and not committed (nak), then disconnect. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._shutdown(), REQUEST_TIMEOUT_S)
        finally:
            self._stop_loop()

    def __enter__(self) -> NatsEventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop thread -------------------------------------------------------------------------
    def _run(self, coro: Awaitable[T], timeout: float = REQUEST_TIMEOUT_S * 3) -> T:
        if self._closed and not self._loop.is_running():
            raise EventBusError("The event log is closed.")
        future = asyncio.run_coroutine_threadsafe(as_coroutine(coro), self._loop)
        try:
            return future.result(timeout)
        except TimeoutError as exc:
            future.cancel()
            raise EventBusError(f"The JetStream cluster did not answer in {timeout:.0f} s.",
                                hint="check the event_log setting and the cluster's nodes") from exc

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(REQUEST_TIMEOUT_S)

    async def _connect(self) -> tuple[Client, JetStreamContext, KeyValue]:
        try:
            nc = await asyncio.wait_for(nats.connect(
                servers=self.servers, connect_timeout=2, allow_reconnect=True, max_reconnect_attempts=-1,
                reconnect_time_wait=0.2, name="miniflix", max_outstanding_pings=3, ping_interval=5),
                self.connect_timeout)
            js = nc.jetstream(timeout=REQUEST_TIMEOUT_S)
            kv = await self._offsets_bucket(js)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise EventBusError(f"Cannot reach the JetStream cluster at {','.join(self.servers)}: {exc!r}.",
                                hint="check the event_log setting (MINIFLIX_EVENT_LOG) and that the "
                                "servers run with JetStream (main.py cluster up)") from exc
        return nc, js, kv

    async def _offsets_bucket(self, js: JetStreamContext) -> KeyValue:
        try:
            return await js.key_value(OFFSETS_BUCKET)
        except nats.js.errors.BucketNotFoundError:
            return await retrying(lambda: js.create_key_value(bucket=OFFSETS_BUCKET, history=1,
                                                               replicas=self.replica_count))

    async def _ensure_stream(self, topic: str, partitions: int | None = None) -> int:
        """The topic's partition count, creating its stream if needed: once at a time in this
        process; a stream another process is creating meanwhile is waited for, bounded."""
        name, partitions = stream_name(topic), partitions or self.partitions
        end = time.monotonic() + REQUEST_TIMEOUT_S * 2
        async with self._creating:
            while True:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    info = await retrying(lambda: self._js.stream_info(name))
                    return int((info.config.metadata or {}).get("partitions", partitions))
                try:
                    await retrying(lambda: self._js.add_stream(self._stream_config(topic, partitions)))
                    await self._until_led(name)
                    return partitions
                except nats.js.errors.BadRequestError as exc:  # being created by another process
                    if time.monotonic() > end:
                        raise EventBusError(f"Cannot create the stream for topic {topic!r}: {exc}.") from exc
                    await asyncio.sleep(0.1)

    async def _until_led(self, name: str) -> None:
        """A new replicated stream drops publishes until its replicas elected a leader."""
        end = time.monotonic() + REQUEST_TIMEOUT_S
        while time.monotonic() < end:
            with contextlib.suppress(nats.js.errors.NotFoundError):  # not known everywhere yet
                info = await retrying(lambda: self._js.stream_info(name))
                if info.cluster is None or info.cluster.leader:
                    return
            await asyncio.sleep(0.05)

    def _stream_config(self, topic: str, partitions: int) -> StreamConfig:
        max_age, max_bytes = self.retention.limits(topic)
        return StreamConfig(name=stream_name(topic), subjects=[f"miniflix.{topic}.*"],
                            num_replicas=self.replica_count, duplicate_window=120.0, max_age=max_age,
                            max_bytes=max_bytes, allow_direct=True, allow_atomic=True,
                            metadata={"partitions": str(partitions)})

    # -- publishing (loop thread) ----------------------------------------------------------------
    async def _publish_batch(self, topic: str, batch: list[tuple[int, str, bytes]]) -> list[tuple[int, int]]:
        """Sent in atomic batches (stored together, in order, one PubAck each). A batch without
        its ack (a node lost, a leader election, a stream without atomic batches) is sent again
        event by event, in order, with backoff: each has its msg id, so one the batch did store
        is not stored twice and its ack names where it is."""
        subjects = [f"miniflix.{topic}.{p}" for p, _, _ in batch]
        headers = [headers_for(key) for _, key, _ in batch]
        seqs: list[int] = []
        for start in range(0, len(batch), ATOMIC_BATCH):
            part = range(start, min(start + ATOMIC_BATCH, len(batch)))
            stored = await self._send_atomic([(subjects[i], batch[i][2], headers[i]) for i in part])
            if stored is None:
                stored = [await self._publish_one(subjects[i], batch[i][2], headers[i]) for i in part]
            seqs += stored
        return [(p, seq - 1) for (p, _, _), seq in zip(batch, seqs, strict=True)]

    async def _send_atomic(self, messages: list[tuple[str, bytes, dict[str, str]]]) -> list[int] | None:
        """The stream sequences of `messages` stored as one atomic batch, or None if that failed."""
        batch_id, last = uuid.uuid4().hex, len(messages)
        try:
            for n, (subject, payload, headers) in enumerate(messages, 1):
                marks = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(n)}
                if n < last:
                    await self._nc.publish(subject, payload, headers={**headers, **marks})
                else:
                    reply = await self._nc.request(subject, payload, timeout=PUB_ACK_WAIT_S,
                                                   headers={**headers, **marks, "Nats-Batch-Commit": "1"})
            ack = json.loads(reply.data)
        except (*TRANSIENT, nats.errors.Error, ValueError):
            return None
        if "error" in ack or int(ack.get("count", 0)) != last:
            return None
        return list(range(int(ack["seq"]) - last + 1, int(ack["seq"]) + 1))

    async def _publish_one(self, subject: str, payload: bytes, headers: dict[str, str]) -> int:
        ack = await retrying(lambda: self._js.publish(subject, payload, timeout=2.0, headers=headers),
                              deadline=PUBLISH_DEADLINE_S)
        return int(ack.seq)

    async def _append_copies(self, events: list[Event]) -> list[int]:
        by_slot: dict[Slot, list[int]] = {}
        for i, e in enumerate(events):
            by_slot.setdefault((e.topic, e.partition), []).append(i)
        offsets = [0] * len(events)

        async def copy_in_order(indexes: list[int]) -> None:
            for i in indexes:
                e = events[i]
                headers = {"Nats-Msg-Id": f"{e.topic}/{e.partition}/{e.offset}", KEY_HEADER: quote(e.key),
                           TS_HEADER: repr(e.timestamp), ORIGIN_HEADER: str(e.offset)}
                subject = f"miniflix.{e.topic}.{e.partition}"
                offsets[i] = await self._publish_one(subject, e.value_json.encode(), headers) - 1
        await asyncio.gather(*(copy_in_order(ix) for ix in by_slot.values()))
        return offsets

    async def _migrations(self) -> KeyValue:
        try:
            return await self._js.key_value(MIGRATIONS_BUCKET)
        except nats.js.errors.BucketNotFoundError:
            return await retrying(lambda: self._js.create_key_value(bucket=MIGRATIONS_BUCKET, history=1,
                                                                     replicas=self.replica_count))

    async def _copied_through(self, topic: str, partition: int) -> int:
        kv = await self._migrations()
        try:
            entry = await retrying(lambda: kv.get(f"{topic}.{partition}"))
            recorded = int(entry.value or b"0")
        except nats.js.errors.KeyNotFoundError:
            recorded = 0
        try:
            subject = f"miniflix.{topic}.{partition}"
            last = await retrying(lambda: self._js.get_last_msg(stream_name(topic), subject))
        except nats.js.errors.NotFoundError:
            return recorded
        origin = (last.headers or {}).get(ORIGIN_HEADER)
        return max(recorded, int(origin) + 1) if origin is not None else recorded

    async def _record_copied(self, topic: str, partition: int, next_offset: int) -> None:
        kv = await self._migrations()
        await retrying(lambda: kv.put(f"{topic}.{partition}", str(next_offset).encode()))

    # -- consuming (loop thread) -----------------------------------------------------------------
    async def _subscribe(self, group: str, topics: list[str], start: str) -> None:
        for topic in topics:
            if (group, topic) not in self._subs:
                try:
                    await asyncio.wait_for(self._subscription(group, topic, start), REQUEST_TIMEOUT_S * 2)
                except TimeoutError as exc:
                    raise EventBusError(f"The JetStream cluster did not set up group {group!r} on topic "
                                        f"{topic!r} in time.", hint="check the cluster's nodes") from exc

    async def _fill(self, group: str, order: list[str], max_events: int, timeout: float) -> None:
        """Fetch into the group's queues until they hold an event or `timeout` passed; bounded by
        `timeout + FETCH_GRACE_S` (a fetch still under way then goes on in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            for topic in order:
                ready = self._ready_count(group, order)
                if ready >= max_events:
                    return
                left = deadline - time.monotonic()
                wait = max(min(left, MULTI_TOPIC_WAIT_S) if len(order) > 1 else left, 0.01)
                await self._fetch(group, topic, max_events - ready, wait)
            if self._ready_count(group, order) or time.monotonic() >= deadline:
                return

    async def _fetch(self, group: str, topic: str, want: int, wait: float) -> None:
        """Wait up to `wait + FETCH_GRACE_S` for this subscription's fetch (starting one if none
        runs); the fetch itself is shielded, so what it brings is queued, never dropped."""
        key = (group, topic)
        task = self._fetching.get(key)
        if task is None or task.done():
            task = self._fetching[key] = asyncio.ensure_future(self._fetch_into(key, want, wait))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), wait + FETCH_GRACE_S)

    async def _fetch_into(self, key: tuple[str, str], want: int, wait: float) -> None:
        sub = self._subs.get(key)
        if sub is None:
            return
        try:
            msgs = await asyncio.wait_for(sub.fetch(want, timeout=wait), wait + FETCH_HANG_S)
        except (TimeoutError, nats.errors.TimeoutError):
            return
        except nats.errors.Error:  # a node went away mid-fetch: a gap the next fetch sees
            return
        if self._subs.get(key) is not sub:  # restarted meanwhile (seek, forget, rewind)
            return
        msgs, gap = self._in_order(key, msgs)
        with self._lock:
            self._ready.setdefault(key, deque()).extend(msgs)
        if gap:
            try:
                await self._rewind(*key)
            except EventBusError:  # the cluster is failing over: the next poll subscribes again
                await self._unsubscribe(*key)

    def _in_order(self, key: tuple[str, str], msgs: list[Msg]) -> tuple[list[Msg], bool]:
        """The messages up to the first gap in the consumer's delivery sequence, and whether there
        was one (a delivery this instance never received). A step back is a new consumer leader
        resending what its replicas knew of: those are recognised when taken."""
        last = self._delivered.get(key, 0)
        for i, msg in enumerate(msgs):
            seq = msg.metadata.sequence.consumer
            if seq > last + 1:
                self._delivered[key] = last
                return msgs[:i], True
            last = seq
        self._delivered[key] = last
        return msgs, False

    def _ready_count(self, group: str, topics: list[str]) -> int:
        with self._lock:
            return sum(len(self._ready.get((group, t), ())) for t in topics)

    def _take(self, group: str, order: list[str], max_events: int) -> list[Event]:
        """Hand out up to `max_events` queued events (caller's thread); skipped ones are acked."""
        events: list[Event] = []
        skipped: list[Msg] = []
        with self._lock:
            for topic in order:
                queue = self._ready.get((group, topic), deque())
                while queue and len(events) < max_events:
                    msg = queue.popleft()
                    verdict = self._verdict(group, msg)
                    if verdict == "skip":
                        skipped.append(msg)
                    elif verdict == "new":
                        events.append(event_of(msg))
        if skipped:
            asyncio.run_coroutine_threadsafe(ack_all(skipped), self._loop)
        return events

    def _verdict(self, group: str, msg: Msg) -> str:
        """'new' (hand it out), 'held' (a redelivery of one this instance handed out and the group
        has not committed: keep the newest msg to ack) or 'skip' (below what the group committed
        or sought, or what this instance handed out: ack it). Called with the lock held."""
        slot = slot_of(msg.subject)
        offset = msg.metadata.sequence.stream - 1
        held = self._held.setdefault(group, {})
        if (slot, offset) in held:
            held[(slot, offset)] = msg
            return "held"
        handed = self._positions.setdefault(group, {}).get(slot, 0)
        if offset < max(self._floor.setdefault(group, {}).get(slot, 0), handed):
            return "skip"
        held[(slot, offset)] = msg
        positions = self._positions.setdefault(group, {})
        positions[slot] = max(positions.get(slot, 0), offset + 1)
        return "new"

    async def _subscription(self, group: str, topic: str, start: str) -> None:
        if (group, topic) in self._subs:
            return
        committed = {s: o for (g, t, p), o in (await self._all_committed()).items()
                     if g == safe_name(group) and t == topic for s in [(t, p)]}
        with self._lock:
            floor = self._floor.setdefault(group, {})
            for slot, offset in committed.items():
                floor.setdefault(slot, offset)
            known = {s: o for s, o in floor.items() if s[0] == topic}
        try:
            info = await retrying(lambda: self._js.consumer_info(stream_name(topic), safe_name(group)))
        except nats.js.errors.NotFoundError:
            if not known and start == "latest":
                heads = await self._heads(topic, self._topics[topic])
                self._seek_in_memory(group, heads)
                known = heads
            lowest = min(known.get((topic, p), 0) for p in range(self._topics[topic]))  # unknown: 0
            await self._create_consumer(group, topic, lowest)
            await self._bind(group, topic, 0)
            return
        if info.num_ack_pending:  # an earlier instance's deliveries: come again now, in order
            await self._rewind(group, topic)
        else:
            await self._bind(group, topic, info.delivered.consumer_seq if info.delivered else 0)

    async def _bind(self, group: str, topic: str, delivered: int) -> None:
        """Subscribe to the group's consumer, which has made `delivered` deliveries so far."""
        self._delivered[(group, topic)] = delivered
        self._subs[(group, topic)] = await self._js.pull_subscribe_bind(safe_name(group), stream_name(topic))

    async def _rewind(self, group: str, topic: str) -> None:
        """Start the group's consumer again at its first unacknowledged event (see the module
        docstring); held and committed events are kept, fetched and not handed out ones dropped."""
        try:
            info = await retrying(lambda: self._js.consumer_info(stream_name(topic), safe_name(group)))
            acked = info.ack_floor.stream_seq if info.ack_floor else 0
        except nats.js.errors.NotFoundError:
            with self._lock:
                floor = self._floor.setdefault(group, {})
                acked = min((floor.get((topic, p), 0) for p in range(self._topics[topic])), default=0)
        self.rewinds += 1
        await self._unsubscribe(group, topic)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await retrying(lambda: self._js.delete_consumer(stream_name(topic), safe_name(group)))
        await self._create_consumer(group, topic, acked)  # offset = seq - 1: starts after the floor
        await self._bind(group, topic, 0)

    def _seek_in_memory(self, group: str, offsets: Mapping[Slot, int]) -> None:
        with self._lock:
            self._floor.setdefault(group, {}).update(offsets)
            self._positions.setdefault(group, {}).update(offsets)

    async def _create_consumer(self, group: str, topic: str, offset: int) -> None:
        policy = DeliverPolicy.BY_START_SEQUENCE if offset > 0 else DeliverPolicy.ALL
        config = ConsumerConfig(durable_name=safe_name(group), deliver_policy=policy,
                                opt_start_seq=offset + 1 if offset > 0 else None,
                                filter_subject=f"miniflix.{topic}.*", ack_wait=self.ack_wait,
                                max_ack_pending=-1, inactive_threshold=None)
        await retrying(lambda: self._js.add_consumer(stream_name(topic), config))

    async def _restart_consumer(self, group: str, topic: str, offset: int) -> None:
        await self._unsubscribe(group, topic)
        with self._lock:
            held = self._held.setdefault(group, {})
            for slot_offset in [so for so in held if so[0][0] == topic]:
                del held[slot_offset]
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await retrying(lambda: self._js.delete_consumer(stream_name(topic), safe_name(group)))
        await self._create_consumer(group, topic, offset)
        await self._bind(group, topic, 0)

    async def _unsubscribe(self, group: str, topic: str) -> list[Msg]:
        """Stop the subscription and its fetch; returns what it had fetched and not handed out."""
        sub = self._subs.pop((group, topic), None)
        fetching = self._fetching.pop((group, topic), None)
        if fetching is not None and fetching is not asyncio.current_task():
            fetching.cancel()
        with self._lock:
            ready = list(self._ready.pop((group, topic), ()))
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        return ready

    async def _commit(self, group: str, offsets: dict[Slot, int]) -> None:
        with self._lock:
            held = self._held.setdefault(group, {})
            done = [so for so in held if so[0] in offsets and so[1] < offsets[so[0]]]
            acks = [held.pop(so) for so in done]
            self._floor.setdefault(group, {}).update(offsets)
            positions = self._positions.setdefault(group, {})
            for slot, offset in offsets.items():
                positions[slot] = max(positions.get(slot, 0), offset)
        await ack_all(acks)
        await asyncio.gather(*(self._put_offset(f"{safe_name(group)}.{topic}.{partition}", offset)
                               for (topic, partition), offset in offsets.items()))
        self._committed_groups.add(group)

    async def _put_offset(self, key: str, offset: int) -> None:
        await retrying(lambda: self._kv.put(key, str(offset).encode()))

    async def _forget(self, group: str) -> None:
        with self._lock:
            held = list(self._held.pop(group, {}).values())
            self._positions.pop(group, None)
            if group not in self._committed_groups:
                self._floor.pop(group, None)
            for (g, _topic), queue in self._ready.items():
                if g == group:
                    held += queue
                    queue.clear()
        await nak_all(held)
        if group in self._committed_groups:
            return
        for (g, topic) in [gt for gt in self._subs if gt[0] == group]:
            await self._unsubscribe(g, topic)
            with contextlib.suppress(nats.errors.Error, EventBusError):
                await self._js.delete_consumer(stream_name(topic), safe_name(group))

    async def _shutdown(self) -> None:
        for task in self._fetching.values():
            task.cancel()
        await asyncio.gather(*self._fetching.values(), return_exceptions=True)
        self._fetching.clear()
        with self._lock:
            held = [m for per in self._held.values() for m in per.values()]
            held += [m for queue in self._ready.values() for m in queue]
            self._held.clear()
            self._ready.clear()
        await nak_all(held)
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await self._nc.flush(timeout=2)
        await self._nc.close()

    # -- inspection (loop thread) ----------------------------------------------------------------
    async def _topic_names(self) -> list[str]:
        names = await retrying(self._js.streams_info)
        return [(s.config.subjects or ["miniflix.?.*"])[0][len("miniflix."):-2]
                for s in names if (s.config.name or "").startswith(STREAM_PREFIX)]

    async def _heads(self, topic: str, partitions: int) -> dict[Slot, int]:
        async def last(p: int) -> int:
            try:
                subject = f"miniflix.{topic}.{p}"
                msg = await retrying(lambda: self._js.get_last_msg(stream_name(topic), subject))
                return int(msg.seq or 0)
            except nats.js.errors.NotFoundError:
                return 0
        seqs = await asyncio.gather(*(last(p) for p in range(partitions)))
        return {(topic, p): seq for p, seq in enumerate(seqs)}

    async def _all_committed(self) -> dict[tuple[str, str, int], int]:
        out = {}
        for key in await self._offset_keys():
            group, _, rest = key.partition(".")
            topic, _, part = rest.rpartition(".")
            try:
                entry = await retrying(lambda k=key: self._kv.get(k))
            except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):  # deleted since
                continue
            out[(group, topic, int(part))] = int(entry.value or b"0")
        return out

    async def _offset_keys(self) -> list[str]:
        """Every key of the offsets bucket, from its stream's subject list (asked of the leader).

        Not `KeyValue.keys()`: it reads the keys through an ordered consumer and decides it has them
        all from a consumer-info reply that races the pushed keys, so under load it now and then
        answers "no keys" (3 of 200 reads at load 6 here; the `events` command then showed no
        committed offsets for a group that had them)."""
        prefix = f"$KV.{OFFSETS_BUCKET}."
        info = await retrying(lambda: self._js.stream_info(f"KV_{OFFSETS_BUCKET}",
                                                           subjects_filter=f"{prefix}>"))
        return [subject[len(prefix):] for subject in (info.state.subjects or {})]

    async def _describe_topic(self, topic: str, partitions: int, committed: dict[tuple[str, str, int], int]
                              ) -> list[admin.PartitionInfo]:
        subjects = f"miniflix.{topic}.*"
        info = await retrying(lambda: self._js.stream_info(stream_name(topic), subjects_filter=subjects))
        counts = info.state.subjects or {}
        heads = await self._heads(topic, partitions)
        readers = sorted({g for (g, t, _) in committed if t == topic})
        rows = []
        for p in range(partitions):
            head = heads[(topic, p)]
            kept = int(counts.get(f"miniflix.{topic}.{p}", 0))
            earliest = min(head, max(0, int(info.state.first_seq) - 1)) if kept else head
            lags = {g: max(0, head - committed.get((g, topic, p), 0)) for g in readers}
            rows.append(admin.PartitionInfo(topic, p, earliest, head, kept, lags))
        return rows


def open_nats_log(url: str, data: DataDir) -> NatsEventLog:
    """The engine registry's entry for `event_log = nats://…` (`data` is unused: the cluster keeps
    the events)."""
    return NatsEventLog(servers_of(url))
