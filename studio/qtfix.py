"""Work around a PySide6 6.12 reference-count bug on Python < 3.12.

PySide6 6.12 returns `None` from every void method (`QLabel.setText`, `QTableWidget.setItem`,
`processEvents`, …) and `True` from `Signal.emit()` without adding a reference, as if they were
immortal — which they are only from Python 3.12 on. On 3.11 each call takes one reference away, and
after some tens of thousands of calls the process aborts with "Fatal Python error: none_dealloc"
(or bool_dealloc). `install()` measures the bug and, only if present, does what 3.12 does: it gives
`None`, `True` and `False` a reference count so large that no run can bring it to zero.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

IMMORTAL_BOOST = 1 << 48   # references added: ~9 years of losing one every microsecond
SINGLETONS = (None, True, False)


class _Probe(QObject):
    ping = Signal()


def calls_steal_references() -> bool:
    """True when a void method call or an emit leaves `None` or `True` with fewer references."""
    probe = _Probe()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(8):
        probe.setObjectName("probe")   # a void method
        probe.ping.emit()
    return sys.getrefcount(None) < before[0] or sys.getrefcount(True) < before[1]


def make_immortal(obj: object) -> None:
    """Add `IMMORTAL_BOOST` to the object's reference count (CPython: `ob_refcnt` is the first field)."""
    ctypes.c_ssize_t.from_address(id(obj)).value += IMMORTAL_BOOST


def install() -> bool:
    """Apply the fix once if this interpreter needs it; True when it was (or had been) applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(None) > IMMORTAL_BOOST:
        return True
    if not calls_steal_references():
        return False
    for obj in SINGLETONS:
        make_immortal(obj)
    return True
