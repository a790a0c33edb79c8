"""The in-window toast covers what is under it: its own background (the theme's tooltip colour), so
a message shown over a row of buttons reads as one box, not as text mixed with the buttons."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from studio.widgets.toast import Toast


def test_the_toast_paints_its_background_over_the_widgets_beneath(qtbot: Any) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.resize(600, 200)
    QPushButton("a button under the toast", parent).setGeometry(0, 100, 600, 100)
    toast = Toast(parent)
    parent.show()
    toast.show_message("“Français” is now the default audio track.", "Undo")
    qtbot.waitUntil(toast.isVisible)
    inside = toast.mapTo(parent, QPoint(6, toast.height() // 2))     # left of the message text
    painted = parent.grab().toImage().pixelColor(inside)
    assert painted == QApplication.palette().color(QPalette.ColorRole.ToolTipBase)
