"""Fit the cascade's screen (:class:`~.model.ScreenNet`) to the detector's own answers (needs torch).

The screen learns where the *detector* fires, not where the labels are: the
cascade should give what the detector alone gives, only faster. The target of
each 4 m cell is the detector's highest peak in it (a soft label, so the
screen learns the detector's ranking too); cells with a peak of at least
``fire`` (below the detector's operating threshold) weigh ``pos_weight`` times
more. The threshold shipped
in the file is the one that keeps ``keep`` of the detector's detections on
held-apart chips (a detection is kept when the cell of its centre or a
neighbour fires, as :class:`~.screen.Screen` plans it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from borderwatch.onnxrt import export_torch
from .screen import CELL, FORMAT, nchw_float, screen_input
from .train import Sample, budget_fraction, cosine_lr, make_chip

__all__ = ["choose_threshold", "draw_chips", "export_screen", "fit_screen", "screen_targets"]


def draw_chips(samples: Sequence[Sample], n: int, size: int, rng: np.random.Generator,
               p: np.ndarray | None = None, zero_border: float = 0.3) -> tuple[np.ndarray, list[Sample]]:
    """``n`` augmented chips (as the detector was trained: rotation, scale, colour, black image edges)."""
    chips, smp = [], []
    for _ in range(n):
        s = samples[rng.choice(len(samples), p=p) if p is not None else rng.integers(len(samples))]
        img, cs = make_chip(s, size, rng, zero_border=zero_border)
        chips.append(img)
        smp.append(cs)
    return np.stack(chips), smp


def screen_targets(peaks: np.ndarray) -> np.ndarray:
    """(N, H/CELL, W/CELL) float32: the detector's highest peak (any class) in each cell."""
    heat = peaks.max(axis=1)  # (N, H/2, W/2) at the detector's stride 2
    k = CELL // 2
    n, h2, w2 = heat.shape
    return heat.reshape(n, h2 // k, k, w2 // k, k).max(axis=(2, 4)).astype(np.float32)


def fit_screen(samples: Sequence[Sample], teacher, *, weights: Sequence[float] | None = None, minutes: float = 10.0,
               max_steps: int | None = None, batch: int = 32, chip: int = 192, lr: float = 3e-3, fire: float = 0.2,
               pos_weight: float = 8.0, width: int = 16, seed: int = 0, threads: int = 2,
               log: Callable[[str], None] = print):
    """Train a :class:`~.model.ScreenNet` on fresh chips each step, the ``teacher`` detector labelling them."""
    import torch

    from .model import ScreenNet

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    net = ScreenNet(width=width)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    t0, step = time.time(), 0
    net.train()
    while (frac := budget_fraction(t0, minutes, step, max_steps)) < 1.0:
        for g in opt.param_groups:
            g["lr"] = cosine_lr(lr, frac, step, warmup=50)
        chips, _ = draw_chips(samples, batch, chip, rng, p)
        target = torch.from_numpy(screen_targets(teacher.heat(chips)[0]))
        weight = 1.0 + (pos_weight - 1.0) * (target >= fire).float()
        x = torch.from_numpy(nchw_float(screen_input(chips)))
        logits = net(x)[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log(f"step {step} t={time.time() - t0:.0f}s loss={loss.item():.4f} "
                f"fired={(target >= fire).float().mean().item():.4f}")
    net.eval()
    net.train_info = {"steps": step, "seconds": round(time.time() - t0), "batch": batch, "chip": chip,
                      "fire": fire, "pos_weight": pos_weight, "width": width}
    return net


def _probabilities(net, chips: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        x = torch.from_numpy(nchw_float(screen_input(chips)))
        return torch.sigmoid(net(x)[:, 0]).numpy()


def choose_threshold(net, teacher, chips: np.ndarray, *, keep: float = 0.998, cap: float = 0.5) -> tuple[float, dict]:
    """The threshold keeping ``keep`` of the teacher's detections on ``chips`` (at most ``cap``).

    A detection is kept when the highest probability over its centre cell and
    the 8 around it reaches the threshold (the screen's dilation).
    """
    best = []
    fired_share = []
    for k in range(0, len(chips), 32):
        part = chips[k:k + 32]
        prob = ndimage.maximum_filter(_probabilities(net, part), size=(1, 3, 3))
        for i, dets in enumerate(teacher.predict_chips(part)):
            for d in dets:
                r = min(int(d.box.cy // CELL), prob.shape[1] - 1)
                c = min(int(d.box.cx // CELL), prob.shape[2] - 1)
                best.append(prob[i, max(r, 0), max(c, 0)])
        fired_share.append(prob)
    best_a = np.array(best)
    thr = float(min(cap, np.quantile(best_a, 1.0 - keep))) if len(best_a) else cap
    allp = np.concatenate([f.ravel() for f in fired_share])
    stats = {"detections": int(len(best_a)), "kept": float(np.mean(best_a >= thr)) if len(best_a) else 1.0,
             "cells_fired": float(np.mean(allp >= thr)), "threshold": thr}
    return thr, stats


def export_screen(net, path: str | Path, *, version: str, threshold: float, detector_version: str,
                  extra: dict | None = None, opset: int = 17) -> Path:
    """Write the screen to one ONNX file with ``borderwatch.*`` metadata (format, version, threshold)."""
    import torch

    return export_torch(net, torch.zeros(1, 3, 64, 64), path, input_names=["image"], output_names=["logits"],
                        dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "gh", 3: "gw"}},
                        meta={"borderwatch.format": FORMAT, "borderwatch.version": version,
                              "borderwatch.threshold": repr(threshold), "borderwatch.cell": str(CELL),
                              "borderwatch.detector_version": detector_version}, extra=extra, opset=opset)
