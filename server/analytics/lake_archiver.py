"""The lake archiver: a consumer group of its own (`lake`) that copies the analytics topics into the
Parquet lake (server/analytics/lake.py), one file per topic, hour and log partition of each batch.

Order per batch: files written and renamed into place, then the lake's checkpoint (next offset per log
partition), then the log commit. The lake's checkpoint, not the group's offsets, says what is in:
on open, files of a batch it does not record are removed and the log is rewound to it, so a batch
cut short by a crash is written again whole, never twice. One archiver per lake (a lock file).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import duckdb

from server import config
from server.analytics import lake
from server.background import Worker
from server.errors import Conflict, InvalidRequest
from server.events.log import EventLog
from server.events.model import Event
from server.paths import DataDir
from server.portable import lock_exclusive, unlock

log = logging.getLogger(__name__)
GROUP = "lake"


def _flag(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


config.register("lake_archive", False, "Run the lake archiver inside the server: every analytics topic "
                "is copied to Parquet files in the lake (docs/LAKE.md).", _flag)
config.register("lake_dir", "", "Folder of the Parquet lake of the event log (default: DATA/lake).")
config.register("lake_batch", 50_000, "Most events the lake archiver writes per batch.", int)
config.register("lake_compact_after_s", 600.0, "Seconds after an hour ends before the archiver merges "
                "that hour's small files (late events after that get files of their own).", float)


def archiver_if_enabled(events: EventLog, data: DataDir) -> Archiver | None:
    """The server's archiver when the `lake_archive` setting asks for one, else None."""
    return Archiver(events, lake_dir(data)) if config.get("lake_archive") else None


def lake_dir(data: DataDir) -> Path:
    """The lake folder: the `lake_dir` setting, or the data dir's `lake/`."""
    configured = config.get("lake_dir")
    return Path(configured).expanduser() if configured else data.root / "lake"


class Archiver:
    """Owns one lake folder while open; `run_once` for the CLI, `start`/`stop` as a server service."""

    def __init__(self, events: EventLog, path: Path, *, batch_size: int | None = None,
                 compact_after_s: float | None = None) -> None:
        self.path = Path(path)
        self._log = events
        self._batch = batch_size or config.get("lake_batch")
        self._compact_after = (config.get("lake_compact_after_s") if compact_after_s is None
                               else compact_after_s)
        self._checkpoint: dict[lake.Slot, int] = {}
        self._lock: IO[Any] | None = None
        self._compact_every_s = 60.0
        self._worker = Worker("lake-archiver", self._loop)
        self.error: BaseException | None = None

    def open(self) -> None:
        """Take the lake (`Conflict` if another archiver has it), clean up after a crash, rewind."""
        if self._lock is not None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = _take_lock(self.path)
        try:
            self._recover()
        except BaseException:
            self.close()
            raise

    def _recover(self) -> None:
        self._checkpoint = lake.read_checkpoint(self.path)
        if not self._checkpoint and any(lake.all_parts(self.path, t) for t in lake.TOPICS):
            raise InvalidRequest(f"The lake {self.path} has files but no checkpoint ({lake.CHECKPOINT}), "
                                 "so what is in it cannot be told from what is not.",
                                 hint="restore the checkpoint, or move the lake away and archive again")
        swept = lake.sweep(self.path, self._checkpoint)
        if swept:
            log.info("lake: removed %d files a crash left behind", swept)
        positions = {slot: self._checkpoint.get(slot, 0) for slot in self._log.heads(lake.TOPICS)}
        self._log.seek(GROUP, positions)
        self._log.commit(GROUP, positions)

    def close(self) -> None:
        self.stop()

    def run_once(self, *, compact: bool = True) -> int:
        """Archive every pending event now, then compact closed hours; returns events archived."""
        self.open()
        archived = 0
        while batch := self._log.poll(GROUP, lake.TOPICS, max_events=self._batch, timeout=0):
            archived += self.archive(batch)
        if compact:
            self.compact()
        return archived

    def archive(self, batch: Sequence[Event]) -> int:
        """Write one polled batch to the lake, then record it; returns how many events were new."""
        fresh = [e for e in batch if e.offset >= self._checkpoint.get((e.topic, e.partition), 0)]
        with duckdb.connect() as conn:
            for topic in lake.TOPICS:
                rows = [e for e in fresh if e.topic == topic]
                if rows:
                    _write_topic(conn, self.path, topic, rows)
        for e in fresh:
            slot = (e.topic, e.partition)
            self._checkpoint[slot] = max(self._checkpoint.get(slot, 0), e.offset + 1)
        if fresh:
            lake.write_checkpoint(self.path, self._checkpoint)
        self._log.commit(GROUP, batch)
        return len(fresh)

    def compact(self, now: float | None = None) -> int:
        with duckdb.connect() as conn:
            return lake.compact(conn, self.path, now=now, closed_after_s=self._compact_after)

    def start(self, *, compact_every_s: float = 60.0) -> None:
        """Archive in a background thread until `stop()` (the server's `lake_archive` service)."""
        self.open()
        self._compact_every_s = compact_every_s
        self._worker.start()

    def stop(self) -> None:
        """Stop after the batch in hand is written and release the lake. Idempotent."""
        self._worker.stop()
        if self._lock is not None:
            unlock(self._lock.fileno())
            self._lock.close()
            self._lock = None

    def _loop(self) -> None:
        compacted = time.monotonic()
        while not self._worker.stopping.is_set():
            try:
                batch = self._log.poll(GROUP, lake.TOPICS, max_events=self._batch, timeout=0.5)
                if batch:
                    self.archive(batch)
                if time.monotonic() - compacted >= self._compact_every_s:
                    self.compact()
                    compacted = time.monotonic()
            except Exception as exc:  # the batch stays uncommitted: it is written again after a restart
                self.error = exc
                log.exception("lake: archiving failed; stopping the archiver")
                return


def _take_lock(path: Path) -> IO[Any]:
    handle = open(path / ".archiver.lock", "a+")  # noqa: SIM115 -- held until close()
    try:
        lock_exclusive(handle.fileno(), wait=False)
    except OSError:
        handle.close()
        raise Conflict(f"Another archiver is writing the lake {path}.",
                       hint="stop it first, or give this one another lake_dir") from None
    return handle


def _write_topic(conn: duckdb.DuckDBPyConnection, path: Path, topic: str, events: Sequence[Event]) -> None:
    """Stage the events in DuckDB (it parses the JSON), then write one file per hour and partition."""
    conn.execute(_staging_sql(topic), {
        "p": [e.partition for e in events], "o": [e.offset for e in events],
        "k": [e.key for e in events], "ts": [e.timestamp for e in events],
        "v": [e.value_json for e in events]})
    names = ", ".join(c.name for c in lake.columns(topic))
    groups = conn.execute("SELECT hour_n, log_partition, MIN(log_offset), MAX(log_offset) FROM staged "
                          "GROUP BY ALL ORDER BY ALL").fetchall()
    for hour_n, partition, first, last in groups:
        target = lake.hour_dir(path, topic, lake.hour_name(hour_n)) / lake.part_name(partition, first, last)
        lake.publish(conn, f"SELECT {names} FROM staged WHERE hour_n = {int(hour_n)} "
                           f"AND log_partition = {int(partition)} ORDER BY log_offset", target)


def _staging_sql(topic: str) -> str:
    """A temp table `staged` of the topic's typed columns plus `hour_n` (hours since the epoch, by
    event time; by log time for an event without one, or with one no calendar has, e.g. in ms)."""
    typed = lake.TOPIC_COLUMNS[topic]
    struct = ", ".join(f'"{c.source}":"{"JSON" if c.json else c.type}"' for c in typed)
    fields = ", ".join((f'CAST(j."{c.source}" AS VARCHAR)' if c.json else f'j."{c.source}"') + f" AS {c.name}"
                       for c in typed)
    return f"""
CREATE OR REPLACE TEMP TABLE staged AS
SELECT *, CAST(FLOOR(CASE WHEN happened_at >= 0 AND happened_at < {lake.LAST_HOUR_S} THEN happened_at
                          ELSE log_time END / 3600) AS BIGINT) AS hour_n FROM (
    SELECT log_partition, log_offset, log_key, log_time, value, {fields}
    FROM (SELECT *, from_json(value, '{{{struct}}}') AS j FROM (
        SELECT unnest(CAST($p AS INTEGER[])) AS log_partition, unnest(CAST($o AS BIGINT[])) AS log_offset,
               unnest(CAST($k AS VARCHAR[])) AS log_key, unnest(CAST($ts AS DOUBLE[])) AS log_time,
               unnest(CAST($v AS VARCHAR[])) AS value)))"""
