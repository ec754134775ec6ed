"""Look through a camera of the displayed scene: a double-click on a silhouette panel (or
``--look-through N``) puts the 3D view at view N's camera with its silhouette behind the
cloud (see :mod:`widgets.look_through`); any other camera change leaves it."""

from __future__ import annotations

from typing import Any

from widgets.look_through import LookThrough

__all__ = ["LookThroughControl", "install_look_through"]


class LookThroughControl:
    """Wires the window's panels and scene to a :class:`LookThrough` of its 3D view."""

    def __init__(self, win: Any) -> None:
        self.win = win
        self.look = LookThrough(win.cloud_view)
        self._pending: int | None = None  # a view to look through once a cloud is drawn
        win.panels.double_clicked.connect(lambda i: win._safe(self.look_through, i))
        win.controller.scene_changed.connect(lambda _scene: self.look.leave())
        win.frame_hooks.append(self._on_frame)
        self.look.changed.connect(self._on_changed)

    @property
    def index(self) -> int | None:
        """The view looked through now (None: the normal 3D view)."""
        return self.look.index

    def check(self, index: int) -> str:
        """Why view ``index`` cannot be looked through now ('' when it can)."""
        scene = self.win.controller.scene
        if scene is None:
            return "there is no scene with cameras to look through"
        if not 0 <= index < scene.n_views:
            return (f"view {index} does not exist: the scene has {scene.n_views} views "
                    f"(0 to {scene.n_views - 1})")
        return ""

    def look_through(self, index: int) -> None:
        """Put the 3D view at view ``index``'s camera (ValueError when there is none)."""
        problem = self.check(index)
        if problem:
            raise ValueError(problem)
        scene = self.win.controller.scene
        self.look.enter(index, scene.K[index], scene.R[index], scene.t[index],
                        scene.masks[index])

    @property
    def pending(self) -> int | None:
        """The view to look through once the first cloud is drawn (None: none waits)."""
        return self._pending

    def look_when_drawn(self, index: int) -> None:
        """Look through view ``index`` once the first cloud is on screen (the first cloud
        resets the 3D camera); at once when one is already there."""
        if self.win.cloud_view.cloud is not None:
            self.look_through(index)
        else:
            self._pending = index

    def _on_frame(self, _frame: Any) -> None:
        if self._pending is None:
            return
        index, self._pending = self._pending, None
        try:
            self.look_through(index)
        except ValueError as exc:
            self.win.show_error(f"look through: {exc}")

    def _on_changed(self, index: int) -> None:
        sb = self.win.statusBar()
        if index >= 0:
            sb.showMessage(f"looking through view {index}'s camera (drag in the 3D view or "
                           "pick a view to leave)", 8000)
        elif sb.currentMessage().startswith("looking through"):
            sb.clearMessage()


def install_look_through(win: Any) -> LookThroughControl:
    return LookThroughControl(win)
