"""Vehicles queued nose to tail: pairs, queues, convoys (sites.queues)."""

from __future__ import annotations

import numpy as np

from borderwatch.sites.queues import CONVOY_MIN, convoys, queue_labels, queue_pairs


def queue_of(n, x0=0.0, y0=0.0, heading=0.0, length=8.0, gap=3.0):
    """n vehicles nose to tail along `heading` (degrees clockwise from north), all facing it."""
    rad = np.radians(heading)
    d = np.arange(n) * (length + gap)
    return x0 + d * np.sin(rad), y0 + d * np.cos(rad), np.full(n, heading), np.full(n, length)


def test_a_queue_pairs_each_vehicle_with_the_next():
    x, y, h, L = queue_of(5, heading=30.0)
    assert queue_pairs(x, y, h, L).tolist() == [[0, 1], [1, 2], [2, 3], [3, 4]]
    h[2] = (h[2] + 180.0) % 360.0  # which end is the front does not matter to the pairing
    assert len(queue_pairs(x, y, h, L)) == 4


def test_no_pairs_across_lanes_at_an_angle_too_far_or_in_a_block():
    x, y, h, L = queue_of(2)
    assert len(queue_pairs(x + np.array([0.0, 2.0]), y, h, L)) == 0  # the second 2 m to the side: another lane
    assert len(queue_pairs(x, y, h + np.array([0.0, 40.0]), L)) == 0  # turned 40 degrees
    assert len(queue_pairs(*queue_of(2, gap=25.0))) == 0  # 33 m apart: not queued
    # a parking row: vehicles abreast 3.5 m apart, and a second row behind facing the first across an aisle
    rx = np.r_[np.arange(4) * 3.5, np.arange(4) * 3.5]
    ry = np.r_[np.zeros(4), np.full(4, 14.0)]
    rh = np.r_[np.zeros(4), np.full(4, 180.0)]
    assert len(queue_pairs(rx, ry, rh, np.full(8, 8.0))) == 0
    assert len(queue_pairs(x[:1], y[:1], h[:1], L[:1])) == 0


def test_queues_are_the_connected_pairs():
    label, graph = queue_labels(5, np.array([[0, 1], [1, 2], [3, 4]]))
    assert label[0] == label[1] == label[2] != label[3] == label[4] and graph.shape == (5, 5)


def test_the_longest_queue_and_convoy():
    x, y, h, L = queue_of(7)
    subs = ["dump_truck"] * 5 + ["truck", "truck"]
    got = convoys(x, y, h, L, subs)
    assert got == {"longest_queue": 7, "convoy": 5, "convoy_subclass": "dump_truck"}
    L2 = L.copy()
    L2[:3] = 12.0  # three long ones, two of the usual length: no five alike
    assert convoys(x, y, h, L2, subs)["convoy"] == CONVOY_MIN
    assert convoys(x, y, h, L, [None] * 7) == {"longest_queue": 7, "convoy": 0, "convoy_subclass": None}
    apart = convoys(x * 0 + np.arange(7) * 40.0, y, h, L, subs)  # side by side 40 m apart: no queue
    assert apart == {"longest_queue": 0, "convoy": 0, "convoy_subclass": None}
    assert convoys([], [], [], [], []) == {"longest_queue": 0, "convoy": 0, "convoy_subclass": None}


def test_unknown_lengths_neither_break_queues_nor_make_convoys():
    x, y, h, L = queue_of(5)
    L = np.full(5, np.nan)  # older rows without a length: the median vehicle stands in for the pairing
    got = convoys(x, y, h, L, ["truck"] * 5)
    assert got["longest_queue"] == 5 and got["convoy"] == 0  # no length, no claim that they are identical
    L[:] = 8.0
    L[2] = np.nan
    assert convoys(x, y, h, L, ["truck"] * 5)["convoy"] == 4
