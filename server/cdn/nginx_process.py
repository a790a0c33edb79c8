"""The nginx process of one edge: find the binary, pick a port, start and stop it, ask its /health.

Kept apart from `NginxEdge` (what the CDN sees) so that file reads as the edge and this one as the
process plumbing; nothing here knows about caches or events.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from server.cdn.edge_engines import nginx_path
from server.errors import MiniflixError

STOP_TIMEOUT_S = 5.0


class NginxMissing(MiniflixError):
    """`edge_engine=nginx` on a machine without nginx."""


class NginxFailed(MiniflixError):
    """An nginx edge did not start or reload."""


def nginx_binary() -> str:
    """The nginx on PATH, or a clear error naming the setting and the package."""
    found = nginx_path()
    if found is None:
        raise NginxMissing("MINIFLIX_EDGE_ENGINE=nginx, but nginx is not installed.",
                           hint="install Debian's nginx-light (make setup does), or use the python edge")
    return found


def ask_health(base_url: str) -> dict[str, Any]:
    """The nginx edge's own /health answer ({} when it does not answer)."""
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=1) as resp:
            doc = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return {}
    return doc if isinstance(doc, dict) else {}


def wait_gone(pid: int, timeout_s: float = 11.0) -> None:
    """Until process `pid` ended (a zombie counts: it serves nothing); nginx lets an old worker
    finish its requests for at most `worker_shutdown_timeout`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens there now, else a free port the kernel picks."""
    for port in ((preferred, 0) if preferred else (0,)):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as nginx binds: TIME_WAIT is fine
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise NginxFailed("No free loopback port for an nginx edge.")


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """TERM (nginx's fast shutdown closes the port and cuts connections), KILL if it hangs; then
    whatever is left of its process group (workers of a master that crashed) goes too."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait()
    kill_group(proc.pid)


def kill_group(pgid: int) -> list[int]:
    """SIGKILL the nginx processes of the process group nginx was started in (its own session) and
    return their pids. Each is checked to be an nginx of that group: a bare killpg could hit a group
    that reused the number after ours ended."""
    killed = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and _nginx_in_group(proc, pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
    return killed


def _nginx_in_group(proc: Path, pgid: int) -> bool:
    try:
        group = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
        program = (proc / "cmdline").read_bytes().replace(b"\0", b" ").split(b" ", 1)[0]
        return group == pgid and os.path.basename(program).startswith(b"nginx")
    except (OSError, ValueError, IndexError):
        return False


def reap_stale(pid_file: Path, conf: Path) -> bool:
    """End an nginx left running on `conf` by an app that died without stopping it (it would hold
    its old port and cache forever): only a process whose command line names our config."""
    try:
        pid = int(pid_file.read_text().split()[0])
        # nginx rewrites its title ("nginx: master process … -c <conf> …"): match the words
        words = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
    except (OSError, ValueError, IndexError):
        return False
    if str(conf).encode() not in words:
        return False
    killed = kill_group(pid)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    # the workers too: a dying worker still holds the old listening socket, which the new nginx
    # may be about to bind again
    for gone in dict.fromkeys([pid, *killed]):
        wait_gone(gone, STOP_TIMEOUT_S)
    return True


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (nginx.conf holds the link secret), atomically."""
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temp, path)
