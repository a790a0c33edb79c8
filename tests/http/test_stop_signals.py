"""SIGTERM stops the server even when it lands while the main thread holds the stop event's lock."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from server.http.signals import stop_on_signals


@pytest.fixture
def restored_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_signal_arriving_inside_the_events_own_lock_still_stops(restored_handlers: None) -> None:
    done = threading.Event()
    stop_on_signals(done)
    # The main thread holds the lock `Event.wait`/`Event.set` use, as it does for an instant inside
    # `done.wait()`; a handler calling `done.set()` here would wait for itself forever.
    with done._cond:  # the exact race, made certain
        os.kill(os.getpid(), signal.SIGTERM)
    assert done.wait(timeout=10), "SIGTERM was lost"


def test_ctrl_c_stops_too(restored_handlers: None) -> None:
    done = threading.Event()
    stop_on_signals(done)
    os.kill(os.getpid(), signal.SIGINT)
    assert done.wait(timeout=10)
