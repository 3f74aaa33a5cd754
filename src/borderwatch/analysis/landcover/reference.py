"""A water reference from NIR imagery, to score the RGB-only path on real pixels.

water = NDWI > Otsu(NDWI) and NIR < Otsu(NIR), over valid pixels, then a 1-px opening
and closing and removal of specks under `min_px`. NDWI = (G - NIR) / (G + NIR) (McFeeters).
The NIR-dark test is there because on some NAIP dates (2010, 2012 of the lakes series)
bare grey fields reach NDWI above the per-scene Otsu threshold; open water stays NIR-dark.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from borderwatch.errors import InputError


def ndwi_water_reference(rgbn: np.ndarray, valid: np.ndarray | None = None, min_px: int = 8) -> np.ndarray:
    """(H, W) bool water reference from a (4, H, W) uint8 R, G, B, NIR image."""
    if not isinstance(rgbn, np.ndarray) or rgbn.ndim != 3 or rgbn.shape[0] != 4 or rgbn.dtype != np.uint8:
        raise InputError("image", f"expected a (4, H, W) uint8 R,G,B,NIR array, got {getattr(rgbn, 'shape', None)}")
    if valid is None:
        valid = (rgbn > 0).any(axis=0)
    g = rgbn[1].astype(np.float32)
    n = rgbn[3].astype(np.float32)
    ndwi = (g - n) / (g + n + 1e-6)
    if valid.sum() < 16:
        return np.zeros(valid.shape, bool)
    water = (ndwi > threshold_otsu(ndwi[valid])) & (n < threshold_otsu(n[valid])) & valid
    water = np.pad(water, 2, mode="edge")  # so the scene edge does not erode lakes that cross it
    water = ndimage.binary_closing(ndimage.binary_opening(water), iterations=1)[2:-2, 2:-2] & valid
    lab, k = ndimage.label(water)
    if k:
        sizes = np.bincount(lab.ravel())
        water &= sizes[lab] >= min_px
    return water


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    u = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b)) / u if u else 1.0


def iou_beyond_shore(pred: np.ndarray, ref: np.ndarray, band_px: int = 1) -> float:
    """IoU leaving out pixels within ``band_px`` of the reference's shore (its mixed pixels).

    At 5 m a shore pixel is part water, part land; NDWI and RGB can disagree there
    without either being wrong. A secondary figure beside :func:`iou`, never instead of it:
    it says how much of the gap to a target lies on the shoreline itself.
    """
    k = np.ones((2 * band_px + 1, 2 * band_px + 1), bool)
    r = np.asarray(ref, bool)
    band = ndimage.binary_dilation(r, k) & ~ndimage.binary_erosion(r, k, border_value=1)
    keep = ~band
    return iou(np.asarray(pred, bool) & keep, r & keep)
