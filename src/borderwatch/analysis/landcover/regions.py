"""Segments of coarse RGB imagery (3-10 m, e.g. NAIP at 5 m) and the segment-level water heads.

Since lc-mlp-cnn-3, classify_landcover takes the water of this path from the conv net (cnn.py) and uses
`segment` here only to smooth the net's probability; the segment heads below (`water_regions` in
params.json, fit-regions) are no longer called by it and stay for comparison (scripts/fit_landcover.py).

At 5 m, algae-green lakes and dark crops share their RGB; what differs is the region: a lake is one
smooth segment with a bright shore ring, a field has row texture and straight edges. So the tile is
cut into homogeneous segments (Felzenszwalb graph segmentation) and a small MLP head (`water_regions`
in params.json, fitted on some NAIP dates and scored on the others: see scripts/fit_landcover.py) classifies
each segment from its mean colour normalised to the tile's median / MAD (no raw colour: it drifts from
date to date), texture, edge and shore-ring contrast relative to the tile, and size. Three heads fitted
with different seeds are averaged (single heads swung by +-0.1 IoU on held-out dates).
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb

#: GSD range (metres) of the coarse RGB path (conv net + segments; both fitted on 5 m NAIP)
REGION_GSD_M = (3.0, 10.0)
#: Felzenszwalb parameters (scale 100 gave the best held-out-date IoU of 50/100/200/500 on NAIP)
SEG_SCALE, SEG_SIGMA, SEG_MIN_PX = 100, 0.8, 20

REGION_FEATURES = (
    "nR", "nG", "nB", "nL", "nG-R", "nB-G", "nB-R",  # segment means of the tile-normalised colour
    "log_tex", "log_grad", "ring", "log_px", "edge", "spread",  # texture / shape relative to the tile
)


def uses_regions(gsd_m: float) -> bool:
    return REGION_GSD_M[0] <= gsd_m <= REGION_GSD_M[1]


def _box(a: np.ndarray, k: int) -> np.ndarray:
    return cv2.blur(a, (k, k), borderType=cv2.BORDER_REFLECT)


def _robust(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(x - median) / MAD over the tile's valid pixels: a per-tile radiometric normalisation."""
    v = x[valid]
    med = np.median(v)
    return (x - med) / (np.median(np.abs(v - med)) + np.float32(1e-3))


def segment(rgb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) int labels 0..n-1 of homogeneous segments; invalid pixels form no segment of their own
    (they keep a label but carry no weight in region_features)."""
    img = np.ascontiguousarray(rgb[:3].transpose(1, 2, 0))
    if not valid.all():
        img = img.copy()
        img[~valid] = 0
    return felzenszwalb(img, scale=SEG_SCALE, sigma=SEG_SIGMA, min_size=SEG_MIN_PX)


def region_features(rgb: np.ndarray, valid: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_segments, len(REGION_FEATURES)) float32 features and the valid-pixel count per segment."""
    R, G, B = (rgb[i].astype(np.float32) * np.float32(1 / 255) for i in range(3))
    L = (R + G + B) * np.float32(1 / 3)
    n = int(labels.max()) + 1
    s = labels[valid].ravel()
    cnt = np.bincount(s, minlength=n).astype(np.float64)
    safe = np.maximum(cnt, 1.0)

    def mean(x: np.ndarray) -> np.ndarray:
        return np.bincount(s, x[valid].ravel(), n) / safe

    def tile_median(x: np.ndarray) -> float:
        return float(np.median(x[valid])) + 1e-6

    m = _box(L, 3)
    tex = np.sqrt(np.maximum(_box(L * L, 3) - m * m, 0.0))
    grad = np.abs(cv2.Sobel(L, cv2.CV_32F, 1, 0, borderType=cv2.BORDER_REFLECT)) + np.abs(
        cv2.Sobel(L, cv2.CV_32F, 0, 1, borderType=cv2.BORDER_REFLECT))
    ring = cv2.dilate(L, np.ones((9, 9), np.uint8)) - L  # a bright shore within 20 m
    edge = ((labels != np.roll(labels, 1, 0)) | (labels != np.roll(labels, 1, 1))).astype(np.float32)
    t_tex = tile_median(tex)
    mL = mean(L)
    cols = [mean(_robust(x, valid)) for x in (R, G, B, L, G - R, B - G, B - R)]
    cols += [
        np.log(mean(tex) / t_tex + 1e-3),
        np.log(mean(grad) / tile_median(grad) + 1e-3),
        mean(ring) / tile_median(ring),
        np.log(safe),
        mean(edge) * np.sqrt(safe),  # boundary share x sqrt(area): ~ perimeter / sqrt(area)
        np.sqrt(np.maximum(mean(L * L) - mL * mL, 0.0)) / t_tex,
    ]
    return np.stack(cols, axis=1).astype(np.float32), cnt


def region_water_proba(rgb: np.ndarray, valid: np.ndarray, heads) -> np.ndarray:
    """(H, W) float32 p(water) per pixel: the heads' mean probability for the pixel's segment (0 outside valid)."""
    labels = segment(rgb, valid)
    x, cnt = region_features(rgb, valid, labels)
    p = np.mean([h.proba(x)[:, list(h.classes).index(1)] for h in heads], axis=0).astype(np.float32)
    p[cnt == 0] = 0.0
    out = p[labels]
    out[~valid] = 0.0
    return out
