"""Which end is the front: a second look at each detected vehicle.

The detector reads the front from 1 m cells; on a 9 x 4 px car it swaps front
and rear about a third of the time, and the import/export share of a site is
built from those fronts. This check samples the vehicle along its own axis
(a fixed number of points per vehicle length, so the same weights serve every
GSD) and compares the half ahead of the centre with the half behind it: a car's
windscreen and bonnet against its roof and boot, a truck's cab against its box.

A small network per class (one hidden layer of 16, odd in the features so it
cannot prefer an end for any reason but what the ends look like) turns that
difference, plus the detector's own heading confidence, into the probability
that the detector's front is right.
A detection below 0.5 is turned round, and ``heading_conf`` becomes the
probability that the front it now has is right (0.5 = a guess, 1 = sure).
The weights are fitted by ``scripts/train_front.py`` on held-apart synthetic
worlds; they are about 100 kB of numpy, shipped beside the detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from borderwatch.errors import InputError

from .geometry import OrientedBox

__all__ = ["FrontExamples", "FrontModel", "FrontNet", "collect_front_examples", "default_front_path", "fit_front_model",
           "front_features", "vehicle_patch"]

DEFAULT_FRONT_MODEL = "front-check.npz"
#: samples along (rear to front) and across (left to right) each vehicle
SAMPLES_ALONG, SAMPLES_ACROSS = 24, 12
#: half the sampled extent, in vehicle lengths and widths (a margin of ground around the body)
EXTENT_ALONG, EXTENT_ACROSS = 0.75, 0.8


def default_front_path() -> Path:
    return Path(str(resources.files("borderwatch.analysis.detect") / "weights" / DEFAULT_FRONT_MODEL))


def vehicle_patch(image: np.ndarray, box: OrientedBox) -> np.ndarray:
    """(SAMPLES_ACROSS, SAMPLES_ALONG, 3) float32 samples of ``image`` in the box's own frame.

    Columns run from behind the rear to ahead of the front (the box's heading),
    rows from the vehicle's left to its right. Pixel centres are at i + 0.5, as
    in the labels.
    """
    h = np.radians(box.angle_deg)
    fa = np.array([np.sin(h), -np.cos(h)])  # the front, in pixels (y down)
    fb = np.array([np.cos(h), np.sin(h)])  # the vehicle's right
    sa = 2 * EXTENT_ALONG * box.length / SAMPLES_ALONG
    sb = 2 * EXTENT_ACROSS * box.width / SAMPLES_ACROSS
    # only the pixels around the vehicle, as float: the same samples as from the whole image
    # (bilinear needs one more pixel; a cut at the image edge reflects there either way)
    r = np.hypot(EXTENT_ALONG * box.length, EXTENT_ACROSS * box.width) + 2.0
    x0, y0 = max(int(np.floor(box.cx - r)), 0), max(int(np.floor(box.cy - r)), 0)
    x1, y1 = min(int(np.ceil(box.cx + r)) + 1, image.shape[1]), min(int(np.ceil(box.cy + r)) + 1, image.shape[0])
    if x1 <= x0 or y1 <= y0:  # centred off the image: nothing to see
        return np.zeros((SAMPLES_ACROSS, SAMPLES_ALONG, 3), np.float32)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1], dtype=np.float32)
    m = np.empty((2, 3))
    m[:, 0], m[:, 1] = sa * fa, sb * fb
    m[:, 2] = (np.array([box.cx - x0, box.cy - y0]) - 0.5 - m[:, 0] * (SAMPLES_ALONG - 1) / 2
               - m[:, 1] * (SAMPLES_ACROSS - 1) / 2)
    return cv2.warpAffine(crop, m, (SAMPLES_ALONG, SAMPLES_ACROSS), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def front_features(patches: np.ndarray) -> np.ndarray:
    """(N, F) front-minus-rear differences of contrast-normalised patches (N, across, along, 3).

    Each patch is normalised by its own mean and spread per band (plus grey),
    made symmetric left/right (the sun and the driver's side are not the
    front), and the rear half, mirrored, is subtracted from the front half.
    """
    p = np.asarray(patches, np.float32)
    z = np.concatenate([p, p.mean(axis=3, keepdims=True)], axis=3)
    z = (z - z.mean(axis=(1, 2), keepdims=True)) / (z.std(axis=(1, 2), keepdims=True) + 4.0)
    z = 0.5 * (z + z[:, ::-1])
    d = z - z[:, :, ::-1]
    return d[:, :, SAMPLES_ALONG // 2:].reshape(len(p), -1)


@dataclass(frozen=True)
class FrontNet:
    """One class's check: z = v . tanh(U d) + a * heading_conf + b, with d the front-minus-rear features.

    tanh is odd and the hidden layer has no bias, so the feature part changes
    sign when the vehicle is turned round: the check cannot prefer an end for
    any reason but what the two ends look like.
    """

    hidden: np.ndarray  # U, (H, F)
    out: np.ndarray  # v, (H,)
    conf_weight: float  # a
    bias: float  # b: how often the detector's own front is right

    def logit(self, features: np.ndarray, heading_conf: np.ndarray) -> np.ndarray:
        return np.tanh(features @ self.hidden.T) @ self.out + self.conf_weight * heading_conf + self.bias


def _n_features() -> int:
    return front_features(np.zeros((1, SAMPLES_ACROSS, SAMPLES_ALONG, 3), np.float32)).shape[1]


@dataclass(frozen=True)
class FrontModel:
    """Per-class :class:`FrontNet` checks, as shipped in ``weights/front-check.npz``."""

    version: str
    nets: dict[str, FrontNet]

    @classmethod
    def load(cls, path: str | Path) -> FrontModel:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                version = str(z["version"])
                names = sorted(str(k)[2:] for k in z.files if str(k).startswith("U_"))
                nets = {c: FrontNet(np.asarray(z[f"U_{c}"], np.float64), np.asarray(z[f"v_{c}"], np.float64),
                                    float(z[f"ab_{c}"][0]), float(z[f"ab_{c}"][1])) for c in names}
        except (OSError, ValueError, KeyError, IndexError) as e:
            raise InputError(path, f"not a front-check model: {e}") from None
        n = _n_features()
        bad = [c for c, net in nets.items()
               if net.hidden.ndim != 2 or net.hidden.shape[1] != n or net.out.shape != (net.hidden.shape[0],)]
        if not nets or bad:
            raise InputError(path, f"front-check weights must be (H, {n}) and (H,) per class; wrong for {bad or 'all'}")
        return cls(version, nets)

    @classmethod
    def load_default(cls) -> FrontModel:
        return cls.load(default_front_path())

    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {"version": np.array(self.version)}
        for c, net in self.nets.items():
            arrays[f"U_{c}"] = net.hidden.astype(np.float32)
            arrays[f"v_{c}"] = net.out.astype(np.float32)
            arrays[f"ab_{c}"] = np.array([net.conf_weight, net.bias], np.float32)
        np.savez_compressed(Path(path), **arrays)

    def probability(self, patches: np.ndarray, heading_conf: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """P(the detector's front is right) per vehicle; NaN for a class without a check."""
        out = np.full(len(classes), np.nan)
        if not len(classes):
            return out
        f = front_features(patches).astype(np.float64)
        hc = np.asarray(heading_conf, np.float64)
        cls_arr = np.asarray(classes)
        for c, net in self.nets.items():
            k = cls_arr == c
            if k.any():
                out[k] = 1.0 / (1.0 + np.exp(-net.logit(f[k], hc[k])))
        return out

    def check(self, image: np.ndarray, dets: list) -> list:
        """``dets`` (with ``box``, ``cls``, ``heading_conf``) with fronts checked on ``image``.

        Boxes must be in ``image``'s pixels. A vehicle whose front is more likely
        behind it is turned round; ``heading_conf`` becomes the probability that
        the front is right. Classes without a check pass unchanged.
        """
        if not dets:
            return dets
        patches = np.stack([vehicle_patch(image, d.box) for d in dets])
        p = self.probability(patches, np.array([d.heading_conf for d in dets]), [d.cls for d in dets])
        out = []
        for d, pk in zip(dets, p):
            if np.isnan(pk):
                out.append(d)
                continue
            box = d.box
            if pk < 0.5:
                box = replace(box, angle_deg=(box.angle_deg + 180.0) % 360.0)
            out.append(replace(d, box=box, heading_conf=round(float(max(pk, 1.0 - pk)), 4)))
        return out


def _fit_net(f: np.ndarray, hc: np.ndarray, sign: np.ndarray, hidden: int, l2: float, seed: int) -> FrontNet:
    """L-BFGS (SciPy) on the logistic loss with an L2 penalty on U and v."""
    from scipy.optimize import minimize

    n_f = f.shape[1]
    n_u = hidden * n_f

    def loss(t):
        u, v, a, b = t[:n_u].reshape(hidden, n_f), t[n_u:n_u + hidden], t[-2], t[-1]
        act = np.tanh(f @ u.T)
        m = sign * (act @ v + a * hc + b)
        gz = -sign / (1.0 + np.exp(m))
        g_act = np.outer(gz, v) * (1.0 - act ** 2)
        value = np.logaddexp(0.0, -m).sum() + 0.5 * l2 * ((u ** 2).sum() + (v ** 2).sum())
        grad = np.concatenate([(g_act.T @ f + l2 * u).ravel(), act.T @ gz + l2 * v, [gz @ hc, gz.sum()]])
        return value, grad

    rng = np.random.default_rng(seed)
    t0 = np.concatenate([rng.normal(0.0, 0.05, n_u), rng.normal(0.0, 0.1, hidden), [0.0, 0.0]])
    t = minimize(loss, t0, jac=True, method="L-BFGS-B", options={"maxiter": 1500}).x
    return FrontNet(t[:n_u].reshape(hidden, n_f), t[n_u:n_u + hidden], float(t[-2]), float(t[-1]))


def fit_front_model(
    patches: np.ndarray,
    heading_conf: np.ndarray,
    classes: Sequence[str],
    front_right: np.ndarray,
    *,
    version: str,
    hidden: int = 16,
    l2: float = 10.0,
    seed: int = 0,
    max_per_class: int = 8000,
) -> FrontModel:
    """Fit one :class:`FrontNet` per class.

    ``front_right``: whether the detector's front was right for each vehicle
    (from labels with a known front). A class with more than ``max_per_class``
    examples (trucks: several times the cars) is fitted on a random subset.
    """
    f = front_features(patches).astype(np.float64)
    hc = np.asarray(heading_conf, np.float64)
    sign = np.where(np.asarray(front_right, bool), 1.0, -1.0)
    cls_arr = np.asarray(classes)
    rng = np.random.default_rng(seed)
    nets = {}
    for c in sorted(set(cls_arr.tolist())):
        k = np.nonzero(cls_arr == c)[0]
        if len(k) > max_per_class:
            k = np.sort(rng.choice(k, max_per_class, replace=False))
        nets[c] = _fit_net(f[k], hc[k], sign[k], hidden, l2, seed)
    return FrontModel(version, nets)


@dataclass
class FrontExamples:
    """Detected vehicles matched to labels with a known front, for fitting and scoring the check."""

    patches: np.ndarray  # (N, across, along, 3) float32, sampled at the detected pose
    heading_conf: np.ndarray  # (N,) the detector's own confidence
    classes: np.ndarray  # (N,) detected class
    error_deg: np.ndarray  # (N,) detected heading minus labelled heading, 0-180
    gsd_m: np.ndarray  # (N,)

    @property
    def front_right(self) -> np.ndarray:
        return self.error_deg < 90.0

    @classmethod
    def concat(cls, parts: Sequence[FrontExamples]) -> FrontExamples:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("patches", "heading_conf", "classes", "error_deg", "gsd_m")))


def collect_front_examples(detector, images, *, read=None) -> FrontExamples:
    """Run ``detector`` on labelled images and pair each detection with the nearest labelled vehicle.

    A detection pairs with a label whose centre is within a third of the
    vehicle's width (at least one pixel) and which no higher-scoring detection
    took. Only labels with a known front count. The detector must have no
    front check of its own (``Detector(front=None)``): the examples describe
    the network's heading.
    """
    from .geometry import angle_diff
    from .runtime import _read_image

    if getattr(detector, "front", None) is not None:
        raise ValueError("collect_front_examples needs a detector without a front check (front=None)")
    read = read or (lambda im: _read_image(im.path)[:, :, :3])
    patches, conf, classes, err, gsd = [], [], [], [], []
    for im in images:
        labs = [lab for lab in im.labels if lab.has_front]
        if not labs:
            continue
        rgb = read(im)
        dets = detector.detect_array(rgb, im.gsd_m)
        # sample where the detector looks: the image at the model's GSD, as its chips are
        f = im.gsd_m / detector.gsd_m
        img = rgb.astype(np.float32)
        if abs(f - 1.0) > 1e-9:
            img = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)),
                             interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        centres = np.array([[lab.box.cx, lab.box.cy] for lab in labs])
        taken: set[int] = set()
        for d in sorted(dets, key=lambda d: -d.score):
            dist = np.hypot(centres[:, 0] - d.box.cx, centres[:, 1] - d.box.cy)
            j = int(dist.argmin())
            if j in taken or dist[j] > max(1.0, labs[j].box.width / 3.0):
                continue
            taken.add(j)
            b = d.box
            patches.append(vehicle_patch(img, replace(b, cx=b.cx * f, cy=b.cy * f, length=b.length * f, width=b.width * f)))
            conf.append(d.heading_conf)
            classes.append(d.cls)
            err.append(angle_diff(d.box.angle_deg, labs[j].box.angle_deg))
            gsd.append(im.gsd_m)
    return FrontExamples(np.array(patches, np.float32).reshape(-1, SAMPLES_ACROSS, SAMPLES_ALONG, 3),
                         np.array(conf, float), np.array(classes, str), np.array(err, float), np.array(gsd, float))
