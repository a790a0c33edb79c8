"""A real Spark standalone master and one worker on 127.0.0.1, from the `pyspark` wheel's own jars.

`main.py cluster up --spark` starts them so `main.py analytics QUERY --engine spark --master
spark://127.0.0.1:PORT` runs on a cluster manager rather than in-process (`local[N]`). Each is a JVM
started with `spark-class` (Debian's JRE); the master is healthy once its status page lists the
worker as ALIVE.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from server.cluster.process import HEALTH_TIMEOUT_S, ClusterError, free_port, spawn, stop_process

WORKER_CORES = 1
WORKER_MEMORY = "1g"


def spark_class() -> str:
    """`spark-class` of the installed pyspark (the `spark` extra)."""
    try:
        import pyspark
    except ImportError:
        raise ClusterError("pyspark is not installed.",
                           hint="install the spark extra: `pip install miniflix-studio[spark]`") from None
    script = Path(pyspark.__file__).parent / "bin" / ("spark-class.cmd" if os.name == "nt" else "spark-class")
    if not script.is_file():
        raise ClusterError(f"{script} is missing from the pyspark package.")
    return str(script)


class SparkStandalone:
    """`start()` a master and one worker and wait until the worker registered; `stop()`."""

    def __init__(self, folder: Path, *, detached: bool = False) -> None:
        self.folder = Path(folder)
        self.detached = detached
        self.port, self.ui_port, self.worker_ui_port = free_port(), free_port(), free_port()
        self.master: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The `--master` value for `main.py analytics … --engine spark`."""
        return f"spark://127.0.0.1:{self.port}"

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}/json/"

    @property
    def worker_status_url(self) -> str:
        return f"http://127.0.0.1:{self.worker_ui_port}/json/"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in (self.master, self.worker) if p is not None and p.poll() is None]

    def start(self) -> SparkStandalone:
        try:
            self.master = self._spawn("master", "org.apache.spark.deploy.master.Master",
                                      "--host", "127.0.0.1", "--port", str(self.port),
                                      "--webui-port", str(self.ui_port))
            self.worker = self._spawn("worker", "org.apache.spark.deploy.worker.Worker", self.url,
                                      "--host", "127.0.0.1", "--webui-port", str(self.worker_ui_port),
                                      "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
                                      "--work-dir", str(self.folder / "work"))
            self._wait_worker_alive()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_process(self.worker)
        stop_process(self.master)

    def __enter__(self) -> SparkStandalone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, role: str, main_class: str, *args: str) -> subprocess.Popen[bytes]:
        (self.folder / "work").mkdir(parents=True, exist_ok=True)
        return spawn([spark_class(), main_class, *args], self.folder / f"spark-{role}.log",
                     detached=self.detached, cwd=self.folder, env={"SPARK_LOCAL_IP": "127.0.0.1"})

    def _wait_worker_alive(self) -> None:
        """Until the master's status page lists an ALIVE worker (bounded; a JVM start takes seconds)."""
        deadline = time.monotonic() + HEALTH_TIMEOUT_S * 2
        while time.monotonic() < deadline:
            for role, process in (("master", self.master), ("worker", self.worker)):
                if process is not None and process.poll() is not None:
                    raise ClusterError(f"Spark {role} exited with {process.returncode}; "
                                       f"see {self.folder / f'spark-{role}.log'}.")
            if alive_workers(self.status_url) > 0:
                return
            time.sleep(0.25)
        raise ClusterError("The Spark worker did not register with the master in "
                           f"{HEALTH_TIMEOUT_S * 2:.0f} s; see {self.folder}.")


def alive_workers(status_url: str) -> int:
    """How many workers the master at `status_url` (its `/json/` page) lists as ALIVE (0 if down)."""
    try:
        with urllib.request.urlopen(status_url, timeout=2) as reply:
            doc = json.load(reply)
    except (urllib.error.URLError, OSError, ValueError):
        return 0
    return sum(1 for w in doc.get("workers", []) if w.get("state") == "ALIVE")
