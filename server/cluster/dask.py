"""A real Dask cluster on 127.0.0.1 for `executor=dask://…`: one `dask scheduler`, N `dask worker`s.

Each worker is its own process (`--no-nanny`, so a SIGKILL is a lost machine, not a restart),
runs one task at a time (`--nthreads 1`: parallelism comes from the workers, as one ffmpeg per core
measured best) and keeps its scratch files in its own folder under `folder`, never in the
coordinator's work dir: chunks travel through the origin store. The processes run
`python -m distributed.cli.…` from the app's folder, so they import this build of MiniFlix.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from server.cluster.process import (
    HEALTH_TIMEOUT_S,
    STOP_TIMEOUT_S,
    ClusterError,
    free_port,
    spawn,
    stop_process,
)
from server.paths import app_dir

__all__ = ["ClusterError", "DaskCluster"]


class DaskCluster:
    """`start()` a scheduler and `workers` workers and wait until the scheduler sees them all;
    `stop()`, `kill_worker(i)`; `executor_setting` is the value for `MINIFLIX_EXECUTOR`."""

    def __init__(self, folder: Path, workers: int = 2, *, detached: bool = False,
                 env: Mapping[str, str] | None = None) -> None:
        self.folder = Path(folder)
        self.env = dict(env or {})   # e.g. the S3 origin's credentials, which the workers read
        self.workers = max(1, workers)
        self.detached = detached   # `cluster up`: the processes outlive the command
        self.port = free_port()
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.worker_processes: list[subprocess.Popen[bytes] | None] = []

    @property
    def address(self) -> str:
        """The scheduler's address as a Dask client dials it: `tcp://127.0.0.1:PORT`."""
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def executor_setting(self) -> str:
        """The `executor` setting that sends chunk encodes to this cluster."""
        return f"dask://127.0.0.1:{self.port}"

    @property
    def pids(self) -> list[int]:
        """Process ids of the scheduler and every worker still running."""
        processes = [self.scheduler, *self.worker_processes]
        return [p.pid for p in processes if p is not None and p.poll() is None]

    def worker_name(self, index: int) -> str:
        return f"worker-{index}"

    def scratch(self, index: int) -> Path:
        """Worker `index`'s own folder: the source copy and the chunks it is encoding."""
        return self.folder / self.worker_name(index)

    def start(self) -> DaskCluster:
        """Spawn the scheduler, then the workers, and wait until the scheduler lists every worker."""
        try:
            self.scheduler = self._spawn(self._scheduler_argv(), "scheduler.log")
            self.worker_processes = [self._spawn(self._worker_argv(i), f"{self.worker_name(i)}.log")
                                     for i in range(self.workers)]
            self.wait_for_workers(self.workers)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_workers(self, count: int, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        """Until the scheduler lists `count` workers (bounded); a process that exits is reported."""
        from distributed import Client

        try:
            with Client(self.address, timeout=timeout_s) as client:
                client.wait_for_workers(count, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            self._check_alive()
            raise ClusterError(f"the Dask scheduler at {self.address} did not list {count} "
                               f"worker(s) in {timeout_s:.0f} s ({exc}); see {self.folder}.") from exc

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker `index` (a lost machine, not a shutdown); its ffmpeg dies with it."""
        process = self.worker_processes[index]
        if process is not None and process.poll() is None:
            process.send_signal(getattr(signal, "SIGKILL", signal.SIGTERM))
            process.wait(STOP_TIMEOUT_S)

    def restart_worker(self, *indexes: int) -> None:
        """Start workers `indexes` again (after `kill_worker`) and wait until the scheduler lists
        every worker. An index given twice is started once."""
        for index in dict.fromkeys(indexes):
            process = self.worker_processes[index]
            if process is not None and process.poll() is None:
                raise ClusterError(f"Dask {self.worker_name(index)} is still running.")
            self.worker_processes[index] = self._spawn(self._worker_argv(index),
                                                       f"{self.worker_name(index)}.log")
        self.wait_for_workers(self.workers)

    def stop(self) -> None:
        """Stop every worker, then the scheduler. Idempotent."""
        for process in self.worker_processes:
            stop_process(process)
        stop_process(self.scheduler)

    def __enter__(self) -> DaskCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen[bytes]:
        return spawn(argv, self.folder / log_name, detached=self.detached, cwd=app_dir(), env=self.env)

    def _scheduler_argv(self) -> list[str]:
        return [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-dashboard"]

    def _worker_argv(self, index: int) -> list[str]:
        scratch = self.scratch(index)
        scratch.mkdir(parents=True, exist_ok=True)
        return [sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                "--name", self.worker_name(index), "--local-directory", str(scratch)]

    def _check_alive(self) -> None:
        for name, process in [("scheduler", self.scheduler),
                              *((self.worker_name(i), p) for i, p in enumerate(self.worker_processes))]:
            if process is not None and process.poll() is not None:
                raise ClusterError(f"the Dask {name} exited with {process.returncode}; "
                                   f"see its log in {self.folder}.")
