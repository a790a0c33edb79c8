"""What the Lab tabs' tests do alike: click Run and wait for the answer, export the CSV and read it."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

RUN_TIMEOUT_MS = 120_000


def run_lab(qtbot: Any, tab: Any) -> None:
    """Click Run; the button is off while the request is in flight (the event loop keeps going) and
    on again once the server answered, with a result or an error."""
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert not tab.run_button.isEnabled()
    qtbot.waitUntil(lambda: tab.run_button.isEnabled(), timeout=RUN_TIMEOUT_MS)


def export_rows(qtbot: Any, tab: Any, target: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Click Export CSV, answering the save dialog with `target`; the rows written there."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(target), "CSV files (*.csv)"))
    qtbot.mouseClick(tab.export_button, Qt.MouseButton.LeftButton)
    with target.open(newline="") as handle:
        return list(csv.DictReader(handle))
