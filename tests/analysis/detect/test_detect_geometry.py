from __future__ import annotations

import cv2
import numpy as np
import pytest

from borderwatch.analysis.detect.geometry import (
    OrientedBox,
    PolygonError,
    angle_diff,
    axis_of,
    heading_from_axis,
    map_to_pixel_heading,
    pixel_to_map_heading,
    validate_polygon,
)


def test_heading_zero_points_up_in_pixels():
    b = OrientedBox(10, 20, length=8, width=4, angle_deg=0)
    assert b.forward == pytest.approx((0, -1))
    # front-left, front-right, rear-right, rear-left: top-left, top-right, bottom-right, bottom-left
    np.testing.assert_allclose(b.corners(), [[8, 16], [12, 16], [12, 24], [8, 24]], atol=1e-12)


def test_heading_is_clockwise_on_screen():
    assert OrientedBox(0, 0, 2, 1, 90).forward == pytest.approx((1, 0))  # right
    assert OrientedBox(0, 0, 2, 1, 180).forward == pytest.approx((0, 1))  # down
    assert OrientedBox(0, 0, 2, 1, 270).forward == pytest.approx((-1, 0))  # left
    b = OrientedBox(0, 0, 4, 2, 90)
    np.testing.assert_allclose(b.corners()[0], [2, -1], atol=1e-12)  # front-left of an east-facing car is north-east


def test_angle_wraps_and_sides_must_be_positive():
    assert OrientedBox(0, 0, 2, 1, -90).angle_deg == pytest.approx(270)
    assert OrientedBox(0, 0, 2, 1, 720).angle_deg == 0
    with pytest.raises(ValueError):
        OrientedBox(0, 0, 0, 1, 0)
    with pytest.raises(ValueError):
        OrientedBox(0, 0, 2, float("nan"), 0)


@pytest.mark.parametrize("heading", [0, 17.5, 90, 135, 181, 269.9, 359])
def test_corners_round_trip_keeps_heading(heading):
    b = OrientedBox(50.5, 30.25, 12, 5, heading)
    back = OrientedBox.from_corners(b.corners(), front=True)
    assert back.cx == pytest.approx(b.cx) and back.cy == pytest.approx(b.cy)
    assert back.length == pytest.approx(12) and back.width == pytest.approx(5)
    assert angle_diff(back.angle_deg, heading) < 1e-9
    axis = OrientedBox.from_corners(b.to_dota(), front=False)
    assert 0 <= axis.angle_deg < 180
    assert angle_diff(axis.angle_deg, heading % 180, period=180) < 1e-9


def test_counter_clockwise_input_gives_same_box():
    b = OrientedBox(5, 5, 10, 4, 30)
    fl, fr, rr, rl = b.corners()
    back = OrientedBox.from_corners([fl, rl, rr, fr], front=True)
    assert back.angle_deg == pytest.approx(30)
    assert back.length == pytest.approx(10)


def test_without_front_the_long_side_is_the_length():
    # first edge is the long one: without a front it must still give length 10
    pts = [[0, 0], [10, 0], [10, 4], [0, 4]]
    b = OrientedBox.from_corners(pts, front=False)
    assert (b.length, b.width, b.angle_deg) == pytest.approx((10, 4, 90))
    f = OrientedBox.from_corners(pts, front=True)  # the data set says edge 1-2 is the front
    assert (f.length, f.width, f.angle_deg) == pytest.approx((4, 10, 0))


def test_from_xyxy_and_cxcywh():
    v = OrientedBox.from_xyxy(0, 0, 4, 10)
    assert (v.cx, v.cy, v.length, v.width, v.angle_deg) == (2, 5, 10, 4, 0)
    h = OrientedBox.from_cxcywh(5, 5, 10, 4)
    assert (h.length, h.width, h.angle_deg) == (10, 4, 90)
    assert h.bounds() == pytest.approx((0, 3, 10, 7))
    with pytest.raises(PolygonError):
        OrientedBox.from_xyxy(1, 1, 1, 5)


def test_from_polygon_fits_min_area_rectangle():
    b = OrientedBox(20, 20, 10, 4, 60)
    c = b.corners()
    # extra collinear points on the sides do not change the rectangle
    pts = [c[0], (c[0] + c[1]) / 2, c[1], c[2], (c[2] + c[3]) / 2, c[3]]
    fit = OrientedBox.from_polygon(pts)
    assert fit.length == pytest.approx(10) and fit.width == pytest.approx(4)
    assert angle_diff(fit.angle_deg, 60, period=180) < 1e-6


def test_polygon_and_cv2_agree():
    b = OrientedBox(30, 40, 12, 5, 33)
    assert b.to_polygon().area == pytest.approx(60)
    pts = cv2.boxPoints(b.to_cv2())
    got = sorted(map(tuple, np.round(pts, 4)))
    want = sorted(map(tuple, np.round(b.corners(), 4)))
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_validate_polygon_rejects_bad_shapes():
    with pytest.raises(PolygonError, match="fewer than 3"):
        validate_polygon([[0, 0], [1, 1]])
    with pytest.raises(PolygonError, match="fewer than 3"):
        validate_polygon([[0, 0], [1, 1], [0, 0], [1, 1]])
    with pytest.raises(PolygonError, match="zero area"):
        validate_polygon([[0, 0], [1, 1], [2, 2], [3, 3]])
    with pytest.raises(PolygonError, match="self-intersecting"):
        validate_polygon([[0, 0], [2, 2], [2, 0], [0, 2]])  # bow tie
    with pytest.raises(PolygonError, match="non-finite"):
        validate_polygon([[0, 0], [1, 0], [1, float("nan")]])
    assert validate_polygon([0, 0, 1, 0, 1, 1, 0, 1]).shape == (4, 2)
    with pytest.raises(PolygonError):
        OrientedBox.from_corners([[0, 0], [1, 0], [1, 1]])  # a triangle is not a box


def test_axis_and_front_helpers():
    assert axis_of(350) == pytest.approx(170)
    assert axis_of(-10) == pytest.approx(170)
    assert heading_from_axis(30, 1) == 30
    assert heading_from_axis(30, -1) == 210
    assert heading_from_axis(210, 1) == 30  # the axis is undirected
    with pytest.raises(ValueError):
        heading_from_axis(30, 0)
    assert angle_diff(350, 10) == pytest.approx(20)
    assert angle_diff(0, 180) == pytest.approx(180)
    assert angle_diff(0, 180, period=180) == pytest.approx(0)
    np.testing.assert_allclose(angle_diff(np.array([0, 90]), np.array([359, 270])), [1, 180])


def test_north_up_affine_keeps_heading():
    north_up = (0.5, 0.0, 500000.0, 0.0, -0.5, 4600000.0)
    for h in (0, 45, 90, 200, 359):
        assert angle_diff(pixel_to_map_heading(h, north_up), h) < 1e-9


def test_other_affines():
    south_up = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # rows go north: "up" in the image is south
    assert pixel_to_map_heading(0, south_up) == pytest.approx(180)
    assert pixel_to_map_heading(90, south_up) == pytest.approx(90)
    # image rotated so that its columns run north (x = -row, y = col): pixel right = north
    rot = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0)
    assert pixel_to_map_heading(90, rot) == pytest.approx(0)
    assert pixel_to_map_heading(0, rot) == pytest.approx(90)  # pixel up (row - 1) -> x + 1: east
    for t in ((0.5, 0.1, 0, -0.2, -0.5, 0), rot, south_up):
        for h in (0, 33, 190):
            assert angle_diff(map_to_pixel_heading(pixel_to_map_heading(h, t), t), h) < 1e-9


def test_accepts_affine_objects():
    from affine import Affine

    assert pixel_to_map_heading(45, Affine(2, 0, 0, 0, -2, 0)) == pytest.approx(45)
    with pytest.raises(ValueError):
        pixel_to_map_heading(0, (1, 2, 3))
