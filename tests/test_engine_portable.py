"""The engine imports where POSIX-only modules do not exist (the Windows installer starts it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from server.portable import children_cpu_s, lock_exclusive, unlock

ROOT = Path(__file__).resolve().parents[1]

IMPORT_EVERYTHING = textwrap.dedent("""
    import importlib, pkgutil, sys
    for name in ("fcntl", "resource", "termios"):
        sys.modules[name] = None  # as on Windows: `import fcntl` raises ImportError
    import server
    failed = []
    for info in pkgutil.walk_packages(server.__path__, "server."):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            failed.append(f"{info.name}: {exc}")
    print("\\n".join(failed) or "all imported")
""")


def test_every_engine_module_imports_without_posix_only_modules() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "all imported", done.stdout


def test_the_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    first, second = os.open(path, os.O_RDWR | os.O_CREAT), os.open(path, os.O_RDWR)
    try:
        lock_exclusive(first)
        try:
            lock_exclusive(second, wait=False)
            raise AssertionError("a second holder got the lock")
        except OSError:
            pass
        unlock(first)
        lock_exclusive(second, wait=False)
    finally:
        os.close(first)
        os.close(second)


def test_children_cpu_counts_a_finished_child() -> None:
    before = children_cpu_s()
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True, timeout=60)
    assert children_cpu_s() > before
