"""Copy a data dir's embedded event log into a JetStream bus (`main.py events migrate --to nats://…`),
so a library moves onto a cluster with its history.

Every kept event goes to the same topic and partition, in offset order, with its key, time and
payload (`NatsEventLog.append_copies`). Per partition the bus records how far the copy got, so a
second run copies only what is new and a run cut short resumes without duplicates. Each consumer
group's committed offset is carried over, translated to the bus's offsets, when the event it points
past is copied by the run. At the end every partition is counted on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from server.errors import InvalidRequest
from server.events.admin import PartitionInfo
from server.events.log import EventLog, next_offsets
from server.events.model import Event
from server.events.nats_log import NatsEventLog

Slot = tuple[str, int]
READER_GROUP = "miniflix-migrate"  # the embedded log's reader for the copy; never committed
BATCH = 1000


@dataclass
class MigrationReport:
    """What a run found and did; `short` names partitions the bus holds fewer events of."""

    source: int = 0  # events kept in the embedded log
    copied: int = 0  # stored on the bus by this run
    present: int = 0  # already there from an earlier run
    groups: dict[str, int] = field(default_factory=dict)  # group -> partitions whose offset was carried
    short: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.short


def migrate(source: EventLog, bus: NatsEventLog, progress: Callable[[str], None] = lambda line: None
            ) -> MigrationReport:
    """Copy every topic of `source` into `bus` (see the module docstring), then count both sides."""
    rows = [r for r in source.describe() if r.next_offset]
    report = MigrationReport(source=sum(r.kept for r in rows))
    for topic in sorted({r.topic for r in rows}):
        _copy_topic(source, bus, [r for r in rows if r.topic == topic], report, progress)
    report.short = _count_check(rows, bus)
    return report


def _copy_topic(source: EventLog, bus: NatsEventLog, rows: list[PartitionInfo], report: MigrationReport,
                progress: Callable[[str], None]) -> None:
    topic = rows[0].topic
    partitions = source.partitions_of(topic)
    if (on_bus := bus.create_topic(topic, partitions)) != partitions:
        raise InvalidRequest(f"Topic {topic!r} has {partitions} partitions in the embedded log but "
                             f"{on_bus} on the bus, so its keys would land in other partitions.",
                             hint="migrate into a bus that does not have this topic yet")
    starts = {(topic, r.partition): max(r.earliest, bus.copied_through(topic, r.partition)) for r in rows}
    report.present += sum(min(starts[(topic, r.partition)], r.next_offset) - r.earliest for r in rows)
    pending = _group_offsets(rows, bus)
    total, done = sum(r.kept for r in rows), report.present
    source.seek(READER_GROUP, starts)
    try:
        while batch := source.poll(READER_GROUP, [topic], max_events=BATCH, timeout=0):
            placed = bus.append_copies(batch)
            for (_, partition), next_offset in next_offsets(batch).items():
                bus.record_copied(topic, partition, next_offset)
            _carry_group_offsets(bus, batch, placed, pending, report)
            report.copied += len(batch)
            progress(f"{topic}: {min(done + report.copied, total)}/{total} events")
    finally:
        source.forget(READER_GROUP)


def _group_offsets(rows: list[PartitionInfo], bus: NatsEventLog) -> dict[str, dict[Slot, int]]:
    """Each source group's committed offset per partition, where the bus has none for it yet."""
    wanted: dict[str, dict[Slot, int]] = {}
    for group in sorted({g for r in rows for g in r.lags}):
        on_bus = bus.committed(group)
        for r in rows:
            slot, committed = (r.topic, r.partition), r.next_offset - r.lags.get(group, r.next_offset)
            if committed > 0 and slot not in on_bus:
                wanted.setdefault(group, {})[slot] = committed
    return wanted


def _carry_group_offsets(bus: NatsEventLog, batch: list[Event], placed: list[int],
                         pending: dict[str, dict[Slot, int]], report: MigrationReport) -> None:
    """A group committed up to source offset N: once event N-1 is copied, commit past its copy."""
    for group, offsets in pending.items():
        carried = {(e.topic, e.partition): at + 1 for e, at in zip(batch, placed, strict=True)
                   if offsets.get((e.topic, e.partition)) == e.offset + 1}
        if carried:
            bus.commit(group, carried)
            report.groups[group] = report.groups.get(group, 0) + len(carried)


def _count_check(rows: list[PartitionInfo], bus: NatsEventLog) -> list[str]:
    """Partitions whose copy did not reach the source's head, or that the bus holds fewer events of."""
    kept = {(r.topic, r.partition): r.kept for r in bus.describe()}
    return [f"{r.topic}/{r.partition}" for r in rows
            if bus.copied_through(r.topic, r.partition) < r.next_offset
            or kept.get((r.topic, r.partition), 0) < r.kept]
