"""One settings registry: every tunable has a name, a default, an environment variable and help."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.errors import InvalidRequest
from server.media.codecs import parse_codecs


@dataclass(frozen=True)
class Setting:
    """A named setting; `env` overrides `default`, converted by `parse`."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return "MINIFLIX_" + self.name.upper()

    def value(self) -> Any:
        raw = os.environ.get(self.env)
        return self.default if raw is None or raw == "" else self.parse(raw)


SETTINGS: dict[str, Setting] = {}


def register(name: str, default: Any, help: str, parse: Callable[[str], Any] = str) -> Setting:
    """Add a setting to the registry (idempotent for the same name)."""
    setting = SETTINGS.setdefault(name, Setting(name, default, help, parse))
    return setting


def get(name: str) -> Any:
    """The current value of a registered setting (environment first, then default)."""
    return SETTINGS[name].value()


def describe() -> list[dict[str, Any]]:
    """Every setting with its value and help, for `--help` pages and docs."""
    return [{"name": s.name, "env": s.env, "default": s.default, "value": s.value(),
             "help": s.help} for s in SETTINGS.values()]


register("data_dir", "", "Where titles, logs and indexes live (default: the platform's user data dir).")
register("ffmpeg", "", "Path of the ffmpeg binary (default: found on PATH).")
register("ffprobe", "", "Path of the ffprobe binary (default: found on PATH).")
register("workers", os.cpu_count() or 2, "Parallel chunk encodes.", int)
register("chunks_side_by_side", 1, "How many chunk encodes (each a whole ladder) run at once; the "
         "workers' cores are split between them. 1: one chunk at a time on every core, the ladder's "
         "encoder state held once (a 1080p ladder ~0.4 GB); the workers count: one single-threaded "
         "chunk per core, as much CPU, one ladder's memory per core.", int)
register("segment_seconds", 4.0, "Target CMAF segment duration in seconds.", float)
register("min_chunk_seconds", 10.0, "Shortest chunk worth its own ffmpeg (short clips encode as one).",
         float)
register("chunk_retries", 2, "How many times a failing chunk encode is retried.", int)
register("ffmpeg_nice", 19, "CPU niceness of ffmpeg processes (0 = same priority as the app).", int)
register("x264_preset", "veryfast", "libx264 preset for every rung.")
register("sample_seconds", 20, "Length of the sample clip the demo and the first start offer.", int)
register("cdn_fill_interval_s", 300.0, "How often popular titles are pushed to their home edges.", float)
register("upload_limit_mb", 4096, "Largest upload the server accepts, in MiB.", int)
register("host", "127.0.0.1", "Address the HTTP server binds to.")
register("allowed_hosts", "", "Extra Host names the HTTP server answers to, comma-separated (loopback "
         "names always work); for a tunnel or proxy that rewrites Host.")
register("api_token", "", "When set, every /api/ request needs `Authorization: Bearer <token>` "
         "(media paths stay open); for a server that is shared.")
register("min_free_mb", 256, "Free space (MiB) the data dir's disk must have for an ingest job to start; "
         "a job that fails below it is reported as out of disk space.", int)
register("job_crash_limit", 3, "How many times a job may end with its process (crash, kill) before it "
         "is marked failed instead of resumed again at the next start.", int)
register("origin", "file", "Where published titles live: `file` (the data dir's origin folder) or "
         "`s3://BUCKET?endpoint=URL` (needs the cluster extra).")
register("event_log", "sqlite", "The event log: `sqlite` (embedded, in the data dir) or "
         "`nats://HOST:PORT[,HOST:PORT…]` (a NATS JetStream cluster; needs the cluster extra).")
register("executor", "local", "Where chunk encodes run: `local` (ffmpeg processes on this machine) or "
         "`dask://HOST:PORT` (a Dask scheduler; needs the cluster extra).")

LADDERS = ("fixed", "per-title", "auto")


def parse_ladder(raw: str) -> str:
    """`fixed`, `per-title` or `auto` (any case, `per_title` too); anything else is refused by name."""
    value = raw.strip().lower().replace("_", "-")
    if value not in LADDERS:
        raise InvalidRequest(f"ladder {raw!r} is not a ladder.",
                             hint="use `fixed` or `per-title`, or `auto` for per-title on long titles "
                                  "only (MINIFLIX_LADDER, or --ladder on ingest)")
    return value


register("ladder", "fixed", "The ladder each title gets: `fixed` (the same rungs for every title), "
         "`per-title` (rungs from the title's measured bitrate-VMAF hull; docs/QUALITY.md) or `auto` "
         "(per-title for titles of at least per_title_auto_seconds, fixed for shorter ones).", parse_ladder)
register("codecs", ("h264",), "Video codecs of every title's ladder, comma-separated: `h264` (always "
         "included), `av1`, `hevc`; e.g. `h264,av1` adds an AV1 rung per H.264 rung "
         "(server/media/codecs.py).",
         parse_codecs)

EDGE_TOKEN_TTL_MIN_S, EDGE_TOKEN_TTL_MAX_S = 60, 7 * 86400


def _edge_token_ttl(raw: str) -> int:
    """Whole seconds from a minute to a week: shorter links would expire mid-play, longer ones would
    outlive any reason to trust them."""
    value = int(raw) if re.fullmatch(r"\s*[0-9]{1,9}\s*", raw) else -1
    if not EDGE_TOKEN_TTL_MIN_S <= value <= EDGE_TOKEN_TTL_MAX_S:
        raise InvalidRequest(f"MINIFLIX_EDGE_TOKEN_TTL_S={raw!r} is not a link lifetime.",
                             hint=f"use whole seconds from {EDGE_TOKEN_TTL_MIN_S} to {EDGE_TOKEN_TTL_MAX_S}")
    return value


register("edge_token_ttl_s", 6 * 3600, "How long a signed edge link stays valid, in seconds (60 to 604800); "
         "a player needs a new link from the steering service after that.", _edge_token_ttl)
