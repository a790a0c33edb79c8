"""MiniFlix Studio: the PySide6 desktop app; talks to the server only over HTTP and SSE."""

from studio.qtfix import install as _install_qt_fix

_install_qt_fix()  # before any Qt call: PySide6 6.12 on Python 3.11 frees None/True (see studio/qtfix.py)
