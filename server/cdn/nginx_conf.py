"""The nginx configuration of one edge, generated from its EdgeSpec (pure functions, no process).

Every request is answered by nginx alone: the signed link is checked by `secure_link` (see
`NginxSigner`), objects come from `proxy_cache` (capacity = `max_size`, TTL = `proxy_cache_valid`,
collapsed misses = `proxy_cache_lock`, stale-if-error = `proxy_cache_use_stale`), the link's
bandwidth is `limit_rate`, and each request is one tab-separated line in an access log: cache hits
(the hot path) in `hits.log`, buffered, for the low-priority tail process (hit_tail.py); everything
else (misses, fills, refusals) in `access.log`, unbuffered, for the edge's own tail thread.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from server.cdn.topology import EdgeSpec

# What the Python edge serves (edge_http.is_player_object), as one regex over nginx's normalised $uri
# (dot segments already resolved): the master playlist, the MPD, or a playback file under cmaf/,
# subs/ or thumbs/. The token is `<expiry>.<md5 base64url>`; anything else under /t/ is refused (403).
VIDEO_ID = r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}"
PLAYER_REST = (r"master\.m3u8|manifest\.mpd|(?:cmaf|subs|thumbs)/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*"
               r"\.(?i:m3u8|mpd|mp4|m4s|m4a|m4v|vtt|jpg|jpeg|png)")
EDGE_PATH = (rf"^/t/(?<sl_exp>[0-9]{{1,15}})\.(?<sl_mac>[A-Za-z0-9_-]{{22}})/videos/(?<vid>{VIDEO_ID})"
             rf"/(?<rest>{PLAYER_REST})$")
# one request per line, fields in access_log.LOG_FIELDS order; nginx escapes tabs inside a value
LOG_FORMAT = r"$msec\t$status\t$upstream_cache_status\t$body_bytes_sent\t$upstream_response_length\t" \
             r"$request_completion\t$http_x_miniflix_fill\t$arg_session\t$request_time\t$uri"
# a cache hit for a viewer (not a proactive fill): the hits log, the hot path; the rest: access.log.
# Exact keys (a hash lookup), not a regex: the map is evaluated for every request.
HIT_KEYS = [f"{status} {cache}" for status in (200, 206, 304)
            for cache in ("HIT", "STALE", "UPDATING", "REVALIDATED")]
HIT_MAP = ("  map \"$status $upstream_cache_status$http_x_miniflix_fill\" $edge_hit {\n"
           + "".join(f'    "{key}" 1;\n' for key in HIT_KEYS)
           + "    default 0;\n  }\n  map $edge_hit $edge_cold { 1 0; default 1; }")
# nginx writes the hits log when 64 KB are buffered or the oldest line is HITS_FLUSH old (and when
# a worker exits or reopens its logs): one write per ~400 hits instead of one per hit
HITS_BUFFER, HITS_FLUSH = "64k", "1s"
EXPOSED = "X-Cache, X-Edge, X-Limit-Rate, Age, Content-Range"
LINE_LIMIT = "2k"    # request lines past this get 414, like the Python edge's over-long URLs


@dataclass(frozen=True)
class EdgeLayout:
    """Where one nginx edge keeps its files: everything under `root` (`data.edges/<name>/nginx`)."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def rate_conf(self) -> Path:
        return self.root / "rate.conf"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def temp(self) -> Path:
        return self.root / "temp"

    @property
    def access_log(self) -> Path:
        return self.root / "logs" / "access.log"

    @property
    def hits_log(self) -> Path:
        return self.root / "logs" / "hits.log"

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / "error.log"

    @property
    def pid(self) -> Path:
        return self.root / "nginx.pid"

    def make(self) -> None:
        """Create the folders, readable by their owner only (the config holds the link secret)."""
        for path in (self.root, self.cache, self.temp, self.access_log.parent):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)


def rate_bytes(mbps: float | None) -> int:
    """nginx's `limit_rate` (bytes/s) for a link of `mbps` Mbit/s; 0 means no cap."""
    return 0 if not mbps else max(1, round(mbps * 1e6 / 8))


def render_rate(mbps: float | None, generation: int) -> str:
    """The included file a throttle rewrites before `nginx -s reload`; `generation` shows in /health
    so the edge can tell when the reloaded workers answer. nginx lets one second's worth of each
    response out at once (its limit counts from t+1 s), so small objects are not slowed."""
    return (f"set $edge_rate_bps {rate_bytes(mbps)};\n"
            f'set $edge_generation "{generation}";\n')


def render_conf(spec: EdgeSpec, layout: EdgeLayout, port: int, origin_port: int, secret: str) -> str:
    """The whole nginx.conf of one edge listening on 127.0.0.1:`port`."""
    return "\n".join([_main(layout), "http {", _http(spec, layout, origin_port),
                      _server(spec, layout, port, secret), "}", ""])


def _user() -> str:
    """Run as root (containers), nginx would hand its workers to `nobody`, who cannot read the
    owner-only edge folder: keep them as the user that owns it."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return ""
    import pwd

    return f"user {pwd.getpwuid(os.geteuid()).pw_name};\n"


def _main(layout: EdgeLayout) -> str:
    return f"""# generated by MiniFlix (server/cdn/nginx_conf.py) at every start; edits are lost
{_user()}daemon off;
worker_processes 1;
pcre_jit on;    # the object location's regex runs on every request (callgrind: 44k -> 39k instructions a hit)
worker_shutdown_timeout 10s;
pid {layout.pid};
error_log {layout.error_log} warn;
events {{ worker_connections 4096; }}"""


def _http(spec: EdgeSpec, layout: EdgeLayout, origin_port: int) -> str:
    temp = layout.temp
    # tcp_nopush sends the headers and the first bytes of the body in one segment (as a static
    # nginx does); postpone_output 0 then keeps a cached 100 KB hit from stalling 40 ms behind the
    # cork and the client's delayed ACK (measured: 0.01x without it)
    return f"""  sendfile on; tcp_nopush on; tcp_nodelay on; postpone_output 0; server_tokens off;
  keepalive_timeout 65s; keepalive_requests 1000000;
  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
  log_format edge '{LOG_FORMAT}';
{HIT_MAP}
  access_log {layout.hits_log} edge buffer={HITS_BUFFER} flush={HITS_FLUSH} if=$edge_hit;
  access_log {layout.access_log} edge if=$edge_cold;   # unbuffered: a miss is counted once it ended
  proxy_cache_path {layout.cache} levels=1:2 keys_zone=edge:16m max_size={spec.capacity_bytes}
                   inactive=30d use_temp_path=off;
  upstream miniflix_origin {{ server 127.0.0.1:{origin_port}; keepalive 8; }}"""


def _cors(indent: str) -> str:
    return (f'{indent}add_header Access-Control-Allow-Origin "*" always;\n'
            f'{indent}add_header Access-Control-Expose-Headers "{EXPOSED}" always;\n'
            f'{indent}add_header Access-Control-Allow-Methods "GET, HEAD, OPTIONS" always;\n'
            f'{indent}add_header Access-Control-Allow-Headers "Range" always;')


def _server(spec: EdgeSpec, layout: EdgeLayout, port: int, secret: str) -> str:
    return f"""  server {{
    listen 127.0.0.1:{port};
    large_client_header_buffers 4 {LINE_LIMIT};
    include {layout.rate_conf};
    if ($request_method = OPTIONS) {{ return 204; }}
{_cors("    ")}
    location = /health {{
      access_log off;
      default_type application/json;
      return 200 '{_health_json(spec)}';
    }}
{_object_location(spec, secret)}
    location /t/ {{
      default_type application/json;
      return 403 '{_refusal(403, "Refused object: edges serve only what a player fetches.")}';
    }}
    location / {{
      default_type application/json;
      return 404 '{_refusal(404, "Edge URLs look like /t/<token>/videos/<id>/<file>.")}';
    }}
  }}"""


def _refusal(status: int, message: str) -> str:
    """The Python edge's JSON error body, for nginx to `return` (no quote that would end the string)."""
    doc = {"error": "Forbidden" if status == 403 else "NotFound", "message": message,
           "hint": "ask the steering service for a link", "status": status}
    return json.dumps(doc).replace("'", "\\u0027")


BAD_TOKEN = _refusal(403, "The link's token does not match this title.")
EXPIRED = _refusal(403, "The link has expired.")


def _health_json(spec: EdgeSpec) -> str:
    """What /health answers: nginx alone, so the health monitor's probes cost no Python; the
    generation and worker pid let a throttle wait for the reloaded workers; `writing` (requests
    being answered, this one included) is the edge's load."""
    fields = ('"engine":"nginx","rate_bps":$edge_rate_bps,"generation":$edge_generation,'
              '"worker":$pid,"writing":$connections_writing')
    return "{" + f'"edge":"{spec.name}",' + fields + "}"


def _object_location(spec: EdgeSpec, secret: str) -> str:
    return f"""    location ~ "{EDGE_PATH}" {{
      secure_link $sl_mac,$sl_exp;
      secure_link_md5 "$sl_exp$vid {secret}";
      default_type application/json;
      if ($secure_link = "") {{ return 403 '{BAD_TOKEN}'; }}
      if ($secure_link = "0") {{ return 403 '{EXPIRED}'; }}
      limit_rate $edge_rate_bps;
      proxy_pass http://miniflix_origin/videos/$vid/$rest;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;
      proxy_cache_key "videos/$vid/$rest";
      proxy_cache_valid 200 {max(1, int(spec.ttl_s))}s;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 30s;
      proxy_cache_lock_age 30s;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      proxy_cache_background_update on;
      proxy_cache_revalidate on;
      proxy_ignore_headers Cache-Control Expires Set-Cookie X-Accel-Expires;
      proxy_hide_header Cache-Control;
      proxy_connect_timeout 2s;
      proxy_read_timeout 10s;
{_cors("      ")}
      add_header Cache-Control "public, max-age={int(spec.ttl_s)}" always;
      add_header X-Cache $upstream_cache_status always;
      add_header X-Edge "{spec.name}" always;
      add_header X-Limit-Rate $edge_rate_bps always;
    }}"""
