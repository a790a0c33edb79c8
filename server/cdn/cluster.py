"""The CDN: every edge of a topology, its health monitor, and the consistent-hash home of each title."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from server.cdn.clock import Clock, SystemClock
from server.cdn.edge import EdgeNode
from server.cdn.edge_engines import edge_class, edge_engine
from server.cdn.health import HealthMonitor
from server.cdn.origin import OriginClient
from server.cdn.ring import HashRing
from server.cdn.tokens import NginxSigner, Signer, load_or_create_key
from server.cdn.topology import Topology
from server.errors import NotFound
from server.events.api import Publisher
from server.paths import DataDir

log = logging.getLogger(__name__)


class CDN:
    """Builds one edge per EdgeSpec (cache under `data.edges/<name>`), starts and stops them. The
    `engine` (default: the `edge_engine` setting) picks the edge class and the link signer: nginx
    edges check their links in nginx, so they get tokens nginx can verify."""

    def __init__(self, topology: Topology, origin: OriginClient, data: DataDir,
                 publisher: Publisher | None = None, clock: Clock | None = None,
                 *, copies: int = 1, signer: Signer | None = None, health_interval_s: float = 0.5,
                 engine: str | None = None) -> None:
        self.topology, self.origin, self.data, self.publisher = topology, origin, data, publisher
        self.clock: Clock = clock or SystemClock()
        self.copies = copies
        self.engine = engine or edge_engine()
        self.signer = signer or (NginxSigner if self.engine == "nginx" else Signer)(load_or_create_key(data))
        self.rings = {region: HashRing([e.name for e in topology.edges if e.region == region])
                      for region in {e.region for e in topology.edges}}
        edge_type = edge_class(self.engine)
        self.edges: dict[str, EdgeNode] = {
            spec.name: edge_type(spec, origin, data.edges / spec.name, self.signer, publisher, self.clock,
                                 spillover=self._spillover_check(spec.name, spec.region))
            for spec in topology.edges}
        self.monitor = HealthMonitor(lambda: list(self.edges.values()), interval_s=health_interval_s,
                                     on_change=self._health_changed)

    def start(self) -> None:
        for edge in self.edges.values():
            edge.start()
        self.monitor.start()

    def stop(self) -> None:
        self.monitor.stop()
        for edge in self.edges.values():
            edge.close()

    def edge(self, name: str) -> EdgeNode:
        try:
            return self.edges[name]
        except KeyError:
            raise NotFound(f"No edge named {name!r}.", hint=f"edges: {', '.join(self.edges)}") from None

    def stop_edge(self, name: str) -> None:
        """Stop one edge's listener for real (a fault for steering and players to survive)."""
        self.edge(name).stop()
        self.monitor.mark(name, False, notify=False)

    def start_edge(self, name: str) -> int:
        port = self.edge(name).start()
        self.monitor.mark(name, True, notify=False)
        return port

    def purge_title(self, video_id: str) -> int:
        """Drop every cached object of a title on every edge, running or stopped, including stale
        copies and fills in flight, so the next request asks the origin (after a delete: 404).
        Returns how many objects were dropped."""
        dropped = sum(edge.purge_title(video_id) for edge in self.edges.values())
        log.info("purged title %s from %d edges: %d objects", video_id, len(self.edges), dropped)
        return dropped

    def throttle(self, name: str, mbps: float | None) -> None:
        self.edge(name).set_bandwidth(mbps)

    def is_healthy(self, name: str) -> bool:
        """Seen answering by the monitor, and not stopped since."""
        return self.edges[name].running and self.monitor.healthy(name)

    def health(self) -> list[dict[str, Any]]:
        reports = []
        for name, edge in self.edges.items():
            report = edge.health()
            report["healthy"] = self.is_healthy(name)
            reports.append(report)
        return reports

    def home_edges(self, video_id: str, region: str, copies: int | None = None) -> list[str]:
        """The title's home edges in a region by consistent hashing (N copies)."""
        ring = self.rings.get(region)
        return ring.nodes_for(video_id, copies or self.copies) if ring else []

    def _spillover_check(self, name: str, region: str) -> Callable[[str], bool]:
        def spillover(video_id: str) -> bool:
            homes = self.home_edges(video_id, region)
            return name not in homes and not any(self.is_healthy(h) for h in homes)
        return spillover

    def _health_changed(self, name: str, healthy: bool) -> None:
        """A probe saw an edge go down (or come back) without an admin action: publish it."""
        log.warning("edge %s is now %s", name, "healthy" if healthy else "DOWN (not answering probes)")
        self.edges[name].report_health(healthy)
