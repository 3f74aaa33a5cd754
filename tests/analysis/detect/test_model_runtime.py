"""The shipped ONNX detector: loading, input checks, accuracy on a held-out synthetic site, heading convention."""

from __future__ import annotations

import numpy as np
import pytest

from borderwatch.analysis.detect import OrientedBox, angle_diff, iou_matrix
from borderwatch.analysis.detect.runtime import Detector, ModelDetection, as_rgb8, check_gsd_for
from borderwatch.errors import InputError


@pytest.fixture(scope="module")
def detector():
    return Detector.load_default()


@pytest.fixture(scope="module")
def site_scene():
    """A 0.5 m render around a busy crossing site of a world seed never used in training, with its truth."""
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    world = SynthWorld(load_corridor("yalu-upper[0:12]"), seed=1003)
    d = world.dates[-1]
    objs = [o for o in world.objects(d) if o["class"] in ("small_vehicle", "large_vehicle", "heavy_equipment")]
    by_site: dict[str, list[dict]] = {}
    for o in objs:
        if o["site_id"]:
            by_site.setdefault(o["site_id"], []).append(o)
    sid = max(by_site, key=lambda s: len(by_site[s]))
    xy = np.array([[o["x"], o["y"]] for o in by_site[sid]])
    cx, cy = xy.mean(0)
    half = 80.0
    x0, y0, x1, y1 = cx - half, cy - half, cx + half, cy + half
    img = world.render((x0, y0, x1, y1), 0.5, d).transpose(1, 2, 0)
    truth = []
    for o in objs:
        b = OrientedBox((o["x"] - x0) / 0.5, (y1 - o["y"]) / 0.5, o["length_m"] / 0.5, o["width_m"] / 0.5,
                        o["heading_deg"])
        bx0, by0, bx1, by1 = b.bounds()
        if bx0 > 2 and by0 > 2 and bx1 < img.shape[1] - 2 and by1 < img.shape[0] - 2:
            truth.append((b, o["class"]))
    assert len(truth) >= 5
    return np.ascontiguousarray(img), truth


def test_default_model_metadata(detector):
    assert detector.classes == ["small_vehicle", "large_vehicle", "heavy_equipment"]
    assert detector.gsd_m == 0.5 and detector.stride == 2
    lo, hi = detector.gsd_range
    assert lo < 0.3 and hi > 0.6
    assert detector.path.stat().st_size < 10_000_000  # "a few MB", weights embedded


def test_the_jpeg_variant_is_bundled_with_its_own_front_check_and_the_same_screen(detector):
    """The variant for JPEG-compressed imagery answers in the same format; the shipped screen runs with it as with
    the default model, and the front check fitted for it (model card, "The front check for JPEG imagery")."""
    from borderwatch.analysis.detect.front import default_front_path
    from borderwatch.analysis.detect.runtime import Detector, default_model_path, is_bundled

    jpeg = Detector.load_default(jpeg=True)
    assert jpeg.path == default_model_path(jpeg=True) != detector.path and is_bundled(jpeg.path)
    assert jpeg.front.path == default_front_path(jpeg=True) != detector.front.path == default_front_path()
    assert jpeg.screen.path == detector.screen.path
    assert jpeg.name.startswith("borderwatch-vehicles-jpeg@") and "+front-jpeg-" in jpeg.name and "+screen-" in jpeg.name
    assert (jpeg.classes, jpeg.gsd_m, jpeg.gsd_range, jpeg.stride) == (detector.classes, detector.gsd_m,
                                                                      detector.gsd_range, detector.stride)


def test_empty_image_gives_nothing(detector):
    img = np.full((200, 300, 3), 120, np.uint8)
    assert detector.detect_array(img, 0.5) == []


def test_finds_site_vehicles_with_headings(detector, site_scene):
    img, truth = site_scene
    dets = detector.detect_array(img, 0.5)
    assert all(isinstance(d, ModelDetection) for d in dets)
    m = iou_matrix([d.box for d in dets], [b for b, _ in truth])
    best = m.max(0) if len(dets) else np.zeros(len(truth))
    recall = float(np.mean(best >= 0.3))
    assert recall >= 0.7, f"found {recall:.0%} of {len(truth)} vehicles"
    # matched detections point the same way as the truth (front, not just the axis)
    errs = []
    for j, (b, _) in enumerate(truth):
        i = int(np.argmax(m[:, j])) if len(dets) else -1
        if i >= 0 and m[i, j] >= 0.3:
            errs.append(angle_diff(dets[i].box.angle_deg, b.angle_deg))
    assert np.median(errs) < 30
    # counts: no vehicle counted twice
    assert len([d for d in dets if d.score >= 0.3]) <= 1.3 * len(truth) + 3


def test_rotating_the_image_rotates_headings(detector, site_scene):
    img, _ = site_scene
    a = [d for d in detector.detect_array(img, 0.5) if d.score > 0.5 and d.heading_conf > 0.6]
    assert a
    rot = np.ascontiguousarray(np.rot90(img, k=-1))  # 90 degrees clockwise on screen
    b = detector.detect_array(rot, 0.5)
    h = img.shape[0]
    agree = 0
    for d in a:
        # clockwise rotation: (x, y) -> (h - 1 - y, x) in pixel centres; heading + 90
        x, y = h - d.box.cy, d.box.cx
        near = [e for e in b if np.hypot(e.box.cx - x, e.box.cy - y) < 4]
        if near and angle_diff(near[0].box.angle_deg, d.box.angle_deg + 90) < 35:
            agree += 1
    assert agree >= 0.7 * len(a)


def test_gsd_resampling_keeps_boxes_in_input_pixels(detector, site_scene):
    img, truth = site_scene
    import cv2

    up = cv2.resize(img, None, fx=5 / 3, fy=5 / 3, interpolation=cv2.INTER_LINEAR)  # as if 0.3 m
    dets = detector.detect_array(up, 0.3)
    scaled = [OrientedBox(b.cx * 5 / 3, b.cy * 5 / 3, b.length * 5 / 3, b.width * 5 / 3, b.angle_deg) for b, _ in truth]
    m = iou_matrix([d.box for d in dets], scaled)
    assert np.mean(m.max(0) >= 0.3) >= 0.6


def test_bad_inputs_are_refused():
    with pytest.raises(InputError, match="single-band"):
        as_rgb8(np.zeros((10, 10), np.uint8), "pan.tif")
    with pytest.raises(InputError, match="single-band"):
        as_rgb8(np.zeros((10, 10, 1), np.uint8), "pan.tif")
    with pytest.raises(InputError, match="uint16 pixels"):
        as_rgb8(np.zeros((10, 10, 3), np.uint16), "deep.tif")
    with pytest.raises(InputError, match="5-band"):
        as_rgb8(np.zeros((10, 10, 5), np.uint8), "multi.tif")
    with pytest.warns(UserWarning, match="4-band"):
        out = as_rgb8(np.zeros((10, 10, 4), np.uint8), "rgba.png")
    assert out.shape == (10, 10, 3)
    deep = np.arange(300, dtype=np.uint16).reshape(10, 10, 3) * 100
    with pytest.warns(UserWarning, match="one gain for all bands"):
        s = as_rgb8(deep, "deep.tif", stretch=True)
    # as the pipeline reads 16-bit scenes: zero stays zero, the 99.8th percentile lands at 230, colours kept
    gain = 230.0 / np.percentile(deep[deep > 0], 99.8)
    assert s.dtype == np.uint8 and s.min() == 0 and np.abs(s - deep * gain).max() <= 1.0
    chw = as_rgb8(np.zeros((3, 8, 9), np.uint8))
    assert chw.shape == (8, 9, 3)


@pytest.mark.parametrize("gsd", [0.05, 2.0, 30.0, -1.0, float("nan")])
def test_gsd_far_outside_range_is_an_error(detector, gsd):
    with pytest.raises(InputError, match="ground sample distance"):
        detector.detect_array(np.zeros((64, 64, 3), np.uint8), gsd)


def test_check_gsd_accepts_the_range():
    assert check_gsd_for(0.3, (0.25, 0.8)) == 0.3


def test_not_a_borderwatch_model(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    p = tmp_path / "other.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(p))
    with pytest.raises(InputError, match="not a borderwatch detector"):
        Detector(p)
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(InputError, match="not a loadable ONNX"):
        Detector(bad)



@pytest.fixture(scope="module")
def car_scene():
    """A 0.5 m render around the crossing site with the most cars (held-out world 1003), with its cars' truth."""
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    world = SynthWorld(load_corridor("yalu-upper[0:12]"), seed=1003)
    d = world.dates[-1]
    cars = [o for o in world.objects(d) if o["class"] == "small_vehicle" and o["site_id"]]
    by_site: dict[str, list[dict]] = {}
    for o in cars:
        by_site.setdefault(o["site_id"], []).append(o)
    site = by_site[max(by_site, key=lambda s: len(by_site[s]))]
    cx, cy = np.array([[o["x"], o["y"]] for o in site]).mean(0)
    x0, y0, x1, y1 = cx - 60, cy - 60, cx + 60, cy + 60
    img = np.ascontiguousarray(world.render((x0, y0, x1, y1), 0.5, d).transpose(1, 2, 0))
    truth = [OrientedBox((o["x"] - x0) / 0.5, (y1 - o["y"]) / 0.5, o["length_m"] / 0.5, o["width_m"] / 0.5,
                         o["heading_deg"]) for o in cars if x0 < o["x"] < x1 and y0 < o["y"] < y1]
    return img, truth


def test_the_front_check_runs_inside_the_detector(detector, car_scene):
    """Same boxes with and without the check; with it some cars are turned round, heading_conf is a
    probability of at least 0.5, and fewer fronts are wrong."""
    img, truth = car_scene
    plain = Detector.load_default(front=None).detect_array(img, 0.5)
    checked = detector.detect_array(img, 0.5)
    assert [(round(a.box.cx, 3), round(a.box.cy, 3)) for a in plain] == [(round(b.box.cx, 3), round(b.box.cy, 3))
                                                                          for b in checked]
    turns = [angle_diff(a.box.angle_deg, b.box.angle_deg) for a, b in zip(plain, checked)]
    assert all(t < 1e-6 or abs(t - 180.0) < 1e-6 for t in turns) and any(t > 90 for t in turns)
    assert all(0.5 <= d.heading_conf <= 1.0 for d in checked)
    assert min(d.heading_conf for d in plain) < 0.5  # the network alone was unsure of some

    def wrong_fronts(dets):
        m = iou_matrix([d.box for d in dets], truth)
        return sum(angle_diff(dets[int(np.argmax(m[:, j]))].box.angle_deg, b.angle_deg) > 135
                   for j, b in enumerate(truth) if m[:, j].max() >= 0.3)

    assert wrong_fronts(checked) < wrong_fronts(plain)
