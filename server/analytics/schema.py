"""DuckDB tables of the analytics store and the SQL that moves raw events into them.

Events of one topic arrive as raw JSON (straight from the log) in a staging relation `staged(v)`, built
from a list parameter; DuckDB parses the JSON itself (`from_json`), so loading costs no Python work
per event beyond putting its JSON in a list. `consumed` holds, per log partition,
the next offset not yet loaded: it commits in the same transaction as the rows, which makes loading
idempotent (a redelivered event is skipped).
"""

from __future__ import annotations

TABLES = """
CREATE TABLE IF NOT EXISTS consumed (topic VARCHAR, partition INTEGER, next_offset BIGINT,
    PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS loaded_from (log_identity VARCHAR);
CREATE TABLE IF NOT EXISTS video_events (video_id VARCHAR, type VARCHAR, happened_at DOUBLE, seq BIGINT,
    title VARCHAR, error VARCHAR, duration DOUBLE, width INTEGER, height INTEGER, codec VARCHAR,
    renditions VARCHAR);
CREATE TABLE IF NOT EXISTS encode_events (video_id VARCHAR, job_id VARCHAR, task VARCHAR, attempt INTEGER,
    type VARCHAR, happened_at DOUBLE, wall_s DOUBLE, cpu_s DOUBLE, out_seconds DOUBLE, chunks INTEGER,
    retries INTEGER, duration DOUBLE, realtime_factor DOUBLE, error VARCHAR);
CREATE TABLE IF NOT EXISTS playback_events (session_id VARCHAR, video_id VARCHAR, type VARCHAR,
    happened_at DOUBLE, edge VARCHAR, region VARCHAR, rendition VARCHAR, bitrate BIGINT, startup_ms DOUBLE,
    bytes BIGINT,
    ms DOUBLE, stall_ms DOUBLE, from_rendition VARCHAR, to_rendition VARCHAR, watched_s DOUBLE,
    position_s DOUBLE, duration_s DOUBLE, demo VARCHAR);
{rollup_tables}
CREATE TABLE IF NOT EXISTS cdn_events (edge VARCHAR, region VARCHAR, type VARCHAR, video_id VARCHAR,
    object VARCHAR, bytes BIGINT, reason VARCHAR, healthy BOOLEAN, load DOUBLE, happened_at DOUBLE,
    demo VARCHAR);
CREATE TABLE IF NOT EXISTS steering_decisions (video_id VARCHAR, client_region VARCHAR, chosen VARCHAR,
    candidates VARCHAR, happened_at DOUBLE, demo VARCHAR);
CREATE TABLE IF NOT EXISTS demo_removed (batch VARCHAR PRIMARY KEY, removed_at DOUBLE);
"""

# Playback rolled up per hour and title, edge or region: the named queries read these (per title about
# one row per title-hour, per edge or region a handful per hour) instead of millions of events.
# Partial rows of one hour from different batches simply add up.
ROLLUP_DIMENSIONS = ("video_id", "edge", "region")
MEASURES = """
    COUNT(*) FILTER (WHERE type = 'started') AS started,
    COUNT(startup_ms) FILTER (WHERE type = 'started') AS startup_n,
    SUM(startup_ms) FILTER (WHERE type = 'started') AS startup_ms,
    SUM(stall_ms) FILTER (WHERE type = 'stall') AS stall_ms,
    COUNT(*) FILTER (WHERE type = 'stopped') AS stopped,
    SUM(watched_s) FILTER (WHERE type = 'stopped') AS watched_s,
    COUNT(position_s / NULLIF(duration_s, 0)) FILTER (WHERE type = 'stopped') AS completion_n,
    SUM(LEAST(position_s / NULLIF(duration_s, 0), 1.0)) FILTER (WHERE type = 'stopped') AS completion,
    SUM(ms) FILTER (WHERE type = 'segment') AS segment_ms,
    SUM(bitrate * ms) FILTER (WHERE type = 'segment') AS bitrate_ms,
    COUNT(*) FILTER (WHERE type = 'quality_switch') AS switches,
    SUM(bytes) FILTER (WHERE type = 'segment') AS bytes"""


def rollup_table(dimension: str) -> str:
    return f"playback_by_{'title' if dimension == 'video_id' else dimension}"


def _rollup_ddl(dimension: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {rollup_table(dimension)} AS SELECT CAST(0 AS DOUBLE) AS hour, "
            f"{dimension}, {MEASURES} FROM playback_events WHERE false GROUP BY ALL;")


def _rollup_insert(dimension: str) -> str:
    return (f"INSERT INTO {rollup_table(dimension)} SELECT FLOOR(happened_at / 3600) * 3600, {dimension}, "
            f"{MEASURES} FROM playback_events WHERE rowid >= $first GROUP BY ALL")


TABLES = TABLES.format(rollup_tables="\n".join(_rollup_ddl(d) for d in ROLLUP_DIMENSIONS))

# Rollups run after their topic's rows went in: (table the rows went to, statements over rows >= $first).
ROLLUPS = {"playback": ("playback_events", tuple(_rollup_insert(d) for d in ROLLUP_DIMENSIONS))}
# Each rollup recomputed from every playback row (after a demo batch is taken out).
ROLLUP_ALL = {d: _rollup_insert(d).replace("WHERE rowid >= $first ", "") for d in ROLLUP_DIMENSIONS}

# The events of one topic as rows, from list parameters of equal length unnested side by side; each
# loader statement starts with one of these (one statement per topic, so the lists cross into DuckDB
# once and nothing is materialized). Only video events keep their log offset (as `seq`): the offsets
# list costs a tenth of the load time, so other topics go without it.
STAGED = """WITH staged AS (SELECT unnest(CAST($v AS VARCHAR[])) AS v)"""
STAGED_WITH_OFFSET = """WITH staged AS (SELECT unnest(CAST($offset AS BIGINT[])) AS "offset",
    unnest(CAST($v AS VARCHAR[])) AS v)"""

# Statements per topic, run in order inside the batch transaction; columns are parsed from the staged
# JSON with a fixed structure.
LOADERS: dict[str, tuple[str, ...]] = {
    "videos": (STAGED_WITH_OFFSET + """
INSERT INTO video_events SELECT j.video_id, j.type, j."at", "offset", CAST(j.title AS VARCHAR), j.error,
    j.duration, j.width, j.height, j.codec, CAST(j.renditions AS VARCHAR)
FROM (SELECT "offset", from_json(v, '{"video_id":"VARCHAR","type":"VARCHAR","at":"DOUBLE","title":"JSON",
    "error":"VARCHAR","duration":"DOUBLE","width":"INTEGER","height":"INTEGER","codec":"VARCHAR",
    "renditions":"JSON"}') AS j FROM staged)""",),
    "encode": (STAGED + """
INSERT INTO encode_events SELECT j.video_id, j.job_id, j.task, j.attempt, j.type, j."at", j.wall_s,
    j.cpu_s, j.out_seconds, j.chunks, j.retries, j.duration, j.realtime_factor, j.error
FROM (SELECT from_json(v, '{"video_id":"VARCHAR","job_id":"VARCHAR","task":"VARCHAR","attempt":"INTEGER",
    "type":"VARCHAR","at":"DOUBLE","wall_s":"DOUBLE","cpu_s":"DOUBLE","out_seconds":"DOUBLE",
    "chunks":"INTEGER","retries":"INTEGER","duration":"DOUBLE","realtime_factor":"DOUBLE",
    "error":"VARCHAR"}') AS j FROM staged) WHERE j.type <> 'task_progress'""",),
    "playback": (STAGED + """
INSERT INTO playback_events SELECT j.session_id, j.video_id, j.type, j."at", j.edge, j.region, j.rendition,
    j.bitrate, j.startup_ms, j.bytes, j.ms, j.duration_ms, j."from", j."to", j.watched_s, j.position_s,
    j.duration_s, j.demo
FROM (SELECT from_json(v, '{"session_id":"VARCHAR","video_id":"VARCHAR","type":"VARCHAR","at":"DOUBLE",
    "edge":"VARCHAR","region":"VARCHAR","rendition":"VARCHAR","bitrate":"BIGINT","startup_ms":"DOUBLE",
    "bytes":"BIGINT","ms":"DOUBLE","duration_ms":"DOUBLE","from":"VARCHAR","to":"VARCHAR",
    "watched_s":"DOUBLE","position_s":"DOUBLE","duration_s":"DOUBLE","demo":"VARCHAR"}') AS j
 FROM staged) WHERE {not_removed}""",),
    "cdn": (STAGED + """
INSERT INTO cdn_events SELECT j.edge, j.region, j.type, j.video_id, j.object, j.bytes, j.reason, j.healthy,
    j.load, j."at", j.demo
FROM (SELECT from_json(v, '{"edge":"VARCHAR","region":"VARCHAR","type":"VARCHAR","video_id":"VARCHAR",
    "object":"VARCHAR","bytes":"BIGINT","reason":"VARCHAR","healthy":"BOOLEAN","load":"DOUBLE",
    "at":"DOUBLE","demo":"VARCHAR"}') AS j FROM staged) WHERE {not_removed}""",),
    "steering": (STAGED + """
INSERT INTO steering_decisions SELECT j.video_id, j.client_region, j.chosen, CAST(j.candidates AS VARCHAR),
    j."at", j.demo
FROM (SELECT from_json(v, '{"video_id":"VARCHAR","client_region":"VARCHAR","chosen":"VARCHAR",
    "candidates":"JSON","at":"DOUBLE","demo":"VARCHAR"}') AS j FROM staged) WHERE {not_removed}""",),
}

# Events of a removed demo batch (server/demo_week.py) that arrive after its removal are not loaded.
NOT_REMOVED = "(j.demo IS NULL OR j.demo NOT IN (SELECT batch FROM demo_removed))"
LOADERS = {topic: tuple(s.replace("{not_removed}", NOT_REMOVED) for s in statements)
           for topic, statements in LOADERS.items()}

# Tables whose rows may come from a demo batch; files made before the `demo` column get it added.
DEMO_TABLES = ("playback_events", "cdn_events", "steering_decisions")
ADD_DEMO_COLUMNS = tuple(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS demo VARCHAR" for t in DEMO_TABLES)

# The next offset per log partition after this batch, as three lists (one item per partition).
ADVANCE_CONSUMED = """
INSERT INTO consumed SELECT unnest(CAST($topic AS VARCHAR[])), unnest(CAST($partition AS INTEGER[])),
    unnest(CAST($next_offset AS BIGINT[]))
ON CONFLICT DO UPDATE SET next_offset = GREATEST(consumed.next_offset, excluded.next_offset)"""

# The latest state of every title that is in the library (published, restored or edited; not deleted).
TITLES_VIEW = """
CREATE OR REPLACE VIEW titles AS
SELECT video_id, type AS last_event, happened_at,
    title ->> '$.title' AS name,
    CAST(title ->> '$.duration' AS DOUBLE) AS duration,
    CAST(title ->> '$.size_bytes' AS BIGINT) AS size_bytes,
    title -> '$.renditions' AS renditions
FROM (SELECT *, row_number() OVER (PARTITION BY video_id ORDER BY seq DESC) AS newest
      FROM video_events WHERE type IN ('published', 'restored', 'metadata_edited', 'deleted'))
WHERE newest = 1 AND type <> 'deleted'
"""

# Each library title's ladder rungs as rows: `library_overview` reads these columns rather than the
# JSON, so the same query runs on Spark, whose views of the lake define them with its own JSON
# functions (lake_views.py).
TITLE_RUNGS_VIEW = """
CREATE OR REPLACE VIEW title_rungs AS
SELECT t.video_id, t.duration, r ->> '$.name' AS rung, CAST(r ->> '$.bandwidth' AS DOUBLE) AS bandwidth
FROM titles t, unnest(CAST(COALESCE(t.renditions, '[]') AS JSON[])) AS u(r)
"""

# Each library title's rungs with the quality measured at ingest (quality.py; NULL where none was): what
# `encode_quality` reads, defined for Spark's lake with the same columns in lake_views.py.
RUNG_QUALITY_VIEW = """
CREATE OR REPLACE VIEW rung_quality AS
SELECT t.video_id, t.name AS title, r ->> '$.name' AS rung, CAST(r ->> '$.width' AS INTEGER) AS width,
    CAST(r ->> '$.height' AS INTEGER) AS height,
    CAST(r ->> '$.quality.bitrate_kbps' AS DOUBLE) AS avg_kbps,
    CAST(r ->> '$.quality.vmaf_mean' AS DOUBLE) AS vmaf_mean,
    CAST(r ->> '$.quality.vmaf_p5' AS DOUBLE) AS vmaf_p5,
    CAST(r ->> '$.quality.worst_segment.index' AS INTEGER) AS worst_segment,
    CAST(r ->> '$.quality.worst_segment.start_s' AS DOUBLE) AS worst_segment_start_s,
    CAST(r ->> '$.quality.worst_segment.vmaf' AS DOUBLE) AS worst_segment_vmaf,
    CAST(r ->> '$.quality.psnr_y' AS DOUBLE) AS psnr_y,
    CAST(r ->> '$.quality.ssim' AS DOUBLE) AS ssim
FROM titles t, unnest(CAST(COALESCE(t.renditions, '[]') AS JSON[])) AS u(r)
"""
