"""Headless Debian Chromium for tests: a fresh profile, no network chatter, killed as a group."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
         "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage"]


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium not found: `make setup` installs Debian's `chromium` package")
    return found


class Browser:
    """One headless Chromium showing one page; `close()` ends it and every child process."""

    def __init__(self, url: str, profile: Path) -> None:
        self.log = profile.with_suffix(".log").open("wb")
        self.process = subprocess.Popen([chromium_binary(), *FLAGS, f"--user-data-dir={profile}", url],
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
