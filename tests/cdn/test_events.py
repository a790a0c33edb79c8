"""The edge's event sink: events leave the request path, and a stuck log cannot stall viewers."""

from __future__ import annotations

import threading
from typing import Any

from server.cdn.events import EventSink
from tests.cdn.conftest import Recorder, wait_for


class StuckLog:
    """An event log that takes one event and then hangs until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.got: list[dict[str, Any]] = []

    def publish(self, topic: str, key: str, value: dict[str, Any]) -> tuple[int, int]:
        self.got.append(value)
        self.release.wait(10)
        return (0, len(self.got))


def test_a_stuck_log_makes_the_sink_drop_and_count_instead_of_blocking() -> None:
    log = StuckLog()
    sink = EventSink(log, capacity=3)
    for i in range(10):
        sink.emit("edge", {"type": "hit", "n": i})      # returns at once even though the log hangs
    assert sink.dropped >= 6
    log.release.set()
    sink.close()
    assert len(log.got) + sink.dropped == 10


def test_lazy_payloads_are_built_on_the_sink_thread_in_order(recorder: Recorder) -> None:
    sink = EventSink(recorder)
    sink.emit("v1", lambda: {"type": "decision", "n": 1}, topic="steering")
    sink.emit("edge", {"type": "hit", "n": 2})
    sink.flush()
    wait_for(lambda: len(recorder.events) == 2)
    assert [(t, v["n"]) for t, _, v in recorder.events] == [("steering", 1), ("cdn", 2)]
    sink.close()


def test_a_burst_reaches_the_real_event_log_complete_and_in_order_per_edge(tmp_path) -> None:
    from server.events.log import EventLog

    with EventLog(tmp_path / "events.sqlite") as events:
        sink = EventSink(events)
        for i in range(2_000):
            sink.emit(f"edge-{i % 3}", {"type": "hit", "n": i})
        sink.flush()
        got = []
        while batch := events.poll("check", ["cdn"], max_events=1_000, timeout=0.2):
            got += batch
            events.commit("check", batch)
        sink.close()
    assert len(got) == 2_000 and sink.dropped == 0
    for edge in ("edge-0", "edge-1", "edge-2"):
        ns = [e.value["n"] for e in got if e.key == edge]
        assert ns == sorted(ns) and len(ns) in (666, 667)
