"""A local cluster of the real engines, for `main.py cluster up|status|down`.

`up` starts, as detached processes on 127.0.0.1, a 3-node NATS JetStream cluster, a SeaweedFS
server with its S3 gateway (and the bucket the origin uses) and a Dask scheduler with two workers
(and, asked for, a Spark standalone master and worker), waits until each is healthy and records
what it started in `<folder>/cluster.json`: every process id with its health URL, and the settings
that point the program at the cluster. `status` reads that record and asks each process; `down`
stops the recorded processes. The record holds the S3 secret, so it is readable by its owner only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.cluster import seaweed
from server.cluster.dask import DaskCluster
from server.cluster.nats import NatsCluster
from server.cluster.process import STOP_TIMEOUT_S, ClusterError, pid_alive, stop_pid
from server.cluster.seaweed import SeaweedServer

if TYPE_CHECKING:
    from server.cluster.spark import SparkStandalone

BUCKET = "miniflix"
DASK_WORKERS = 2
STATE_FILE = "cluster.json"
HEALTH_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Member:
    """One process of the cluster: what it is, its pid and the URL that says it is healthy."""

    name: str
    engine: str
    pid: int
    address: str
    health_url: str
    command: str    # the binary's name: a recorded pid reused by another program is not ours
    ports: dict[str, int] = field(default_factory=dict)   # SeaweedFS: its sockets in /tmp are named by them
    stop_grace_s: float = STOP_TIMEOUT_S   # SIGTERM, then this long before SIGKILL


@dataclass
class ClusterState:
    """What `up` started and the settings (environment variables) that use it."""

    members: list[Member]
    settings: dict[str, str]
    started_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"members": [asdict(m) for m in self.members], "settings": self.settings,
                "started_at": self.started_at}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ClusterState:
        return cls([Member(**m) for m in doc["members"]], dict(doc["settings"]), float(doc["started_at"]))


@dataclass(frozen=True)
class MemberStatus:
    """One recorded process now: running (its pid exists) and healthy (its health URL says 200)."""

    member: Member
    running: bool
    healthy: bool


def state_path(folder: Path) -> Path:
    return Path(folder) / STATE_FILE


def load_state(folder: Path) -> ClusterState | None:
    """The record of the cluster `up` started in `folder`, or None when there is none."""
    path = state_path(folder)
    if not path.is_file():
        return None
    try:
        return ClusterState.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"The cluster record {path} is unreadable ({exc}).",
                           hint="stop any servers it started by hand, then delete the file") from None


def _save_state(folder: Path, state: ClusterState) -> None:
    path = state_path(folder)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state.to_json(), f, indent=2)
    os.replace(tmp, path)


def cluster_up(folder: Path, *, spark: bool = False) -> tuple[ClusterState, bool]:
    """Start the cluster in `folder` (or find the one already running there); returns its record
    and whether this call started it. A half-dead earlier cluster, or one without the Spark
    standalone master and worker `spark` asks for, is stopped and started afresh."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    existing = load_state(folder)
    if existing is not None:
        has_spark = "MINIFLIX_SPARK_MASTER" in existing.settings
        if has_spark >= spark and all(s.running and s.healthy for s in cluster_status(folder)):
            return existing, False
        cluster_down(folder)
    with contextlib.ExitStack() as undo:   # an engine that fails to start stops those started before it
        nats = NatsCluster(folder / "nats", detached=True).start()
        undo.callback(nats.stop)
        weed = SeaweedServer(folder / "seaweed", detached=True).start()
        undo.callback(weed.stop)
        weed.create_bucket(BUCKET)
        dask = DaskCluster(folder / "dask", DASK_WORKERS, detached=True, env=weed.env()).start()
        undo.callback(dask.stop)
        members, settings = _members(nats, weed) + _dask_members(dask), _settings(nats, weed)
        settings["MINIFLIX_EXECUTOR"] = dask.executor_setting
        if spark:
            standalone = _start_spark(folder)
            undo.callback(standalone.stop)
            members += _spark_members(standalone)
            settings["MINIFLIX_SPARK_MASTER"] = standalone.url  # the spark_master setting
        state = ClusterState(members, settings)
        _save_state(folder, state)
        undo.pop_all()
    return state, True


def _dask_members(dask: DaskCluster) -> list[Member]:
    scheduler = dask.scheduler
    assert scheduler is not None
    members = [Member("dask-scheduler", "Dask", scheduler.pid, dask.address, dask.address,
                      _command_of(scheduler.pid, "python"))]
    for i, worker in enumerate(dask.worker_processes):
        assert worker is not None
        members.append(Member(f"dask-{dask.worker_name(i)}", "Dask", worker.pid, str(dask.scratch(i)), "",
                              _command_of(worker.pid, "python")))
    return members


def _start_spark(folder: Path) -> SparkStandalone:
    from server.cluster.spark import SparkStandalone

    return SparkStandalone(folder / "spark", detached=True).start()


def _spark_members(spark: SparkStandalone) -> list[Member]:
    master, worker = spark.master, spark.worker
    assert master is not None and worker is not None
    return [Member("spark-master", "Spark standalone", master.pid, spark.url, spark.status_url,
                   _command_of(master.pid, "java")),
            Member("spark-worker", "Spark standalone", worker.pid, f"127.0.0.1:{spark.worker_ui_port}",
                   spark.worker_status_url, _command_of(worker.pid, "java"))]


def _program(pid: int) -> str | None:
    """The name of the program a pid runs now (spark-class execs java); None where /proc cannot tell."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return None
    return Path(os.fsdecode(argv0)).name


def _command_of(pid: int, fallback: str) -> str:
    return _program(pid) or fallback


def _members(nats: NatsCluster, weed: SeaweedServer) -> list[Member]:
    members = [Member(f"nats-{node.name}", "NATS JetStream", node.pid or 0, node.url,
                      f"http://127.0.0.1:{node.monitor_port}/healthz", Path(nats.binary).name)
               for node in nats.nodes]
    members += [Member("seaweedfs", "SeaweedFS (S3)", pid, weed.s3_endpoint, f"{weed.s3_endpoint}/healthz",
                       Path(weed.binary).name, weed.ports, seaweed.STOP_GRACE_S) for pid in weed.pids]
    return members


def _settings(nats: NatsCluster, weed: SeaweedServer) -> dict[str, str]:
    return {"MINIFLIX_EVENT_LOG": nats.url, "MINIFLIX_ORIGIN": weed.origin_url(BUCKET), **weed.env()}


def cluster_status(folder: Path) -> list[MemberStatus]:
    """Each recorded process: is it running, is it healthy (empty when nothing is recorded)."""
    state = load_state(folder)
    if state is None:
        return []
    return [_status(m) for m in state.members]


def _status(member: Member) -> MemberStatus:
    running = _ours(member)
    return MemberStatus(member, running, running and _healthy(member.health_url))


def _ours(member: Member) -> bool:
    """The recorded process still runs and is still the engine we started (where /proc tells)."""
    if not pid_alive(member.pid):
        return False
    program = _program(member.pid)
    return program is None or program == member.command   # no /proc (macOS, Windows): trust the pid


def _healthy(url: str) -> bool:
    """`http://…`: answers 200; `tcp://h:p`: accepts a connection (the Dask scheduler); no URL (a
    Dask worker, whose port is its own): running is all we can tell."""
    if not url:
        return True
    if url.startswith("tcp://"):
        host, _, port = url[len("tcp://"):].rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=HEALTH_TIMEOUT_S):
                return True
        except OSError:
            return False
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def cluster_down(folder: Path) -> list[Member]:
    """Stop every recorded process (SIGTERM, then SIGKILL) and forget the record; the engines' data
    stays in `folder`, so the next `up` starts with it. Returns what was stopped."""
    state = load_state(folder)
    if state is None:
        return []
    stopped = [m for m in state.members if _ours(m)]
    for member in stopped:
        stop_pid(member.pid, member.stop_grace_s)   # weed ignores SIGTERM: its grace is short
    for member in state.members:
        if member.ports:
            seaweed.remove_sockets(member.ports)
    state_path(folder).unlink(missing_ok=True)
    return stopped
