"""The health monitor against real sockets: refused is down at once, a hung listener after two
timeouts in a row (so a busy machine does not flap healthy edges)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from server.cdn.health import DOWN, SLOW, UP, HealthMonitor, probe


@dataclass
class Listener:
    """Just what the monitor reads from an edge: its name, whether it runs, where it listens."""

    name: str
    base_url: str
    running: bool = True


def test_a_listener_that_accepts_but_never_answers_is_down_after_two_slow_probes() -> None:
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)                      # the kernel accepts; nobody ever answers
        edge = Listener("hung-1", f"http://127.0.0.1:{hung.getsockname()[1]}")
        changes: list[tuple[str, bool]] = []
        monitor = HealthMonitor(lambda: [edge], timeout_s=0.2, on_change=lambda n, h: changes.append((n, h)))
        monitor.mark("hung-1", True)
        assert probe(edge, 0.2) == SLOW  # type: ignore[arg-type]
        monitor.check_all()
        assert monitor.healthy("hung-1")
        monitor.check_all()
        assert not monitor.healthy("hung-1") and changes == [("hung-1", False)]


def test_a_refused_connection_is_down_at_once_and_a_stopped_edge_is_not_probed(make_edge) -> None:
    edge = make_edge()
    assert probe(edge, 1.0) == UP
    port = edge.port
    edge.stop()
    assert probe(edge, 1.0) == DOWN
    monitor = HealthMonitor(lambda: [Listener("gone-1", f"http://127.0.0.1:{port}")])  # type: ignore[list-item]
    monitor.mark("gone-1", True)
    monitor.check_all()
    assert not monitor.healthy("gone-1")
