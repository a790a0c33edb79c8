"""The Lab view: one tab per lab (what-if questions the server answers from the studio's own record).

Replay is the first tab; the ABR and cost labs add theirs to `TABS`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from studio.views.lab_abr import AbrTab
from studio.views.lab_cost import CostTab
from studio.views.lab_replay import ReplayTab

TABS = (("replay", "CDN replay", ReplayTab), ("abr", "ABR", AbrTab), ("cost", "Cost", CostTab))


class LabView(QWidget):
    """A tab widget of labs; `tabs_by_name["replay"]` is the Replay tab."""

    def __init__(self, client: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.tabs = QTabWidget(self)
        self.tabs_by_name: dict[str, QWidget] = {}
        for name, label, cls in TABS:
            tab = cls(client, self)
            self.tabs_by_name[name] = tab
            self.tabs.addTab(tab, label)
        column = QVBoxLayout(self)
        column.addWidget(self.tabs)

    @property
    def replay(self) -> ReplayTab:
        tab = self.tabs_by_name["replay"]
        assert isinstance(tab, ReplayTab)
        return tab
