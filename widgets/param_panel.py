"""Parameter controls generated from plain field descriptions.

Each description is a dict: name, help, default, and for numbers min, max, optional log
(log-scaled slider) and kind ("int"/"float"); or choices (a combobox); or kind "bool" (a
check box). ``live`` fields emit
``live_changed({name: value, ...})`` debounced by ~150 ms; the others are read with
:meth:`ParamPanel.values` when the owner resets the fit.
"""

from __future__ import annotations

import math
from typing import Any

from PyQt5 import QtCore, QtWidgets

__all__ = ["ParamPanel", "NumberControl"]

STEPS = 1000  # slider resolution
DEBOUNCE_MS = 150


class NumberControl(QtWidgets.QWidget):
    """Slider + spinbox bound both ways; ``changed(value)`` on user edits."""

    changed = QtCore.pyqtSignal(object)

    def __init__(self, spec: dict[str, Any], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.lo, self.hi = float(spec["min"]), float(spec["max"])
        self.log = bool(spec.get("log")) and self.lo > 0
        self.is_int = spec.get("kind") == "int" or isinstance(spec.get("default"), int)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.slider: QtWidgets.QSlider | None = None
        span = self.hi - self.lo
        if self.log or not self.is_int or span <= 10_000:
            self.slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
            self.slider.setRange(0, int(span) if (self.is_int and not self.log and span <= STEPS)
                                 else STEPS)
            self.slider.valueChanged.connect(self._from_slider)
            lay.addWidget(self.slider, 1)
        if self.is_int:
            self.spin: QtWidgets.QAbstractSpinBox = QtWidgets.QSpinBox()
            self.spin.setRange(int(self.lo), int(min(self.hi, 2**31 - 1)))
        else:
            self.spin = QtWidgets.QDoubleSpinBox()
            decimals = max(2, int(math.ceil(-math.log10(self.lo))) + 2) if self.lo > 0 else 3
            d = float(spec.get("default") or 0.0)
            if 0 < d < 1:  # a small default (a preset's β) keeps three significant digits
                decimals = max(decimals, int(math.ceil(-math.log10(d))) + 3)
            self.spin.setDecimals(min(decimals, 6))
            self.spin.setRange(self.lo, self.hi)
            self.spin.setSingleStep((self.hi - self.lo) / 100 if not self.log else self.lo)
        self.spin.setKeyboardTracking(False)
        self.spin.setMinimumWidth(80)
        self.spin.valueChanged.connect(self._from_spin)
        lay.addWidget(self.spin, 0 if self.slider is not None else 1)
        self.set_value(spec.get("default", self.lo))

    # slider position <-> value
    def _to_pos(self, v: float) -> int:
        assert self.slider is not None
        n = self.slider.maximum()
        if self.log:
            f = math.log(max(v, self.lo) / self.lo) / math.log(self.hi / self.lo)
        else:
            f = (v - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0
        return int(round(min(max(f, 0.0), 1.0) * n))

    def _from_pos(self, pos: int) -> float:
        assert self.slider is not None
        f = pos / max(self.slider.maximum(), 1)
        v = self.lo * (self.hi / self.lo) ** f if self.log else self.lo + f * (self.hi - self.lo)
        return float(round(v)) if self.is_int else v

    def value(self) -> int | float:
        v = self.spin.value()
        return int(v) if self.is_int else float(v)

    def set_value(self, v: float) -> None:
        """Set without emitting ``changed``."""
        with QtCore.QSignalBlocker(self.spin):
            self.spin.setValue(int(v) if self.is_int else float(v))
        if self.slider is not None:
            with QtCore.QSignalBlocker(self.slider):
                self.slider.setValue(self._to_pos(float(v)))

    def _from_slider(self, pos: int) -> None:
        v = self._from_pos(pos)
        with QtCore.QSignalBlocker(self.spin):
            self.spin.setValue(int(v) if self.is_int else v)
        self.changed.emit(self.value())

    def _from_spin(self, v: float) -> None:
        if self.slider is not None:
            with QtCore.QSignalBlocker(self.slider):
                self.slider.setValue(self._to_pos(float(v)))
        self.changed.emit(self.value())


class ParamPanel(QtWidgets.QWidget):
    """A form of controls, one row per field description."""

    live_changed = QtCore.pyqtSignal(dict)  # debounced {name: value} of live fields
    pending_changed = QtCore.pyqtSignal(bool)  # non-live edits waiting for Reset

    def __init__(self, specs: list[dict[str, Any]],
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.specs = {s["name"]: s for s in specs}
        self.controls: dict[str, QtWidgets.QWidget] = {}
        self._pending: dict[str, Any] = {}
        self._applied: dict[str, Any] = {}
        self._timer = QtCore.QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._flush)
        form = QtWidgets.QFormLayout(self)
        form.setContentsMargins(4, 4, 4, 4)
        form.setVerticalSpacing(3)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.AllNonFixedFieldsGrow)
        for s in specs:
            name = s["name"]
            if s.get("choices"):
                ctl: QtWidgets.QWidget = QtWidgets.QComboBox()
                ctl.addItems([str(c) for c in s["choices"]])
                ctl.setCurrentText(str(s.get("default")))
                ctl.currentTextChanged.connect(lambda v, n=name: self._edited(n, v))
            elif s.get("kind") == "bool":
                ctl = QtWidgets.QCheckBox()
                ctl.setChecked(bool(s.get("default")))
                ctl.toggled.connect(lambda v, n=name: self._edited(n, bool(v)))
            else:
                ctl = NumberControl(s)
                ctl.changed.connect(lambda v, n=name: self._edited(n, v))
            live = bool(s.get("live"))
            tip = s.get("help", "") + ("" if live else "\n(applies on Reset)")
            label = QtWidgets.QLabel(s.get("label", name) + ("" if live else " *"))
            label.setToolTip(tip)
            ctl.setToolTip(tip)
            form.addRow(label, ctl)
            self.controls[name] = ctl
        note = QtWidgets.QLabel("* applies on Reset")
        note.setStyleSheet("color: gray;")
        form.addRow(note)
        self._applied = self.values()

    def value(self, name: str) -> Any:
        ctl = self.controls[name]
        if isinstance(ctl, QtWidgets.QComboBox):
            return ctl.currentText()
        if isinstance(ctl, QtWidgets.QCheckBox):
            return ctl.isChecked()
        return ctl.value()

    def values(self) -> dict[str, Any]:
        return {n: self.value(n) for n in self.controls}

    def set_values(self, values: dict[str, Any]) -> None:
        """Programmatic update (no signals)."""
        for n, v in values.items():
            ctl = self.controls.get(n)
            if ctl is None:
                continue
            if isinstance(ctl, QtWidgets.QComboBox):
                with QtCore.QSignalBlocker(ctl):
                    ctl.setCurrentText(str(v))
            elif isinstance(ctl, QtWidgets.QCheckBox):
                with QtCore.QSignalBlocker(ctl):
                    ctl.setChecked(bool(v))
            else:
                ctl.set_value(v)
        self._applied.update({n: v for n, v in values.items() if n in self.controls})

    def mark_applied(self) -> None:
        """All current values are in effect (after a Reset)."""
        self._applied = self.values()
        self.pending_changed.emit(False)

    def _edited(self, name: str, value: Any) -> None:
        if self.specs[name].get("live"):
            self._pending[name] = value
            self._timer.start()
        else:
            self.pending_changed.emit(self.values() != self._applied)

    def _flush(self) -> None:
        changes, self._pending = self._pending, {}
        if changes:
            self._applied.update(changes)
            self.live_changed.emit(changes)
