"""Linked cameras: two 3D views that always look from the same place.

When one view's camera moves (a mouse drag, a preset view, a reset), its pose (position,
focal point, up, view angle, projection) is copied to the other view's camera and that view
is queued for a render. Each view keeps its own clipping range, fitted to what it shows, so
a cloud larger than the other is never cut off. Copies happen only when the pose differs,
so renders that touch a camera without moving it (clipping updates) never ping-pong.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CameraLink", "camera_pose"]


def camera_pose(camera: Any) -> tuple:
    """The pose of a vtkCamera: position, focal point, up, view angle, parallel projection
    and parallel scale (what a linked view copies)."""
    return (tuple(camera.GetPosition()), tuple(camera.GetFocalPoint()),
            tuple(camera.GetViewUp()), camera.GetViewAngle(),
            bool(camera.GetParallelProjection()), camera.GetParallelScale())


def _set_pose(camera: Any, pose: tuple) -> None:
    pos, focal, up, angle, parallel, scale = pose
    camera.SetPosition(*pos)
    camera.SetFocalPoint(*focal)
    camera.SetViewUp(*up)
    camera.SetViewAngle(angle)
    camera.SetParallelProjection(parallel)
    camera.SetParallelScale(scale)


class CameraLink:
    """Keeps the cameras of two :class:`widgets.cloud_view.CloudView` equal; ``first``'s pose
    is copied to ``second`` at once. :meth:`unlink` removes the observers."""

    def __init__(self, first: Any, second: Any) -> None:
        self.views = (first, second)
        self._busy = False
        self._observers: list[tuple[Any, int]] = []
        for view in self.views:
            cam = view.plotter.renderer.GetActiveCamera()
            tag = cam.AddObserver("ModifiedEvent", lambda obj, _ev: self._moved(obj))
            self._observers.append((cam, tag))
        second.mark_camera_set()  # its first cloud must not reset the shared pose
        self._moved(first.plotter.renderer.GetActiveCamera())

    def _moved(self, camera: Any) -> None:
        if self._busy:
            return
        dst = 1 if camera is self._camera(0) else 0
        pose = camera_pose(camera)
        target = self._camera(dst)
        if camera_pose(target) == pose:
            return
        self._busy = True
        try:
            _set_pose(target, pose)
            view = self.views[dst]
            view.plotter.renderer.ResetCameraClippingRange()
            view.refresh()
        finally:
            self._busy = False

    def _camera(self, i: int) -> Any:
        return self.views[i].plotter.renderer.GetActiveCamera()

    def unlink(self) -> None:
        for cam, tag in self._observers:
            cam.RemoveObserver(tag)
        self._observers = []
