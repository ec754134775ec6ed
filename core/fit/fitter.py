"""Single-shape DRWR fitting: a :class:`Fitter` advances one optimisation step at a time.

The CLI and the GUI worker drive this same object: ``step()`` runs one iteration,
``set_params()`` changes live parameters between steps, ``snapshot()`` returns plain numpy
copies for display and export.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from core.hull.interior import sample_in_hull, scene_box
from core.fit.config import LIVE_FIELDS, FitConfig
from core.drwr.losses import drwr_terms
from core.io.scene import Scene
from core.hull.snap import snap_inside
from core.hull.prior import HullPrior, knn_indices, spread_loss

__all__ = ["Fitter", "Snapshot", "FitDiverged", "resolve_device"]


class FitDiverged(RuntimeError):
    """The optimisation produced non-finite values; the last good points are kept."""


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU. Raises ValueError for cuda without CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but this torch has no CUDA device")
    return torch.device(name)


@dataclass(frozen=True)
class Snapshot:
    """A frozen numpy copy of the fit state.

    points (J,3) f32; uv (I,J,2) f32 projections in all views; inside (I,J) bool (projection in
    the mask); depth (I,J) f32; point_loss (J,) f32 silhouette loss averaged over views.
    """

    iteration: int
    points: np.ndarray
    uv: np.ndarray
    inside: np.ndarray
    depth: np.ndarray
    point_loss: np.ndarray
    losses: dict[str, float] = field(default_factory=dict)
    step_time: float = 0.0
    lr: float = 0.0


def _init_points(
    scene: Scene, cfg: FitConfig, rng: np.random.Generator, prior: HullPrior | None
) -> np.ndarray:
    """(J, 3) starting points: uniform in the visual hull ('hull') or in its box ('box')."""
    if cfg.init == "surface":
        return prior.surface_points(cfg.points, cfg.seed,
                                    correct=cfg.surface_correction == "learned")
    if cfg.init == "box":
        lo, hi = scene_box(scene)
        return rng.uniform(lo, hi, size=(cfg.points, 3))
    return sample_in_hull(scene, cfg.points, rng)


class Fitter:
    """Owns the points (J, 3), the optimizer and the silhouette maps of one scene."""

    def __init__(self, scene: Scene, config: FitConfig | None = None) -> None:
        self.scene = scene
        self.config = config or FitConfig()
        self.config.validate()
        self.device = resolve_device(self.config.device)
        from core.drwr.silhouette import SilhouetteMaps

        self.maps = SilhouetteMaps(scene.masks, self.config.R, self.device)
        dt = torch.float32
        self.K = torch.as_tensor(scene.K, dtype=dt, device=self.device)
        self.R = torch.as_tensor(scene.R, dtype=dt, device=self.device)
        self.t = torch.as_tensor(scene.t, dtype=dt, device=self.device)
        self._prior: HullPrior | None = None
        self.reset()

    # -- state ---------------------------------------------------------------------------
    def reset(self, config: FitConfig | None = None) -> None:
        """Start again from fresh initial points (applies non-live fields such as J, init)."""
        if config is not None:
            config.validate()
            if resolve_device(config.device) != self.device:
                raise ValueError("the device cannot change on reset; make a new Fitter")
            self.config = config
        cfg = self.config
        self.maps.set_R(cfg.R)
        rng = np.random.default_rng(cfg.seed)
        self._view_gen = torch.Generator().manual_seed(cfg.seed)
        pts = _init_points(self.scene, cfg, rng, self._hull_prior())
        self.points = torch.tensor(pts, dtype=torch.float32, device=self.device, requires_grad=True)
        self.optimizer = torch.optim.Adam([self.points], lr=cfg.lr)
        self.iteration = 0
        self.last_losses: dict[str, float] = {}
        self.last_step_time = 0.0
        self._good = self.points.detach().clone()
        self._nbr: torch.Tensor | None = None

    def _hull_prior(self) -> HullPrior | None:
        """The visual-hull prior, built on first need (surface init or surface/spread terms)."""
        cfg = self.config
        if self._prior is not None and self._prior.level != cfg.surface_level:
            self._prior = None
        if self._prior is None and (cfg.init == "surface" or cfg.surface_weight > 0
                                    or cfg.spread_weight > 0):
            self._prior = HullPrior(self.scene, 128, self.device, level=cfg.surface_level)
        return self._prior

    def set_params(self, **changes: object) -> None:
        """Change live parameters (see config.LIVE_FIELDS); takes effect at the next step."""
        bad = [k for k in changes if k not in LIVE_FIELDS]
        if bad:
            raise ValueError(f"not live parameters: {', '.join(bad)} (apply them with reset)")
        self.config = self.config.replace(**changes)
        self.maps.set_R(self.config.R)

    @property
    def done(self) -> bool:
        return self.iteration >= self.config.iterations

    def current_lr(self) -> float:
        """Cosine decay from lr to lr*lr_final over the configured iterations."""
        cfg = self.config
        p = min(self.iteration / max(cfg.iterations - 1, 1), 1.0)
        f = cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * p))
        return cfg.lr * f

    # -- stepping ------------------------------------------------------------------------
    def _views(self) -> torch.Tensor | None:
        n, k = self.scene.n_views, self.config.views_per_step
        if k <= 0 or k >= n:
            return None
        return torch.randperm(n, generator=self._view_gen)[:k].to(self.device)

    def step(self) -> dict[str, float]:
        """One optimisation step. Returns floats: total, silhouette, repulsion.

        Raises FitDiverged (points reverted to the last good state) on non-finite values.
        """
        t0 = time.perf_counter()
        cfg = self.config
        if not bool(torch.isfinite(self.points).all()):
            self._diverged()
        lr = self.current_lr()
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        terms = drwr_terms(self.points, self.K, self.R, self.t, self.maps, self._views(),
                           cfg.sigma, with_repulsion=cfg.beta > 0, method=cfg.repulsion)
        sil = terms["sil"].sum(1).mean()
        rep = terms["rep"].sum(1).mean()
        total = cfg.sil_weight * sil + cfg.beta * rep
        surf = spread = torch.zeros((), device=self.device)
        prior = self._hull_prior()
        if prior is not None and cfg.surface_weight > 0:
            surf = ((prior.margin(self.points) - prior.level) ** 2).sum()
            total = total + cfg.surface_weight * surf
        if prior is not None and cfg.spread_weight > 0:
            if self._nbr is None or self.iteration % 10 == 0:
                self._nbr = torch.as_tensor(knn_indices(self.points_np(), 6), device=self.device)
            spread = spread_loss(self.points, self._nbr, prior.spacing(cfg.points))
            total = total + cfg.spread_weight * spread
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        vals = torch.stack([total, sil, rep, surf, spread]).detach().cpu().tolist()
        if not all(math.isfinite(v) for v in vals) or not torch.isfinite(self.points).all():
            self._diverged()
        self.iteration += 1
        if self.iteration == cfg.iterations and cfg.snap == "on":
            self.snap()
        if self.iteration % 25 == 0:
            self._good = self.points.detach().clone()
        self.last_step_time = time.perf_counter() - t0
        self.last_losses = {"total": vals[0], "silhouette": vals[1], "repulsion": vals[2],
                            "surface": vals[3], "spread": vals[4]}
        return self.last_losses

    def snap(self) -> None:
        """Move the points that fall outside a mask minimally inside it (core.hull.snap); done
        after the last iteration when ``config.snap`` is on."""
        moved = snap_inside(self.points_np(), self.scene)
        with torch.no_grad():
            self.points.copy_(torch.as_tensor(moved, device=self.device))

    def _diverged(self) -> None:
        """Restore the last good points and raise FitDiverged."""
        with torch.no_grad():
            self.points.copy_(self._good)
        self.optimizer = torch.optim.Adam([self.points], lr=self.config.lr)
        raise FitDiverged(f"the fit diverged at iteration {self.iteration} (non-finite values); "
                          "the last good points were kept")

    def run(self, iterations: int | None = None) -> np.ndarray:
        """Run to the configured (or given) number of iterations; returns the points."""
        end = self.config.iterations if iterations is None else self.iteration + iterations
        while self.iteration < end:
            self.step()
        return self.points_np()

    # -- read-outs -----------------------------------------------------------------------
    def points_np(self) -> np.ndarray:
        """(J, 3) float32 copy of the current points."""
        return self.points.detach().cpu().numpy().astype(np.float32, copy=True)

    def field_images(self) -> np.ndarray:
        """(I, H, W) float32 smoothed silhouettes vG in [0, 1]."""
        return self.maps.field_np.copy()

    def snapshot(self) -> Snapshot:
        """Numpy copies of points, projections in every view and per-point losses."""
        with torch.no_grad():
            terms = drwr_terms(self.points, self.K, self.R, self.t, self.maps, None,
                               self.config.sigma, with_repulsion=False)
            uv = terms["uv"]
            H, W = self.maps.size
            c = uv[..., 0].round().long()
            r = uv[..., 1].round().long()
            ok = (c >= 0) & (c < W) & (r >= 0) & (r < H) & (terms["depth"] > 0)
            m = self.maps.mask[torch.arange(uv.shape[0], device=uv.device)[:, None],
                               r.clamp(0, H - 1), c.clamp(0, W - 1)] > 0.5
            inside = (m & ok).cpu().numpy()
            return Snapshot(
                iteration=self.iteration,
                points=self.points_np(),
                uv=uv.cpu().numpy().astype(np.float32),
                inside=inside,
                depth=terms["depth"].cpu().numpy().astype(np.float32),
                point_loss=terms["sil"].mean(0).cpu().numpy().astype(np.float32),
                losses=dict(self.last_losses),
                step_time=self.last_step_time,
                lr=self.current_lr(),
            )
