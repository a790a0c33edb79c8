"""The PySide6 refcount workaround: a long session's Qt calls and signals must not free None or True."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

import studio  # noqa: F401 - importing the package installs the fix
from studio.qtfix import install


class Chatty(QObject):
    said = Signal(int)


def test_many_void_calls_and_emits_do_not_abort_the_process(qtbot: Any) -> None:
    label, chatty, heard = QLabel(), Chatty(), []
    chatty.said.connect(heard.append)
    for i in range(300_000):  # more references than None and True have in a fresh interpreter
        label.setText("x")
        chatty.said.emit(i)
    assert len(heard) == 300_000 and label.text() == "x"
    assert install() in (True, False)  # idempotent: a second call changes nothing
