"""Training data plumbing: augmentation keeps boxes and fronts on the pixels; targets; a tiny training run."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from borderwatch.analysis.detect import OrientedBox
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


def _one_car_sample() -> Sample:
    """A 0.5 m training sample holding one car (class 0) with its front, for tiny training runs."""
    box = OrientedBox(80, 60, 30, 12, 37.0)
    return Sample(_car_image(box), 0.5, np.array([[80, 60, 30, 12, 37.0]]), np.array([0]), np.array([0]),
                  np.array([True]), np.array([True]))


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
    assert (m[0] == 1).sum() == 2  # full weight on the two centre cells only
    # axis target (sin 2h, cos 2h) of a 90-degree box
    assert abs(t["reg"][7, 20, 15]) < 1e-6 and t["reg"][8, 20, 15] == pytest.approx(-1.0)
    # neighbour cells: weight below 1, regression pointing at the same centre and size
    ys, xs = np.nonzero((m[0] > 0) & (m[0] < 1))
    assert len(ys) >= 4
    for y, x in zip(ys, xs):
        cx, cy = boxes[0, :2] if abs(x - 15) + abs(y - 20) < abs(x - 40) + abs(y - 40) else boxes[1, :2]
        assert (x + t["reg"][4, y, x]) * 2 == pytest.approx(cx) and (y + t["reg"][5, y, x]) * 2 == pytest.approx(cy)
    assert t["negw"].min() == 1.0  # exhaustive labels: background everywhere


def test_long_truck_trains_its_whole_box_along_its_axis():
    s = Sample(np.zeros((128, 128, 3), np.uint8), 0.5, np.array([[64.0, 64.0, 36.0, 5.0, 90.0]]), np.array([1]),
               np.array([6]), np.array([True]), np.array([True]))
    t = make_targets(s, 128)
    xs = np.nonzero(t["mask"][0, 32] > 0)[0]
    assert xs.min() <= 28 and xs.max() >= 36  # cells well along the trailer learn it
    for x in xs:
        assert (x + t["reg"][4, 32, x]) * 2 == pytest.approx(64.0)
        assert t["reg"][0, 32, x] == pytest.approx(np.log(36.0))


def test_partial_labels_have_no_background_far_from_labels():
    s = Sample(np.zeros((128, 128, 3), np.uint8), 0.3, np.array([[30.0, 30.0, 9.0, 4.0, 0.0]]), np.array([0]),
               np.array([0]), np.array([False]), np.array([True]), exhaustive=False)
    t = make_targets(s, 128)
    assert t["negw"][15, 15] == 1.0 and t["negw"][15, 19] == 1.0  # around the labelled car
    assert t["negw"][50, 50] == 0.0  # an unlabelled car here is not taught as background
    torch = pytest.importorskip("torch")
    from borderwatch.analysis.detect.train import _loss

    heat, reg, mask, negw = (torch.from_numpy(t[k][None]) for k in ("heat", "reg", "mask", "negw"))
    out = torch.zeros(1, 23, 64, 64)
    out[:, :3] = -5.0
    base = _loss(out, heat, reg, mask, negw)[1]["heat"]
    out[:, 0, 50, 50] = 5.0  # a confident peak far from the label
    assert _loss(out, heat, reg, mask, negw)[1]["heat"] == pytest.approx(base)
    assert _loss(out, heat, reg, mask, torch.ones_like(negw))[1]["heat"] > base + 1.0


@pytest.mark.parametrize("seed", range(6))
def test_chip_pixels_and_boxes_agree_to_a_fraction_of_a_pixel(seed):
    """Labels put a pixel's centre at i + 0.5, OpenCV at i: the warp must convert (it was 0.5 px off)."""
    import cv2

    from borderwatch.analysis.detect.train import _pixel_index_affine

    img = np.zeros((200, 200), np.float32)
    img[99:102, 119:122] = 1.0  # centred on (120.5, 100.5) in label coordinates
    rng = np.random.default_rng(seed)
    m = _affine((110, 95), 128, float(rng.uniform(0.6, 1.1)), float(rng.uniform(0, 360)), bool(seed % 2))
    want = warp_boxes(np.array([[120.5, 100.5, 3, 3, 0]]), m)[0, :2]
    c = cv2.warpAffine(img, _pixel_index_affine(m), (128, 128), flags=cv2.INTER_LINEAR)
    ys, xs = np.mgrid[0:128, 0:128] + 0.5
    got = np.array([(c * xs).sum(), (c * ys).sum()]) / c.sum()
    assert np.abs(got - want).max() < 0.2


def test_estimate_gsd_from_labelled_cars(tmp_path):
    from borderwatch.analysis.detect.labels import Label, LabelledImage
    from borderwatch.analysis.detect.train import estimate_gsd

    cars = [Label(OrientedBox(50 + 30 * i, 50, 75.0, 34.0, 90.0), "small_vehicle", "car") for i in range(4)]
    diag = Label(OrientedBox(300, 50, 80.0, 70.0, 0.0), "small_vehicle", "car")  # squarish: a diagonal car
    bus = Label(OrientedBox(300, 150, 200.0, 50.0, 0.0), "large_vehicle", "bus")
    im = LabelledImage(tmp_path / "a.jpg", 640, 360, [*cars, diag, bus])
    assert estimate_gsd(im) == pytest.approx(4.5 / 75.0)
    assert estimate_gsd(LabelledImage(tmp_path / "b.jpg", 10, 10, [bus])) is None


def test_real_weights_must_match_the_samples():
    pytest.importorskip("torch")
    from borderwatch.analysis.detect.train import train

    s = Sample(np.zeros((64, 64, 3), np.uint8), 0.5, np.zeros((0, 5)), np.zeros(0, int), np.zeros(0, int),
               np.zeros(0, bool), np.zeros(0, bool))
    with pytest.raises(ValueError, match="real_weights"):
        train([s], [s, s], max_steps=1, batch=2, chip=64, width=8, real_share=0.5, real_weights=[1.0],
              log=lambda m: None)


def test_old_model_state_widens_to_the_axis_head():
    torch = pytest.importorskip("torch")
    from borderwatch.analysis.detect.model import OrientedCenterNet, load_compatible

    old = OrientedCenterNet(width=8, axis=False)
    new = OrientedCenterNet(width=8)
    assert load_compatible(new, old.state_dict()) == ["out.weight", "out.bias"]
    x = torch.rand(1, 3, 32, 32) * 255
    old.eval(), new.eval()
    with torch.no_grad():
        a, b = old(x), new(x)
    assert b.shape[1] == a.shape[1] + 2
    assert torch.allclose(a, b[:, : a.shape[1]], atol=1e-5)


def test_tiny_training_run_and_export(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from borderwatch.analysis.detect.export import export_onnx
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.analysis.detect.train import train

    s = _one_car_sample()
    net = train([s], [], max_steps=2, minutes=5, batch=2, chip=64, width=8, log=lambda m: None)
    p = export_onnx(net, tmp_path / "m.onnx", version="test", extra={"score_threshold": "0.4", "nms_iou": "0.2"})
    det = Detector(p)
    assert det.version == "test" and det.gsd_m == 0.5 and det.axis_head
    assert (det.score_threshold, det.nms_iou) == (0.4, 0.2)  # the operating point travels with the model
    assert Detector(p, score_threshold=0.1, nms_iou=None).score_threshold == 0.1
    assert isinstance(det.detect_array(np.zeros((64, 64, 3), np.uint8), 0.5), list)
    # a model without the axis head (the first bundled format) still loads and decodes
    from borderwatch.analysis.detect.model import OrientedCenterNet

    old = export_onnx(OrientedCenterNet(width=8, axis=False), tmp_path / "old.onnx", version="old")
    det_old = Detector(old, score_threshold=0.0)
    assert not det_old.axis_head and det_old.nms_iou == 0.3 and Detector(old).score_threshold == 0.3
    dets = det_old.predict_chips(np.zeros((1, 32, 32, 3), np.uint8))[0]
    assert dets and all(d.subclass is None or d.subclass in det_old.subclasses for d in dets)


def test_heading_follows_the_axis_and_the_front_vector():
    from borderwatch.analysis.detect.runtime import _heading_on_axis

    h = np.radians(np.array([10.0, 100.0, 200.0, 350.0]))
    vec = np.array([30.0, 80.0, 170.0, 300.0])  # a blurry heading vector on the right end
    out = _heading_on_axis(np.sin(2 * h), np.cos(2 * h), vec)
    assert np.allclose(out, [10.0, 100.0, 200.0, 350.0])
    out = _heading_on_axis(np.sin(2 * h), np.cos(2 * h), (vec + 180) % 360)  # front vector the other way
    assert np.allclose(out, [190.0, 280.0, 20.0, 170.0])


def test_front_sign_term_scores_front_against_rear_and_is_off_by_default():
    torch = pytest.importorskip("torch")
    from borderwatch.analysis.detect.train import _loss

    # a car (class 0) heading 90 degrees and a truck (class 1) heading 0, both with a known front
    boxes = np.array([[30.0, 30.0, 9.0, 4.0, 90.0], [90.0, 90.0, 20.0, 6.0, 0.0]])
    s = Sample(np.zeros((128, 128, 3), np.uint8), 0.5, boxes, np.array([0, 1]), np.array([0, 4]),
               np.array([True, True]), np.array([True, True]))
    t = make_targets(s, 128)
    heat, reg, mask, negw = (torch.from_numpy(t[k][None]) for k in ("heat", "reg", "mask", "negw"))
    right = torch.zeros(1, 23, 64, 64)
    right[:, 5:7] = reg[:, 2:4]  # heading vector on the true front everywhere
    wrong = right.clone()
    wrong[:, 5:7] = -reg[:, 2:4]  # front and rear swapped
    total, parts = _loss(right, heat, reg, mask, negw)
    assert "front" not in parts  # default: the v0.2.0 loss, unchanged
    t_on, p_on = _loss(right, heat, reg, mask, negw, front_sign=1.0)
    assert float(t_on) == pytest.approx(float(total) + p_on["front"], rel=1e-5)
    assert p_on["front"] < 0.1
    assert _loss(wrong, heat, reg, mask, negw, front_sign=1.0)[1]["front"] > 2.5
    # class weights: a swap on the car only costs more when cars weigh more
    car_wrong = right.clone()
    car_wrong[:, 5:7, :32, :32] = -reg[:, 2:4, :32, :32]
    even = _loss(car_wrong, heat, reg, mask, negw, front_sign=1.0)[1]["front"]
    cars = _loss(car_wrong, heat, reg, mask, negw, front_sign=1.0, front_class_weight=[3, 1, 3])[1]["front"]
    assert cars > even * 1.5
    with pytest.raises(ValueError):
        _loss(right, heat, reg, mask, negw, front_sign=1.0, front_class_weight=[1, 1])


@pytest.mark.parametrize("seed", range(6))
def test_zero_border_chips_are_black_outside_the_image_and_keep_the_car(seed):
    """The runtime pads tiles at an image edge with zeros; zero-border chips show that, not a mirror."""
    box = OrientedBox(14, 40, 20, 8, 90.0)  # a car close to the left edge of a small image
    img = _car_image(box, size=(80, 80))
    s = Sample(img, 0.5, np.array([[box.cx, box.cy, box.length, box.width, box.angle_deg]]), np.array([0]),
               np.array([0]), np.array([True]), np.array([True]))
    import borderwatch.analysis.detect.train as T

    orig = T._photometric
    T._photometric = lambda x, r: x.astype(np.float32) + 20  # a colour shift that must not lift the padding
    try:
        chip, cs = make_chip(s, 128, np.random.default_rng(seed), scale_jitter=0.0, free_rotation=0.0,
                             zero_border=1.0)
    finally:
        T._photometric = orig
    black = (chip == 0).all(2)
    assert black.sum() >= 128 * 128 - 80 * 80 - 200  # an 80 px image in a 128 px chip: the rest is nodata
    assert (chip[~black] >= 20).all()  # inside the image the shift applies
    assert cs.n == 1 and _front_is_bright(chip, OrientedBox(*cs.boxes[0]))
    # a mirrored border would show the car's mirror image beside it; zeros do not
    dark = ((chip > 0) & (chip < 70)).all(2)
    assert abs(dark.sum() - box.length * box.width) < 0.35 * box.length * box.width


def test_zero_border_off_keeps_the_old_random_draws():
    s = _one_car_sample()
    a, ca = make_chip(s, 64, np.random.default_rng(3))
    b, cb = make_chip(s, 64, np.random.default_rng(3), zero_border=0.0)
    assert np.array_equal(a, b) and np.array_equal(ca.boxes, cb.boxes)


def test_jpeg_roundtrip_blurs_colour_more_than_brightness():
    """JPEG keeps colour at half resolution (4:2:0): a 1 px red line on grey loses most of its colour, little of its
    brightness step, which is what a truck reads as in a Google Earth export at 0.8 m."""
    from borderwatch.analysis.detect.train import jpeg_roundtrip

    img = np.full((32, 32, 3), 120, np.uint8)
    img[:, 15] = (200, 60, 60)  # a thin red stripe, as bright as the grey around it (luma ~ 101 vs 120)
    out = jpeg_roundtrip(img, 95).astype(float)
    colour_in = img[:, 15, 0].astype(float) - img[:, 15, 1]
    colour_out = out[8:24, 15, 0] - out[8:24, 15, 1]
    assert colour_out.mean() < 0.75 * colour_in.mean()
    luma = out @ [0.299, 0.587, 0.114]
    assert abs(luma[8:24, 15].mean() - (0.299 * 200 + 0.587 * 60 + 0.114 * 60)) < 12


def test_jpeg_chips_keep_their_boxes_and_jpeg_off_keeps_the_old_random_draws():
    s = _one_car_sample()
    a, ca = make_chip(s, 64, np.random.default_rng(3))
    b, cb = make_chip(s, 64, np.random.default_rng(3), jpeg=0.0)
    assert np.array_equal(a, b) and np.array_equal(ca.boxes, cb.boxes)
    c, cc = make_chip(s, 64, np.random.default_rng(3), jpeg=1.0)
    assert np.array_equal(cc.boxes, ca.boxes) and not np.array_equal(c, a)  # the same chip, its pixels through JPEG


def test_real_samples_keep_boxes_on_vehicles_after_rounded_resampling(tmp_path):
    """684 px at 0.13 m -> 296 px at 0.3 m is a scale of 0.4327, not 0.4333: 0.35 px at the right edge."""
    import cv2

    from borderwatch.analysis.detect.labels import Label, LabelledImage
    from borderwatch.analysis.detect.train import real_samples

    img = np.zeros((547, 684, 3), np.uint8)
    img[300:320, 600:660] = 255  # a bright 60 x 20 px "car" centred on (630, 310) in label coordinates
    cv2.imwrite(str(tmp_path / "a.png"), img)
    lab = Label(OrientedBox.from_xyxy(600, 300, 660, 320), "small_vehicle", "car")
    (s,) = real_samples([LabelledImage(tmp_path / "a.png", 684, 547, [lab], gsd_m=0.13)], gsd_m=0.3)
    assert s.image.shape[:2] == (237, 296)
    a = s.image[:, :, 0].astype(float)
    ys, xs = np.mgrid[0:a.shape[0], 0:a.shape[1]] + 0.5
    got = np.array([(a * xs).sum(), (a * ys).sum()]) / a.sum()
    assert np.abs(got - s.boxes[0, :2]).max() < 0.05


def _obj(cls, sub, x, y, length=4.5, on="land"):
    return {"class": cls, "subclass": sub, "x": x, "y": y, "length_m": length, "on": on}


def test_hard_cases_find_queued_cars_vehicles_afloat_and_boats():
    from borderwatch.analysis.detect.train import QUEUE_GAP_M, hard_cases

    objs = [
        _obj("small_vehicle", "car", 0, 0),
        _obj("small_vehicle", "car", 0, 4.5 + QUEUE_GAP_M - 0.5),  # nose to tail with the first
        _obj("small_vehicle", "car", 100, 0),  # alone
        _obj("large_vehicle", "truck", 200, 0, 9.0, on="water"),
        _obj("small_vehicle", "car", 300, 0, on="bridge"),
        _obj("distractor", "boat", 400, 0, 6.0, on="water"),
        _obj("distractor", "rock", 400, 3, 2.0, on="sandbar"),  # a rock is no vehicle to queue behind
        _obj("small_vehicle", "car", 403, 0),
    ]
    cases = hard_cases(objs)
    assert cases["queued"].tolist() == [0, 1]
    assert cases["afloat"].tolist() == [3, 4]
    assert cases["boat"].tolist() == [5]
    assert all(len(v) == 0 for v in hard_cases(objs[2:3]).values())  # a lone car


def test_hard_chips_are_added_after_the_others_and_centred_on_hard_cases():
    from borderwatch.analysis.detect.train import synth_samples

    kw = dict(chips_per_date=2, background_per_date=1, size_m=40.0)
    plain = synth_samples([3], rng=np.random.default_rng(5), **kw)
    hard = synth_samples([3], rng=np.random.default_rng(5), hard_per_date=3, hard_gsd_range=(0.7, 0.8), **kw)
    assert len(plain) == 2 * 3 and len(hard) == 2 * 6
    assert np.array_equal(plain[0].image, hard[0].image)  # a world's first date: the same chips first
    extra = hard[3:6] + hard[9:12]
    assert all(s.gsd_m == 0.5 for s in extra)
    assert sum(s.n for s in extra) > 0  # centred on vehicles (a boat chip may hold none)
    # each extra chip is centred near a hard case of its date (its source names world, date and centre)
    from borderwatch.analysis.detect.train import HARD_OFFSET_M, hard_cases
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    world = SynthWorld(load_corridor("yalu-upper"), seed=3)
    for s in extra:
        _, _, day, centre = s.source.split(":")
        cx, cy = (float(v) for v in centre.split(","))
        objs = world.objects(dt.date.fromisoformat(day))
        cases = np.concatenate(list(hard_cases(objs).values()))
        gap = min(max(abs(objs[i]["x"] - cx), abs(objs[i]["y"] - cy)) for i in cases)
        assert gap <= HARD_OFFSET_M + 0.5


def test_training_with_chip_workers_returns_a_cpu_net(tmp_path):
    pytest.importorskip("torch")
    from borderwatch.analysis.detect.train import train

    s = _one_car_sample()
    net = train([s], [s], max_steps=3, batch=2, chip=64, width=8, real_share=0.5, workers=1, log=lambda m: None)
    assert net.train_info["steps"] == 3 and net.train_info["workers"] == 1
    assert next(net.parameters()).device.type == "cpu" and not net.training


def test_shipped_format_loads_back_into_a_network_for_fine_tuning(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import onnxruntime as ort

    from borderwatch.analysis.detect.export import export_onnx, load_onnx_weights
    from borderwatch.analysis.detect.model import ExportWrapper, OrientedCenterNet

    src = OrientedCenterNet(width=8)
    src.train()
    with torch.no_grad():  # BatchNorm statistics and affines away from their defaults, as after training
        for _ in range(3):
            src(torch.rand(4, 3, 32, 32) * 255)
        for m in src.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    path = export_onnx(src.eval(), tmp_path / "m.onnx", version="t")
    calib = np.random.default_rng(0).uniform(0, 255, (8, 3, 32, 32)).astype(np.float32)
    net = OrientedCenterNet(width=8)
    load_onnx_weights(net, path, calib)
    x = np.random.default_rng(1).uniform(0, 255, (2, 3, 32, 32)).astype(np.float32)
    sess = ort.InferenceSession(str(path))
    want = sess.run(None, {sess.get_inputs()[0].name: x})
    with torch.no_grad():
        got = ExportWrapper(net.eval())(torch.from_numpy(x))
    for w, g in zip(want, got):
        assert np.allclose(w, g.numpy(), atol=1e-4)
    # train mode on the calibration batch: the re-estimated BatchNorms reproduce the file's function
    net.train()
    with torch.no_grad():
        got = ExportWrapper(net)(torch.from_numpy(calib))
    want = sess.run(None, {sess.get_inputs()[0].name: calib})
    assert np.allclose(want[1], got[1].numpy(), atol=1e-3)
    with pytest.raises(ValueError, match="layer"):
        load_onnx_weights(OrientedCenterNet(width=16), path, calib)


def test_training_chips_follow_the_given_capture_dates():
    """--synth-dates: a winter date gives snow-covered chips (bright ground), and every date gets its chips."""
    from borderwatch.analysis.detect.train import synth_samples

    kw = dict(chips_per_date=2, background_per_date=1, size_m=40.0, rng=np.random.default_rng(5))
    days = [dt.date(2025, 7, 31), dt.date(2026, 1, 20)]
    chips = synth_samples([3], dates=days, **kw)
    assert len(chips) == 2 * 3
    assert [s.source.split(":")[2] for s in chips] == ["2025-07-31"] * 3 + ["2026-01-20"] * 3
    summer, winter = (np.median([np.median(s.image) for s in chips[i:i + 3]]) for i in (0, 3))
    assert winter > summer + 40  # snow


def test_train_detector_reads_synth_dates():
    from scripts_under_test import load_script

    script = load_script("train_detector")
    assert script._dates("2026-01-20, 2025-07-31") == [dt.date(2025, 7, 31), dt.date(2026, 1, 20)]
    for bad in ("2025-13-01", "2025-07-31,2025-07-31", ","):
        with pytest.raises(SystemExit, match="--synth-dates"):
            script._dates(bad)


def test_train_detector_chips_only(tmp_path):
    """--chips-only renders and caches the chips and stops: no network, no torch needed (CI has none), and the
    cache is what --add-chips reads."""
    import pickle

    from scripts_under_test import load_script

    out = tmp_path / "winter"
    script = load_script("train_detector")
    assert script.main(["--synth-seeds", "100:101", "--synth-dates", "2026-01-15", "--chips-per-date", "1",
                        "--background-per-date", "0", "--chips-only", "--out", str(out)]) == 0
    caches = list(out.glob("cache_*.pkl"))
    assert [c.name for c in caches] == ["cache_100_101_1_0_d260115.pkl"]
    assert not (out / "model.onnx").exists() and not (out / "model.pt").exists()
    chips = pickle.loads(caches[0].read_bytes())
    assert [s.source for s in script._chip_cache(caches[0])] == [s.source for s in chips]
    assert len(chips) == 1 and chips[0].n >= 1 and ":2026-01-15:" in chips[0].source  # centred on an object
    assert f"boxes in {caches[0]}" in (out / "train.log").read_text()


def test_train_detector_adds_cached_chips(tmp_path):
    """--add-chips: an earlier run's chips (e.g. winter worlds) join this run's, and the model says so."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import json
    import pickle

    import onnx
    from scripts_under_test import load_script

    s = _one_car_sample()
    extra = tmp_path / "winter.pkl"
    extra.write_bytes(pickle.dumps([s, s, s]))
    out = tmp_path / "run"
    script = load_script("train_detector")
    assert script.main(["--synth-seeds", "100:101", "--chips-per-date", "1", "--background-per-date", "0",
                        "--max-steps", "1", "--batch", "2", "--chip", "64", "--width", "8", "--threads", "1",
                        "--add-chips", str(extra), "--out", str(out)]) == 0
    log = (out / "train.log").read_text()
    assert f"3 more chips from {extra}" in log and "synthetic: 5 chips" in log
    meta = {p.key: p.value for p in onnx.load(str(out / "model.onnx")).metadata_props}
    training = json.loads(meta["borderwatch.training"])
    assert training["added_chips"] == ["winter.pkl"] and training["synth_dates"] == ["2025-07-31", "2025-09-13"]
    for bad, why in ((tmp_path / "none.pkl", "not a file"), (out / "train.log", "not a chip cache")):
        with pytest.raises(SystemExit, match=f"--add-chips: .*{why}"):
            script.main(["--synth-seeds", "100:101", "--add-chips", str(bad), "--out", str(tmp_path / "bad")])
