"""Tile statistics: the 8-bit fast path (histograms) gives what the plain float computation gives."""

from __future__ import annotations

import numpy as np
import pytest

from borderwatch.pipeline.tasks import pixel_stats


@pytest.mark.parametrize("bands, holes", [(3, 0.0), (4, 0.4)])
def test_histograms_give_the_plain_statistics(bands, holes):
    rng = np.random.default_rng(bands)
    data = rng.integers(0, 256, (bands, 300, 400), dtype=np.uint8)
    data[:, :, :150] //= 4  # a dark river beside bright land: skewed, not uniform
    valid = rng.random((300, 400)) >= holes
    plain = pixel_stats(data.astype(np.uint16), valid)  # not 8-bit: the float path
    assert pixel_stats(data, valid) == plain
    px = data[:, valid].astype(np.float64)
    assert plain["band_mean"] == [round(float(v), 2) for v in px.mean(axis=1)]
    assert plain["brightness_p5_p50_p95"] == [round(float(v), 1) for v in np.percentile(px[:3].mean(axis=0), [5, 50, 95])]


def test_a_single_valid_pixel():
    data = np.zeros((3, 2, 2), np.uint8)
    data[:, 0, 0] = (30, 60, 90)
    valid = np.zeros((2, 2), bool)
    valid[0, 0] = True
    assert pixel_stats(data, valid) == {"band_mean": [30.0, 60.0, 90.0], "band_std": [0.0, 0.0, 0.0],
                                        "brightness_p5_p50_p95": [60.0, 60.0, 60.0]}
