"""The 3-10 m RGB path (regions.py): its segmentation, where it applies, how its water replaces the pixel decision."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from borderwatch.analysis.landcover import LandcoverRangeWarning, classify_landcover
from borderwatch.analysis.landcover.classify import _region_water
from borderwatch.analysis.landcover.regions import REGION_GSD_M, segment, uses_regions


def _tile(n=64, seed=0):
    """A 5 m-like tile: a flat dark patch (lake-like), a striped field and a bright band between them."""
    rng = np.random.default_rng(seed)
    img = np.empty((3, n, n), np.float32)
    img[:] = np.array([70, 95, 55], np.float32)[:, None, None] + 12 * np.sin(np.arange(n) * 2.1)[None, None, :]
    img[:, : n // 2 - 3] = np.array([50, 70, 60], np.float32)[:, None, None]
    img[:, n // 2 - 3 : n // 2] = 170
    img += rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_segments_contract():
    img = _tile()
    valid = np.ones(img.shape[1:], bool)
    valid[:, -10:] = False
    labels = segment(img, valid)
    assert labels.shape == valid.shape and labels.min() == 0
    flat = labels[5, 5]
    assert (labels[: img.shape[1] // 2 - 4, : 40] == flat).mean() > 0.9  # the flat patch is (mostly) one segment


def test_region_water_overrides_the_pixel_decision():
    best = np.array([[0, 0, 2]])
    prob = np.array([[[0.9, 0.02, 0.08, 0, 0, 0, 0], [0.6, 0.0, 0.1, 0.3, 0, 0, 0], [0.1, 0.9, 0, 0, 0, 0, 0]]])
    _region_water(best, prob, np.array([[True, False, True]]))
    assert best.tolist() == [[0, 3, 0]]  # dropped water takes its best land index (argmax of the land columns + 1)


@pytest.mark.parametrize("gsd, bands, suffix", [(5.0, 3, "/rgb+cnn"), (REGION_GSD_M[0], 3, "/rgb+cnn"),
                                                (REGION_GSD_M[1], 3, "/rgb+cnn"), (0.5, 3, "/rgb"),
                                                (2.0, 3, "/rgb"), (5.0, 4, "/rgbn-p50"), (12.0, 3, "/rgb")])
def test_region_path_only_for_rgb_at_3_to_10_m(gsd, bands, suffix):
    img = _tile(32)
    if bands == 4:
        img = np.concatenate([img, img[1:2]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LandcoverRangeWarning)
        lc = classify_landcover(img, np.ones(img.shape[1:], bool), gsd, nir=bands == 4)
    assert lc.method.endswith(suffix)
    assert uses_regions(gsd) == (suffix == "/rgb+cnn" or (bands == 4 and REGION_GSD_M[0] <= gsd <= REGION_GSD_M[1]))
