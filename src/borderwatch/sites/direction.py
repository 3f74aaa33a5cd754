"""Which way a site's traffic faces: a share that weighs each vehicle by how sure its front is.

Counting fronts as if they were all right turns every swapped car into a
vehicle facing the wrong bank; at a site with four cars, one swap moves the
share by 0.25. Each detection carries the probability that its front is right
(``heading_conf`` from the detector's front check). With q_i the resulting
probability that vehicle i faces the left bank, the share s of vehicles facing
that bank is estimated by maximum likelihood under

    P(what vehicle i looks like | s)  ∝  s·q_i + (1 - s)·(1 - q_i),

the textbook estimate of a mixing proportion with known per-item error rates.
A detection that may not be a vehicle at all (probability r_i that it is one,
:mod:`borderwatch.sites.belief`) tells nothing about s when it is not, so its
likelihood is r_i·(s·q_i + (1 - s)·(1 - q_i)) + (1 - r_i)·½: the same form with
q_i pulled toward ½ by r_i. A likely false alarm in a village beside a ford
then barely moves the share of the ford's traffic.
Sure vehicles (trucks: q near 0 or 1) decide it; vehicles at q = 0.5 add
nothing. The likelihood-ratio interval (95 %) says how far the data pin it
down, so a newsroom can tell "all facing China" from "too few clear fronts".
It takes ``heading_conf`` at its word, so the calibration of the front check
decides whether the share is unbiased. By default it is calibrated on real
streets, where about three fronts in four are right (the detector's model
card): a one-way site then reads near 1 with an honest interval. On our
synthetic worlds fronts are nearly always right, so that calibration
understates them and pushes mixed shares outward (by up to about 0.2 on the
81 km bench); the synthetic evaluation therefore also runs with the check's own
probability (``AnalysisParams(front_calibration="none")``), which is calibrated
there.

A calibration fitted on several places is right on average, not at every
place: scored on each of five real scenes with a calibration fitted on the
other four, the fronts were as reliable as ``heading_conf`` claims times a
factor from 0.59 to 1.19 (on 2q - 1). ``front_scale`` takes such a range: the
interval is the union of the intervals over factors in it, so it holds
wherever in that range a new place lies; the share is the one at factor 1.
An image can also measure its own factor on vehicles queued nose to tail
(:mod:`borderwatch.sites.fronts`): the share then uses that factor, per vehicle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

__all__ = ["MAX_SURE", "DirectionShare", "estimate_share", "front_probability", "scale_front"]

#: half-width of the 95 % likelihood-ratio interval, in log-likelihood (chi-square 1 dof / 2)
_LR_95 = 3.841 / 2.0
#: no front is treated as surer than this (a detector is never certain)
MAX_SURE = 0.995


def front_probability(p_front: Sequence[float | None]) -> np.ndarray:
    """``heading_conf`` values as probabilities that each front is right: None, NaN or below 0.5 count as 0.5
    (unknown), and none is surer than MAX_SURE."""
    p = np.array([0.5 if v is None else float(v) for v in p_front], float)
    return np.clip(np.nan_to_num(p, nan=0.5), 0.5, MAX_SURE)


def scale_front(p: np.ndarray, factor) -> np.ndarray:
    """1/2 + factor·(p - 1/2) within [1 - MAX_SURE, MAX_SURE]: fronts ``factor`` times as reliable (on 2p - 1)."""
    return np.clip(0.5 + factor * (np.asarray(p, float) - 0.5), 1.0 - MAX_SURE, MAX_SURE)


@dataclass(frozen=True)
class DirectionShare:
    """Share of vehicles facing the left bank, with its 95 % interval and the evidence behind it."""

    share: float
    low: float
    high: float
    vehicles: int
    #: how many fully sure vehicles the evidence is worth: sum of (2q - 1)^2
    effective: float


def _loglik(s: float, q: np.ndarray) -> float:
    return float(np.log(s * q + (1.0 - s) * (1.0 - q)).sum())


def _fit(q: np.ndarray) -> tuple[float, float, float]:
    """(maximum-likelihood share, 95 % low, high) for per-vehicle probabilities q of facing the left bank."""
    w = 2.0 * q - 1.0
    if not np.any(np.abs(w) > 1e-9):
        return 0.5, 0.0, 1.0

    def slope(s: float) -> float:  # d loglik / ds, decreasing in s
        return float((w / (s * w + 1.0 - q)).sum())

    if slope(0.0) <= 0:
        s_hat = 0.0
    elif slope(1.0) >= 0:
        s_hat = 1.0
    else:
        s_hat = brentq(slope, 0.0, 1.0, xtol=1e-9)
    top = _loglik(s_hat, q)

    def within(s: float) -> float:  # >= 0 inside the 95 % interval
        return _LR_95 - (top - _loglik(s, q))

    low = 0.0 if within(0.0) >= 0 else brentq(within, 0.0, s_hat, xtol=1e-9)
    high = 1.0 if within(1.0) >= 0 else brentq(within, s_hat, 1.0, xtol=1e-9)
    return s_hat, low, high


def estimate_share(
    faces_left: Sequence[bool],
    p_front: Sequence[float | None],
    p_real: Sequence[float] | None = None,
    front_scale: tuple = (1.0, 1.0),
    factor: float | Sequence[float] = 1.0,
) -> DirectionShare | None:
    """Maximum-likelihood share facing the left bank from each vehicle's facing bank and front probability.

    ``faces_left[i]``: whether vehicle i, as detected, faces the left bank (else
    the right bank; vehicles facing along the river are left out by the caller).
    ``p_front[i]``: probability its front is right; None or below 0.5 counts as
    0.5 (unknown). ``p_real[i]``: probability the detection is a vehicle at all
    (default 1). ``factor``: how much more (or less) reliable fronts are here than
    ``p_front`` says, as a factor on 2·p_front - 1 (one for all, or one per vehicle;
    sites.fronts measures it on an image's queued vehicles). ``front_scale``: the
    range of factors the interval must hold over, (low, high) for all or (lows, highs)
    per vehicle; it must hold ``factor``. None when there is no vehicle.
    """
    if not len(faces_left):
        return None
    n = len(faces_left)
    k = np.broadcast_to(np.asarray(factor, float), (n,))
    lo_k = np.broadcast_to(np.asarray(front_scale[0], float), (n,))
    hi_k = np.broadcast_to(np.asarray(front_scale[1], float), (n,))
    if not (np.all(lo_k >= 0.0) and np.all(lo_k <= k + 1e-9) and np.all(k <= hi_k + 1e-9)):
        raise ValueError(f"front_scale must hold the factor and not be negative, got {front_scale} for factor {factor}")
    p = front_probability(p_front)
    if len(p) != n:
        raise ValueError(f"p_front has {len(p)} values for {n} vehicles")
    if p_real is not None:
        if len(p_real) != len(p):
            raise ValueError(f"p_real has {len(p_real)} values for {len(p)} vehicles")
        r = np.clip(np.nan_to_num(np.asarray(p_real, float), nan=1.0), 0.0, 1.0)
        p = 0.5 + r * (p - 0.5)
    q = np.where(np.asarray(faces_left, bool), p, 1.0 - p)
    q_here = scale_front(q, k)
    s_hat, low, high = _fit(q_here)
    if np.any(hi_k > lo_k):
        for t in np.linspace(0.0, 1.0, 5):  # every vehicle's factor from the low to the high end of its range
            _, lo, hi = _fit(scale_front(q, lo_k + t * (hi_k - lo_k)))
            low, high = min(low, lo), max(high, hi)
    return DirectionShare(s_hat, low, high, n, float(((2.0 * q_here - 1.0) ** 2).sum()))
