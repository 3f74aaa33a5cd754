"""Training data plumbing: augmentation keeps boxes and fronts on the pixels; targets; a tiny training run."""

from __future__ import annotations

import numpy as np
import pytest

from borderwatch.analysis.detect import OrientedBox, angle_diff
from borderwatch.analysis.detect.train import Sample, make_chip, make_targets, warp_boxes, _affine


def _car_image(box: OrientedBox, size=(120, 160)):
    """Grey image with a dark car body and a bright front quarter, so the front can be read back."""
    import cv2

    img = np.full((*size, 3), 90, np.uint8)
    cv2.fillPoly(img, [np.round(box.corners()).astype(np.int32)], (30, 30, 30))
    fx, fy = box.forward
    front = OrientedBox(box.cx + fx * box.length * 0.375, box.cy + fy * box.length * 0.375, box.length / 4,
                        box.width, box.angle_deg)
    cv2.fillPoly(img, [np.round(front.corners()).astype(np.int32)], (250, 250, 250))
    return img


def _front_is_bright(img, box: OrientedBox) -> bool:
    fx, fy = box.forward
    f = img[int(round(box.cy + fy * box.length * 0.35)), int(round(box.cx + fx * box.length * 0.35))]
    r = img[int(round(box.cy - fy * box.length * 0.35)), int(round(box.cx - fx * box.length * 0.35))]
    return f.mean() > 180 and r.mean() < 80


def test_warp_boxes_mirror_and_rotation():
    b = np.array([[10.0, 10.0, 8.0, 4.0, 30.0]])
    flip = np.array([[-1.0, 0, 100], [0, 1.0, 0]])
    assert warp_boxes(b, flip)[0, 4] == pytest.approx(330.0)  # a left-right mirror: h -> -h
    vflip = np.array([[1.0, 0, 0], [0, -1.0, 100]])
    assert warp_boxes(b, vflip)[0, 4] == pytest.approx(150.0)  # up-down mirror: h -> 180 - h
    rot = _affine((0, 0), 0, 2.0, 90.0, False)
    out = warp_boxes(b, rot)[0]
    assert out[4] == pytest.approx(120.0) and out[2] == pytest.approx(16) and out[3] == pytest.approx(8)


@pytest.mark.parametrize("seed", range(12))
def test_augmented_chip_keeps_box_and_front_on_the_car(seed):
    box = OrientedBox(80, 60, 30, 12, 37.0)
    img = _car_image(box)
    s = Sample(img, 0.5, np.array([[box.cx, box.cy, box.length, box.width, box.angle_deg]]), np.array([0]),
               np.array([0]), np.array([True]), np.array([True]))
    assert _front_is_bright(img, box)
    rng = np.random.default_rng(seed)
    chip, cs = make_chip(s, 128, rng, scale_jitter=0.1)
    if not cs.n:
        pytest.skip("car fell outside this chip")
    raw = chip  # photometric changes keep the bright/dark order
    b = OrientedBox(*cs.boxes[0])
    assert b.length == pytest.approx(30, rel=0.12)
    # look at the geometry-only warp for the pixel check
    rng2 = np.random.default_rng(seed)
    import borderwatch.analysis.detect.train as T

    orig = T._photometric
    T._photometric = lambda x, r: x.astype(np.float32)
    try:
        chip2, cs2 = make_chip(s, 128, rng2, scale_jitter=0.1)
    finally:
        T._photometric = orig
    assert np.allclose(cs2.boxes, cs.boxes) and raw.shape == chip2.shape
    assert _front_is_bright(chip2, OrientedBox(*cs2.boxes[0]))


def test_targets_peak_on_centre_with_masks():
    boxes = np.array([[31.0, 41.0, 20.0, 8.0, 90.0], [80.0, 80.0, 10.0, 4.0, 0.0]])
    s = Sample(np.zeros((128, 128, 3), np.uint8), 0.5, boxes, np.array([1, 0]), np.array([4, -1]),
               np.array([True, False]), np.array([True, False]))
    t = make_targets(s, 128)
    assert t["heat"].shape == (3, 64, 64)
    assert t["heat"][1, 20, 15] == 1.0 and t["heat"][0, 40, 40] == 1.0
    assert t["heat"][2].max() == 0
    assert t["reg"][4, 20, 15] == pytest.approx(0.5) and t["reg"][5, 20, 15] == pytest.approx(0.5)
    assert t["reg"][0, 20, 15] == pytest.approx(np.log(20.0))
    assert t["reg"][2, 20, 15] == pytest.approx(1.0) and abs(t["reg"][3, 20, 15]) < 1e-6  # sin, cos of 90
    m = t["mask"]
    assert m[:, 20, 15].tolist() == [1, 1, 1, 1]
    assert m[:, 40, 40].tolist() == [1, 0, 0, 0]  # centre only: no axis, no front, no subclass
    assert m[0].sum() == 2


def test_tiny_training_run_and_export(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from borderwatch.analysis.detect.export import export_onnx
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.analysis.detect.train import train

    box = OrientedBox(80, 60, 30, 12, 37.0)
    s = Sample(_car_image(box), 0.5, np.array([[80, 60, 30, 12, 37.0]]), np.array([0]), np.array([0]),
               np.array([True]), np.array([True]))
    net = train([s], [], max_steps=2, minutes=5, batch=2, chip=64, width=8, log=lambda m: None)
    p = export_onnx(net, tmp_path / "m.onnx", version="test")
    det = Detector(p)
    assert det.version == "test" and det.gsd_m == 0.5
    assert isinstance(det.detect_array(np.zeros((64, 64, 3), np.uint8), 0.5), list)
