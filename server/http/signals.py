"""Stop on SIGINT/SIGTERM without taking a lock inside a signal handler.

Python runs a handler on the main thread between two bytecodes, possibly while that thread holds
the lock inside a `threading.Event` it is waiting on; `Event.set()` from the handler then waits for
that same lock forever (seen: `serve` ignoring SIGTERM about once in 25 starts). So the handler only
records the signal, and a small watcher thread, which holds no lock the main thread might, sets
the event.
"""

from __future__ import annotations

import signal
import threading
import time

WATCH_S = 0.05


def stop_on_signals(done: threading.Event) -> None:
    """Set `done` soon after SIGINT or SIGTERM (call from the main thread)."""
    received: list[int] = []

    def handle(signum: int, _frame: object) -> None:
        received.append(signum)  # list.append takes no lock a waiting thread could hold

    def watch() -> None:
        while not received and not done.is_set():
            time.sleep(WATCH_S)
        done.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handle)
    threading.Thread(target=watch, name="stop-signals", daemon=True).start()
