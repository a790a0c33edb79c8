"""Health monitor: probes each edge's `/health` over loopback. A refused connection (a stopped or
crashed listener) marks the edge down at once; a slow answer only after two timeouts in a row, so a
busy machine does not flap healthy edges. Worst case with the defaults: ~2 s for a hung edge."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.background import Worker

if TYPE_CHECKING:
    from server.cdn.edge import EdgeNode


UP, DOWN, SLOW = "up", "down", "slow"
SLOW_STRIKES = 2


def probe(edge: EdgeNode, timeout: float) -> str:
    """UP (answered with a report), DOWN (not running, refused, broken answer) or SLOW (timed out)."""
    if not edge.running:
        return DOWN
    try:
        with urllib.request.urlopen(f"{edge.base_url}/health", timeout=timeout) as resp:
            json.loads(resp.read())
            return UP
    except TimeoutError:
        return SLOW
    except urllib.error.URLError as exc:
        return SLOW if isinstance(exc.reason, TimeoutError) else DOWN
    except (OSError, ValueError):
        return DOWN


class HealthMonitor:
    """Keeps the last probe result per edge; `on_change(name, healthy)` fires on transitions."""

    def __init__(self, edges: Callable[[], list[EdgeNode]], interval_s: float = 0.5, timeout_s: float = 0.5,
                 on_change: Callable[[str, bool], None] | None = None) -> None:
        self.edges, self.interval_s, self.timeout_s = edges, interval_s, timeout_s
        self.on_change = on_change
        self._healthy: dict[str, bool] = {}
        self._slow: dict[str, int] = {}
        self._worker = Worker("cdn-health", self._run, join_timeout_s=5)

    def start(self) -> None:
        if not self._worker.running:
            self.check_all()
            self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def healthy(self, name: str) -> bool:
        return self._healthy.get(name, False)

    def mark(self, name: str, healthy: bool, notify: bool = True) -> None:
        """Record a state; `on_change` hears of transitions unless the caller already reported them
        (an admin stop/start, where the edge publishes its own health event)."""
        before = self._healthy.get(name)
        self._healthy[name] = healthy
        if notify and before is not None and before != healthy and self.on_change is not None:
            self.on_change(name, healthy)

    def check_all(self) -> None:
        for edge in self.edges():
            result = probe(edge, self.timeout_s)
            strikes = self._slow.get(edge.name, 0) + 1 if result == SLOW else 0
            self._slow[edge.name] = strikes
            if result != SLOW or strikes >= SLOW_STRIKES:
                self.mark(edge.name, result == UP)

    def _run(self) -> None:
        while not self._worker.stopping.wait(self.interval_s):
            self.check_all()
