"""Guard for the PySide6 pin (<6.12): 6.12.0 on Python 3.11 returns None/True from void calls and
emit() without a reference, so a long studio session aborts with none_dealloc. A long run of such
calls must leave the process alive with the PySide6 this project installs."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel


class Chatty(QObject):
    said = Signal(int)


def test_many_void_calls_and_emits_keep_reference_counts(qtbot: Any) -> None:
    label, chatty, heard = QLabel(), Chatty(), []
    chatty.said.connect(heard.append)
    before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(300_000):  # more references than None and True have in a fresh interpreter
        label.setText("x")
        chatty.said.emit(i)
    assert len(heard) == 300_000 and label.text() == "x"
    after = sys.getrefcount(None), sys.getrefcount(True)
    assert after[0] >= before[0] - 1000 and after[1] >= before[1] - 1000
