"""The front/rear check: patch sampling, features, fitting, and the shipped weights."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from borderwatch.analysis.detect.front import (
    SAMPLES_ACROSS,
    SAMPLES_ALONG,
    FrontCalibration,
    FrontModel,
    default_front_path,
    normalise_patches,
    vehicle_patch,
)
from borderwatch.analysis.detect.geometry import OrientedBox
from borderwatch.analysis.detect.runtime import Detector, ModelDetection
from borderwatch.errors import InputError


def _car(heading: float, size: int = 64, front_value: float = 250.0, body: float = 120.0,
         rng: np.random.Generator | None = None) -> tuple[np.ndarray, OrientedBox]:
    """A grey image with a 16 x 8 px 'car' whose front third is bright."""
    img = np.full((size, size, 3), 60.0, np.float32)
    box = OrientedBox(size / 2, size / 2, 16.0, 8.0, heading)
    h = math.radians(heading)
    fa = np.array([math.sin(h), -math.cos(h)])
    fb = np.array([math.cos(h), math.sin(h)])
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    rel = np.stack([xx - box.cx, yy - box.cy], -1)
    a, b = rel @ fa, rel @ fb
    inside = (np.abs(a) <= 8) & (np.abs(b) <= 4)
    img[inside] = body
    img[inside & (a > 3)] = front_value
    if rng is not None:
        img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255), box


@pytest.mark.parametrize("heading", [0.0, 90.0, 200.0, 333.0])
def test_patch_puts_the_front_at_the_last_columns(heading):
    img, box = _car(heading)
    p = vehicle_patch(img, box)
    assert p.shape == (SAMPLES_ACROSS, SAMPLES_ALONG, 3)
    mid = SAMPLES_ACROSS // 2
    front = p[mid, SAMPLES_ALONG // 2 + 3: SAMPLES_ALONG // 2 + 7, 0].mean()
    rear = p[mid, SAMPLES_ALONG // 2 - 7: SAMPLES_ALONG // 2 - 3, 0].mean()
    assert front > 200 and rear < 150


def test_a_turned_vehicle_reads_as_the_patch_turned_round():
    """What the network's oddness rests on: turning the box round turns the normalised patch round."""
    img, box = _car(40.0)
    turned = OrientedBox(box.cx, box.cy, box.length, box.width, 220.0)
    z = normalise_patches(np.stack([vehicle_patch(img, box), vehicle_patch(img, turned)]))
    assert z.shape == (2, 4, SAMPLES_ACROSS, SAMPLES_ALONG)
    np.testing.assert_allclose(z[0], z[1][:, ::-1, ::-1], atol=1e-3)
    assert np.abs(z[0] - z[0][:, :, ::-1]).max() > 0.5  # the two ends differ


def test_shipped_check_gives_a_turned_vehicle_the_opposite_answer():
    """The image part of the logit changes sign when the vehicle is turned round; only the detector's
    confidence term (a * heading_conf + b, what a patch with two equal ends gets) is shared."""
    model = FrontModel.load_default()
    img, box = _car(110.0, rng=np.random.default_rng(0))
    turned = OrientedBox(box.cx, box.cy, box.length, box.width, 290.0)
    flat = np.full((SAMPLES_ACROSS, SAMPLES_ALONG, 3), 80.0, np.float32)
    hc = np.array([0.3, 0.3, 0.3])
    z = model.logits(np.stack([vehicle_patch(img, box), vehicle_patch(img, turned), flat]), hc)
    assert z.shape == (3, len(model.classes))
    np.testing.assert_allclose(z[0] + z[1], 2 * z[2], atol=2e-3)
    assert np.abs(z[0] - z[2]).max() > 0.1


def _examples(n: int, seed: int):
    """Cars with a bright front; the 'detector' heading is right for 60 % of them."""
    rng = np.random.default_rng(seed)
    patches, right, conf = [], [], []
    for _ in range(n):
        h = float(rng.uniform(0, 360))
        img, box = _car(h, front_value=float(rng.uniform(170, 250)), body=float(rng.uniform(90, 140)), rng=rng)
        ok = bool(rng.random() < 0.6)
        seen = box if ok else OrientedBox(box.cx, box.cy, box.length, box.width, (h + 180.0) % 360.0)
        patches.append(vehicle_patch(img, seen))
        right.append(ok)
        conf.append(float(rng.uniform(0, 1)))
    return np.stack(patches), np.array(conf), np.array(right)


def test_fitted_check_finds_the_front_on_new_vehicles_and_turns_them_round(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from borderwatch.analysis.detect.front_fit import fit_front_model

    x, conf, right = _examples(300, 1)
    model = fit_front_model(x, conf, ["small_vehicle"] * len(x), right, tmp_path / "f.onnx", version="t",
                            epochs=12, width=8, members=2)  # two seeds, their mean logit in one file
    assert model.version == "t" and model.classes == ["small_vehicle"]
    xt, conft, rightt = _examples(100, 2)
    p = model.probability(xt, conft, ["small_vehicle"] * len(xt))
    assert np.mean((p >= 0.5) == rightt) >= 0.95
    # a class it has no weights for is left alone
    assert np.isnan(model.probability(xt[:2], conft[:2], ["heavy_equipment"] * 2)).all()

    _checked_car_faces_its_front(FrontModel.load(tmp_path / "f.onnx"))


def _checked_car_faces_its_front(model: FrontModel, sure: float = 0.9) -> list:
    """A bright-fronted car seen backwards is turned round, one seen the right way is kept, both with
    heading_conf above ``sure``; a class without a column (boats) passes unchanged. Returns the checked list."""
    img, box = _car(70.0)
    backwards = OrientedBox(box.cx, box.cy, box.length, box.width, 250.0)
    dets = [ModelDetection(backwards, 0.9, "small_vehicle", None, True, 0.3),
            ModelDetection(box, 0.9, "small_vehicle", None, True, 0.3),
            ModelDetection(backwards, 0.9, "boat", None, True, 0.3)]
    out = model.check(img, dets)
    assert abs(out[0].box.angle_deg - 70.0) < 1e-6 and out[0].heading_conf > sure
    assert abs(out[1].box.angle_deg - 70.0) < 1e-6 and out[1].heading_conf > sure
    assert out[2] == dets[2]  # no weights for boats: unchanged
    return out


def _hand_made_check(path, calibration: FrontCalibration | None = None) -> FrontModel:
    """A front check without torch: an ONNX graph whose car logit is 20 x (mean of the front half of the
    normalised patch minus the rear half) + 0 x heading_conf, with the shipped file's inputs and metadata."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from borderwatch.analysis.detect.front import FORMAT
    from borderwatch.onnxrt import write_metadata

    half = SAMPLES_ALONG // 2
    ints = lambda name, v: helper.make_tensor(name, TensorProto.INT64, [len(v)], v)  # noqa: E731
    floats = lambda name, v: helper.make_tensor(name, TensorProto.FLOAT, [], [v])  # noqa: E731
    nodes = [
        helper.make_node("Slice", ["patches", "front_from", "front_to", "along"], ["front"]),
        helper.make_node("Slice", ["patches", "rear_from", "front_from", "along"], ["rear"]),
        helper.make_node("ReduceMean", ["front"], ["mf"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["rear"], ["mr"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Sub", ["mf", "mr"], ["d"]),
        helper.make_node("Mul", ["d", "gain"], ["z"]),
        helper.make_node("Mul", ["heading_conf", "zero"], ["hz"]),
        helper.make_node("Add", ["z", "hz"], ["z1"]),
        helper.make_node("Unsqueeze", ["z1", "col"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "hand-made front check",
        [helper.make_tensor_value_info("patches", TensorProto.FLOAT, ["n", 4, SAMPLES_ACROSS, SAMPLES_ALONG]),
         helper.make_tensor_value_info("heading_conf", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 1])],
        [ints("front_from", [half]), ints("front_to", [SAMPLES_ALONG]), ints("rear_from", [0]), ints("along", [3]),
         ints("col", [1]), floats("gain", 20.0), floats("zero", 0.0)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    extra = {"classes": ["small_vehicle"]}
    if calibration is not None:
        extra["calibration"] = calibration.to_json()
    write_metadata(path, {"borderwatch.format": FORMAT, "borderwatch.version": "hand"}, extra)
    return FrontModel.load(path)


def test_check_turns_a_vehicle_round_and_reports_a_probability(tmp_path):
    """``check`` on its own (no torch needed): a vehicle whose front is behind it is turned round,
    heading_conf becomes the probability of the front it now has, other classes pass unchanged."""
    model = _hand_made_check(tmp_path / "hand.onnx")
    out = _checked_car_faces_its_front(model)
    assert out[0].heading_conf == pytest.approx(out[1].heading_conf, abs=1e-3)
    assert model.check(np.zeros((8, 8, 3), np.float32), []) == []


def test_calibration_changes_how_sure_never_which_end():
    cal = FrontCalibration(temperature=3.0, ceiling=0.9)
    z = np.linspace(-60, 60, 241)
    p = cal.probability(z)
    np.testing.assert_allclose(p + cal.probability(-z), 1.0, atol=1e-12)  # odd about 0.5
    assert np.all(np.diff(p) > 0) and np.all((p > 0.5) == (z > 0))
    assert p.max() <= 0.9 and p.max() > 0.899  # the ceiling: even the surest front is right 9 times in 10
    own = FrontCalibration()  # identity: the network's own sigmoid
    np.testing.assert_allclose(own.probability(z), 1 / (1 + np.exp(-z)), atol=1e-12)
    assert FrontCalibration.from_json(cal.to_json()) == cal
    for bad in ({"temperature": 0.0}, {"ceiling": 0.5}, {"ceiling": 1.2}):
        with pytest.raises(ValueError):
            FrontCalibration(**bad)


def test_calibration_fit_recovers_a_known_temperature_and_ceiling():
    rng = np.random.default_rng(3)
    truth = FrontCalibration(temperature=3.0, ceiling=0.9)
    z = rng.exponential(8.0, 20000)
    right = rng.random(z.size) < truth.probability(z)
    fit = FrontCalibration.fit(z, right, fitted_on="simulated")
    assert fit.temperature == pytest.approx(3.0, rel=0.15) and fit.ceiling == pytest.approx(0.9, abs=0.01)
    assert fit.fitted_on == "simulated"
    assert fit.log_loss(z, right) < truth.log_loss(z, right) + 1e-3 < FrontCalibration().log_loss(z, right)
    sure = FrontCalibration.fit(z, rng.random(z.size) < 1 / (1 + np.exp(-z)))  # the network was right all along
    assert sure.ceiling > 0.99 and sure.temperature == pytest.approx(1.0, rel=0.2)
    with pytest.raises(ValueError, match="some right and some wrong"):
        FrontCalibration.fit(z[:50], np.ones(50, bool))


def test_a_calibrated_file_reports_the_calibrated_probability(tmp_path):
    """The calibration in the file's metadata sets heading_conf; the end chosen is the same; calibrated=False
    gives the network's own probability and says so in the version."""
    cal = FrontCalibration(temperature=4.0, ceiling=0.8, fitted_on="test")
    model = _hand_made_check(tmp_path / "cal.onnx", cal)
    assert model.calibration == cal and model.version == "hand"
    out = _checked_car_faces_its_front(model, sure=0.6)
    own = FrontModel.load(tmp_path / "cal.onnx", calibrated=False)
    assert own.calibration is None and own.version == "hand-uncalibrated"
    raw = _checked_car_faces_its_front(own)
    for a, b in zip(out, raw):
        assert a.box == b.box
    assert 0.5 < out[0].heading_conf <= 0.8 < raw[0].heading_conf
    from borderwatch.onnxrt import write_metadata

    bad = tmp_path / "badcal.onnx"
    _hand_made_check(bad)
    write_metadata(bad, {"borderwatch.format": "borderwatch-front/1", "borderwatch.version": "x",
                         "borderwatch.classes": '["small_vehicle"]', "borderwatch.calibration": '{"ceiling": 2}'})
    with pytest.raises(InputError, match="badcal.onnx.*calibration metadata unreadable"):
        FrontModel.load(bad)


def test_bad_front_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="front-check model file not found"):
        FrontModel.load(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(InputError, match="bad.onnx.*not a loadable front-check model"):
        FrontModel.load(bad)
    from borderwatch.analysis.detect.runtime import default_model_path

    with pytest.raises(InputError, match="not a borderwatch front check"):
        FrontModel.load(default_model_path())


def test_bundled_detector_runs_the_shipped_front_check():
    assert default_front_path().is_file()
    det = Detector.load_default()
    assert det.front is not None and "+front-" in det.name
    assert set(det.front.classes) == {"small_vehicle", "large_vehicle", "heavy_equipment"}
    assert Detector.load_default(front=None).front is None


def test_shipped_front_check_carries_its_real_street_calibration():
    """The shipped file says what its heading_conf is calibrated on (traceable to the lanes in lanes.py), and
    ``calibrated=False`` gives the network's own probability under another name."""
    model = FrontModel.load_default()
    cal = model.calibration
    assert cal is not None and 2.0 < cal.temperature < 5.0 and 0.85 < cal.ceiling < 0.95
    assert all(name in cal.fitted_on for name in ("Munich", "DJI_0005", "DJI_0762", "DJI-00760", "DJI_0013"))
    own = FrontModel.load_default(calibrated=False)
    assert own.calibration is None and own.version == model.version + "-uncalibrated"


@pytest.mark.slow
def test_shipped_front_check_flips_fewer_synthetic_cars(tmp_path):
    """On one held-out synthetic world the checked fronts are right more often than the network's."""
    from borderwatch.analysis.detect.front import collect_front_examples
    from borderwatch.analysis.detect.train import synth_eval_set

    images = synth_eval_set([1009], tmp_path, gsd_m=0.5)[:12]
    ex = collect_front_examples(Detector.load_default(front=None), images)
    model = FrontModel.load_default()
    p = model.probability(ex.patches, ex.heading_conf, list(ex.classes))
    after = np.where(p < 0.5, 180.0 - ex.error_deg, ex.error_deg)
    cars = ex.classes == "small_vehicle"
    assert cars.sum() >= 30
    assert np.mean(after[cars] > 135) < np.mean(ex.error_deg[cars] > 135)


def test_patch_from_the_vehicles_surroundings_equals_the_patch_from_the_whole_image():
    """vehicle_patch reads only a crop; near the image edge and inside it, samples must not change."""
    rng = np.random.default_rng(4)
    img = rng.integers(0, 255, (90, 120, 3)).astype(np.uint8)
    for cx, cy, h in [(60.3, 45.7, 33.0), (3.2, 4.9, 250.0), (118.0, 88.5, 95.0), (10.0, 80.0, 180.0)]:
        box = OrientedBox(cx, cy, 14.0, 6.0, h)
        crop_based = vehicle_patch(img, box)
        whole = img.astype(np.float32)
        m = np.empty((2, 3))
        a = b = math.radians(h)
        m[:, 0] = 2 * 0.75 * 14.0 / SAMPLES_ALONG * np.array([math.sin(a), -math.cos(a)])
        m[:, 1] = 2 * 0.8 * 6.0 / SAMPLES_ACROSS * np.array([math.cos(b), math.sin(b)])
        m[:, 2] = np.array([cx, cy]) - 0.5 - m[:, 0] * (SAMPLES_ALONG - 1) / 2 - m[:, 1] * (SAMPLES_ACROSS - 1) / 2
        ref = cv2.warpAffine(whole, m, (SAMPLES_ALONG, SAMPLES_ACROSS), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT)
        np.testing.assert_allclose(crop_based, ref, atol=0.01)  # equal up to OpenCV rounding (of 0-255)


def test_merged_check_answers_each_class_as_the_file_it_was_taken_from(tmp_path):
    """merge_front_columns keeps each source's weights: every class's logit is its source's, bit for bit."""
    pytest.importorskip("onnx")
    from borderwatch.analysis.detect.front_fit import merge_front_columns

    a, b = default_front_path(), default_front_path(jpeg=True)
    merged = merge_front_columns({"heavy_equipment": b, "large_vehicle": a, "small_vehicle": b}, tmp_path / "m.onnx",
                                 version="test")
    assert merged.classes == ["heavy_equipment", "large_vehicle", "small_vehicle"] and merged.calibration is None
    rng = np.random.default_rng(0)
    patches = rng.uniform(0, 255, (40, SAMPLES_ACROSS, SAMPLES_ALONG, 3)).astype(np.float32)
    conf = rng.uniform(0, 1, 40)
    classes = ["heavy_equipment", "large_vehicle", "small_vehicle", "large_vehicle"] * 10
    z = merged.class_logits(patches, conf, classes)
    za, zb = (FrontModel.load(p).class_logits(patches, conf, classes) for p in (a, b))
    cls = np.array(classes)
    np.testing.assert_array_equal(z[cls == "large_vehicle"], za[cls == "large_vehicle"])
    np.testing.assert_array_equal(z[cls != "large_vehicle"], zb[cls != "large_vehicle"])
    with pytest.raises(ValueError, match="no column for 'bus'"):
        merge_front_columns({"bus": a}, tmp_path / "x.onnx", version="test")


def test_jpeg_front_check_is_shipped_with_its_sources_and_calibration():
    """The check that runs with the JPEG variant names where each class's column comes from and carries the
    real-street calibration of the shipped check (model card, "The front check for JPEG imagery")."""
    import json

    jpeg = FrontModel.load_default(jpeg=True)
    shipped = FrontModel.load_default()
    assert jpeg.path.name == "front-check-jpeg.onnx" and jpeg.version.startswith("jpeg-")
    assert jpeg.classes == shipped.classes and jpeg.calibration == shipped.calibration
    meta = jpeg.session.get_modelmeta().custom_metadata_map
    columns = json.loads(meta["borderwatch.columns"])
    assert columns["small_vehicle"] == "front-check.onnx"
    assert columns["large_vehicle"] == columns["heavy_equipment"] != "front-check.onnx"
    assert meta["borderwatch.detector"].startswith("borderwatch-vehicles-jpeg@")


@pytest.mark.slow
def test_jpeg_front_check_turns_fewer_trucks_on_jpeg_imagery(tmp_path):
    """On a synthetic development world (2040, 0.8 m) saved as JPEG quality 75, the shipped check turns trucks and
    machines the variant had right (development worlds 2040-2049: 4.4 % and 8.3 % of them wrong after it, the
    variant alone 3.7 % and 6.2 %); the check fitted on JPEG images leaves 1.5 % and 1.3 %. Its car column is the
    shipped check's, unchanged: on real streets as JPEG the JPEG fit read car fronts worse."""
    from borderwatch.analysis.detect.front import collect_front_examples
    from borderwatch.analysis.detect.runtime import _read_image
    from borderwatch.analysis.detect.train import jpeg_roundtrip, synth_eval_set

    images = synth_eval_set([2040], tmp_path, gsd_m=0.8)
    ex = collect_front_examples(Detector.load_default(jpeg=True, front=None), images,
                                read=lambda im: jpeg_roundtrip(_read_image(im.path)[:, :, :3], 75))
    classes = list(ex.classes)
    big = ex.classes != "small_vehicle"
    assert big.sum() >= 300

    def wrong(model: FrontModel) -> np.ndarray:
        p = model.probability(ex.patches, ex.heading_conf, classes)
        return np.where(p < 0.5, 180.0 - ex.error_deg, ex.error_deg) > 135

    jpeg, shipped = FrontModel.load_default(jpeg=True), FrontModel.load_default()
    assert wrong(jpeg)[big].mean() <= 0.5 * wrong(shipped)[big].mean()
    cars = ~big
    np.testing.assert_array_equal(jpeg.class_logits(ex.patches[cars], ex.heading_conf[cars], list(ex.classes[cars])),
                                  shipped.class_logits(ex.patches[cars], ex.heading_conf[cars], list(ex.classes[cars])))
