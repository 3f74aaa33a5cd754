"""How reliable the fronts are in one image, measured on the image itself.

The detector's ``heading_conf`` is calibrated on real streets on average, but places differ:
scored against a calibration fitted elsewhere, five real scenes had fronts as reliable as
claimed times a factor from 0.59 to 1.19 (on 2p - 1), and our synthetic worlds, where fronts
are nearly always right, far more. The image can say which: vehicles queued nose to tail on
one track face the same way, so how often the check picks the same end for both of a pair
measures how often it is right. With q = 1/2 + k·(p - 1/2) the probability that a front is
right (p its ``heading_conf``, k the factor), a pair agrees with probability
q_a·q_b + (1 - q_a)(1 - q_b); a queue's pairs say which of its vehicles face alike, so its
likelihood is that of every front as seen or every one turned, and k is fitted by maximum
likelihood over the image's queues.

What a pair rule cannot know pulls the factor down, never up. A pair that does not share a
direction (cars parked either way along a kerb, rows facing each other across a lot's aisle)
agrees half the time or less whatever the check does; vehicles abreast of another (a parking
row, a camp) make no pairs, but kerbs remain. On the five real lane scenes, pairs inside the
drawn lanes shared their direction 98-100 % of the time, pairs outside them agreed about half the
time in Minsk. So a low factor may be the pairs, not the check: the measurement changes a share
only where its whole 95 % range lies above 1 (:func:`factor_and_range`): then the check is surer
than its calibration says, whatever the pairs' purity, and the factor found is if anything an
underestimate. The top of the range always widens the share's interval. (Shared
errors, one lighting flipping a whole queue, would pull the other way; agreement depends on k
only through k², so the sign is taken from the real-street measurement, where the check was right
on 67-92 % of real cars.)

Checked on the five real lane scenes (scripts/evaluate_real_fronts.py --pairs), the factor from
queue pairs against the one the lanes' truth gives: Munich 1.08 (range 1.03-1.24) vs 1.16, applied;
Minsk 0.47 / 1.01 / 0.21 / 1.17 vs 0.90 / 0.92 / 0.68 / 1.30,
not applied (parked cars among the pairs): the fixed range 0.6-1.2, widened at the top by the
pairs, holds every truth. Vehicles on a bar (a camp: rows parked any way, too far apart to be a
block) make no pairs (sites.register).

On the synthetic 81 km development world (seed 11, bench/bench_sites.py), whose fronts
are nearly always right, the trucks' queues give 1.20 (1.11-4.4) at 0.5 m and 1.16 (1.05-1.34) at
0.8 m, and direction shares with the real-street calibration come within 0.15 of the truth at 30 and
29 of 31 sites (28 and 27 without the measurement; applying the lowest factor of the range instead,
tried first: 29 and 27).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from borderwatch.sites.direction import front_probability, scale_front
from borderwatch.sites.queues import queue_labels, queue_pairs

__all__ = ["FrontReliability", "MIN_PAIRS", "factor_and_range", "factor_from_truth", "fit_reliability", "front_reliability",
           "pair_agreement"]

#: fewer pairs than this in an image say too little: callers fall back to a fixed range
MIN_PAIRS = 20
#: the factors searched (0: fronts no better than a coin)
FACTOR_MAX = 4.0
#: the range's top is widened by this share (the factor's own error where the pairs were pure: within 8 %)
FACTOR_SLACK = 0.1
#: half-width of the 95 % profile-likelihood interval in log-likelihood (chi-square 1 dof / 2)
_LR_95 = 3.841 / 2.0


@dataclass(frozen=True)
class FrontReliability:
    """The factor on 2p - 1 that fits an image's queued pairs, its 95 % range, and what it rests on."""

    factor: float
    low: float  # 95 % profile-likelihood range
    high: float  # ... its top widened by FACTOR_SLACK
    pairs: int
    agree: float  # share of the pairs whose fronts agree
    expected: float  # the share that would agree if heading_conf were right as it stands (factor 1)

    def as_dict(self) -> dict:
        return {"factor": round(self.factor, 3), "range": [round(self.low, 3), round(self.high, 3)],
                "pairs": self.pairs, "agree": round(self.agree, 3), "expected": round(self.expected, 3)}


#: the factors searched
_FACTORS = np.linspace(0.0, FACTOR_MAX, int(FACTOR_MAX * 100) + 1)


def factor_from_truth(p_front: Sequence[float], right: Sequence[bool]) -> float:
    """The factor that best explains which fronts were right, where the truth is known (real lanes): what
    :func:`fit_reliability` estimates without it."""
    p, ok = front_probability(p_front), np.asarray(right, bool)
    ll = [np.where(ok, np.log(q), np.log1p(-q)).sum() for q in (scale_front(p, k) for k in _FACTORS)]
    return float(_FACTORS[int(np.argmax(ll))])


def _queues(n: int, pairs: np.ndarray, agree: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(queue label per vehicle, whether each vehicle faces like its queue's first) from the pairs' agreement.

    A queue's pairs fix which of its vehicles face alike, up to which way the whole queue faces: the
    likelihood of what is seen is then exact (no pair counted as if independent of its neighbour). Pairs
    beyond a spanning tree (rare: a loop of pairs) add nothing.
    """
    from scipy.sparse.csgraph import breadth_first_order

    label, graph = queue_labels(n, pairs, (~np.asarray(agree, bool)).astype(np.int8) + 1)  # 1 agree, 2 not
    alike = np.ones(n, bool)
    for c in range(int(label.max()) + 1 if n else 0):
        order, pred = breadth_first_order(graph, int(np.flatnonzero(label == c)[0]), directed=False,
                                          return_predecessors=True)
        for v in order[1:]:
            alike[v] = alike[pred[v]] == (graph[pred[v], v] == 1)
    return label, alike


def _loglik(k: float, p: np.ndarray, label: np.ndarray, alike: np.ndarray) -> float:
    """log P(the pattern of agreement | factor k): per queue, every front as seen or every one turned."""
    q = scale_front(p, k)
    lq, lnq = np.log(q), np.log1p(-q)
    as_seen = np.bincount(label, np.where(alike, lq, lnq))
    turned = np.bincount(label, np.where(alike, lnq, lq))
    return float(np.logaddexp(as_seen, turned).sum())


def fit_reliability(p_front: Sequence[float], pairs: np.ndarray, agree: Sequence[bool]) -> FrontReliability | None:
    """The factor k (0..FACTOR_MAX) that best explains which queued pairs' fronts agree, with its 95 % range.

    ``p_front``: heading_conf per vehicle (probability its front is right, 0.5..1; None: unknown); ``pairs``: (m, 2)
    indices into it of vehicles queued together (:func:`queue_pairs`); ``agree``: whether each pair's fronts were
    turned the same way. None when there are no pairs or no vehicle in a pair says anything (all 0.5).
    """
    p = front_probability(p_front)
    pairs = np.asarray(pairs, int).reshape(-1, 2)
    ag = np.asarray(agree, bool)
    in_pairs = np.unique(pairs)
    if not len(ag) or not np.any(p[in_pairs] > 0.5 + 1e-9):
        return None
    keep = np.zeros(len(p), bool)
    keep[in_pairs] = True
    index = np.cumsum(keep) - 1  # vehicles outside every pair say nothing here
    label, alike = _queues(int(keep.sum()), index[pairs], ag)
    ll = np.array([_loglik(k, p[keep], label, alike) for k in _FACTORS])
    best = int(np.argmax(ll))
    inside = _FACTORS[ll[best] - ll <= _LR_95]
    qa, qb = p[pairs[:, 0]], p[pairs[:, 1]]  # as stated: factor 1
    return FrontReliability(
        factor=float(_FACTORS[best]),
        low=float(inside.min()),
        high=float(inside.max() * (1.0 + FACTOR_SLACK)),
        pairs=int(len(ag)),
        agree=float(ag.mean()),
        expected=float((qa * qb + (1.0 - qa) * (1.0 - qb)).mean()),
    )


def front_reliability(x, y, heading_deg, length_m, p_front) -> FrontReliability | None:
    """:func:`fit_reliability` over the queued pairs (:func:`queue_pairs`) of one image's vehicles of one class.
    ``p_front``: heading_conf per vehicle (None: unknown). None with fewer than MIN_PAIRS pairs."""
    h = np.asarray(heading_deg, float)
    pairs = queue_pairs(x, y, h, length_m)
    if len(pairs) < MIN_PAIRS:
        return None
    return pair_agreement(pairs, h, p_front)


def pair_agreement(pairs: np.ndarray, heading_deg: np.ndarray, p_front: Sequence[float]) -> FrontReliability | None:
    """:func:`fit_reliability` for index pairs (from :func:`queue_pairs`) of vehicles with these headings."""
    h = np.asarray(heading_deg, float)
    a, b = pairs[:, 0], pairs[:, 1]
    turn = np.abs((h[a] - h[b]) % 360.0)
    return fit_reliability(p_front, pairs, np.minimum(turn, 360.0 - turn) < 90.0)


def factor_and_range(rel: FrontReliability | None, fixed: tuple[float, float]) -> tuple[float, float, float]:
    """(factor, low, high) for a direction share (sites.direction) from an image's measurement and the fixed
    range used without one: the measured factor and range only where the whole range lies above 1 (the
    module's docstring: impure pairs only pull it down); the top of the range is the higher of the two."""
    lo, hi = float(fixed[0]), float(fixed[1])
    if rel is None:
        return 1.0, lo, hi
    hi = max(hi, rel.high)
    if rel.low > 1.0:
        return rel.factor, rel.low, hi
    return 1.0, lo, hi
