"""Work around a PySide6 reference-count bug: `SignalInstance.emit()` returns `True` without a new
reference, so every signal emitted from Python code takes one reference from `True`. On Python 3.11
(`True` is not immortal) a few thousand emits free it and the process aborts with
"Fatal Python error: bool_dealloc". Seen with PySide6 6.12.0.

`install()` measures the bug once and, only if present, wraps `emit` to give the reference back.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_installed = False


class _Probe(QObject):
    ping = Signal()


def emit_steals_a_bool() -> bool:
    """True when emitting a signal from Python leaves `True` with fewer references than before."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    return sys.getrefcount(True) < before


def install() -> bool:
    """Patch `SignalInstance.emit` if this PySide6 has the bug (idempotent); True when patched."""
    global _installed
    if _installed or not emit_steals_a_bool():
        return _installed
    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original(self, *args)
        if result is True or result is False:
            incref(result)  # the reference emit() should have returned
        return result

    SignalInstance.emit = emit  # type: ignore[method-assign]
    _installed = True
    return True
