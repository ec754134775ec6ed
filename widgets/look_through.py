"""Look through an input camera: a :class:`widgets.cloud_view.CloudView`'s 3D camera placed
at one view's pinhole camera, with that view's silhouette on a plane behind the cloud.

Cameras are in the OpenCV convention: ``x_cam = R @ x + t``, the camera looks along +z, image
x right and y down; ``u = fx*x/z + cx``, ``v = fy*y/z + cy`` with the centre of pixel (0, 0)
at u = v = 0 (an image W pixels wide spans u in [-0.5, W - 0.5]).

The H×W image is shown as large as the render window allows, centred (letterboxed): ``s =
min(w/W, h/H)`` display pixels per image pixel. VTK's camera then takes the vertical view
angle ``2 atan(h / (2 fy s))``, the principal point as its window centre, and fx/fy as an
explicit aspect ratio, so a world point lands where the view's projection puts it (scaled by
``s``). Skew (K[0,1]) is not modelled by VTK's camera; the silhouette plane follows the full K.

Any change of the camera by someone else (a mouse drag, wheel, a view button, Reset view)
leaves the look-through: the plane goes, the view angle and window centre return to the
normal 3D view's, the pose stays where the interaction took it. A resize of the window keeps
it (the camera is recomputed for the new aspect). Plain numpy in, no torch/core.
"""

from __future__ import annotations

import math

import numpy as np
import pyvista as pv
from PyQt5 import QtCore

__all__ = ["LookThrough", "vtk_camera", "silhouette_corners", "SILHOUETTE_RGB"]

SILHOUETTE_RGB = (104, 110, 122)  # the silhouette's pixels on the plane
OUTSIDE_RGB = (29, 32, 37)  # the rest of the plane (the 3D view's background)
_TOL = 1e-6


def vtk_camera(K: np.ndarray, R: np.ndarray, t: np.ndarray, image_hw: tuple[int, int],
               window_wh: tuple[int, int], distance: float = 1.0) -> dict[str, object]:
    """VTK camera settings that show the view (K (3,3), R (3,3), t (3,)) of an image of
    ``image_hw`` = (H, W) pixels letterboxed in a render window of ``window_wh`` = (w, h)
    display pixels. ``distance``: how far in front of the camera the focal point goes.

    Returns position, focal_point, view_up (3-tuples), view_angle (degrees, vertical),
    window_center (2-tuple, VTK's normalised viewport units), aspect (fx/fy correction: the
    explicit aspect ratio VTK should use) and scale (display pixels per image pixel)."""
    K, R, t = (np.asarray(a, np.float64) for a in (K, R, t))
    H, W = image_hw
    w, h = max(1, int(window_wh[0])), max(1, int(window_wh[1]))
    s = min(w / W, h / H)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    centre = -R.T @ t
    forward, up = R[2], -R[1]  # camera +z, and image up = -y
    x0, y0 = (w - W * s) / 2, (h - H * s) / 2  # image's top-left corner in the window
    px, py = x0 + (cx + 0.5) * s, y0 + (cy + 0.5) * s  # principal point, y from the top
    ndc = ((px - w / 2) / (w / 2), (h / 2 - py) / (h / 2))  # where the optical axis must land
    return {
        "position": tuple(centre),
        "focal_point": tuple(centre + forward * max(distance, 1e-6)),
        "view_up": tuple(up),
        "view_angle": math.degrees(2 * math.atan(h / (2 * fy * s))),
        # VTK's frustum spans (wc - 1, wc + 1): the optical axis lands at -wc
        "window_center": (-ndc[0], -ndc[1]),
        "aspect": (w / h) * (fy / fx),
        "scale": s,
    }


def silhouette_corners(K: np.ndarray, R: np.ndarray, t: np.ndarray, image_hw: tuple[int, int],
                       depth: float) -> np.ndarray:
    """(4, 3) world corners of the image rectangle (top-left, top-right, bottom-right,
    bottom-left: pixel edges at -0.5 and W - 0.5, H - 0.5) at camera depth ``depth``."""
    K, R, t = (np.asarray(a, np.float64) for a in (K, R, t))
    H, W = image_hw
    uv1 = np.array([[-0.5, -0.5, 1], [W - 0.5, -0.5, 1], [W - 0.5, H - 0.5, 1],
                    [-0.5, H - 0.5, 1]])
    cam = (np.linalg.inv(K) @ uv1.T).T * depth  # (4, 3) with z = depth
    return (cam - t) @ R  # R^T (x_cam - t), row-wise


class LookThrough(QtCore.QObject):
    """Puts ``view``'s camera at an input camera and keeps it there until something else
    moves the camera. ``changed(index)``: the view looked through, -1 once left."""

    changed = QtCore.pyqtSignal(int)

    def __init__(self, view: object) -> None:
        super().__init__(view)
        self.view = view
        self.index: int | None = None
        self._cam_args: tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]] | None = None
        self._set: dict[str, object] | None = None  # what this object set on the camera
        self._saved: tuple[float, tuple[float, float]] | None = None  # normal angle, centre
        self._plane = None  # the silhouette actor
        self._observer: tuple[object, int] | None = None
        self._applying = False
        view.plotter.interactor.installEventFilter(self)

    @property
    def active(self) -> bool:
        return self.index is not None

    def enter(self, index: int, K: np.ndarray, R: np.ndarray, t: np.ndarray,
              mask: np.ndarray) -> None:
        """Look through view ``index``: K (3,3), R (3,3), t (3,) and its silhouette ``mask``
        (H, W) (bool or [0, 1] floats)."""
        if self.active:
            self.leave()
        mask = np.asarray(mask, np.float32)
        hw = (int(mask.shape[0]), int(mask.shape[1]))
        self._cam_args = (np.asarray(K, np.float64), np.asarray(R, np.float64),
                          np.asarray(t, np.float64), hw)
        cam = self.view.plotter.camera
        self._saved = (cam.GetViewAngle(), tuple(cam.GetWindowCenter()))
        self.index = int(index)
        self._add_plane(mask)
        self._apply()
        self._observer = (cam, cam.AddObserver("ModifiedEvent", self._on_camera_modified))
        self.changed.emit(self.index)

    def leave(self) -> None:
        """Back to the normal 3D view, the camera where it is now."""
        if not self.active:
            return
        self.index = None
        if self._observer is not None:
            cam, tag = self._observer
            cam.RemoveObserver(tag)
            self._observer = None
        if self._plane is not None:
            self.view.plotter.remove_actor(self._plane, render=False)
            self._plane = None
        cam = self.view.plotter.camera
        if self._saved is not None:
            cam.SetViewAngle(self._saved[0])
            cam.SetWindowCenter(*self._saved[1])
        if hasattr(cam, "SetUseExplicitAspectRatio"):
            cam.SetUseExplicitAspectRatio(False)
        self._set = None
        self.view.plotter.reset_camera_clipping_range()
        self.view.refresh()
        self.changed.emit(-1)

    # -- internals -------------------------------------------------------------------------
    def _depths(self) -> tuple[float, float]:
        """(depth of the cloud's centre, plane depth far behind the cloud) in the camera."""
        K, R, t, _ = self._cam_args
        centre, diag = self.view._bounds()
        zc = float((R @ centre + t)[2])
        far = zc + 1.5 * diag
        if far <= 0:  # the cloud is behind the camera: the plane still goes in front
            far = diag
        return max(zc, 1e-3), far

    def _add_plane(self, mask: np.ndarray) -> None:
        K, R, t, hw = self._cam_args
        _, far = self._depths()
        corners = silhouette_corners(K, R, t, hw, far)
        plane = pv.PolyData(corners.astype(np.float64), np.array([4, 0, 1, 2, 3]))
        plane.active_texture_coordinates = np.array([[0, 1], [1, 1], [1, 0], [0, 0]],
                                                    np.float32)
        on = np.clip(mask, 0.0, 1.0)[..., None]
        rgb = (on * np.array(SILHOUETTE_RGB) + (1 - on) * np.array(OUTSIDE_RGB))
        tex = pv.Texture(np.ascontiguousarray(rgb.round().astype(np.uint8)))
        tex.interpolate = False
        self._plane = self.view.plotter.add_mesh(plane, texture=tex, lighting=False,
                                                 reset_camera=False, render=False,
                                                 pickable=False)

    def _apply(self) -> None:
        """Set the camera from the view's K, R, t for the render window's size now."""
        if self._cam_args is None:
            return
        K, R, t, hw = self._cam_args
        p = self.view.plotter
        size = tuple(p.render_window.GetSize())
        zc, _ = self._depths()
        s = vtk_camera(K, R, t, hw, size, distance=zc)
        self._applying = True
        try:
            cam = p.camera
            cam.SetPosition(*s["position"])
            cam.SetFocalPoint(*s["focal_point"])
            cam.SetViewUp(*s["view_up"])
            cam.SetViewAngle(s["view_angle"])
            cam.SetWindowCenter(*s["window_center"])
            if hasattr(cam, "SetExplicitAspectRatio"):
                cam.SetExplicitAspectRatio(s["aspect"])
                cam.SetUseExplicitAspectRatio(True)
            p.reset_camera_clipping_range()
            self._set = self._state(cam)
        finally:
            self._applying = False
        self.view.refresh()

    @staticmethod
    def _state(cam: object) -> np.ndarray:
        return np.array([*cam.GetPosition(), *cam.GetFocalPoint(), *cam.GetViewUp(),
                         cam.GetViewAngle(), *cam.GetWindowCenter()])

    def _on_camera_modified(self, cam: object, _event: str) -> None:
        if self._applying or self._set is None:
            return
        now = self._state(cam)
        scale = 1.0 + np.abs(self._set)
        if not np.all(np.abs(now - self._set) <= _TOL * scale):  # moved by someone else
            self.leave()

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:  # noqa: N802
        if ev.type() == QtCore.QEvent.Resize and self.active:
            QtCore.QTimer.singleShot(0, self._reapply)
        return False

    def _reapply(self) -> None:
        if self.active:
            self._apply()
