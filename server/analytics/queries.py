"""The named queries the studio, the HTTP API and `miniflix analytics` show, in one registry.

Each query is plain SQL with named parameters (`$video_id`, `$since`, `$bucket_s`, `$limit`); every
parameter has a default, so a query runs with none given. QoE definitions are in docs/EVENTS.md.
Integer sums are cast to BIGINT: DuckDB sums them as HUGEINT, which Parquet stores as DOUBLE and
JSON readers may not take as a plain integer.

The same texts run on Spark over the lake (lake_views.py), so they keep to what both engines mean the
same way: a double becomes an integer through ROUND first (DuckDB's CAST rounds, Spark's truncates),
ascending sort keys say NULLS LAST (Spark's default is NULLS FIRST), and every ORDER BY ends on a
unique key, so equal rows come out in one order in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.errors import InvalidRequest, NotFound


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any
    help: str


@dataclass(frozen=True)
class NamedQuery:
    name: str
    help: str
    sql: str
    params: tuple[Param, ...] = field(default_factory=tuple)

    def bind(self, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults filled in and each value converted to its type; unknown or bad values are refused."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InvalidRequest(f"Query {self.name!r} has no parameter {unknown[0]!r}.",
                                 hint=f"parameters: {', '.join(known) or 'none'}")
        return {name: _convert(self.name, p, given.get(name, p.default)) for name, p in known.items()}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "help": self.help,
                "params": [{"name": p.name, "type": p.type.__name__, "default": p.default, "help": p.help}
                           for p in self.params]}


def _convert(query: str, param: Param, value: Any) -> Any:
    if value is None or isinstance(value, param.type):
        return value
    try:
        return param.type(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"Parameter {param.name!r} of query {query!r} must be "
                             f"{param.type.__name__}, got {value!r}.") from exc


VIDEO = Param("video_id", str, None, "only this title (default: all)")
SINCE = Param("since", float, 0.0, "only events at or after this epoch time")
LIMIT = Param("limit", int, 100, "most rows returned")

_LIBRARY = """
SELECT '(all)' AS rung, COUNT(*) AS titles, ROUND(SUM(duration) / 3600, 3) AS hours,
       CAST(SUM(size_bytes) AS BIGINT) AS storage_bytes FROM titles
UNION ALL
SELECT rung, COUNT(DISTINCT video_id), ROUND(SUM(duration) / 3600, 3),
       CAST(ROUND(SUM(bandwidth * duration / 8)) AS BIGINT)
FROM title_rungs GROUP BY rung
ORDER BY storage_bytes DESC NULLS LAST, rung NULLS LAST"""

# Playback queries read the hourly rollups (schema.py), so `since` counts whole hours (rounded down).
_SINCE_HOUR = "hour >= FLOOR($since / 3600) * 3600"
_ONE_TITLE = "($video_id IS NULL OR video_id = $video_id)"

_ENGAGEMENT = f"""
SELECT video_id, CAST(SUM(started) AS BIGINT) AS views,
       ROUND(COALESCE(SUM(watched_s), 0) / 3600, 4) AS watch_hours,
       ROUND(SUM(completion) / NULLIF(SUM(completion_n), 0), 4) AS completion
FROM playback_by_title WHERE {_SINCE_HOUR} AND {_ONE_TITLE}
GROUP BY video_id ORDER BY views DESC, video_id NULLS LAST LIMIT $limit"""

_OVER_TIME = f"""
SELECT CAST(FLOOR(hour / GREATEST($bucket_s, 3600)) * GREATEST($bucket_s, 3600) AS BIGINT) AS bucket_start,
       CAST(SUM(started) AS BIGINT) AS views,
       ROUND(COALESCE(SUM(watched_s), 0) / 60, 2) AS watch_minutes
FROM playback_by_title WHERE {_SINCE_HOUR} AND {_ONE_TITLE}
GROUP BY 1 ORDER BY 1 NULLS LAST LIMIT $limit"""

_QOE = f"""
SELECT {{key}}, CAST(SUM(started) AS BIGINT) AS sessions,
       ROUND(SUM(startup_ms) / NULLIF(SUM(startup_n), 0), 1) AS startup_ms,
       ROUND(COALESCE(SUM(stall_ms), 0) /
             NULLIF(COALESCE(SUM(stall_ms), 0) + COALESCE(SUM(watched_s), 0) * 1000, 0), 5) AS rebuffer_ratio,
       CAST(ROUND(SUM(bitrate_ms) / NULLIF(SUM(segment_ms), 0)) AS BIGINT) AS avg_bitrate,
       ROUND(SUM(switches) / NULLIF(SUM(watched_s) / 60, 0), 3) AS switches_per_min
FROM {{table}} WHERE {_SINCE_HOUR} {{and_title}}
GROUP BY 1 ORDER BY sessions DESC, 1 NULLS LAST LIMIT $limit"""

_CACHE = """
SELECT edge, CAST(FLOOR(happened_at / $bucket_s) * $bucket_s AS BIGINT) AS bucket_start,
       COUNT(*) AS requests,
       COUNT(*) FILTER (WHERE type = 'hit') AS hits,
       ROUND(COUNT(*) FILTER (WHERE type = 'hit') / COUNT(*), 4) AS hit_ratio,
       CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes,
       ROUND(COALESCE(SUM(bytes) FILTER (WHERE type = 'hit'), 0) / NULLIF(SUM(bytes), 0), 4)
           AS byte_hit_ratio
FROM cdn_events
WHERE type IN ('hit', 'miss') AND happened_at >= $since
GROUP BY 1, 2 ORDER BY 2 DESC, 1 NULLS LAST LIMIT $limit"""

_ENCODE = """
SELECT video_id, COUNT(*) AS jobs, CAST(SUM(chunks) AS BIGINT) AS chunks,
       CAST(SUM(retries) AS BIGINT) AS retries,
       ROUND(SUM(wall_s), 2) AS wall_s, ROUND(SUM(cpu_s), 2) AS cpu_s,
       ROUND(SUM(duration), 2) AS output_s,
       ROUND(SUM(cpu_s) / NULLIF(SUM(duration) / 60, 0), 2) AS cpu_s_per_output_min,
       ROUND(SUM(duration) / NULLIF(SUM(wall_s), 0), 3) AS realtime_factor
FROM encode_events
WHERE type = 'job_done' AND happened_at >= $since AND ($video_id IS NULL OR video_id = $video_id)
GROUP BY video_id ORDER BY cpu_s DESC NULLS LAST, video_id NULLS LAST LIMIT $limit"""

_STEERING = """
SELECT client_region, chosen, COUNT(*) AS decisions
FROM steering_decisions WHERE happened_at >= $since AND ($video_id IS NULL OR video_id = $video_id)
GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 3 DESC, 2 NULLS LAST LIMIT $limit"""

# Quality measured at ingest (server/media/quality.py), per library title and rung; NULL where not measured.
_QUALITY = """
SELECT video_id, title, rung, width, height, ROUND(avg_kbps, 1) AS avg_kbps,
       ROUND(vmaf_mean, 2) AS vmaf_mean, ROUND(vmaf_p5, 2) AS vmaf_p5, worst_segment,
       ROUND(worst_segment_start_s, 3) AS worst_segment_start_s,
       ROUND(worst_segment_vmaf, 2) AS worst_segment_vmaf, ROUND(psnr_y, 2) AS psnr_y,
       ROUND(ssim, 4) AS ssim
FROM rung_quality WHERE ($video_id IS NULL OR video_id = $video_id)
ORDER BY video_id NULLS LAST, height DESC NULLS LAST, rung NULLS LAST LIMIT $limit"""

_VIEWS = """
SELECT video_id, CAST(SUM(started) AS BIGINT) AS views FROM playback_by_title
GROUP BY video_id HAVING SUM(started) > 0 ORDER BY views DESC, video_id NULLS LAST"""


def _qoe(by: str, help: str) -> NamedQuery:
    key = "video_id" if by == "title" else by
    one_title = f"AND {_ONE_TITLE}" if by == "title" else ""
    sql = _QOE.format(key=key, table=f"playback_by_{by}", and_title=one_title)
    return NamedQuery(f"qoe_by_{by}", help, sql, (VIDEO, SINCE, LIMIT) if by == "title" else (SINCE, LIMIT))


QUERIES: dict[str, NamedQuery] = {q.name: q for q in (
    NamedQuery("library_overview", "Titles, hours and storage in the library, by ladder rung "
               "(per-rung bytes estimated from bandwidth x duration).", _LIBRARY),
    NamedQuery("title_engagement", "Per title: views (sessions started), watch hours and average "
               "completion.", _ENGAGEMENT, (VIDEO, SINCE, LIMIT)),
    NamedQuery("views_over_time", "Views (sessions started) and watch minutes per time bucket "
               "(whole hours: playback is rolled up hourly).", _OVER_TIME,
               (VIDEO, SINCE, Param("bucket_s", int, 3600, "bucket width in seconds (at least 3600)"),
                Param("limit", int, 1000, "most rows returned"))),
    _qoe("title", "QoE per title: startup ms, rebuffer ratio, average bitrate, switches per minute."),
    _qoe("edge", "QoE per edge: startup ms, rebuffer ratio, average bitrate, switches per minute."),
    _qoe("region", "QoE per region: startup ms, rebuffer ratio, average bitrate, switches per minute."),
    NamedQuery("cache_hit_ratio", "Cache hit ratio (requests and bytes) per edge over time buckets.",
               _CACHE, (SINCE, Param("bucket_s", int, 60, "bucket width in seconds"), LIMIT)),
    NamedQuery("encode_cost", "Encode cost per title: CPU seconds per output minute, realtime factor, "
               "chunks, retries.", _ENCODE, (VIDEO, SINCE, LIMIT)),
    NamedQuery("steering_choices", "Which edge steering chose, per client region.", _STEERING,
               (VIDEO, SINCE, LIMIT)),
    NamedQuery("views", "Views per title (sessions started); search sorts by it.", _VIEWS),
    NamedQuery("encode_quality", "Per title and rung: VMAF mean, 5th percentile and worst segment, PSNR, "
               "SSIM and average bitrate, as measured at ingest (NULL where not measured).", _QUALITY,
               (VIDEO, LIMIT)),
)}


def get(name: str) -> NamedQuery:
    try:
        return QUERIES[name]
    except KeyError:
        raise NotFound(f"No analytics query named {name!r}.",
                       hint=f"known queries: {', '.join(QUERIES)}") from None
