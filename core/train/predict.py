"""A trained network loaded from a run folder, for prediction and evaluation.

A run folder holds ``checkpoints/{latest,best}.pt`` (core.train.checkpoint), ``config.json``
and ``metrics.jsonl``. The network's input is :func:`core.train.data.input_tensor`: the view's
RGB image composited on white, in [0, 1], when the scene has images, else its mask (1 on the
object) in all 3 channels; resized to the configured input size. Predictions are (J, 3) points
in the dataset's canonical frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.io.images import composite_on_white
from core.io.scene import Scene, read_image
from core.train.checkpoint import read_checkpoint
from core.train.config import TrainConfig, config_from_dict
from core.train.data import input_tensor
from core.device import resolve_device
from core.train.model import build_model
from core.train.refine import refine_feature, refine_prediction

__all__ = ["Predictor", "image_input", "input_tensor", "load_checkpoint", "load_run"]


def image_input(path: str | Path, size: tuple[int, int]) -> torch.Tensor:
    """(3, H, W) float32 network input from an image file (RGBA composited on white, grey
    repeated to 3 channels, 16-bit scaled from its depth, resized); SceneError naming the file
    when it is missing, not an image or over PIL's pixel limit."""
    img = composite_on_white(*read_image(Path(path)))  # bit depth, size limit, errors
    H, W = size
    img = np.asarray(Image.fromarray(img).resize((W, H), Image.BILINEAR))
    return torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 255.0


class Predictor:
    """``config``, ``device``, ``info`` (the run's dataset facts: input_kind 'rgb'|'mask',
    image size), ``iteration`` of the loaded checkpoint, ``path`` of it, ``refine_steps`` and
    ``refine_feature_steps`` (test-time refinement of :meth:`predict_scene`; a run saved
    before refinement existed gets the defaults)."""

    def __init__(self, model: torch.nn.Module, config: TrainConfig, device: torch.device,
                 info: dict, iteration: int, path: Path) -> None:
        self.model, self.config, self.device = model.eval(), config, device
        self.info, self.iteration, self.path = info, iteration, path
        #: test-time refinement steps of :meth:`predict_scene` (the run's ``refine_steps``)
        self.refine_steps = int(config.refine_steps)
        #: its first stage, on the network's feature (core.train.refine.refine_feature)
        self.refine_feature_steps = int(config.refine_feature_steps)

    def input_for(self, scene: Scene, view: int) -> torch.Tensor:
        """(3, S, S) network input of ``scene``'s view ``view``; ValueError when the run
        was trained on images and the scene has none (a mask is no stand-in for an image)."""
        if self.info.get("input_kind") == "rgb" and scene.images is None:
            raise ValueError(f"{scene.path or scene.name}: the network was trained on images "
                             "and this scene has only masks")
        return input_tensor(scene, view, (self.config.input_size,) * 2)

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """(B, 3, S, S) -> (B, J, 3) points in the canonical frame (on the CPU)."""
        if inputs.ndim != 4 or inputs.shape[1] != 3:
            raise ValueError(f"inputs must be (B, 3, H, W), got {tuple(inputs.shape)}")
        out = [self.model(inputs[i:i + chunk].to(self.device)).cpu()
               for i in range(0, len(inputs), chunk)]
        return torch.cat(out)

    def predict_scene(self, scene: Scene, view: int = 0, refine: int | None = None
                      ) -> np.ndarray:
        """(J, 3) float32 prediction from ``scene``'s view ``view``, refined towards that
        view's silhouette (core.train.refine): :attr:`refine_feature_steps` steps on the
        network's feature, then ``refine`` steps on the points (default:
        :attr:`refine_steps`; 0: the raw output, neither stage)."""
        x = self.input_for(scene, view)
        steps = self.refine_steps if refine is None else int(refine)
        if steps <= 0:
            return self.predict(x[None])[0].numpy().astype(np.float32)
        c = self.config
        pts = refine_feature(self.model, x, scene.masks[view], scene.K[view], scene.R[view],
                             scene.t[view], self.refine_feature_steps, c.refine_feature_step,
                             c.sil_weight, c.cover_weight, c.loss_size)
        return refine_prediction(pts, scene.masks[view], scene.K[view], scene.R[view],
                                 scene.t[view], steps, c.refine_step, c.sil_weight,
                                 c.cover_weight, c.loss_size)


def load_run(run: str | Path, which: str = "best", device: str = "auto",
             refine_steps: int | None = None) -> Predictor:
    """The network of run folder ``run`` from checkpoint ``which`` ('best' falls back to
    'latest' when the run has no validation yet), refining by ``refine_steps`` (None: the
    run's own). FileNotFoundError/ValueError naming the file when the folder is not a run."""
    if which not in ("best", "latest"):
        raise ValueError(f"which must be 'best' or 'latest', got {which!r}")
    root = Path(run)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such run folder")
    path = root / "checkpoints" / f"{which}.pt"
    if not path.is_file() and which == "best":
        path = root / "checkpoints" / "latest.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{root / 'checkpoints'}: no checkpoint (not a training run "
                                "folder, or the training has not saved yet)")
    pred = load_checkpoint(path, device)
    if refine_steps is not None:
        pred.refine_steps = int(refine_steps)
    return pred


def load_checkpoint(path: str | Path, device: str = "auto") -> Predictor:
    """The network of checkpoint file ``path`` (a run's ``checkpoints/*.pt`` or one saved
    from the window). FileNotFoundError/ValueError naming the file when it is missing, not a
    training checkpoint, or its weights do not fit the network of its config."""
    path = Path(path)
    dev = resolve_device(device)
    ck = read_checkpoint(path, dev)
    try:
        cfg = config_from_dict(ck["config"])
        iteration = int(ck["iteration"])
        weights = ck["model"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: a damaged checkpoint (its config, step or weights: "
                         f"{exc.__class__.__name__})") from None
    model = build_model(cfg)
    try:
        model.load_state_dict(weights)
    except RuntimeError:
        raise ValueError(f"{path}: weights do not fit the network of its config") from None
    return Predictor(model.to(dev), cfg, dev, dict(ck.get("info", {})), iteration, path)
