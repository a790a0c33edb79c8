"""What the two edge engines (`edge.EdgeNode`, the Python edge, and `nginx_edge.NginxEdge`) share:
their name and address, signed URLs, the bandwidth check and the recent throughput."""

from __future__ import annotations

from collections import deque

from server.cdn.clock import Clock
from server.cdn.tokens import Signer
from server.cdn.topology import EdgeSpec
from server.errors import Conflict

THROUGHPUT_WINDOW_S = 10.0


class EdgeAddress:
    """An edge's identity and the URLs that reach it on 127.0.0.1; a subclass sets the attributes
    below and the port it listens on (0 before its first start)."""

    spec: EdgeSpec
    signer: Signer
    clock: Clock
    bandwidth_mbps: float | None
    _port: int

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def name(self) -> str:
        return self.spec.name

    def set_bandwidth(self, mbps: float | None) -> None:
        """Throttle the edge's link (None removes the cap); a subclass applies it where it must."""
        if mbps is not None and mbps <= 0:
            raise Conflict(f"Bandwidth of edge {self.name} must be positive (or None for no cap).")
        self.bandwidth_mbps = mbps

    def url_for(self, video_id: str, path: str = "master.m3u8", expires_in: float = 3600) -> str:
        """A signed absolute URL of one object of a title on this edge."""
        token = self.signer.sign(video_id, int(self.clock.now() + expires_in))
        return self.url_with_token(token, video_id, path)

    def url_with_token(self, token: str, video_id: str, path: str = "master.m3u8") -> str:
        """The URL for an already signed token (steering signs once for all edges of a decision)."""
        return f"{self.base_url}/t/{token}/videos/{video_id}/{path.lstrip('/')}"


def throughput_bps(served: deque[tuple[float, int]], now: float) -> float:
    """Bits per second of the (time, bytes) sent within the last window; older entries are dropped."""
    horizon = now - THROUGHPUT_WINDOW_S
    while served and served[0][0] < horizon:
        served.popleft()
    return sum(n for _, n in served) * 8 / THROUGHPUT_WINDOW_S
