"""Steering: rank the edges for one client and title, say why, and answer HLS Content Steering.

Score (higher is better) = -(estimated RTT + time to deliver a 1 MB segment over the edge's link)
- load penalty - off-region penalty + bonuses for content already cached and for being the
title's consistent-hash home in its region. Edges that do not answer health probes are ranked
after every healthy one and never offered to players.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from server import config
from server.cdn.clock import Clock
from server.cdn.cluster import CDN
from server.cdn.edge import EdgeNode
from server.cdn.events import EventSink
from server.cdn.topology import distance_km
from server.errors import InvalidRequest, MiniflixError
from server.events.api import STEERING, Publisher

REFERENCE_SEGMENT_BYTES = 1_000_000
KM_PER_MS_RTT = 100.0          # light in fibre: ~200 km/ms one way, so ~100 km per ms of round trip
LOAD_PENALTY_MS = 100.0        # a fully loaded edge is worth this much extra delay
CONTENT_BONUS_MS = 20.0
HOME_BONUS_MS = 10.0
FULL_CACHE_PENALTY_MS = 5.0
PLACE_CACHE_SIZE = 1_000
OFF_REGION_PENALTY_MS = 50.0   # keep traffic in the client's region (transit costs) unless far better


class NoEdgeAvailable(MiniflixError):
    """Every edge is down: nothing to steer to."""

    status = 503


@dataclass(frozen=True)
class Ranked:
    """One edge's place for a client: rank 1 is best; `url` is a signed master playlist URL."""

    edge: str
    rank: int
    score: float
    reasons: list[str]
    url: str | None
    eligible: bool = True
    region: str = ""
    est_rtt_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: a down edge's score (-inf internally) becomes null, which JSON can carry."""
        doc = asdict(self)
        if not self.eligible:
            doc["score"] = None
        return doc


class _Place(NamedTuple):
    edge: EdgeNode
    rtt: float
    delay_ms: float
    reasons: tuple[str, str]


class _Scored(NamedTuple):
    edge: EdgeNode
    eligible: bool
    score: float
    reasons: list[str]
    rtt: float


class Steering:
    """Ranks the CDN's edges; every `rank` is also published as a `steering` decision event.
    Signed links live `link_ttl_s` (default: the `edge_token_ttl_s` setting)."""

    def __init__(self, cdn: CDN, publisher: Publisher | None = None, clock: Clock | None = None, *,
                 link_ttl_s: float | None = None, manifest_ttl_s: int = 10) -> None:
        link_ttl_s = config.get("edge_token_ttl_s") if link_ttl_s is None else link_ttl_s
        if not 0 < link_ttl_s <= config.EDGE_TOKEN_TTL_MAX_S:
            raise InvalidRequest(f"Edge links must live 0..{config.EDGE_TOKEN_TTL_MAX_S} s, "
                                 f"not {link_ttl_s}.")
        self.cdn = cdn
        self.clock = clock or cdn.clock
        self.events = EventSink(publisher if publisher is not None else cdn.publisher)
        self.link_ttl_s, self.manifest_ttl_s = link_ttl_s, manifest_ttl_s
        self._place_cache: dict[tuple[Any, ...], list[_Place]] = {}

    def rank(self, video_id: str, region: str | None = None, latlon: tuple[float, float] | None = None,
             *, path: str = "master.m3u8", publish: bool = True) -> list[Ranked]:
        """Every edge, best first, with the reasons behind each place."""
        client = self._client_location(region, latlon)
        homes = {name for r in self.cdn.rings for name in self.cdn.home_edges(video_id, r)}
        token = self.cdn.signer.sign(video_id, int(self.clock.now() + self.link_ttl_s))
        scored = [self._score(place, video_id, homes) for place in self._place_table(region, client)]
        scored.sort(key=lambda s: (not s.eligible, -s.score))
        ranked = [Ranked(s.edge.name, i + 1, s.score, s.reasons,
                         s.edge.url_with_token(token, video_id, path) if s.eligible else None,
                         s.eligible, s.edge.spec.region, s.rtt) for i, s in enumerate(scored)]
        if publish:
            self._publish(video_id, region, client, ranked)
        return ranked

    def best(self, video_id: str, region: str | None = None, latlon: tuple[float, float] | None = None,
             *, path: str = "master.m3u8") -> Ranked:
        """The top healthy edge (for clients without Content Steering: a redirect target)."""
        ranked = self.rank(video_id, region, latlon, path=path)
        if not ranked or not ranked[0].eligible:
            raise NoEdgeAvailable("No edge is healthy right now.", hint="start an edge from the CDN panel")
        return ranked[0]

    def steering_manifest(self, video_id: str, region: str | None = None,
                          latlon: tuple[float, float] | None = None,
                          reload_uri: str | None = None) -> dict[str, Any]:
        """An HLS Content Steering manifest: healthy edges (pathway IDs = edge names), best first."""
        ranked = self.rank(video_id, region, latlon)
        pathways = [r.edge for r in ranked if r.eligible]
        if not pathways:
            raise NoEdgeAvailable("No edge is healthy right now.", hint="start an edge from the CDN panel")
        doc: dict[str, Any] = {"VERSION": 1, "TTL": self.manifest_ttl_s, "PATHWAY-PRIORITY": pathways}
        if reload_uri:
            doc["RELOAD-URI"] = reload_uri
        return doc

    def close(self) -> None:
        """Hand the last decisions to the log and stop the event thread (idempotent)."""
        self.events.close()

    stop = close     # the server's service lifecycle calls stop()

    # -- scoring ------------------------------------------------------------------------------
    def _client_location(self, region: str | None,
                         latlon: tuple[float, float] | None) -> tuple[float, float] | None:
        if latlon is not None:
            lat, lon = latlon
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise InvalidRequest(f"Client location {latlon} is not a latitude/longitude pair.")
            return (float(lat), float(lon))
        return self.cdn.topology.region_center(region) if region else None

    def _score(self, place: _Place, video_id: str, homes: set[str]) -> _Scored:
        edge = place.edge
        if not self.cdn.is_healthy(edge.name):
            return _Scored(edge, False, float("-inf"), ["down: not answering health probes"], 0.0)
        load = edge.load()
        reasons = ["healthy", *place.reasons, f"load {load:.2f}"]
        score = -(place.delay_ms + load * LOAD_PENALTY_MS)
        score += self._content_terms(edge, video_id, edge.name in homes, reasons)
        return _Scored(edge, True, round(score, 3), reasons, place.rtt)

    def _place_table(self, region: str | None, client: tuple[float, float] | None) -> list[_Place]:
        """Per edge: est. RTT, RTT + penalties + link time, and their reasons. Memoised per client place
        and edge bandwidths: recomputing distances and strings for 100 edges dominated a decision."""
        edges = list(self.cdn.edges.values())
        key = (region, client, tuple(e.bandwidth_mbps for e in edges))
        table = self._place_cache.get(key)
        if table is None:
            table = [self._place(edge, region, client) for edge in edges]
            if len(self._place_cache) > PLACE_CACHE_SIZE:
                self._place_cache.clear()
            self._place_cache[key] = table
        return table

    def _place(self, edge: EdgeNode, region: str | None, client: tuple[float, float] | None) -> _Place:
        reasons: list[str] = []
        rtt, penalty = self._estimated_rtt(edge, region, client, reasons)
        link_ms = self._link_ms(edge, reasons)
        return _Place(edge, round(rtt, 2), rtt + penalty + link_ms, (reasons[0], reasons[1]))

    def _estimated_rtt(self, edge: EdgeNode, region: str | None, client: tuple[float, float] | None,
                       reasons: list[str]) -> tuple[float, float]:
        """(estimated RTT, off-region penalty) in ms."""
        spec = edge.spec
        if client is None:
            reasons.append(f"client location unknown; edge RTT {spec.rtt_ms:.0f} ms")
            return spec.rtt_ms, 0.0
        km = distance_km(client, (spec.lat, spec.lon))
        rtt = spec.rtt_ms + km / KM_PER_MS_RTT
        if region is None or region == spec.region:
            where = "same region" if region else "client location"
            reasons.append(f"{where}, {km:,.0f} km away: est. RTT {rtt:.0f} ms")
            return rtt, 0.0
        reasons.append(f"other region ({spec.region}), {km:,.0f} km away: est. RTT {rtt:.0f} ms"
                       f" + {OFF_REGION_PENALTY_MS:.0f} ms off-region penalty")
        return rtt, OFF_REGION_PENALTY_MS

    def _link_ms(self, edge: EdgeNode, reasons: list[str]) -> float:
        mbps = edge.bandwidth_mbps
        if not mbps:
            reasons.append("link uncapped")
            return 0.0
        ms = REFERENCE_SEGMENT_BYTES * 8 / (mbps * 1e6) * 1000
        reasons.append(f"link {mbps:g} Mbit/s: ~{ms:.0f} ms per 1 MB segment")
        return ms

    def _content_terms(self, edge: EdgeNode, video_id: str, home: bool, reasons: list[str]) -> float:
        bonus, objects = 0.0, edge.has_title(video_id)
        if objects:
            bonus += CONTENT_BONUS_MS
            reasons.append(f"has content ({objects} objects cached)")
        else:
            reasons.append("no content yet (pulls from origin on first request)")
            if edge.cache.policy.used >= 0.98 * edge.spec.capacity_bytes:
                bonus -= FULL_CACHE_PENALTY_MS
                reasons.append("cache full: a new title evicts others")
        if home:
            bonus += HOME_BONUS_MS
            reasons.append("home edge for this title in its region (consistent hash)")
        return bonus

    def _publish(self, video_id: str, region: str | None, client: tuple[float, float] | None,
                 ranked: list[Ranked]) -> None:
        at = self.clock.now()

        def payload() -> dict[str, Any]:
            chosen = ranked[0].edge if ranked and ranked[0].eligible else ""
            candidates = [{"edge": r.edge, "rank": r.rank, "score": r.score if r.eligible else None,
                           "reasons": r.reasons} for r in ranked]
            return {"type": "decision", "video_id": video_id, "client_region": region or "",
                    "client_latlon": list(client) if client else None, "chosen": chosen,
                    "candidates": candidates, "at": at}

        self.events.emit(video_id, payload, topic=STEERING)
