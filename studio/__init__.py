"""MiniFlix Studio: the PySide6 desktop app; talks to the server only over HTTP and SSE."""

from studio.qtfix import install as _install_qt_fix

_install_qt_fix()  # before any signal is emitted: see studio/qtfix.py (PySide6 emit refcount bug)
