"""The start page: a title, "Run demo", open buttons and the recent files."""

from __future__ import annotations

from PyQt5 import QtCore, QtWidgets

__all__ = ["WelcomePage"]


class WelcomePage(QtWidgets.QWidget):
    """``action(name)`` for demo, open_scene, open_mesh; ``recent(path)`` for a recent file."""

    action = QtCore.pyqtSignal(str)
    recent = QtCore.pyqtSignal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.setStyleSheet("#welcome { background: #1d2025; } QLabel { color: #e8e8e8; }")
        outer = QtWidgets.QVBoxLayout(self)
        outer.addStretch(1)
        box = QtWidgets.QVBoxLayout()
        title = QtWidgets.QLabel("DRWR Studio")
        f = title.font()
        f.setPointSize(22)
        f.setBold(True)
        title.setFont(f)
        box.addWidget(title)
        sub = QtWidgets.QLabel("Multi-view silhouettes with known cameras → a 3D point cloud,\n"
                               "by DRWR optimisation (differentiable renderer without rendering).")
        box.addWidget(sub)
        box.addSpacing(12)
        for name, text, tip in (
            ("demo", "Run demo", "fit the bundled chair scene (8 views, 64×64)"),
            ("open_scene", "Open scene folder…", "a drwr-scene folder: masks + cameras"),
            ("open_mesh", "Open mesh…", "render silhouettes of a mesh, then fit it"),
        ):
            b = QtWidgets.QPushButton(text)
            b.setToolTip(tip)
            b.setMinimumHeight(32)
            b.clicked.connect(lambda _=False, n=name: self.action.emit(n))
            box.addWidget(b)
        box.addSpacing(12)
        box.addWidget(QtWidgets.QLabel("Recent files"))
        self.recent_list = QtWidgets.QListWidget()
        self.recent_list.setMaximumHeight(160)
        self.recent_list.itemActivated.connect(lambda it: self.recent.emit(it.text()))
        box.addWidget(self.recent_list)
        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        row.addLayout(box, 3)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def set_recent(self, paths: list[str]) -> None:
        self.recent_list.clear()
        self.recent_list.addItems(paths)
        if not paths:
            it = QtWidgets.QListWidgetItem("(none yet)")
            it.setFlags(QtCore.Qt.NoItemFlags)
            self.recent_list.addItem(it)
