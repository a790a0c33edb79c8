"""Proactive fill: push the titles a popularity feed ranks high to their home edges in every region,
inside a fill window and at a capped rate, so the first viewer of a popular title gets a hit."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field

from server.background import Worker
from server.cdn.clock import Clock
from server.cdn.cluster import CDN
from server.cdn.origin import OriginClient, read_small
from server.errors import InvalidRequest, MiniflixError, NotFound

log = logging.getLogger(__name__)
PopularityFeed = Callable[[], list[str]]   # ranked video ids, most popular first


def feed_from_views(views: Callable[[], dict[str, int]]) -> PopularityFeed:
    """A feed from view counts (e.g. `AnalyticsService.views`): most viewed first, ties by id."""
    return lambda: [vid for vid, _ in sorted(views().items(), key=lambda kv: (-kv[1], kv[0]))]


def title_objects(origin: OriginClient, video_id: str) -> list[str]:
    """Every object a player needs for a title, found by reading its HLS playlists (and the MPD)."""
    master = f"videos/{video_id}/master.m3u8"
    keys = [master]
    for playlist in _uris(read_small(origin, master), master):
        keys.append(playlist)
        if playlist.endswith(".m3u8"):
            keys += [k for k in _uris(read_small(origin, playlist), playlist) if k not in keys]
    with contextlib.suppress(NotFound), origin.open(f"videos/{video_id}/manifest.mpd", 0, 0) as mpd:
        keys.append(mpd.info.key)
    return list(dict.fromkeys(keys))


def _uris(playlist: bytes, playlist_key: str) -> list[str]:
    """Relative URIs in a playlist (lines and URI="…" attributes), resolved against its key."""
    base = posixpath.dirname(playlist_key)
    found = []
    for line in playlist.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if 'URI="' in line:
            found.append(line.split('URI="', 1)[1].split('"', 1)[0])
        elif line and not line.startswith("#"):
            found.append(line)
    return [posixpath.normpath(posixpath.join(base, uri)) for uri in found if "://" not in uri]


@dataclass(frozen=True)
class FillWindow:
    """Hours of the day (UTC) when filling is allowed; wraps past midnight (22 → 6)."""

    start_hour: int
    end_hour: int

    def contains(self, at: float) -> bool:
        hour = dt.datetime.fromtimestamp(at, dt.UTC).hour
        if self.start_hour <= self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour


class RateLimiter:
    """Spaces transfers so the long-run rate stays at `bytes_per_s` (a fill must not starve viewers)."""

    def __init__(self, bytes_per_s: float, clock: Clock) -> None:
        if bytes_per_s <= 0:
            raise InvalidRequest("The fill rate must be positive.")
        self.rate, self.clock = bytes_per_s, clock
        self._next_free = clock.now()

    def spend(self, nbytes: int) -> float:
        """Account for `nbytes` just sent; sleeps if the budget is used up. Returns the wait."""
        now = self.clock.now()
        self._next_free = max(self._next_free, now) + nbytes / self.rate
        wait = max(0.0, self._next_free - now - 1.0)   # one second of burst
        self.clock.sleep(wait)
        return wait


@dataclass
class FillReport:
    titles: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    waited_s: float = 0.0
    skipped: str = ""
    errors: list[str] = field(default_factory=list)


class ProactiveFill:
    """`run_once()` fills the top titles; `start(interval_s)` repeats it on a thread."""

    def __init__(self, cdn: CDN, feed: PopularityFeed, *, top_n: int = 10, copies: int | None = None,
                 window: FillWindow | None = None, rate_bytes_s: float = 20e6,
                 clock: Clock | None = None) -> None:
        self.cdn, self.feed, self.top_n = cdn, feed, top_n
        self.copies = copies or cdn.copies
        self.window = window
        self.clock = clock or cdn.clock
        self.limiter = RateLimiter(rate_bytes_s, self.clock)
        self._interval_s = 300.0
        self._worker = Worker("cdn-fill", self._run, join_timeout_s=10)

    def plan(self) -> list[tuple[str, str]]:
        """(edge, video id) pairs: each top title on its N home edges in every region (healthy only)."""
        pairs = []
        for video_id in self.feed()[: self.top_n]:
            for region in sorted(self.cdn.rings):
                ring = self.cdn.rings[region]
                homes = [n for n in ring.nodes_for(video_id, len(ring.nodes)) if self.cdn.is_healthy(n)]
                pairs += [(edge, video_id) for edge in homes[: self.copies]]
        return pairs

    def run_once(self) -> FillReport:
        report = FillReport()
        if self.window is not None and not self.window.contains(self.clock.now()):
            report.skipped = f"outside the fill window {self.window.start_hour}-{self.window.end_hour} UTC"
            return report
        objects: dict[str, list[str]] = {}
        for edge_name, video_id in self.plan():
            try:
                keys = objects.setdefault(video_id, title_objects(self.cdn.origin, video_id))
                self._fill_edge(edge_name, keys, report)
            except MiniflixError as exc:
                report.errors.append(f"{edge_name}/{video_id}: {exc}")
            if video_id not in report.titles:
                report.titles.append(video_id)
        return report

    def _fill_edge(self, edge_name: str, keys: list[str], report: FillReport) -> None:
        edge = self.cdn.edge(edge_name)
        for key in keys:
            pulled = edge.fill(key)
            if pulled:
                report.objects += 1
                report.bytes += pulled
                report.waited_s += self.limiter.spend(pulled)

    def start(self, interval_s: float = 300.0) -> None:
        if not self._worker.running:
            self._interval_s = interval_s
            self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _run(self) -> None:
        while not self._worker.stopping.is_set():
            try:
                report = self.run_once()
                log.info("fill: %d objects, %d bytes %s", report.objects, report.bytes, report.skipped)
            except Exception:
                log.exception("proactive fill failed")
            self._worker.stopping.wait(self._interval_s)
