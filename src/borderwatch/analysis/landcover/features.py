"""Per-pixel features on a coarse grid (about 2 m), so the cost per input pixel stays tiny.

Colour (block means, chromatic differences, saturation) plus local texture (std) and
context (means over wider windows) let a small MLP separate the classes; everything
is computed on the coarse grid, and labels are upsampled afterwards.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage

#: coarse cell edge the features are computed at, in metres
FEATURE_SCALE_M = 2.0

RGB_FEATURES = (
    "R", "G", "B", "L", "G-R", "B-R", "B-G", "sat",
    "std3", "std7", "mean7_L", "mean7_G-R", "mean7_B-R", "mean15_L", "L-mean15", "std15",
    "grad3", "grad7", "std31", "mean31_G-R", "min7_grad3",
)
NIR_FEATURES = ("N", "ndwi", "ndvi", "mean7_ndwi")


def factor_for(gsd_m: float) -> int:
    """Integer block size that brings gsd_m close to FEATURE_SCALE_M (1 when already coarser)."""
    return max(1, math.ceil(FEATURE_SCALE_M / float(gsd_m) - 0.25))


def coarse_shape(h: int, w: int, f: int) -> tuple[int, int]:
    return math.ceil(h / f), math.ceil(w / f)


def block_mean(band: np.ndarray, f: int) -> np.ndarray:
    """float32 mean over f x f blocks (edge blocks padded by replication)."""
    h, w = band.shape
    if f == 1:
        return band.astype(np.float32)
    ch, cw = coarse_shape(h, w, f)
    if ch * f != h or cw * f != w:
        band = cv2.copyMakeBorder(band, 0, ch * f - h, 0, cw * f - w, cv2.BORDER_REPLICATE)
    return cv2.resize(band, (cw, ch), interpolation=cv2.INTER_AREA).astype(np.float32)


def _box(a: np.ndarray, k: int) -> np.ndarray:
    return cv2.blur(a, (k, k), borderType=cv2.BORDER_REFLECT)


def _std(a: np.ndarray, k: int) -> np.ndarray:
    m = _box(a, k)
    return np.sqrt(np.maximum(_box(a * a, k) - m * m, 0.0))


def coarse_bands(img: np.ndarray, f: int, nir: bool) -> list[np.ndarray]:
    """Block means of R, G, B (and NIR), scaled to 0..1."""
    return [block_mean(img[i], f) * np.float32(1 / 255) for i in range(4 if nir else 3)]


def fill_invalid(bands: list[np.ndarray], valid: np.ndarray, f: int) -> list[np.ndarray]:
    """Give coarse cells that touch nodata the values of the nearest fully valid cell, so a
    black (or any) fill outside the footprint does not read as dark, smooth water at the edge."""
    full = block_mean(valid.astype(np.uint8) * np.uint8(255), f) > 254.5
    if full.all() or not full.any():
        return bands
    _, (iy, ix) = ndimage.distance_transform_edt(~full, return_indices=True)
    return [b[iy, ix] for b in bands]


def coarse_features(img: np.ndarray, f: int, nir: bool, valid: np.ndarray | None = None) -> np.ndarray:
    """(h, w, n_features) float32 (C order, features last) on the coarse grid from a (bands, H, W) uint8 image."""
    bands = coarse_bands(img, f, nir)
    if valid is not None and not valid.all():
        bands = fill_invalid(bands, valid, f)
    R, G, B = bands[:3]
    L = (R + G + B) * np.float32(1 / 3)
    gr, br, bg = G - R, B - R, B - G
    mx = np.maximum(np.maximum(R, G), B)
    mn = np.minimum(np.minimum(R, G), B)
    sat = (mx - mn) / (mx + np.float32(0.02))
    m15 = _box(L, 15)
    gx = cv2.Sobel(L, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(L, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    grad3 = _box(np.abs(gx) + np.abs(gy), 3)
    feats = [R, G, B, L, gr, br, bg, sat, _std(L, 3), _std(L, 7), _box(L, 7), _box(gr, 7), _box(br, 7), m15, L - m15,
             _std(L, 15), grad3, _box(grad3, 7), _std(L, 31), _box(gr, 31), cv2.erode(grad3, np.ones((7, 7), np.uint8))]
    if nir:
        N = bands[3]
        ndwi = (G - N) / (G + N + np.float32(0.01))
        ndvi = (N - R) / (N + R + np.float32(0.01))
        feats += [N, ndwi, ndvi, _box(ndwi, 7)]
    return cv2.merge(feats)  # (h, w, F); 10x faster than np.stack(axis=-1)
