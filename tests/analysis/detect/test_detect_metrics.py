from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from borderwatch.analysis.detect.geometry import OrientedBox
from borderwatch.analysis.detect.labels import Detection, Label, LabelledImage
from borderwatch.analysis.detect.metrics import average_precision, evaluate
from borderwatch.errors import InputError

SV, LV = "small_vehicle", "large_vehicle"


def box(x, y=50.0, heading=0.0, length=10.0, width=4.0):
    return OrientedBox(x, y, length, width, heading)


def gt(name, *labels):
    return LabelledImage(Path(name), 200, 100, list(labels))


def lab(x, cls=SV, heading=0.0, front=True, difficult=False, y=50.0):
    return Label(box(x, y, heading), cls, has_front=front, difficult=difficult)


def d(x, score, cls=SV, heading=0.0, y=50.0):
    return Detection(box(x, y, heading), score, cls)


def test_perfect():
    truth = [gt("a.png", lab(10), lab(30), lab(60, LV)), gt("b.png", lab(10))]
    preds = {"a.png": [d(10, 0.9), d(30, 0.8), d(60, 0.7, LV)], "b.png": [d(10, 0.95)]}
    r = evaluate(preds, truth)
    assert r.per_class[SV].ap == 1.0 and r.per_class[LV].ap == 1.0 and r.mean_ap == 1.0
    assert (r.per_class[SV].precision, r.per_class[SV].recall, r.per_class[SV].tp) == (1.0, 1.0, 3)
    assert r.count.rel_error == 0.0 and (r.count.pred, r.count.true) == (4, 4)
    assert r.heading.n == 4 and r.heading.median_deg == 0 and r.heading.flip_share == 0


def test_one_miss():
    r = evaluate({"a.png": [d(10, 0.9)]}, [gt("a.png", lab(10), lab(30))])
    c = r.per_class[SV]
    assert c.ap == pytest.approx(0.5) and c.recall == 0.5 and c.precision == 1.0
    assert r.count.rel_error == pytest.approx(0.5)


def test_false_positive_above_or_below_the_true_one():
    truth = [gt("a.png", lab(10))]
    above = evaluate({"a.png": [d(100, 0.9), d(10, 0.8)]}, truth)
    assert above.per_class[SV].ap == pytest.approx(0.5)
    assert (above.per_class[SV].tp, above.per_class[SV].fp, above.per_class[SV].precision) == (1, 1, 0.5)
    below = evaluate({"a.png": [d(10, 0.9), d(100, 0.8)]}, truth)
    assert below.per_class[SV].ap == pytest.approx(1.0)  # the envelope ignores trailing false positives
    assert below.count.rel_error == pytest.approx(1.0)  # 2 counted, 1 true


def test_known_voc_ap():
    # ranks: TP FP TP FP TP with 3 truths -> precision 1, .5, .667, .5, .6 at recall 1/3 .. 1
    # all-point envelope: 1/3 * 1 + 1/3 * 2/3 + 1/3 * 0.6
    truth = [gt("a.png", lab(10), lab(30), lab(50))]
    preds = {"a.png": [d(10, 0.9), d(110, 0.8), d(30, 0.7), d(130, 0.6), d(50, 0.5)]}
    r = evaluate(preds, truth, score_threshold=0.0)
    assert r.per_class[SV].ap == pytest.approx((1 + 2 / 3 + 0.6) / 3)
    assert average_precision(np.array([1 / 3, 1 / 3, 2 / 3, 2 / 3, 1]), np.array([1, .5, 2 / 3, .5, .6])) == \
        pytest.approx((1 + 2 / 3 + 0.6) / 3)


def test_duplicate_detection_is_a_false_positive():
    r = evaluate({"a.png": [d(10, 0.9), d(10.5, 0.8)]}, [gt("a.png", lab(10))])
    assert (r.per_class[SV].tp, r.per_class[SV].fp) == (1, 1)
    assert r.per_class[SV].ap == 1.0


def test_iou_threshold():
    truth = [gt("a.png", lab(10))]
    # shifted 4.5 px along a 10 px long box (y): IoU = 5.5/14.5 = 0.379
    preds = {"a.png": [d(10, 0.9, y=54.5)]}
    assert evaluate(preds, truth, iou=0.5).per_class[SV].ap == 0.0
    assert evaluate(preds, truth, iou=0.3).per_class[SV].ap == 1.0


def test_wrong_class_is_a_miss_and_a_false_positive():
    r = evaluate({"a.png": [d(10, 0.9, LV)]}, [gt("a.png", lab(10, SV))])
    assert r.per_class[SV].ap == 0.0 and r.per_class[SV].recall == 0.0
    assert r.per_class[LV].ap is None and r.per_class[LV].fp == 1 and r.per_class[LV].precision == 0.0
    assert r.mean_ap == 0.0
    assert r.count.rel_error == 0.0  # counting ignores class
    assert r.count_per_class[SV].rel_error == 1.0 and r.count_per_class[LV].rel_error is None


def test_difficult_truth_is_neither_needed_nor_punished():
    truth = [gt("a.png", lab(10), lab(60, difficult=True))]
    hit_difficult = evaluate({"a.png": [d(10, 0.9), d(60, 0.8)]}, truth)
    assert hit_difficult.per_class[SV].n_true == 1
    assert (hit_difficult.per_class[SV].tp, hit_difficult.per_class[SV].fp) == (1, 0)
    assert hit_difficult.per_class[SV].ap == 1.0
    miss_difficult = evaluate({"a.png": [d(10, 0.9)]}, truth)
    assert miss_difficult.per_class[SV].recall == 1.0


def test_images_without_predictions_and_score_threshold():
    truth = [gt("a.png", lab(10)), gt("b.png", lab(10), lab(40))]
    r = evaluate({"a.png": [d(10, 0.9), d(80, 0.3)]}, truth, score_threshold=0.5)
    assert r.per_class[SV].ap == pytest.approx(1 / 3)
    assert r.per_class[SV].n_pred == 1 and r.per_class[SV].fp == 0  # the 0.3 one is below the threshold
    assert (r.count.pred, r.count.true) == (1, 3)


def test_count_error_per_group():
    truth = [gt("a.png", lab(10), lab(30)), gt("b.png", lab(10)), gt("c.png", lab(10), lab(30), lab(50))]
    preds = {"a.png": [d(10, 0.9)], "b.png": [d(10, 0.9), d(70, 0.8)], "c.png": [d(10, 0.9), d(30, 0.9)]}
    r = evaluate(preds, truth, groups={"a.png": "site-1", "b.png": "site-1"})
    assert (r.count.pred, r.count.true) == (5, 6) and r.count.rel_error == pytest.approx(1 / 6)
    assert r.count_per_group["site-1"].pred == 3 and r.count_per_group["site-1"].true == 3
    assert r.count_per_group["site-1"].rel_error == 0.0  # errors cancel within the site
    assert r.count_per_group["c.png"].rel_error == pytest.approx(1 / 3)
    empty = evaluate({"z.png": [d(10, 0.9)]}, [gt("z.png")])
    assert empty.count.rel_error is None and empty.count.pred == 1


def test_heading_error():
    truth = [gt("a.png", lab(10, heading=0), lab(30, heading=90), lab(50, heading=350), lab(70, heading=10),
                lab(90, heading=45, front=False))]
    preds = {"a.png": [d(10, 0.9, heading=10), d(30, 0.9, heading=270), d(50, 0.9, heading=20),
                       d(70, 0.9, heading=10), d(90, 0.9, heading=225)]}
    r = evaluate(preds, truth)
    assert r.per_class[SV].ap == 1.0  # a flipped box is still the same footprint
    h = r.heading
    assert h.n == 4  # the truth without a front does not count
    # errors: 10, 180, 30, 0
    assert h.median_deg == pytest.approx(20)
    assert h.p90_deg == pytest.approx(np.percentile([10, 180, 30, 0], 90))
    assert h.flip_share == pytest.approx(0.25)


def test_prediction_for_unknown_image_is_an_error():
    with pytest.raises(InputError, match="prediction for an image not in the ground truth"):
        evaluate({"other.png": []}, [gt("a.png", lab(10))])
    with pytest.raises(InputError, match="iou"):
        evaluate({}, [gt("a.png")], iou=0)


def test_path_keys_work():
    truth = [gt("dir/a.png", lab(10))]
    r = evaluate({Path("dir/a.png"): [d(10, 0.9)]}, truth)
    assert r.per_class[SV].ap == 1.0
