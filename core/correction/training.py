"""Fitting the learned depth correction's models (core.correction.depth.DepthModel) on the
samples of core.correction.recipe: quantile (pinball) loss, AdamW with a one-cycle rate, a
sixth of the scenes held back for validation. Bit-exact for a seed (one torch thread)."""

from __future__ import annotations

import numpy as np

__all__ = ["pinball", "fit_depth_model", "train"]


def pinball(pred, y, quantiles):
    """Mean quantile (pinball) loss of pred (N, Q) against y (N,) for ``quantiles`` (Q)."""
    import torch

    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = y[:, None] - pred
    return torch.maximum(q * e, (q - 1) * e).mean()


def fit_depth_model(model, X: np.ndarray, y: np.ndarray, ids: np.ndarray, epochs: int, seed: int,
                    batch: int, loss):
    """Train ``model`` (a DepthModel with its input scaling set) on features X (N, F) and
    depths y (N,) clipped to [-1, 40] px: a sixth of the scenes (``ids`` (N,), drawn from
    ``seed``) held out for validation, AdamW with a one-cycle rate, ``loss(pred (B, Q), y (B,))``;
    prints the validation L1 of output 0 per epoch. Returns the model in eval mode."""
    import torch

    Xt_all = torch.tensor(X)
    yt_all = torch.tensor(np.clip(y, -1, 40), dtype=torch.float32)
    scenes = np.unique(ids)
    held = np.random.default_rng(seed).choice(scenes, max(len(scenes) // 6, 1), replace=False)
    va = torch.tensor(np.isin(ids, held))
    if bool(va.all()):
        va[:] = False
    Xt, yt, Xv, yv = Xt_all[~va], yt_all[~va], Xt_all[va], yt_all[va]
    opt = torch.optim.AdamW(model.parameters(), 3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, 3e-3, total_steps=epochs * (len(Xt) // batch + 1))
    for ep in range(epochs):
        perm = torch.randperm(len(Xt))
        for b in range(0, len(Xt), batch):
            i = perm[b:b + batch]
            step_loss = loss(model(Xt[i]), yt[i])
            opt.zero_grad()
            step_loss.backward()
            opt.step()
            sched.step()
        if len(Xv):
            with torch.no_grad():
                l1 = (model(Xv)[:, 0] - yv).abs().mean().item()
            base = (yv - yv.median()).abs().mean().item()
            print(f"epoch {ep + 1}/{epochs}: validation L1 {l1:.3f} px "
                  f"(constant median {base:.3f} px)", flush=True)
    return model.eval()


def train(X: np.ndarray, y: np.ndarray, ids: np.ndarray, epochs: int, seed: int,
          batch: int = 4096, hidden: int = 64, caution: float = 0.0):
    """Fit a DepthModel with one output per QUANTILES (initialisation, batches and the
    held-out scenes drawn from ``seed``; one torch thread, so the result is bit-exact);
    prints the validation L1 of the median per epoch. Returns the model."""
    import torch

    from core.correction.depth import QUANTILES, DepthModel

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    model = DepthModel(hidden, outputs=len(QUANTILES))
    model.caution.fill_(caution)
    model.mu.copy_(torch.tensor(X.mean(0)))
    model.sd.copy_(torch.tensor(X.std(0) + 1e-6))
    model.lo.copy_(torch.tensor(np.percentile(X, 0.1, axis=0)))
    model.hi.copy_(torch.tensor(np.percentile(X, 99.9, axis=0)))
    return fit_depth_model(model, X, y, ids, epochs, seed, batch,
                           lambda pred, target: pinball(pred, target, QUANTILES))
