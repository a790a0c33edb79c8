"""The PySide6 emit refcount workaround: a long session's signal traffic must not free `True`."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

import studio  # noqa: F401 - importing the package installs the fix
from studio.qtfix import emit_steals_a_bool


class Chatty(QObject):
    said = Signal(int)


def test_many_emits_leave_true_with_its_references() -> None:
    chatty, heard = Chatty(), []
    chatty.said.connect(heard.append)
    before = sys.getrefcount(True)
    for i in range(50_000):  # far more than `True` has references in a fresh interpreter
        chatty.said.emit(i)
    assert len(heard) == 50_000
    assert sys.getrefcount(True) >= before
    assert not emit_steals_a_bool()
