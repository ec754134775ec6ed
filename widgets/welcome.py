"""The start page: a title, "Run demo", open buttons (a scene, a mesh, a dataset to train on,
a run folder to follow) and the recent files."""

from __future__ import annotations

from PyQt5 import QtCore, QtGui, QtWidgets

__all__ = ["WelcomePage"]

STYLE = """
#welcome { background: #1d2025; }
#welcome QLabel { color: #e8e8e8; background: transparent; }
#welcome QLabel#subtitle { color: #c4c8ce; }
#welcome QListWidget { background: #262a30; color: #e8e8e8; border: 1px solid #3a3f47; }
"""
NONE_YET = "#a8adb4"  # the "(none yet)" placeholder: dimmer than a path, still readable


class WelcomePage(QtWidgets.QWidget):
    """``action(name)`` for demo, open_scene, open_mesh, open_dataset (train on it) and
    follow_run (watch a run folder); ``recent(path)`` for a recent file."""

    action = QtCore.pyqtSignal(str)
    recent = QtCore.pyqtSignal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        # a plain QWidget paints a style-sheet background only with WA_StyledBackground;
        # without it the light labels stood on the window's light grey (unreadable)
        self.setAttribute(QtCore.Qt.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
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
        sub.setObjectName("subtitle")
        box.addWidget(sub)
        box.addSpacing(12)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for name, text, tip in (
            ("demo", "Run demo", "fit the bundled chair scene (8 views, 64×64)"),
            ("open_scene", "Open scene folder…", "a drwr-scene folder: masks + cameras"),
            ("open_mesh", "Open mesh…", "render silhouettes of a mesh, then fit it"),
            ("open_dataset", "Open dataset for training…", "a drwr-dataset folder: train an "
             "image → point cloud network on it and watch its predictions"),
            ("follow_run", "Follow a run…", "a training run folder (e.g. one that `train` "
             "writes elsewhere): its curves and latest prediction, refreshed as it goes"),
        ):
            b = QtWidgets.QPushButton(text)
            b.setToolTip(tip)
            b.setMinimumHeight(32)
            b.clicked.connect(lambda _=False, n=name: self.action.emit(n))
            self.buttons[name] = b
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
            it.setForeground(QtGui.QBrush(QtGui.QColor(NONE_YET)))
            self.recent_list.addItem(it)
