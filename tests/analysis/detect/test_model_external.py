"""The external ONNX adapter, on a tiny YOLO-OBB-layout model built here with onnx.helper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from borderwatch.analysis.detect import angle_diff
from borderwatch.analysis.detect.external import ExternalDetector
from borderwatch.errors import InputError

S = 64


def make_obb_model(path, preds: np.ndarray, size: int = S):
    """ONNX model with input [1, 3, size, size] whose output [1, 4+nc+1, N] is ``preds`` (+ 0 * mean(input))."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    c, n = preds.shape
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, c, n])
    const = numpy_helper.from_array(preds[None].astype(np.float32), "preds")
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["preds", "z"], ["output0"]),
    ]
    g = helper.make_graph(nodes, "obb", [x], [y], initializer=[const, zero])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _preds():
    # columns: cx cy w h | scores for 3 classes | angle (rad)
    cols = [
        (20, 20, 10, 4, 0.9, 0.0, 0.0, 0.0),  # class 0, horizontal w side: axis 90
        (40, 30, 4, 16, 0.0, 0.8, 0.0, math.radians(30)),  # class 1, long side is h
        (40.5, 30.5, 4, 16, 0.0, 0.6, 0.0, math.radians(30)),  # duplicate of the above -> NMS
        (50, 50, 8, 3, 0.0, 0.0, 0.95, 0.0),  # class 2: not in the class map -> dropped
        (10, 50, 8, 3, 0.1, 0.0, 0.0, 0.0),  # below threshold
    ]
    return np.array(cols, np.float32).T


@pytest.fixture
def ext(tmp_path):
    model = make_obb_model(tmp_path / "obb.onnx", _preds())
    cmap = tmp_path / "classes.yaml"
    cmap.write_text("gsd_m: 0.5\ninput_size: 64\nclasses:\n  0: small_vehicle\n"
                    "  1: {class: large_vehicle, subclass: truck}\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"\[2\]"):
        return ExternalDetector(model, cmap)


def test_decodes_yolo_obb_layout(ext):
    dets = ext.predict_chips(np.zeros((1, S, S, 3), np.uint8))[0]
    assert len(dets) == 2
    by = {d.cls: d for d in dets}
    car, truck = by["small_vehicle"], by["large_vehicle"]
    assert (car.box.cx, car.box.cy, car.box.length, car.box.width) == pytest.approx((20, 20, 10, 4))
    assert car.box.angle_deg == pytest.approx(90.0)  # w along x = pointing right (axis only)
    assert not car.has_front
    assert truck.subclass == "truck" and truck.score == pytest.approx(0.8)
    assert truck.box.length == pytest.approx(16) and truck.box.width == pytest.approx(4)
    # w side rotated 30 deg clockwise from x has heading 120; the long h side is across it: 30 (mod 180)
    assert angle_diff(truck.box.angle_deg, 30.0, period=180.0) < 1e-6


def test_detect_array_contract(ext):
    dets = ext.detect_array(np.zeros((S, S, 3), np.uint8), 0.5)
    assert len(dets) == 2
    with pytest.raises(InputError, match="ground sample distance"):
        ext.detect_array(np.zeros((S, S, 3), np.uint8), 3.0)


def test_class_map_errors(tmp_path):
    model = make_obb_model(tmp_path / "obb.onnx", _preds())
    bad = tmp_path / "bad.yaml"
    bad.write_text("gsd_m: 0.5\nclasses:\n  0: boat\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown target 'boat'"):
        ExternalDetector(model, bad)
    bad.write_text("classes:\n  0: small_vehicle\n", encoding="utf-8")
    with pytest.raises(InputError, match="gsd_m"):
        ExternalDetector(model, bad)
    bad.write_text("gsd_m: 0.5\nclasses:\n  7: small_vehicle\n", encoding="utf-8")
    with pytest.raises(InputError, match="class index 7"):
        ExternalDetector(model, bad)
    bad.write_text("gsd_m: 0.5\nclasses: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        ExternalDetector(model, bad)


def test_names_as_keys(tmp_path):
    model = make_obb_model(tmp_path / "obb.onnx", _preds())
    cmap = {"gsd_m": 0.5, "names": ["car", "truck", "boat"], "classes": {"car": "small_vehicle", "truck": "large_vehicle",
                                                                          "boat": None}}
    ext = ExternalDetector(model, cmap)
    assert sorted(d.cls for d in ext.predict_chips(np.zeros((1, S, S, 3), np.uint8))[0]) == ["large_vehicle",
                                                                                             "small_vehicle"]
