"""Run, Pause, Step, Stop, Reset buttons; enabled per fit state."""

from __future__ import annotations

from PyQt5 import QtCore, QtWidgets

__all__ = ["RunControls"]

BUTTONS = {  # name: tooltip
    "run": "run the fit (continues from the current points)",
    "pause": "pause between steps",
    "step": "advance exactly one iteration",
    "stop": "stop the fit; the cloud stays and can be exported",
    "reset": "start again from fresh initial points, applying the parameters marked *",
}


class RunControls(QtWidgets.QWidget):
    """``triggered(name)`` with name in run, pause, step, stop, reset."""

    triggered = QtCore.pyqtSignal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for name, tip in BUTTONS.items():
            b = QtWidgets.QPushButton(name.capitalize())
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, n=name: self.triggered.emit(n))
            lay.addWidget(b)
            self.buttons[name] = b
        self.set_state("none")

    def set_state(self, state: str) -> None:
        """none (no fit), starting, running, paused, done, stopped."""
        has = state not in ("none", "starting")
        running = state == "running"
        self.buttons["run"].setEnabled(has and not running)
        self.buttons["pause"].setEnabled(running)
        self.buttons["step"].setEnabled(has and not running)
        self.buttons["stop"].setEnabled(running or state == "paused")
        self.buttons["reset"].setEnabled(has)

    def mark_reset_pending(self, pending: bool) -> None:
        b = self.buttons["reset"]
        b.setText("Reset *" if pending else "Reset")
        b.setStyleSheet("font-weight: bold;" if pending else "")
