"""The Parquet lake of the event log: its layout, its schema, and how files enter and leave it.

One directory per topic and hour of event time (`lake/topic=cdn/hour=2026-12-06T17/`), files named by
the log partition and the offset range they hold (`part-p3-000000000120-000000000379.parquet`).
A file becomes visible only whole: it is written to a dot-name in the same folder, fsynced, then
renamed. Compaction merges the files of one partition in a closed hour into one file whose range
covers theirs; a file whose range lies inside another's (a compaction cut short before it removed its
inputs) is superseded, never listed, and removed by the next `sweep`. docs/LAKE.md has the schema.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from server.errors import InvalidRequest

if TYPE_CHECKING:
    import duckdb

Slot = tuple[str, int]


@dataclass(frozen=True)
class Column:
    """One typed column: its DuckDB type and the payload field it comes from (`json`: kept as text)."""

    name: str
    type: str
    field: str = ""
    json: bool = False

    @property
    def source(self) -> str:
        return self.field or self.name


def _cols(spec: str) -> tuple[Column, ...]:
    """`name:TYPE[:field][:json]` items separated by spaces, e.g. `happened_at:DOUBLE:at`."""
    columns = []
    for item in spec.split():
        name, kind, *rest = item.split(":")
        columns.append(Column(name, kind, rest[0] if rest and rest[0] else "", "json" in rest[1:]))
    return tuple(columns)


# Every file starts with the event's place in the log and its raw payload, so the lake loses nothing
# the typed columns leave out; the typed columns are the analytics tables' (schema.py).
LOG_COLUMNS = _cols("log_partition:INTEGER log_offset:BIGINT log_key:VARCHAR log_time:DOUBLE value:VARCHAR")
TOPIC_COLUMNS: dict[str, tuple[Column, ...]] = {
    "videos": _cols("video_id:VARCHAR type:VARCHAR happened_at:DOUBLE:at title:VARCHAR::json "
                    "error:VARCHAR duration:DOUBLE width:INTEGER height:INTEGER codec:VARCHAR "
                    "renditions:VARCHAR::json"),
    "encode": _cols("video_id:VARCHAR job_id:VARCHAR task:VARCHAR attempt:INTEGER type:VARCHAR "
                    "happened_at:DOUBLE:at wall_s:DOUBLE cpu_s:DOUBLE out_seconds:DOUBLE chunks:INTEGER "
                    "retries:INTEGER duration:DOUBLE realtime_factor:DOUBLE error:VARCHAR"),
    "playback": _cols("session_id:VARCHAR video_id:VARCHAR type:VARCHAR happened_at:DOUBLE:at edge:VARCHAR "
                      "region:VARCHAR rendition:VARCHAR bitrate:BIGINT startup_ms:DOUBLE bytes:BIGINT "
                      "ms:DOUBLE stall_ms:DOUBLE:duration_ms from_rendition:VARCHAR:from "
                      "to_rendition:VARCHAR:to watched_s:DOUBLE position_s:DOUBLE duration_s:DOUBLE"),
    "cdn": _cols("edge:VARCHAR region:VARCHAR type:VARCHAR video_id:VARCHAR object:VARCHAR bytes:BIGINT "
                 "reason:VARCHAR healthy:BOOLEAN load:DOUBLE happened_at:DOUBLE:at"),
    "steering": _cols("video_id:VARCHAR client_region:VARCHAR chosen:VARCHAR candidates:VARCHAR::json "
                      "happened_at:DOUBLE:at"),
}
TOPICS = tuple(TOPIC_COLUMNS)

PART = re.compile(r"^part-p(\d+)-(\d+)-(\d+)\.parquet$")
HOUR_FORMAT = "%Y-%m-%dT%H"
LAST_HOUR_S = 253_402_297_200  # 9999-12-31T23:00 UTC, the last hour a folder name can say
CHECKPOINT = "_archived.json"


@dataclass(frozen=True)
class PartFile:
    """A visible lake file and the log range it holds (all its events are of one partition)."""

    path: Path
    topic: str
    hour: str
    partition: int
    first: int
    last: int

    def covers(self, other: PartFile) -> bool:
        return (self is not other and self.partition == other.partition
                and self.first <= other.first and other.last <= self.last)


def columns(topic: str) -> tuple[Column, ...]:
    """Every column of a topic's files, in file order."""
    return LOG_COLUMNS + TOPIC_COLUMNS[topic]


def hour_name(hour_number: int) -> str:
    """`2026-12-06T17` for the hour that starts at `hour_number * 3600` (UTC)."""
    return datetime.fromtimestamp(hour_number * 3600, UTC).strftime(HOUR_FORMAT)


def hour_start(name: str) -> float:
    return datetime.strptime(name, HOUR_FORMAT).replace(tzinfo=UTC).timestamp()


def hour_dir(lake: Path, topic: str, hour: str) -> Path:
    return lake / f"topic={topic}" / f"hour={hour}"


def part_name(partition: int, first: int, last: int) -> str:
    return f"part-p{partition}-{first:012d}-{last:012d}.parquet"


def all_parts(lake: Path, topic: str) -> list[PartFile]:
    """Every complete file of `topic`, superseded ones included, in path order."""
    found = []
    for path in sorted((lake / f"topic={topic}").glob("hour=*/part-*.parquet")):
        match = PART.match(path.name)
        if match:
            p, first, last = (int(g) for g in match.groups())
            found.append(PartFile(path, topic, path.parent.name.removeprefix("hour="), p, first, last))
    return found


def visible_parts(lake: Path, topic: str) -> list[PartFile]:
    """The files a reader takes: every complete file not superseded by a compacted one."""
    parts = all_parts(lake, topic)
    by_dir: dict[Path, list[PartFile]] = {}
    for part in parts:
        by_dir.setdefault(part.path.parent, []).append(part)
    return [p for p in parts if not any(o.covers(p) for o in by_dir[p.path.parent])]


def files(lake: Path, topic: str) -> list[str]:
    """Paths of the visible files of `topic`, for `read_parquet([...])` or Spark's reader."""
    if topic not in TOPIC_COLUMNS:
        raise InvalidRequest(f"The lake has no topic {topic!r}.", hint=f"topics: {', '.join(TOPICS)}")
    return [str(p.path) for p in visible_parts(lake, topic)]


# -- writing ---------------------------------------------------------------------------------------

def publish(conn: duckdb.DuckDBPyConnection, select_sql: str, target: Path) -> Path:
    """Write the rows of `select_sql` to a hidden temp file beside `target`, fsync, rename into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    conn.execute(f"COPY ({select_sql}) TO '{_sql_path(tmp)}' (FORMAT parquet)")
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    return target


def remove(paths: Iterable[Path]) -> int:
    removed = 0
    for path in paths:
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def sweep(lake: Path, checkpoint: dict[Slot, int]) -> int:
    """Remove what a crash left behind: temp files, files superseded by a compacted file, and files
    of a batch the checkpoint does not record (the log redelivers that batch whole)."""
    stale = list(lake.glob("topic=*/hour=*/.*.tmp"))
    for topic in TOPICS:
        visible = {p.path for p in visible_parts(lake, topic)}
        for part in all_parts(lake, topic):
            if part.path not in visible or part.first >= checkpoint.get((topic, part.partition), 0):
                stale.append(part.path)
    return remove(stale)


def compact(conn: duckdb.DuckDBPyConnection, lake: Path, *, now: float | None = None,
            closed_after_s: float = 600.0) -> int:
    """Merge each partition's files of every hour that ended `closed_after_s` ago into one file;
    returns how many files were merged away."""
    cutoff = (time.time() if now is None else now) - closed_after_s
    merged = 0
    for topic in TOPICS:
        for group in _small_groups(visible_parts(lake, topic), cutoff):
            merged += _merge(conn, topic, group)
    return merged


def _small_groups(parts: Sequence[PartFile], cutoff: float) -> Iterator[list[PartFile]]:
    groups: dict[tuple[str, int], list[PartFile]] = {}
    for part in parts:
        if hour_start(part.hour) + 3600 <= cutoff:
            groups.setdefault((part.hour, part.partition), []).append(part)
    yield from (g for g in groups.values() if len(g) > 1)


def _merge(conn: duckdb.DuckDBPyConnection, topic: str, group: list[PartFile]) -> int:
    """The new file goes in before its inputs go out: a crash in between leaves them superseded."""
    names = ", ".join(c.name for c in columns(topic))
    sources = ", ".join(f"'{_sql_path(p.path)}'" for p in group)
    target = group[0].path.with_name(part_name(group[0].partition, min(p.first for p in group),
                                               max(p.last for p in group)))
    publish(conn, f"SELECT {names} FROM read_parquet([{sources}], hive_partitioning = false) "
                  f"ORDER BY log_offset", target)
    return remove(p.path for p in group)


# -- the archiver's checkpoint ----------------------------------------------------------------------

def read_checkpoint(lake: Path) -> dict[Slot, int]:
    """Per log partition, the next offset not yet in the lake (written after every batch)."""
    path = lake / CHECKPOINT
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {(t, int(p)): int(o) for k, o in raw.items() for t, p in [k.rsplit(":", 1)]}
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"The lake's checkpoint {CHECKPOINT} is not valid JSON of "
                             "'topic:partition' → offset.",
                             hint="delete the lake folder and archive the log again") from exc


def write_checkpoint(lake: Path, offsets: dict[Slot, int]) -> None:
    lake.mkdir(parents=True, exist_ok=True)
    tmp = lake / f".{CHECKPOINT}.tmp"
    tmp.write_text(json.dumps({f"{t}:{p}": o for (t, p), o in sorted(offsets.items())}), encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, lake / CHECKPOINT)
    _fsync_dir(lake)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """A rename is durable once its folder is synced (POSIX); Windows cannot open a folder for it."""
    if os.name == "nt":
        return
    _fsync(path)
