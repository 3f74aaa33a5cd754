from __future__ import annotations

import numpy as np
import pytest

from borderwatch.analysis.detect.geometry import OrientedBox
from borderwatch.analysis.detect.labels import Detection
from borderwatch.analysis.detect.nms import (
    TileDetections,
    iou_matrix,
    merge_tiles,
    nms_detections,
    rotated_iou,
    rotated_nms,
)


def test_rotated_iou_known_values():
    a = OrientedBox(0, 0, 20, 10, 90)  # 20 wide (x), 10 tall
    assert rotated_iou(a, a) == pytest.approx(1)
    assert rotated_iou(a, a.flipped()) == pytest.approx(1)  # same footprint, other heading
    assert rotated_iou(a, a.translated(10, 0)) == pytest.approx(100 / 300)
    assert rotated_iou(a, a.translated(30, 0)) == 0
    cross = OrientedBox(0, 0, 10, 2, 0), OrientedBox(0, 0, 10, 2, 90)  # a plus sign
    assert rotated_iou(*cross) == pytest.approx(4 / 36)
    inner = OrientedBox(0, 0, 10, 5, 90)
    assert rotated_iou(a, inner) == pytest.approx(50 / 200)


def test_iou_matrix_shape_and_symmetry():
    rng = np.random.default_rng(1)
    boxes = [OrientedBox(*rng.uniform(0, 30, 2), rng.uniform(5, 15), rng.uniform(2, 5), rng.uniform(0, 360))
             for _ in range(25)]
    m = iou_matrix(boxes, boxes[:7])
    assert m.shape == (25, 7)
    np.testing.assert_allclose(np.diag(m[:7]), 1)
    full = iou_matrix(boxes, boxes)
    np.testing.assert_allclose(full, full.T, atol=1e-12)
    for i in range(0, 25, 5):
        for j in range(0, 25, 3):
            assert full[i, j] == pytest.approx(rotated_iou(boxes[i], boxes[j]))
    assert iou_matrix([], boxes).shape == (0, 25)


@pytest.mark.parametrize("backend", ["shapely", "cv2"])
def test_nms_basic(backend):
    a = OrientedBox(10, 10, 12, 5, 30)
    boxes = [a, a.translated(0.5, 0), OrientedBox(50, 50, 12, 5, 0), a.translated(0.2, 0.2)]
    keep = rotated_nms(boxes, [0.6, 0.9, 0.5, 0.7], 0.5, backend=backend)
    assert list(keep) == [1, 2]
    keep = rotated_nms(boxes, [0.6, 0.9, 0.5, 0.7], 0.5, classes=["car", "car", "car", "bus"], backend=backend)
    assert list(keep) == [1, 3, 2]  # the bus survives the car, highest score first
    assert list(rotated_nms([], [], 0.5, backend=backend)) == []


def test_nms_threshold_is_strict():
    a = OrientedBox(0, 0, 20, 10, 90)
    b = a.translated(10, 0)  # IoU exactly 1/3
    assert list(rotated_nms([a, b], [0.9, 0.8], 0.34)) == [0, 1]
    assert list(rotated_nms([a, b], [0.9, 0.8], 0.33)) == [0]


def test_nms_bad_arguments():
    a = OrientedBox(0, 0, 2, 1, 0)
    with pytest.raises(ValueError, match="scores"):
        rotated_nms([a], [0.1, 0.2])
    with pytest.raises(ValueError, match="iou"):
        rotated_nms([a], [0.1], 1.5)
    with pytest.raises(ValueError, match="backend"):
        rotated_nms([a], [0.1], backend="torch")  # type: ignore[arg-type]


def _random_non_nested(rng, n):
    while True:
        boxes = [OrientedBox(*rng.uniform(0, 60, 2), rng.uniform(8, 20), rng.uniform(3, 8), rng.uniform(0, 360))
                 for _ in range(n)]
        polys = [b.to_polygon() for b in boxes]
        if not any(i != j and p.contains(q) for i, p in enumerate(polys) for j, q in enumerate(polys)):
            return boxes


def test_cv2_and_shapely_backends_agree():
    rng = np.random.default_rng(7)
    for _ in range(30):
        boxes = _random_non_nested(rng, 30)
        scores = rng.uniform(0, 1, len(boxes))
        classes = rng.choice(["a", "b"], len(boxes)).tolist()
        for thr in (0.1, 0.3, 0.5):
            assert list(rotated_nms(boxes, scores, thr, backend="cv2")) == \
                list(rotated_nms(boxes, scores, thr, backend="shapely"))
            assert list(rotated_nms(boxes, scores, thr, classes=classes, backend="cv2")) == \
                list(rotated_nms(boxes, scores, thr, classes=classes, backend="shapely"))


def test_cv2_treats_a_nested_box_as_full_overlap():
    """Why shapely is the default: OpenCV suppresses a small box inside a big one (true IoU 0.25)."""
    big, small = OrientedBox(50, 50, 40, 20, 10), OrientedBox(50, 50, 20, 10, 10)
    assert rotated_iou(big, small) == pytest.approx(0.25)
    assert list(rotated_nms([big, small], [0.9, 0.8], 0.5, backend="shapely")) == [0, 1]
    assert list(rotated_nms([big, small], [0.9, 0.8], 0.5, backend="cv2")) == [0]


def test_nms_detections():
    a = OrientedBox(10, 10, 12, 5, 30)
    dets = [Detection(a, 0.5, "small_vehicle"), Detection(a.translated(0.3, 0), 0.8, "small_vehicle"),
            Detection(a, 0.6, "large_vehicle")]
    assert [d.score for d in nms_detections(dets)] == [0.8, 0.6]
    assert [d.score for d in nms_detections(dets, class_aware=False)] == [0.8]


# ------------------------------------------------------------------ tiles
# Two 100x100 tiles overlapping by 40 px: A = x 0..100, B = x 60..160 of a 160x100 image.
A, B = (0, 0, 100, 100), (60, 0, 160, 100)


def det(cx, cy, score, cls="small_vehicle", length=12, width=5, heading=90):
    return Detection(OrientedBox(cx, cy, length, width, heading), score, cls)


def test_duplicate_in_overlap_keeps_highest_score():
    # a car at global x=80 is complete in both tiles
    out = merge_tiles([TileDetections(A, [det(80, 50, 0.7)]), TileDetections(B, [det(20.5, 50, 0.9)])])
    assert len(out) == 1
    assert out[0].score == 0.9 and out[0].box.cx == pytest.approx(80.5)


def test_cut_box_loses_to_complete_box_even_with_higher_score():
    # a truck at global x=95 (length 20 along x: 85..105) is cut by A's right edge (x=100)
    cut = det(92.5, 50, 0.95, length=15)  # A sees only 85..100
    whole = det(35, 50, 0.6, length=20)  # B sees all of it: 25..45 local = 85..105 global
    out = merge_tiles([TileDetections(A, [cut]), TileDetections(B, [whole])])
    assert len(out) == 1
    assert out[0].score == 0.6 and out[0].box.cx == pytest.approx(95) and out[0].box.length == 20
    # plain NMS (IoU 0.75) keeps the higher-scored cut box instead:
    assert nms_detections([Detection(cut.box, 0.95, "x"), Detection(whole.box.translated(60, 0), 0.6, "x")])[0].score \
        == 0.95


def test_small_piece_of_a_cut_vehicle_is_dropped_by_overlap_share():
    cut = det(98, 50, 0.9, length=4)  # only 4 px of a 20 px truck inside A: IoU with the whole one is 0.2
    whole = det(40, 50, 0.5, length=20)  # global 90..110
    out = merge_tiles([TileDetections(A, [cut]), TileDetections(B, [whole])])
    assert [d.score for d in out] == [0.5]


def test_box_at_the_image_border_is_not_penalised():
    # touches A's left edge, which is the image border: nothing better exists, it is kept
    border = det(5, 50, 0.4, length=10)
    other = det(50, 50, 0.9)
    out = merge_tiles([TileDetections(A, [border, other]), TileDetections(B, [])])
    assert sorted(d.score for d in out) == [0.4, 0.9]


def test_cut_box_without_a_complete_partner_is_kept():
    out = merge_tiles([TileDetections(A, [det(95, 20, 0.8, length=10)]), TileDetections(B, [])])
    assert len(out) == 1 and out[0].box.cx == 95


def test_class_disagreement_across_tiles_is_one_vehicle_by_default():
    tiles = [TileDetections(A, [det(80, 50, 0.7, "small_vehicle")]),
             TileDetections(B, [det(20, 50, 0.8, "large_vehicle")])]
    assert [d.cls for d in merge_tiles(tiles)] == ["large_vehicle"]
    assert len(merge_tiles(tiles, class_aware=True)) == 2


def test_inner_edges_come_from_the_image_size():
    # in B: a complete car (local x 84..96) and a piece reaching B's right edge (91..100), IoU 0.31
    whole, piece = det(90, 50, 0.6, length=12), det(95.5, 50, 0.9, length=9)
    tiles = [TileDetections(A, []), TileDetections(B, [whole, piece])]
    # B's right edge is the image border (default extent 160): the piece is not "cut", both stay
    assert sorted(d.score for d in merge_tiles(tiles)) == [0.6, 0.9]
    # in a wider image that edge is inner: the piece ranks last and 56% of it lies in the whole car
    assert [d.score for d in merge_tiles(tiles, image_size=(300, 100))] == [0.6]
    assert merge_tiles([]) == []
