"""Start the studio: the QApplication, its theme (light/dark following the system), the main window.

`run_studio(server_url)` is all `main.py` calls; the studio reaches the server only through that URL.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from studio.client import ApiClient

APP_NAME = "MiniFlix Studio"
ORG_NAME = "MiniFlix"
THEME_ENV = "MINIFLIX_STUDIO_THEME"  # light | dark | system (default)
DARK = {QPalette.ColorRole.Window: "#202124", QPalette.ColorRole.WindowText: "#e8eaed",
        QPalette.ColorRole.Base: "#17181a", QPalette.ColorRole.AlternateBase: "#26282b",
        QPalette.ColorRole.Text: "#e8eaed", QPalette.ColorRole.Button: "#2d2f33",
        QPalette.ColorRole.ButtonText: "#e8eaed", QPalette.ColorRole.Highlight: "#3a7bd5",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#303236",
        QPalette.ColorRole.ToolTipText: "#e8eaed", QPalette.ColorRole.PlaceholderText: "#9aa0a6",
        QPalette.ColorRole.Mid: "#44474c", QPalette.ColorRole.Link: "#8ab4f8"}
LIGHT_EXTRA = {QPalette.ColorRole.Highlight: "#2f6fd0", QPalette.ColorRole.Link: "#1a5fc4"}


def wants_dark() -> bool:
    """Dark when asked for, or when the system says its colour scheme is dark."""
    choice = os.environ.get(THEME_ENV, "system").lower()
    if choice in ("light", "dark"):
        return choice == "dark"
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication) -> None:
    """Fusion everywhere (the same look on every platform) with a light or dark palette."""
    app.setStyle(QStyleFactory.create("Fusion"))
    palette = app.style().standardPalette()
    for role, colour in (DARK if wants_dark() else LIGHT_EXTRA).items():
        palette.setColor(role, QColor(colour))
    if wants_dark():
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#7f848a"))
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#7f848a"))
    app.setPalette(palette)
    for widget in app.allWidgets():  # style sheets resolve palette() once: make them look again
        if widget.styleSheet():
            widget.setStyleSheet(widget.styleSheet())


def application() -> QApplication:
    """The running QApplication, or a new one named for QSettings."""
    QCoreApplication.setOrganizationName(ORG_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    apply_theme(app)
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply_theme(app))
    return app


def run_studio(server_url: str) -> int:
    """Open the studio on the server at `server_url` and run until the window closes."""
    from studio.window import MainWindow

    app = application()
    client = ApiClient(server_url)
    window = MainWindow(client)
    window.show()
    client.start_events()
    try:
        return int(app.exec())
    finally:
        client.close()
