"""Learned depth correction of visual-hull surface samples (the default fit's start).

The visual hull is the largest shape consistent with the masks: where no view sees a part
edge-on it bulges (a thin seat or wing becomes a *lens* several pixels thick), and on tight
parts (tubes, rims) the hull level sits a fraction of a pixel inside the truth. Silhouettes
alone cannot say which; a prior can. This module predicts, for each sample x on the hull's
level set, how many pixels d to move it along the inward normal n so that it lands on the
object's surface: ``x' = x - d * px(x) * n`` (px = world size of a pixel at x).

The predictor is a small MLP (67 -> 64 -> 64 -> 2) on scale-free features of the hull at x
(:func:`point_features`): 21 of the sample's own -- the carving margin along the inward
normal (how thick the hull is, how fast it deepens), the per-view signed pixel distances (how
many views bind x: rims vs creases), how far the binding view's tangent ray stays on the
surface (long generator segments mark the lenses' flat caps), how many lines of sight graze
x, and the view count -- and 46 of its neighbourhood in balls of 3 and 8 pixels
(core.correction.context: how the surface bends around x, and the neighbours' own features).
The bundled weights (``resources/surface_correction.npz``) are what
``scripts/train_surface_correction.py`` writes with its defaults (bit for bit): 960 scenes of
random assemblies of primitives (70%) and demo shapes (30%), one in ten of all replaced by
a thick solid with large flat faces, a quarter made scanner-like (rough), stretched and
rotated, cameras all around or only from above, 4-40 views, 64-256 px; never the held-out
shapes the accuracy benchmark reports nor its development set. The target is the smallest
inward depth whose point comes within TARGET_TOL_PX = 0.15 px of the line's closest approach
to the true surface (:func:`depth_targets`). Each model has two outputs, the median and a cautious
(0.25-quantile) depth, and stores its training features' range: :meth:`DepthModel.depth`
leaves points whose features lie outside it on the hull surface (weights from before the
quantile head, with one output and no range, still load). The bundled file holds a
:class:`DepthEnsemble` of ten such models trained from different seeds: their mean depth,
shrunk towards the hull surface where they disagree.

Shapes in docstrings: N points, I views.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from core.geometry.cameras import camera_centers, pixel_sizes, project_np
from core.correction.context import context_features, context_size
from core.hull.visual_hull import MAP_PAD, HullVolume
from core.io.scene import Scene

__all__ = ["PROFILE_PX", "DEPTHS_PX", "TARGET_TOL_PX", "N_FEATURES", "WEIGHTS", "QUANTILES",
           "OOD_MARGIN", "margin_at", "hull_normals", "DepthEnsemble",
           "view_distances", "point_features", "depth_targets", "DepthModel", "load_model",
           "correct_points"]

#: Inward distances (pixels) at which the carving margin is sampled along the normal.
PROFILE_PX = np.array([0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32], np.float64)
#: Candidate inward depths (pixels) searched for the training target.
DEPTHS_PX = np.concatenate([np.arange(-1, 3.1, 0.25), np.arange(3.5, 10.1, 0.5),
                            np.arange(11, 25, 1.0), np.arange(26, 41, 2.0)])
#: Slack (pixels) of the training target: the smallest candidate depth within this of the
#: closest approach. The search runs from the most outward depth, so the slack biases every
#: target outward: over the first 480 training scenes the median target is -0.25 px with
#: 0.3, 0.0 with 0.15 and +0.25 with 0.05. A single model trained with 0.15 scored better on
#: validation scenes but sank real flat faces on unseen objects; an ensemble of them, shrunk where
#: they disagree (DepthEnsemble), keeps the gain without that (docs/accuracy.md, "Alternatives
#: considered").
TARGET_TOL_PX = 0.15
N_OWN = len(PROFILE_PX) + 4 + 2 + 3 + 1  # a sample's own features
N_FEATURES = N_OWN + context_size(N_OWN)  # and its neighbourhood's (core.correction.context)
WEIGHTS = Path(__file__).resolve().parents[2] / "resources" / "surface_correction.npz"
_CHORD_STEPS = 40
_MAX_DEPTH = 40.0  # pixels; predictions are clipped to [-1, _MAX_DEPTH]


def margin_at(hv: HullVolume, points: np.ndarray) -> np.ndarray:
    """Carving margin (pixels, positive inside every mask) at points (N, 3) -> (N,), trilinear;
    points outside the grid take the nearest border value (the grid is padded with -clip)."""
    c = (np.asarray(points, np.float64) - hv.lo) / hv.spacing
    return ndimage.map_coordinates(hv.vol, c.T, order=1, mode="nearest")


def hull_normals(hv: HullVolume, points: np.ndarray) -> np.ndarray:
    """(N, 3) outward unit normals of the hull's level sets at points (N, 3): minus the
    normalised margin gradient (central differences, half a voxel)."""
    g = np.zeros_like(np.asarray(points, np.float64))
    for k in range(3):
        e = np.zeros(3)
        e[k] = 0.5 * hv.spacing[k]
        g[:, k] = (margin_at(hv, points + e) - margin_at(hv, points - e)) / hv.spacing[k]
    return -g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)


def view_distances(scene: Scene, maps: np.ndarray, points: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-view signed pixel distance and pixel size at points (N, 3).

    Args:
        scene: cameras.
        maps: (I, H + 2P, W + 2P) padded carving maps (core.hull.visual_hull.carving_maps).
        points: (N, 3) world points in front of the cameras.

    Returns:
        s (I, N): bilinear carving map value (pixels, positive inside the mask) of each
        projection; px (I, N): world size of one pixel at the point's depth in each view.
    """
    uv, z = project_np(points, scene.K, scene.R, scene.t)  # (I, N, 2), (I, N)
    s = np.stack([ndimage.map_coordinates(maps[i], (uv[i, :, 1] + MAP_PAD, uv[i, :, 0] + MAP_PAD),
                                          order=1, mode="nearest")
                  for i in range(scene.n_views)])
    return s, pixel_sizes(z, scene.K)


def point_features(scene: Scene, hv: HullVolume, maps: np.ndarray, points: np.ndarray,
                   level: float, pairs: str = "auto"
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale-free features of hull-surface samples.

    Args:
        scene: cameras (and masks, through ``maps``).
        hv: the carving margin on its grid (core.hull.visual_hull.hull_volume).
        maps: (I, H + 2P, W + 2P) padded carving maps the margin was built from.
        points: (N, 3) samples on the level set ``margin = level``.
        level: the surface level (pixels).
        pairs: how the neighbourhood balls are summed (core.correction.context.context_features);
            the training script fixes "tree" so that its data stay bit for bit the same.

    Returns:
        features (N, N_FEATURES) float32, outward normals n (N, 3), pixel size px (N,)
        (median over views, world units).
    """
    P = np.asarray(points, np.float64)
    n = hull_normals(hv, P)
    s, pxv = view_distances(scene, maps, P)
    px = np.median(pxv, 0)
    feats = []
    for k in PROFILE_PX:  # mean slope of the margin k pixels along the inward normal
        f = margin_at(hv, P - (k * px)[:, None] * n) - level
        feats.append(np.clip(f, -8, 40) / k)
    ss = np.sort(s, 0)
    n_views = scene.n_views
    second = ss[1] if n_views > 1 else ss[0] + 20
    third = ss[2] if n_views > 2 else ss[0] + 20
    feats += [np.clip(second - ss[0], 0, 20), np.clip(third - ss[0], 0, 20),
              (s < ss[0] + 1).sum(0) / n_views, (s < ss[0] + 3).sum(0) / n_views]
    # how far the binding view's line of sight stays within half a pixel of the surface
    C = camera_centers(scene.R, scene.t)
    b = np.argmin(s, 0)
    ray = P - C[b]
    ray /= np.linalg.norm(ray, axis=1, keepdims=True)
    for sign in (1.0, -1.0):
        alive = np.ones(len(P), bool)
        length = np.zeros(len(P))
        for k in range(1, _CHORD_STEPS + 1):
            alive &= margin_at(hv, P + sign * (k * px)[:, None] * ray) - level > -0.5
            length += alive
        feats.append(length / _CHORD_STEPS)
    # lines of sight nearly tangent to the surface at the point
    sight = P[None] - C[:, None]
    sight /= np.linalg.norm(sight, axis=2, keepdims=True)
    cos = np.sort(np.abs(np.einsum("inc,nc->in", sight, n)), 0)
    feats += [cos[0], cos[1] if n_views > 1 else cos[0], np.mean(cos < 0.2, 0)]
    feats.append(np.full(len(P), n_views / 20.0))
    own = np.stack(feats, 1)
    X = np.concatenate([own, context_features(P, n, px, own, pairs)], 1)
    return X.astype(np.float32), n, px


def depth_targets(points: np.ndarray, normals: np.ndarray, px: np.ndarray, gt_tree,
                  tol: float = TARGET_TOL_PX) -> tuple[np.ndarray, np.ndarray]:
    """Training targets: for each point, the smallest inward depth in DEPTHS_PX (pixels) whose
    point x - d px n comes within ``tol`` pixels of its closest approach to the true surface.

    Args:
        points, normals: (N, 3) samples and outward normals; px (N,) pixel size (world).
        gt_tree: scipy cKDTree over dense samples of the true surface.

    Returns:
        depth (N,) pixels, closest approach (N,) world units (inf beyond 0.05).
    """
    D = np.stack([gt_tree.query(points - (d * px)[:, None] * normals,
                                distance_upper_bound=0.05)[0] for d in DEPTHS_PX])  # (K, N)
    best = D.min(0)
    first = np.argmax(D <= best + tol * px, 0)
    return DEPTHS_PX[first], best


#: Quantiles the model's outputs are trained for: the median depth and a cautious lower one.
QUANTILES = (0.5, 0.25)
#: A feature further than this fraction of its training range outside that range makes the
#: point *unfamiliar*: it keeps the hull surface (depth 0).
OOD_MARGIN = 0.25


class DepthModel(torch.nn.Module):
    """MLP features (N, N_FEATURES) -> inward depths (N, outputs) pixels, one per quantile in
    QUANTILES (a single output for weights from before the quantile head), with input
    standardisation (mu, sd) and the training features' range (lo, hi: 0.1 / 99.9 %)."""

    def __init__(self, hidden: int = 64, outputs: int = 1) -> None:
        super().__init__()
        self.hidden, self.outputs = hidden, outputs
        self.register_buffer("mu", torch.zeros(N_FEATURES))
        self.register_buffer("sd", torch.ones(N_FEATURES))
        self.register_buffer("lo", torch.full((N_FEATURES,), -torch.inf))
        self.register_buffer("hi", torch.full((N_FEATURES,), torch.inf))
        # how far an inward move goes from the median towards the cautious quantile (0..1)
        self.register_buffer("caution", torch.zeros(()))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(N_FEATURES, hidden), torch.nn.SiLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, N_FEATURES) -> (N, outputs) depths in pixels (no clipping)."""
        return self.net((x - self.mu) / self.sd)

    def depth(self, x: torch.Tensor, cautious: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Depth to move (N,) pixels and whether the prior is sure (N,) bool.

        Features are clipped to the training range first; a point with a feature more than
        OOD_MARGIN of the range outside it is unsure. An inward move (median m > 0) goes
        ``m - caution * (m - c)`` with c the cautious (lower-quantile) output clamped to
        [0, m]; ``caution`` (stored with the weights, chosen on training-distribution scenes)
        0 means the median, 1 the cautious quantile. An outward move (m <= 0) takes the median,
        as does everything with ``cautious=False``. Unsure points and NaNs get 0: they stay on
        the hull surface.
        """
        span = torch.nan_to_num(self.hi - self.lo, posinf=0.0)
        far = ((x < self.lo - OOD_MARGIN * span) | (x > self.hi + OOD_MARGIN * span)).any(1)
        out = self(torch.maximum(torch.minimum(x, self.hi), self.lo))
        med = out[:, 0]
        d = med
        if self.outputs > 1 and cautious:
            c = torch.minimum(med, out[:, 1].clamp(min=0.0))
            d = torch.where(med > 0, med - self.caution * (med - c), med)
        sure = ~far & torch.isfinite(d)
        return torch.where(sure, d, torch.zeros_like(d)), sure

    def save(self, path: str | Path) -> None:
        """Write the weights as a plain .npz (no pickle)."""
        arrays = {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}
        np.savez(path, hidden=np.array(self.hidden), outputs=np.array(self.outputs), **arrays)


class DepthEnsemble(torch.nn.Module):
    """DepthModels trained from different seeds on the same data (members, M of them).

    :meth:`depth` is the members' mean depth m, shrunk towards 0 (the hull surface) by how
    much they disagree: ``m * m^2 / (m^2 + shrink * sd^2)``, sd the members' (population)
    standard deviation in pixels. A move the members agree on (sd << |m|) is kept; one no
    larger than their disagreement is cut to a fraction (to 1 / (1 + shrink) where |m| = sd).
    Members agree where the training data pinned the answer down and part ways on objects
    unlike it, so this is how "where the prior is unsure, stay on the hull" reaches points
    whose features each look familiar. ``shrink`` 0 is the plain mean. A point is sure only if
    every member is.
    """

    def __init__(self, members: list[DepthModel], shrink: float = 0.0) -> None:
        super().__init__()
        if not members:
            raise ValueError("DepthEnsemble needs at least one member")
        self.members = torch.nn.ModuleList(members)
        self.register_buffer("shrink", torch.tensor(float(shrink)))

    @property
    def outputs(self) -> int:
        return self.members[0].outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, N_FEATURES) -> (N, outputs): the members' mean raw outputs."""
        return torch.stack([m(x) for m in self.members]).mean(0)

    def depth(self, x: torch.Tensor, cautious: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Depth (N,) pixels and sureness (N,) bool, as :meth:`DepthModel.depth`; see the
        class docstring for how the members combine."""
        outs = [m.depth(x, cautious) for m in self.members]
        D = torch.stack([d for d, _ in outs])  # (M, N)
        sure = torch.stack([s for _, s in outs]).all(0)
        d = D.mean(0)
        k = float(self.shrink)
        if k > 0 and len(self.members) > 1:
            var = D.var(0, unbiased=False)
            d = d * d * d / (d * d + k * var).clamp(min=1e-12)
        return torch.where(sure, d, torch.zeros_like(d)), sure

    def save(self, path: str | Path) -> None:
        """Write all members to one plain .npz (keys ``m<k>.<name>``; no pickle)."""
        arrays = {"members": np.array(len(self.members)),
                  "shrink": self.shrink.detach().cpu().numpy()}
        for k, m in enumerate(self.members):
            arrays[f"m{k}.hidden"] = np.array(m.hidden)
            arrays[f"m{k}.outputs"] = np.array(m.outputs)
            arrays.update({f"m{k}.{n}": v.detach().cpu().numpy()
                           for n, v in m.state_dict().items()})
        np.savez(path, **arrays)


def load_model(path: str | Path | None = None) -> DepthModel | DepthEnsemble:
    """The trained model from an .npz written by :meth:`DepthModel.save` or
    :meth:`DepthEnsemble.save` (default: the module's ``WEIGHTS``, read at call time);
    cached per path.

    Raises FileNotFoundError naming the file when it is missing.
    """
    return _load_model(Path(WEIGHTS if path is None else path))


def _member(z, prefix: str = "") -> DepthModel:
    outputs = int(z[prefix + "outputs"]) if prefix + "outputs" in z else 1
    model = DepthModel(int(z[prefix + "hidden"]), outputs)
    state = model.state_dict()
    state.update({k: torch.tensor(z[prefix + k]).reshape(state[k].shape)
                  for k in state if prefix + k in z})
    model.load_state_dict(state)
    return model.eval()


@lru_cache(maxsize=4)
def _load_model(path: Path) -> DepthModel | DepthEnsemble:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: surface-correction weights not found; run "
                                "scripts/train_surface_correction.py or use "
                                "--surface-correction off")
    with np.load(path) as z:
        if "members" not in z:
            return _member(z)
        members = [_member(z, f"m{k}.") for k in range(int(z["members"]))]
        return DepthEnsemble(members, float(z["shrink"])).eval()


@dataclass
class Corrected:
    """points (N, 3) moved; depth (N,) pixels moved inward (negative: outward); sure (N,) bool:
    False where the prior did not know the point's features and left it on the hull."""

    points: np.ndarray
    depth: np.ndarray
    sure: np.ndarray


def correct_points(scene: Scene, hv: HullVolume, maps: np.ndarray, points: np.ndarray,
                   level: float, model: DepthModel | DepthEnsemble | None = None,
                   cautious: bool = True) -> Corrected:
    """Move hull-surface samples (N, 3) along their normals by the model's depth.

    ``hv``/``maps``/``level`` as in :func:`point_features`; ``model`` defaults to the bundled
    weights. Depths come from :meth:`DepthModel.depth` (``cautious``: the lower quantile
    inward; 0 where unsure),
    clipped to [-1, 40] pixels and shortened where they would leave the hull.
    """
    if len(points) == 0:
        return Corrected(np.zeros((0, 3)), np.zeros(0), np.zeros(0, bool))
    model = load_model() if model is None else model
    X, n, px = point_features(scene, hv, maps, points, level)
    with torch.no_grad():
        d, sure = model.depth(torch.from_numpy(X), cautious)
    d = np.clip(np.nan_to_num(d.double().numpy(), nan=0.0), -1.0, _MAX_DEPTH)
    P = np.asarray(points, np.float64)
    d = _stay_inside(hv, P, n, px, d)
    return Corrected(P - (d * px)[:, None] * n, d, sure.numpy())


def _stay_inside(hv: HullVolume, P: np.ndarray, n: np.ndarray, px: np.ndarray,
                 d: np.ndarray) -> np.ndarray:
    """Shorten inward depths d (N,) whose end point leaves the hull (margin < 0: through the
    far side of a thin part) to the largest of 20 even fractions that stays inside."""
    out = d.copy()
    bad = (d > 0) & (margin_at(hv, P - (d * px)[:, None] * n) < 0)
    if not bad.any():
        return out
    idx = np.flatnonzero(bad)
    best = np.zeros(len(idx))
    for f in np.linspace(0.05, 0.95, 19):  # ascending: the last fraction inside wins
        q = P[idx] - (f * d[idx] * px[idx])[:, None] * n[idx]
        best = np.where(margin_at(hv, q) >= 0, f, best)
    out[idx] = best * d[idx]
    return out
