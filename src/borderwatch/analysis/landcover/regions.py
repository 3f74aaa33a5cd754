"""Segments of coarse RGB imagery (3-10 m, e.g. NAIP at 5 m): the GSD range of that path and its segmentation.

classify_landcover takes the water of this path from the conv net (cnn.py) and smooths the net's probability
over these segments (Felzenszwalb graph segmentation), which snaps the answer to the colour edges of a shore.
Until lc-mlp-2 a segment-level MLP head decided the water here; the conv net replaced it (held-out NAIP
IoU 0.58-0.78 -> 0.83-0.88; 0.80-0.88 for the three-net ensemble of lc-mlp-cnn-4, 0.82-0.89 with the shore
refinement of lc-mlp-cnn-5, 0.83-0.90 with the wider nets of lc-mlp-cnn-6, see docs/landcover-fitting.md) and the
heads were retired.
"""

from __future__ import annotations

import numpy as np
from skimage.segmentation import felzenszwalb

#: GSD range (metres) of the coarse RGB path (conv net + segments; both fitted on 5 m NAIP)
REGION_GSD_M = (3.0, 10.0)
#: Felzenszwalb parameters (scale 100 gave the best held-out-date IoU of 50/100/200/500 on NAIP)
SEG_SCALE, SEG_SIGMA, SEG_MIN_PX = 100, 0.8, 20


def uses_regions(gsd_m: float) -> bool:
    return REGION_GSD_M[0] <= gsd_m <= REGION_GSD_M[1]


def segment(rgb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) int labels 0..n-1 of homogeneous segments; invalid pixels form no segment of their own
    (they keep a label; callers weigh valid pixels only)."""
    img = np.ascontiguousarray(rgb[:3].transpose(1, 2, 0))
    if not valid.all():
        img = img.copy()
        img[~valid] = 0
    return felzenszwalb(img, scale=SEG_SCALE, sigma=SEG_SIGMA, min_size=SEG_MIN_PX)
