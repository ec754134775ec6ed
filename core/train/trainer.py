"""Network training as a Job (core.job): image -> point cloud, supervised by silhouettes only.

Each :meth:`Trainer.step` takes a batch of B objects, predicts one cloud (J, 3) per object from
its input view, and scores it in V supervising views of that object with the DRWR terms
batched over the B·V (object, view) rows (core.train.terms): the loss is
``λ · mean(l1) + β · mean(l2)`` over points and rows, l1 the pixels outside the silhouette, l2
the structure-aware repulsion that spreads the points over it (σ in pixels, scaled with the
image side from its value at 64 px). Adam with warm-up and cosine decay.

Under torchrun the model is wrapped in DistributedDataParallel; each process draws its own
B objects (a DistributedSampler split of every epoch), so the effective batch is B x processes;
only rank 0 validates and writes the run folder (core.train.runlog).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from core.drwr.silhouette import SilhouetteMaps
from core.drwr.snapshot import make_snapshot
from core.io.dataset import DrwrDataset
from core.io.scene import SceneError
from core.job import FIELDS, JobDiverged, Snapshot, loss_progress
from core.train.scoring import score_predictions
from core.train.checkpoint import (
    read_checkpoint,
    rng_state,
    set_rng_state,
    write_checkpoint,
)
from core.train.config import LIVE_FIELDS, TrainConfig, config_dict, config_from_dict
from core.train.data import SilhouetteViews, ViewCache, collate, input_tensor, next_batch
from core.device import resolve_device
from core.train.distributed import DistInfo, all_max
from core.train import loader_workers
from core.train.model import build_model, build_optimizer
from core.train.resume import ignore_stop_signals, resume_problem, run_data
from core.train.runlog import RunFiles
from core.train.terms import batched_terms

__all__ = ["ARCH_FIELDS", "Trainer"]

#: config fields that fix the network's shape: a checkpoint only loads into the same values
ARCH_FIELDS = ("arch", "points", "input_size", "width", "hidden")


class _Batches:
    """Batch plan from iteration ``start`` on, forever: batch n is slice n % nb of epoch
    n // nb of this process's DistributedSampler order; items carry their RNG key."""

    def __init__(self, data: SilhouetteViews, cfg: TrainConfig, info: DistInfo, start: int):
        self.sampler = DistributedSampler(data, num_replicas=info.world, rank=info.rank,
                                          shuffle=True, seed=cfg.seed)
        self.B, self.seed, self.rank, self.start = cfg.batch_size, cfg.seed, info.rank, start
        self.nb = max(1, len(self.sampler) // self.B)

    def __iter__(self):
        n = self.start
        while True:
            epoch, off = divmod(n, self.nb)
            self.sampler.set_epoch(epoch)
            order = list(self.sampler)
            idx = order[off * self.B:(off + 1) * self.B]
            yield [(k, [self.seed, epoch, self.rank, off * self.B + p]) for p, k in enumerate(idx)]
            n += 1


class Trainer:
    """Trains a :class:`core.train.model.PointNet2D` on a :class:`DrwrDataset` (see module).
    The training views' maps live in ``cache_dir`` (core.train.data.ViewCache; None: memory)."""

    loss_names = ("total", "silhouette", "repulsion", "coverage")
    unit = "step"
    result_is_state = True  # a checkpoint is the result and the resume state at once

    def __init__(self, dataset: DrwrDataset, config: TrainConfig | None = None,
                 run_dir: str | Path | None = None, dist_info: DistInfo | None = None,
                 progress: Callable | None = None, resume: bool = False,
                 cache_dir: str | Path | None = "auto") -> None:
        self.config = config or TrainConfig()
        self.config.validate()
        self.ds = dataset
        self.info = dist_info or DistInfo()
        self.device = resolve_device(self.config.device, self.info.local_rank)
        cfg = self.config
        train_ids = dataset.ids("train")
        self.train_cache = ViewCache(dataset, train_ids, cfg.input_size, cfg.R, progress=progress,
                                     cache_dir=cache_dir, loss_size=cfg.loss_size)
        self.val_split = "val" if dataset.ids("val") else "train"
        self.val_ids = dataset.ids(self.val_split)[: cfg.val_objects]
        self.val_cache = ViewCache(dataset, self.val_ids, cfg.input_size, cfg.R, gt_points=2048)
        if self.val_cache.image_size != self.train_cache.image_size:
            raise SceneError(f"{self.val_ids[0]}: image size {self.val_cache.image_size} differs "
                             f"from the training objects' {self.train_cache.image_size}")
        self.input_kind = "rgb" if self.train_cache.has_images else "mask"
        self.files = RunFiles(run_dir) if run_dir is not None and self.info.main else None
        self.last_val_pred = np.zeros((0, self.config.points, 3), np.float32)
        self._display: tuple[str, Any, SilhouetteMaps] | None = None
        self.display_id = self.val_ids[0]
        self._start(write_config=not resume)  # a resumed run writes it once loaded
        if self.files is not None and not resume:  # a resumed run keeps its log (load_state)
            self.files.truncate_after(0)

    # -- state ---------------------------------------------------------------------------
    def reset(self, config: TrainConfig | None = None) -> None:
        """Fresh weights and optimiser from ``config`` (default: the current one)."""
        if config is not None:
            config.validate()
            if any(getattr(config, f) != getattr(self.config, f)
                   for f in ("input_size", "loss_size", "device")):
                raise ValueError("input size, loss grid and device cannot change on reset; make "
                                 "a new Trainer")
            self.config = config
        self._start()
        if self.files is not None:
            self.files.truncate_after(0)

    def _start(self, write_config: bool = True) -> None:
        cfg = self.config
        self.train_cache.set_R(cfg.R)
        self.val_cache.set_R(cfg.R)
        self.train_set = SilhouetteViews(self.train_cache, cfg.views_per_object, True, cfg.jitter,
                                         shift=cfg.shift)
        self.net = build_model(cfg).to(self.device)
        self.model: torch.nn.Module = self.net
        if self.info.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        self.optimizer = build_optimizer(self.net, cfg)
        self.iteration = 0
        self.elapsed = 0.0
        self.best_cd = math.inf
        self.last_losses: dict[str, float] = {}
        self.last_val: dict[str, float] = {}
        self.last_step_time = 0.0
        self._validated_at, self._extended = -1, False
        self._loader_iter = None
        if self.files is not None:
            self.files.close()
            self.files.tensorboard = cfg.tensorboard
            if write_config:
                self.files.write_config(config_dict(cfg), self.run_info())

    def run_info(self) -> dict[str, Any]:
        return {**run_data(self.ds, self.config.val_objects),
                "image_size": list(self.train_cache.size), "input_kind": self.input_kind,
                "val_split": self.val_split, "world_size": self.info.world,
                "effective_batch": self.info.world * min(  # a process's batch: at most its share
                    self.config.batch_size, -(-len(self.train_cache) // self.info.world))}

    @property
    def done(self) -> bool:
        cfg = self.config
        return self.iteration >= cfg.iterations or (
            cfg.minutes > 0 and self.elapsed >= 60.0 * cfg.minutes and not self._extended)

    @property
    def length(self) -> int:
        return self.config.iterations

    @property
    def writes(self) -> bool:
        return self.info.main

    def progress(self, losses: dict[str, float]) -> dict[str, str]:
        """Loss, silhouette term and the last validation CD×100."""
        post = loss_progress(("total", "silhouette"), losses)
        if self.last_val.get("val_cd") is not None:
            post["val_cd"] = f"{self.last_val['val_cd']:.3f}"
        return post

    def set_params(self, **live: Any) -> set[str]:
        """Change live fields (β, σ, R, λ, lr, limits...) between steps. ``display=<id>``
        (not a config field) shows another object (:meth:`set_display`) and returns
        {"fields"}: its silhouettes replace the shown ones."""
        invalid: set[str] = set()
        if "display" in live:
            self.set_display(str(live.pop("display")))
            invalid.add(FIELDS)
        bad = [k for k in live if k not in LIVE_FIELDS]
        if bad:
            raise ValueError(f"not live parameters: {', '.join(bad)} (apply them with reset)")
        old_R = self.config.R
        self.config = self.config.replace(**live)
        if self.config.R != old_R:
            self.train_cache.set_R(self.config.R)
            self.val_cache.set_R(self.config.R)
            if self._display is not None:
                self._display[2].set_R(self.config.R)
            self._end_loader()  # workers hold the old δ: start them again
        return invalid

    def extend(self, iterations: int) -> None:
        """Allow ``iterations`` more steps; the learning rate stays at its final value."""
        self.config = self.config.replace(iterations=self.iteration + int(iterations))
        self._extended = True

    def current_lr(self) -> float:
        """Linear warm-up, then cosine decay from lr to lr·lr_final over the nearer limit."""
        cfg = self.config
        if self._extended:
            return cfg.lr * cfg.lr_final
        p = self.iteration / max(cfg.iterations, 1)
        if cfg.minutes > 0:
            p = max(p, self.elapsed / (60.0 * cfg.minutes))
        p = min(p, 1.0)
        warm = min(1.0, (self.iteration + 1) / cfg.warmup) if cfg.warmup else 1.0
        return cfg.lr * warm * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * p)))

    def sigma_px(self) -> float:
        """σ in pixels of the supervising silhouettes (config σ is per 64 px of image side)."""
        return self.config.sigma * max(self.train_cache.size) / 64.0

    # -- stepping ------------------------------------------------------------------------
    def _next_batch(self) -> dict[str, torch.Tensor]:
        if self._loader_iter is None:
            cfg = self.config
            plan = _Batches(self.train_set, cfg, self.info, self.iteration)
            loader = DataLoader(self.train_set, batch_sampler=plan, num_workers=cfg.workers,
                                collate_fn=collate, pin_memory=self.device.type == "cuda",
                                worker_init_fn=ignore_stop_signals if cfg.workers else None,
                                prefetch_factor=4 if cfg.workers else None)
            self._loader_iter = loader_workers.start(loader)
        try:
            batch = next_batch(self._loader_iter)
        except BaseException:  # a bad object found by a worker, Ctrl-C: end the workers now
            self._end_loader()
            raise
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _end_loader(self) -> None:
        """End the batch loader's worker processes (a new loader starts at the next step)."""
        it, self._loader_iter = self._loader_iter, None
        loader_workers.end(it)

    def losses_of(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Forward pass and the loss terms of one batch (scalars)."""
        return self.loss_terms(self.model(batch["input"]), batch)

    def loss_terms(self, pts: torch.Tensor, batch: dict[str, torch.Tensor]
                   ) -> dict[str, torch.Tensor]:
        """Loss terms (scalars) of predicted clouds ``pts`` (B, J, 3) for ``batch``."""
        cfg = self.config
        terms = batched_terms(pts, batch["K"], batch["R"], batch["t"], batch["sd"],
                              batch["mask"], batch["bias"], self.sigma_px(),
                              with_repulsion=cfg.beta > 0,
                              fg=batch["fg"] if cfg.cover_weight > 0 else None)
        sil, rep = terms["sil"].mean(), terms["rep"].mean()
        cover = terms["cover"].mean() if "cover" in terms else torch.zeros_like(sil)
        return {"total": cfg.sil_weight * sil + cfg.beta * rep + cfg.cover_weight * cover,
                "silhouette": sil, "repulsion": rep, "coverage": cover}

    def step(self) -> dict[str, float]:
        """One optimisation step; validates and checkpoints every ``val_every`` steps and when
        the run ends. Raises JobDiverged (no update made) on a non-finite loss."""
        t0 = time.perf_counter()
        lr = self.current_lr()
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self.model.train()
        batch = self._next_batch()
        terms = self.losses_of(batch)
        if not bool(torch.isfinite(terms["total"])):
            self._end_loader()
            raise JobDiverged(f"training diverged at step {self.iteration} (non-finite loss); "
                              "the weights are those before the step", self.iteration)
        self.optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.optimizer.step()
        self.iteration += 1
        vals = torch.stack([terms[k].detach() for k in self.loss_names]).cpu().tolist()
        self.last_losses = dict(zip(self.loss_names, vals))
        if self.files is not None:
            self.files.append({"step": self.iteration, **self.last_losses, "lr": lr,
                               "time": round(self.elapsed, 3)})
        if self.iteration % self.config.val_every == 0:
            self.validate_and_save()
        self.last_step_time = time.perf_counter() - t0
        self._add_time(self.last_step_time)
        if self.done:
            self.validate_and_save()
        return self.last_losses

    def agree_to_stop(self, stop: bool) -> bool:
        """Whether any process asks to stop before the next step (``stop``: this one does);
        under DDP every rank calls it before every step, so all stop at the same step."""
        return all_max(float(stop), self.info, self.device) > 0

    def _add_time(self, dt: float) -> None:
        """Add to the training clock; under DDP every rank takes the slowest's clock, so all
        agree on the learning rate and on when the minutes are up."""
        self.elapsed = all_max(self.elapsed + dt, self.info, self.device)

    # -- validation ----------------------------------------------------------------------
    @torch.no_grad()
    def predict_inputs(self, x: torch.Tensor, chunk: int = 32) -> np.ndarray:
        """(N, 3, S, S) inputs -> (N, J, 3) float32 predictions (evaluation mode)."""
        self.net.eval()
        out = [self.net(x[i:i + chunk].to(self.device)).cpu() for i in range(0, len(x), chunk)]
        return torch.cat(out).numpy().astype(np.float32)

    def evaluate(self) -> dict[str, float]:
        """Validation scores (core.train.scoring.score_predictions) of the predictions from
        input view 0 of every validation object."""
        c = self.val_cache
        x = torch.from_numpy(c.inputs[c.first[:-1]].astype(np.float32) / 255.0)
        self.last_val_pred = self.predict_inputs(x)
        return score_predictions(self.last_val_pred, c)

    def validate_and_save(self) -> dict[str, float]:
        """Rank 0: validate, log, plot, write latest.pt (and best.pt when the CD improved)."""
        if not self.info.main or self._validated_at == self.iteration:
            return self.last_val
        self._validated_at = self.iteration
        self.last_val = self.evaluate()
        if self.files is not None:
            self.files.append({"step": self.iteration, **self.last_val,
                               "val_split": self.val_split, "time": round(self.elapsed, 3)})
            cd = self.last_val.get("val_cd", math.nan)
            improved = not math.isfinite(self.best_cd) or cd < self.best_cd
            if math.isfinite(cd) and improved:
                self.best_cd = cd
            if improved or not math.isfinite(cd):  # best first: a kill between the two
                self.save(self.files.checkpoints / "best.pt")  # resumes before this step
            self.save(self.files.checkpoints / "latest.pt")
            self.files.replot()
            self.files.add_clouds(self.iteration, self.last_val_pred, last=self.done)
        return self.last_val

    # -- checkpoints ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "iteration": self.iteration, "elapsed": self.elapsed,
                "config": config_dict(self.config), "rng": rng_state(),
                "best_cd": self.best_cd, "extended": self._extended, "info": self.run_info()}

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (model, optimiser, step, config, RNG) atomically."""
        if self.files is not None:
            self.files.flush()
        return write_checkpoint(path, self.state())

    save_state = save

    def load_state(self, path: str | Path) -> None:
        """Continue from a checkpoint exactly (the next step's loss equals the uninterrupted
        run's). ValueError naming the file when its network shape differs or it was trained
        on other data (core.train.resume.resume_problem); nothing is written then."""
        ck = read_checkpoint(path, self.device)
        saved = config_dict(config_from_dict(ck["config"]))  # fields it predates: defaults
        for f in ARCH_FIELDS:
            if saved[f] != getattr(self.config, f):
                raise ValueError(f"{path}: checkpoint has {f}={saved[f]}, this "
                                 f"training {getattr(self.config, f)}")
        problem = resume_problem(path, ck.get("info") or {}, self.run_info())
        if problem:
            raise ValueError(problem)
        self.net.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.iteration, self.elapsed = int(ck["iteration"]), float(ck["elapsed"])
        self.best_cd = float(ck["best_cd"])
        self._extended = bool(ck.get("extended", False))
        set_rng_state(ck["rng"])
        self._end_loader()
        self._validated_at = self.iteration
        if self.files is not None:
            self.files.truncate_after(self.iteration)
            self.files.write_config(config_dict(self.config), self.run_info())

    # -- display -------------------------------------------------------------------------
    def set_display(self, obj_id: str) -> None:
        """Show the prediction for dataset object ``obj_id`` (default: the first val one)."""
        if obj_id not in self.ds.categories and not any(obj_id in v for v in self.ds.splits.values()):
            raise ValueError(f"{obj_id}: not an object of this dataset")
        self.display_id, self._display = obj_id, None

    def _display_data(self):
        if self._display is None or self._display[0] != self.display_id:
            sc = self.ds.scene(self.display_id)
            self._display = (self.display_id, sc, SilhouetteMaps(sc.masks, self.config.R, self.device))
        return self._display

    @property
    def display_scene(self):
        return self._display_data()[1]

    def field_images(self) -> np.ndarray:
        return self._display_data()[2].field_np.copy()

    def snapshot(self) -> Snapshot:
        """The current prediction for the display object from its view 0; ``losses`` holds
        the last step's losses and, once validated, ``val_cd`` (CD×100) and ``val_step``."""
        _, sc, maps = self._display_data()
        x = input_tensor(sc, 0, (self.config.input_size,) * 2)[None]
        pts = torch.from_numpy(self.predict_inputs(x)[0]).to(self.device)
        losses = dict(self.last_losses)
        if self.last_val.get("val_cd") is not None:  # the window plots validation points
            losses.update(val_cd=float(self.last_val["val_cd"]),
                          val_step=float(self._validated_at))
        sigma = self.config.sigma * max(sc.resolution) / 64.0  # its native maps, not the loss grid
        return make_snapshot(pts, sc, maps, sigma=sigma, iteration=self.iteration,
                             losses=losses, step_time=self.last_step_time,
                             lr=self.current_lr())
