"""The demo-data banner of the Analytics view: says when the charts include a generated demo week
(server/demo_week.py, seeded after the sample clip) and removes it, with an undo that seeds a new one.
Real viewing is never touched by either."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

SEED_TIMEOUT_MS = 120_000      # seeding plays thousands of simulated sessions on the server


class DemoBanner(QWidget):
    """Hidden while analytics holds no demo data; `changed` fires after a removal or a re-seed."""

    changed = Signal()

    def __init__(self, client: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.batches: list[dict[str, Any]] = []
        self.removed = False       # removed in this view: offer the undo
        self.removing: set[str] = set()   # batches asked to go that analytics still shows
        self.text = QLabel("", self)
        self.text.setWordWrap(True)
        self.remove_button = QPushButton("Remove demo data", self)
        self.remove_button.setToolTip("Take the generated demo week out of every chart (real viewing stays)")
        self.remove_button.clicked.connect(self.remove)
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setToolTip("Seed a generated demo week again")
        self.undo_button.clicked.connect(self.undo)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.text, 1)
        row.addWidget(self.remove_button)
        row.addWidget(self.undo_button)
        self.setStyleSheet("DemoBanner { background: palette(alternate-base); }")
        self.setVisible(False)

    def refresh(self) -> None:
        self.client.get("/api/demo", on_ok=self._listed, on_error=lambda _t: None)

    def _listed(self, doc: dict[str, Any]) -> None:
        self.batches = list(doc.get("batches", []))
        views = sum(int(b.get("views", 0)) for b in self.batches)
        self.removing &= {b["batch"] for b in self.batches}
        if self.removing:
            self._show("Removing demo data…")
        elif self.batches:
            self.removed = False
            self._show(f"These charts include a generated demo week ({views:,} simulated views through "
                       "the real edges and ladders), not real viewers.", remove=True)
        elif self.removed:
            self._show("Demo data removed; the charts show real viewing only.", undo=True)
        else:
            self.setVisible(False)

    def _show(self, text: str, *, remove: bool = False, undo: bool = False) -> None:
        self.text.setText(text)
        self.remove_button.setVisible(remove)
        self.remove_button.setEnabled(True)
        self.undo_button.setVisible(undo)
        self.undo_button.setEnabled(True)
        self.setVisible(True)

    def remove(self) -> None:
        """DELETE every demo batch; the charts refresh once the server has taken them out."""
        self.remove_button.setEnabled(False)
        pending = [b["batch"] for b in self.batches]
        self.removed, self.removing = True, set(pending)
        for batch in pending:
            self.client.delete(f"/api/demo/{batch}", on_ok=self._done(pending, batch), on_error=self._failed)

    def _done(self, pending: list[str], batch: str) -> Callable[[Any], None]:
        def ok(_doc: Any) -> None:
            pending.remove(batch)
            if not pending:
                self.text.setText("Removing demo data…")
                self.changed.emit()
        return ok

    def undo(self) -> None:
        self.undo_button.setEnabled(False)
        self.text.setText("Seeding a demo week…")
        self.client.post("/api/demo/week", {}, on_ok=lambda _d: self.changed.emit(), on_error=self._failed,
                         timeout_ms=SEED_TIMEOUT_MS)

    def _failed(self, text: str) -> None:
        self._show(f"Demo data: {text}", remove=bool(self.batches), undo=not self.batches)
