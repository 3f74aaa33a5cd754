"""Scores on synthetic truth (held-out seeds >= 1000, never used for fitting), at coarse GSD to stay fast."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from borderwatch.analysis.landcover import classify_landcover, iou


@pytest.fixture(scope="module")
def world():
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    c = load_corridor("yalu-upper[20:24]")
    return c, SynthWorld(c, seed=1003)


@pytest.mark.parametrize("gsd, d", [(1.0, date(2025, 7, 31)), (0.8, date(2025, 9, 13))])
def test_river_tile_water_and_accuracy(world, gsd, d):
    c, w = world
    p = c.point_at(1.5, 0.0)
    b = (p.x - 192, p.y - 192, p.x + 192, p.y + 192)
    rgb, truth = w.render_with_landcover(b, gsd, d)
    lc = classify_landcover(rgb, np.ones(truth.shape, bool), gsd)
    assert (truth == 1).mean() > 0.05  # the tile does hold river
    assert iou(lc.water_mask, truth == 1) >= 0.85
    assert (lc.classes == truth).mean() >= 0.85


def test_site_tile_finds_disturbed_ground(world):
    c, w = world
    sites = w.sites()
    s = sites[0]
    b = (s["x"] - 128, s["y"] - 128, s["x"] + 128, s["y"] + 128)
    rgb, truth = w.render_with_landcover(b, 1.0, w.dates[-1])
    lc = classify_landcover(rgb, np.ones(truth.shape, bool), 1.0)
    for code in np.unique(truth):
        if (truth == code).mean() > 0.02:  # every class that covers some of the tile is found there
            assert iou(lc.classes == code, truth == code) > 0.3, code


@pytest.mark.parametrize("d", [date(2026, 2, 10), date(2025, 12, 10)])
def test_a_frozen_river_is_ice_when_the_season_allows_it_and_never_otherwise(d):
    """Held-out seed 1003 on a frozen date (February: closed; December: shore ice): river ice is read where the
    truth has it when ice is offered; without the offer no pixel is ever ice."""
    from borderwatch.analysis.landcover.codes import ICE
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    c = load_corridor("yalu-upper[20:24]")
    w = SynthWorld(c, seed=1003, dates=[date(2025, 9, 13), d])
    p = c.point_at(1.5, 0.0)
    b = (p.x - 192, p.y - 192, p.x + 192, p.y + 192)
    rgb, truth = w.render_with_landcover(b, 0.8, d)
    valid = np.ones(truth.shape, bool)
    assert (truth == ICE).mean() > 0.03
    lc = classify_landcover(rgb, valid, 0.8, ice=True)
    assert iou(lc.classes == ICE, truth == ICE) >= 0.75
    assert (lc.classes == truth).mean() >= 0.85
    assert not (classify_landcover(rgb, valid, 0.8).classes == ICE).any()
