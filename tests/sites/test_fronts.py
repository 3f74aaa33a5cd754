"""How reliable fronts are in one image, from its queued vehicles (sites.fronts)."""

from __future__ import annotations

import numpy as np
import pytest
from test_queues import queue_of as _queue

from borderwatch.sites.fronts import MIN_PAIRS, FrontReliability, factor_and_range, fit_reliability, front_reliability


def _simulate(k_true, n_queues, rng):
    """Queues of 2-6 vehicles facing one way, each front right with probability 1/2 + k (c - 1/2):
    (c per vehicle, adjacent pairs, whether each pair's fronts agree)."""
    sizes = rng.integers(2, 7, n_queues)
    c = rng.uniform(0.6, 0.9, sizes.sum())
    right = rng.random(len(c)) < np.clip(0.5 + k_true * (c - 0.5), 0.5, 0.995)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    pairs = np.array([(i, i + 1) for s0, n in zip(starts, sizes) for i in range(s0, s0 + n - 1)])
    return c, pairs, right[pairs[:, 0]] == right[pairs[:, 1]]


@pytest.mark.parametrize("k_true", [0.6, 1.0, 1.5])
def test_the_factor_is_found_from_agreement_alone(k_true):
    rng = np.random.default_rng(int(k_true * 10))
    rel = fit_reliability(*_simulate(k_true, 800, rng))
    assert abs(rel.factor - k_true) < 0.15 and rel.low <= k_true <= rel.high
    assert rel.pairs > 1500 and 0.5 < rel.agree < 1.0
    few = fit_reliability(*_simulate(k_true, 15, rng))
    assert few.high - few.low > rel.high - rel.low  # fewer pairs, a wider range


def test_the_range_holds_the_truth_about_19_times_in_20():
    """The likelihood of each queue is exact (its pairs are not counted as independent), so the 95 % range covers."""
    rng = np.random.default_rng(5)
    hits = [(r.low <= 1.2 <= r.high) for r in (fit_reliability(*_simulate(1.2, 25, rng)) for _ in range(200))]
    assert 0.9 <= np.mean(hits) <= 1.0


def test_nothing_to_fit_gives_none():
    assert fit_reliability([], np.zeros((0, 2), int), []) is None
    assert fit_reliability([0.5, 0.5, 0.9], [(0, 1)], [False]) is None  # nobody in a pair says anything


def test_front_reliability_needs_enough_pairs():
    x, y, h, L = _queue(MIN_PAIRS)  # MIN_PAIRS - 1 pairs
    assert front_reliability(x, y, h, L, [0.8] * MIN_PAIRS) is None
    x, y, h, L = _queue(MIN_PAIRS + 1)
    rel = front_reliability(x, y, h, L, [0.8] * (MIN_PAIRS + 1))
    assert rel.pairs == MIN_PAIRS and rel.agree == 1.0 and rel.expected == pytest.approx(0.68)
    assert rel.low > 1.0  # every pair agrees where 0.68 was expected: surer than claimed


def test_only_a_range_wholly_above_one_changes_the_factor():
    fixed = (0.6, 1.2)
    assert factor_and_range(None, fixed) == (1.0, 0.6, 1.2)
    sure = FrontReliability(factor=1.4, low=1.1, high=1.8, pairs=60, agree=0.9, expected=0.7)
    assert factor_and_range(sure, fixed) == (1.4, 1.1, 1.8)  # surer than calibrated, whatever the pairs' purity
    low = FrontReliability(factor=0.5, low=0.2, high=0.9, pairs=60, agree=0.55, expected=0.7)
    assert factor_and_range(low, fixed) == (1.0, 0.6, 1.2)  # may be impure pairs: the calibration stands
    wide = FrontReliability(factor=1.2, low=0.9, high=2.0, pairs=25, agree=0.8, expected=0.7)
    assert factor_and_range(wide, fixed) == (1.0, 0.6, 2.0)  # its top still widens the range
