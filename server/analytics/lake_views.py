"""The analytics tables as views over the lake, in SQL that DuckDB and Spark both run.

The named queries (queries.py) read `playback_by_*`, `cdn_events`, `encode_events`,
`steering_decisions` and `titles`. Over the lake those are views: each topic's visible files become
`lake_<topic>`, and the views above them give the live database's columns, so one query text serves
the live file, the lake in DuckDB and the lake in Spark. The dialect adapter for Spark is small and
textual (`spark_sql`): parameters become literals, and DuckDB type names become Spark's. The JSON of
the published titles is read by two views per engine, `titles` and `title_rungs` (DuckDB's `->>` and
`unnest` in schema.py; Spark's `get_json_object`, `from_json` and `explode` here), which give the same
columns, so `library_overview` is one query text on both.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.analytics import lake, schema
from server.analytics.queries import NamedQuery
from server.errors import InvalidRequest

if TYPE_CHECKING:
    import duckdb

# Views over `lake_<topic>` with the live tables' names and columns (schema.py), in creation order.
_TABLE_OF = {"videos": "video_events", "encode": "encode_events", "playback": "playback_events",
             "cdn": "cdn_events", "steering": "steering_decisions"}
_WHERE = {"encode": "WHERE type <> 'task_progress'"}  # the live loader skips progress ticks too
_RENAMED = {("videos", "seq"): "log_offset"}
_LIVE_COLUMNS = {
    "videos": ("video_id", "type", "happened_at", "seq", "title", "error", "duration", "width", "height",
               "codec", "renditions"),
}

SPARK_TYPES = {"VARCHAR": "STRING"}


def _table_view(topic: str) -> str:
    names = _LIVE_COLUMNS.get(topic) or tuple(c.name for c in lake.TOPIC_COLUMNS[topic])
    select = ", ".join(f"{_RENAMED[(topic, n)]} AS {n}" if (topic, n) in _RENAMED else n for n in names)
    return f"SELECT {select} FROM lake_{topic} {_WHERE.get(topic, '')}".strip()


def _rollup_view(dimension: str) -> str:
    return (f"SELECT FLOOR(happened_at / 3600) * 3600 AS hour, {dimension}, {schema.MEASURES} "
            f"FROM playback_events GROUP BY ALL")


def views() -> list[tuple[str, str]]:
    """(name, SELECT) of every view above the `lake_<topic>` relations, both engines' SQL."""
    made = [(_TABLE_OF[t], _table_view(t)) for t in lake.TOPICS]
    made += [(schema.rollup_table(d), _rollup_view(d)) for d in schema.ROLLUP_DIMENSIONS]
    return made


def empty_relation(topic: str, types: dict[str, str] | None = None) -> str:
    """A SELECT of no rows with the topic's file columns, for a topic with no files yet."""
    types = types or {}
    cols = ", ".join(f"CAST(NULL AS {types.get(c.type, c.type)}) AS {c.name}" for c in lake.columns(topic))
    return f"SELECT {cols} WHERE false"


# -- DuckDB ------------------------------------------------------------------------------------------

def attach_duckdb(conn: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyConnection:
    """Create the lake's views on `conn`: then `results.run(conn, name)` runs any named query."""
    for topic in lake.TOPICS:
        found = lake.files(path, topic)
        source = (f"SELECT * FROM read_parquet({_sql_list(found)}, hive_partitioning = false)" if found
                  else empty_relation(topic))
        conn.execute(f"CREATE OR REPLACE VIEW lake_{topic} AS {source}")
    for name, select in views():
        conn.execute(f"CREATE OR REPLACE VIEW {name} AS {select}")
    conn.execute(schema.TITLES_VIEW)
    conn.execute(schema.TITLE_RUNGS_VIEW)
    conn.execute(schema.RUNG_QUALITY_VIEW)
    return conn


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


# -- the Spark dialect -------------------------------------------------------------------------------

# schema.TITLES_VIEW and schema.TITLE_RUNGS_VIEW in Spark's JSON functions: the same columns and values
# (a JSON number read as text, then cast; a missing field is NULL in both).
SPARK_TITLE_VIEWS = (
    ("titles", """
SELECT video_id, type AS last_event, happened_at,
    get_json_object(title, '$.title') AS name,
    CAST(get_json_object(title, '$.duration') AS DOUBLE) AS duration,
    CAST(get_json_object(title, '$.size_bytes') AS BIGINT) AS size_bytes,
    get_json_object(title, '$.renditions') AS renditions
FROM (SELECT *, row_number() OVER (PARTITION BY video_id ORDER BY seq DESC) AS newest
      FROM video_events WHERE type IN ('published', 'restored', 'metadata_edited', 'deleted'))
WHERE newest = 1 AND type <> 'deleted'"""),
    ("title_rungs", """
SELECT t.video_id, t.duration, r.name AS rung, r.bandwidth AS bandwidth
FROM titles t LATERAL VIEW explode(from_json(COALESCE(t.renditions, '[]'),
    'array<struct<name:string,bandwidth:double>>')) u AS r"""),
    ("rung_quality", """
SELECT t.video_id, t.name AS title, r.name AS rung, r.width, r.height, r.quality.bitrate_kbps AS avg_kbps,
    r.quality.vmaf_mean, r.quality.vmaf_p5, r.quality.worst_segment.`index` AS worst_segment,
    r.quality.worst_segment.start_s AS worst_segment_start_s,
    r.quality.worst_segment.vmaf AS worst_segment_vmaf, r.quality.psnr_y, r.quality.ssim
FROM titles t LATERAL VIEW explode(from_json(COALESCE(t.renditions, '[]'), '"""
     "array<struct<name:string,width:int,height:int,quality:struct<bitrate_kbps:double,vmaf_mean:double,"
     "vmaf_p5:double,worst_segment:struct<`index`:int,start_s:double,vmaf:double>,psnr_y:double,"
     """ssim:double>>>')) u AS r"""),
)

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def spark_sql(query: NamedQuery, params: dict[str, Any]) -> str:
    """The query's text for Spark SQL: its `$name` parameters bound as literals (validated first)."""
    bound = query.bind(params)
    return _PARAM.sub(lambda m: literal(bound[m.group(1)]), query.sql)


def literal(value: Any) -> str:
    """A SQL literal both engines read the same way (Spark's strings take backslash escapes)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequest(f"Parameter value {value!r} is not a finite number.")
        return f"CAST('{value!r}' AS DOUBLE)"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"
