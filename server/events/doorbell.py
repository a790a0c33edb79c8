"""Cross-process wake-up for consumers waiting on the event log, without a polling loop.

An `EventLog` whose consumer waits binds one datagram socket in `<log file>.bells/`; every commit,
from any process, rings each socket there. A listener thread turns a ring into a call of
`on_ring` (the log notifies its waiting threads), so a consumer in the server hears the CLI's
publish within a millisecond instead of at its next periodic check. Where AF_UNIX datagram sockets
are missing (Windows) or the path is too long for a socket name, `start` returns False and the log
falls back to checking `PRAGMA data_version` periodically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


class Doorbell:
    """One listening socket per log instance (lazily, on the first wait), and `ring` for commits."""

    def __init__(self, log_path: Path, on_ring: Callable[[], None]) -> None:
        self.directory = log_path.with_name(log_path.name + ".bells")
        self._on_ring = on_ring
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._address = ""
        self._thread: threading.Thread | None = None
        self._sender: socket.socket | None = None
        self._unavailable = not hasattr(socket, "AF_UNIX")
        self._closed = False

    def start(self) -> bool:
        """Listen for rings (idempotent); False where this platform or path cannot."""
        with self._lock:
            if self._listener is not None or self._unavailable or self._closed:
                return self._listener is not None
            try:
                self._listener = self._bind()
            except OSError as exc:
                log.debug("event log doorbell unavailable (%s); waiting consumers poll instead", exc)
                self._unavailable = True
                return False
            self._thread = threading.Thread(target=self._listen, name="event-log-doorbell", daemon=True)
            self._thread.start()
            return True

    def ring(self) -> None:
        """Wake every listening log of this file; sockets of processes that are gone are removed."""
        if self._unavailable or self._closed:
            return
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        sender = self._sender_socket()
        for name in names:
            address = str(self.directory / name)
            if address == self._address:
                continue
            try:
                sender.sendto(b"!", address)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(address)  # nobody listens there any more
            except OSError:
                pass  # a full queue already holds a ring for that listener

    def close(self) -> None:
        """Stop listening and remove this log's socket file. Idempotent."""
        with self._lock:
            self._closed = True
            listener, thread, sender = self._listener, self._thread, self._sender
            self._listener = self._sender = self._thread = None
        if listener is not None and thread is not None:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as waker:
                waker.sendto(b"", self._address)  # ends the listener's recv
            thread.join(timeout=2)
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._address)
        if sender is not None:
            sender.close()

    def _bind(self) -> socket.socket:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        address = str(self.directory / f"{os.getpid():x}-{id(self):x}")
        if len(address.encode()) > MAX_SOCKET_PATH:
            raise OSError(f"socket path too long ({len(address)} bytes)")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)
        listener.bind(address)
        self._address = address
        return listener

    def _listen(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._closed:
            try:
                listener.recv(16)
                self._drain(listener)
            except OSError:
                return
            if not self._closed:
                self._on_ring()

    @staticmethod
    def _drain(listener: socket.socket) -> None:
        """Many rings while the consumer was busy mean one wake-up."""
        listener.setblocking(False)
        try:
            while True:
                listener.recv(16)
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            listener.setblocking(True)

    def _sender_socket(self) -> socket.socket:
        if self._sender is None:
            sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sender.setblocking(False)
            self._sender = sender
        return self._sender
