"""Single-shape DRWR fitting: a :class:`Fitter` advances one optimisation step at a time.

The Fitter is a :class:`core.job.Job`: the GUI worker and the CLI driver loop run it through
that protocol only (``step()``, ``set_params()`` returning what it invalidated, ``extend()``,
``snapshot()``, ``cloud_metrics()``, ``save()``, ``save_state()``/``load_state()``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch

from core.drwr.losses import drwr_terms
from core.drwr.snapshot import make_snapshot
from core.fit.config import LIVE_FIELDS, FitConfig
from core.hull.interior import sample_in_hull, scene_box
from core.correction.hull_field import HullField
from core.device import resolve_device
from core.geometry.pointcloud import knn_indices, spread_loss
from core.hull.snap import snap_inside, snap_nearest
from core.io.atomic import atomic_write, write_points_atomic
from core.io.scene import Scene
from core.job import FIELDS, JobDiverged, Snapshot, loss_progress
from core.hull.inside import inside_all

__all__ = ["Fitter", "Snapshot", "FitDiverged", "LOSS_NAMES"]

#: the losses ``Fitter.step`` returns, in display order
LOSS_NAMES = ("total", "silhouette", "repulsion", "surface", "spread")
STATE_FORMAT = "drwr-fit-state"
CHECKPOINT_EVERY = 25  # iterations between copies of the last good (finite) points


class FitDiverged(JobDiverged):
    """The fit produced non-finite values; the points went back to the last good copy."""


def pull_stragglers(points: np.ndarray, scene: Scene, steps: int = 10) -> np.ndarray:
    """(J, 3) float32 copy of ``points`` where every point outside some mask
    (``core.hull.inside.inside_all``) moved towards its nearest inside neighbour, to the first of
    ``steps`` evenly spaced positions on the segment that is inside (at worst onto the
    neighbour). The last resort after :func:`core.hull.snap.snap_inside`, whose per-view moves
    can cycle for a point that no single-view move settles. Unchanged when none or all fail."""
    from scipy.spatial import cKDTree

    pts = np.asarray(points, np.float32).copy()
    ok = inside_all(pts, scene)
    if ok.all() or not ok.any():
        return pts
    good = pts[ok]
    bad = np.flatnonzero(~ok)
    target = good[cKDTree(good).query(pts[bad])[1]]
    src = pts[bad]
    out = target.copy()
    todo = np.ones(len(bad), bool)
    for f in np.arange(1, steps, dtype=np.float32) / steps:
        cand = (src + f * (target - src)).astype(np.float32)
        hit = todo & inside_all(cand, scene)
        out[hit] = cand[hit]
        todo &= ~hit
        if not todo.any():
            break
    pts[bad] = out
    return pts


def _init_points(
    scene: Scene, cfg: FitConfig, rng: np.random.Generator, prior: HullField | None
) -> np.ndarray:
    """(J, 3) starting points: uniform in the visual hull ('hull') or in its box ('box')."""
    if cfg.init == "surface":
        return prior.surface_points(cfg.points, cfg.seed,
                                    correct=cfg.surface_correction == "learned",
                                    snap=cfg.snap == "on")
    if cfg.init == "box":
        lo, hi = scene_box(scene)
        return rng.uniform(lo, hi, size=(cfg.points, 3))
    return sample_in_hull(scene, cfg.points, rng)


class Fitter:
    """Owns the points (J, 3), the optimizer and the silhouette maps of one scene."""

    loss_names = LOSS_NAMES
    unit = "it"
    result_is_state = False  # the cloud alone cannot continue a fit: save_state keeps more
    writes = True

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
        self._prior: HullField | None = None
        self.reset()

    @property
    def display_scene(self) -> Scene:
        return self.scene

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
        self.horizon = cfg.iterations  # the cosine schedule's length (extend keeps it)
        self.last_losses: dict[str, float] = {}
        self.last_step_time = 0.0
        self._good = self.points.detach().clone()
        self._good_iteration: int | None = 0 if bool(torch.isfinite(self._good).all()) else None
        self._nbr: torch.Tensor | None = None

    def _hull_prior(self) -> HullField | None:
        """The visual-hull prior, built on first need (surface init or surface/spread terms)."""
        cfg = self.config
        if self._prior is not None and self._prior.level != cfg.surface_level:
            self._prior = None
        if self._prior is None and (cfg.init == "surface" or cfg.surface_weight > 0
                                    or cfg.spread_weight > 0):
            self._prior = HullField(self.scene, 128, self.device, level=cfg.surface_level)
        return self._prior

    def set_params(self, **changes: object) -> set[str]:
        """Change live parameters (see config.LIVE_FIELDS); they take effect at the next step.

        Returns what the change invalidated: {"fields"} when R changed (the silhouette images
        of :meth:`field_images` are new). Lowering ``iterations`` to or below the current
        iteration finishes the fit at once (the snap included)."""
        bad = [k for k in changes if k not in LIVE_FIELDS]
        if bad:
            raise ValueError(f"not live parameters: {', '.join(bad)} (apply them with reset)")
        was_done, old_R = self.done, self.config.R
        self.config = self.config.replace(**changes)
        if "iterations" in changes and not was_done:  # after done it acts as extend()
            self.horizon = self.config.iterations
        invalid: set[str] = set()
        if self.config.R != old_R:
            self.maps.set_R(self.config.R)
            invalid.add(FIELDS)
        if self.done and not was_done:
            self._finish()
        return invalid

    def extend(self, iterations: int) -> None:
        """Allow ``iterations`` more steps from here ("Run after done"). The learning rate
        keeps its schedule: past the horizon it stays at its final value."""
        top = next(f.metadata["max"] for f in dataclasses.fields(FitConfig)
                   if f.name == "iterations")
        end = min(self.iteration + int(iterations), top)
        if iterations < 1 or end <= self.iteration:
            raise ValueError(f"cannot extend the fit by {iterations} iterations from "
                             f"{self.iteration} (at most {top} in all)")
        self.config = self.config.replace(iterations=end)

    @property
    def done(self) -> bool:
        return self.iteration >= self.config.iterations

    @property
    def length(self) -> int:
        return self.config.iterations

    def progress(self, losses: dict[str, float]) -> dict[str, str]:
        return loss_progress(self.loss_names, losses)

    def agree_to_stop(self, stop: bool) -> bool:
        return stop  # one process

    def current_lr(self) -> float:
        """Cosine decay from lr to lr*lr_final over ``horizon`` iterations (the configured
        length; ``extend`` keeps it, so the rate stays at lr*lr_final after it)."""
        cfg = self.config
        p = min(self.iteration / max(self.horizon - 1, 1), 1.0)
        f = cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * p))
        return cfg.lr * f

    # -- stepping ------------------------------------------------------------------------
    def _views(self) -> torch.Tensor | None:
        n, k = self.scene.n_views, self.config.views_per_step
        if k <= 0 or k >= n:
            return None
        return torch.randperm(n, generator=self._view_gen)[:k].to(self.device)

    def step(self) -> dict[str, float]:
        """One optimisation step. Returns the floats named by :data:`LOSS_NAMES`.

        Raises FitDiverged (points reverted to the last good state) on non-finite values.
        """
        t0 = time.perf_counter()
        cfg = self.config
        was_done = self.done
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
        if self.done and not was_done:
            self._finish()
        if self.iteration % CHECKPOINT_EVERY == 0:
            self._keep_good()
        self.last_step_time = time.perf_counter() - t0
        self.last_losses = dict(zip(LOSS_NAMES, vals))
        return self.last_losses

    def _finish(self) -> None:
        """The fit reached its end: snap (when on) and keep the result as the good copy."""
        if self.config.snap == "on" and bool(torch.isfinite(self.points).all()):
            self.snap()
        self._keep_good()

    def _keep_good(self) -> None:
        if bool(torch.isfinite(self.points).all()):
            self._good = self.points.detach().clone()
            self._good_iteration = self.iteration

    def snap(self) -> None:
        """Move the points that fall outside a mask to the nearest point inside every mask
        (core.hull.snap: the 3-D search, then per-view moves for what it left), then any still
        outside (:func:`pull_stragglers`); done when the fit finishes and ``config.snap`` is
        on."""
        near = snap_nearest(self.points_np(), self.scene)
        moved = pull_stragglers(snap_inside(near, self.scene), self.scene)
        with torch.no_grad():
            self.points.copy_(torch.as_tensor(moved, device=self.device))

    def _diverged(self) -> None:
        """Restore the last good points (when there are any) and raise FitDiverged."""
        at = self.iteration
        if self._good_iteration is not None:
            with torch.no_grad():
                self.points.copy_(self._good)
        self.optimizer = torch.optim.Adam([self.points], lr=self.config.lr)
        raise FitDiverged(f"the fit diverged at iteration {at} (non-finite values)",
                          self._good_iteration)

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
        """Numpy copies of points, projections in every view and per-point losses
        (core.drwr.snapshot.make_snapshot)."""
        return make_snapshot(self.points, self.scene, self.maps, (self.K, self.R, self.t),
                             sigma=self.config.sigma, iteration=self.iteration,
                             losses=self.last_losses, step_time=self.last_step_time,
                             lr=self.current_lr())

    def evaluate(self) -> dict[str, object]:
        """Metrics (core.metrics.cloud_metrics) of the cloud in the dataset's original frame,
        against the scene there: inside fraction and silhouette IoU always, Chamfer and
        F-scores when the scene has ground truth."""
        from core.formats import original_scene
        from core.metrics import cloud_metrics

        return cloud_metrics(self.scene.to_original(self.points_np()), original_scene(self.scene))

    def save(self, path: str | Path) -> Path:
        """Write the cloud in the dataset's original frame (``scene.to_original``) to
        ``path`` atomically (.ply/.obj/.xyz). Raises FitDiverged when the points are not
        finite (nothing is written then)."""
        pts = self.points_np()
        if not np.isfinite(pts).all():
            raise FitDiverged(f"{path}: not written: the points are not finite",
                              self._good_iteration)
        return write_points_atomic(path, self.scene.to_original(pts))

    # -- resume --------------------------------------------------------------------------
    def save_state(self, path: str | Path) -> Path:
        """Write what :meth:`load_state` needs to continue (points, Adam state, iteration,
        view sampler, schedule) with ``torch.save``, atomically."""
        state = {
            "format": STATE_FORMAT, "version": 1, "iteration": self.iteration,
            "horizon": self.horizon, "points": self.points.detach().cpu(),
            "good": self._good.cpu(), "good_iteration": self._good_iteration,
            "optimizer": self.optimizer.state_dict(), "view_gen": self._view_gen.get_state(),
            "config": dataclasses.asdict(self.config),
            "scene": {"name": self.scene.name, "views": self.scene.n_views,
                      "resolution": list(self.scene.resolution)},
        }
        return atomic_write(path, lambda tmp: torch.save(state, tmp))

    def load_state(self, path: str | Path) -> None:
        """Continue from a :meth:`save_state` file (loaded with ``weights_only=True``).
        Raises ValueError naming ``path`` when it is not such a file or belongs to another
        scene or number of points."""
        try:
            st = torch.load(path, map_location=self.device, weights_only=True)
        except FileNotFoundError:
            raise ValueError(f"{path}: no such resume file") from None
        except Exception as exc:  # torch raises many kinds for a damaged file
            raise ValueError(f"{path}: not a resume file ({exc.__class__.__name__})") from None
        if not isinstance(st, dict) or st.get("format") != STATE_FORMAT:
            raise ValueError(f"{path}: not a resume file of a fit")
        sc = st["scene"]
        here = {"views": self.scene.n_views, "resolution": list(self.scene.resolution)}
        if sc.get("views") != here["views"] or list(sc.get("resolution", [])) != here["resolution"]:
            raise ValueError(f"{path}: saved for a scene with {sc.get('views')} views at "
                             f"{sc.get('resolution')}, this one has {here['views']} at "
                             f"{here['resolution']}")
        pts = st["points"]
        if tuple(pts.shape) != (self.config.points, 3):
            raise ValueError(f"{path}: holds {pts.shape[0]} points, this fit has "
                             f"{self.config.points} (give the same --points)")
        with torch.no_grad():
            self.points.copy_(pts.to(self.device))
        self.optimizer = torch.optim.Adam([self.points], lr=self.config.lr)
        self.optimizer.load_state_dict(st["optimizer"])
        self.iteration = int(st["iteration"])
        self.horizon = int(st["horizon"])
        self._view_gen.set_state(st["view_gen"])
        self._good = st["good"].to(self.device)
        self._good_iteration = st["good_iteration"]
        self._nbr = None
