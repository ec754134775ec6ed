"""pyvistaqt's QtInteractor with a cheaper hand-over of each frame to Qt.

Each paint, pyvistaqt copies VTK's finished frame into the QOpenGLWidget's framebuffer with a
linearly filtered blit, then clears the alpha channel to 1 in a second full-view pass. In
software OpenGL (llvmpipe) both run as shaders over every pixel of the view. Here the copy is
nearest-pixel when the two sizes match (a plain copy; linear only when they differ, as on a
high-DPI screen), and the renderers clear to an opaque background, so the alpha pass is not
needed. At J = 2000 in the 1400×900 window a repaint loop went from about 22 to 16 ms, and
`benchmarks/bench_gui.py`'s "update + repaint" from 18.1 to 14.8 ms (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

from pyvistaqt import QtInteractor
from pyvistaqt.rwi import GL_COLOR_BUFFER_BIT, GL_DRAW_FRAMEBUFFER, GL_LINEAR, GL_SCISSOR_TEST

__all__ = ["CloudInteractor"]

GL_NEAREST = 0x2600  # the one filter pyvistaqt.rwi does not name


class CloudInteractor(QtInteractor):
    """A QtInteractor whose renderers clear to opaque and whose frame copy is nearest-pixel."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.make_opaque()

    def make_opaque(self) -> None:
        """Every renderer clears to alpha 1 (call again after adding renderers)."""
        for r in self.renderers:
            r.SetBackgroundAlpha(1.0)

    def _blit(self, target_id: int, rect: Any) -> None:
        rw = self._RenderWindow
        f = self._gl
        if rw is None or f is None:
            return
        f.glBindFramebuffer(GL_DRAW_FRAMEBUFFER, target_id)
        f.draw_buffer_attachment0()
        scissor = bool(f.glIsEnabled(GL_SCISSOR_TEST))
        if scissor:  # the scissor would clip the blit
            rw.GetState().vtkglDisable(GL_SCISSOR_TEST)
            f.glDisable(GL_SCISSOR_TEST)
        w, h = rw.GetSize()
        same = (w, h) == (rect.width(), rect.height())
        rw.BlitDisplayFramebuffer(0, 0, 0, w, h, rect.x(), rect.y(), rect.width(), rect.height(),
                                  GL_COLOR_BUFFER_BIT, GL_NEAREST if same else GL_LINEAR)
        if scissor:
            rw.GetState().vtkglEnable(GL_SCISSOR_TEST)
            f.glEnable(GL_SCISSOR_TEST)
