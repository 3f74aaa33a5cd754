"""The conv water net of the 3-10 m RGB path (cnn.py): shipped ONNX net, tile edges, nodata, segment smoothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from borderwatch.analysis.landcover.cnn import (
    MIN_PX, MULTIPLE, SHORE_MIN_PX, cnn_water_proba, load_cnn, prepare, refine_shore, segment_smooth, water_proba,
)
from borderwatch.errors import InputError


def _tile(h=64, w=64, seed=0):
    """A dark flat patch (lake-like) left, a striped green field right."""
    rng = np.random.default_rng(seed)
    img = np.empty((3, h, w), np.float32)
    img[:] = np.array([80, 110, 60], np.float32)[:, None, None] + 15 * np.sin(np.arange(w) * 2.1)[None, None, :]
    img[:, :, : w // 2] = np.array([35, 50, 45], np.float32)[:, None, None]
    img += rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_shipped_net_is_consistent():
    net = load_cnn()
    assert net.version.startswith("cnn-")
    (inp,), (out,) = net.session.get_inputs(), net.session.get_outputs()
    assert inp.name == "x" and inp.shape[:2] == [1, 6] and out.shape[:2] == [1, 1]  # six channels (prepare)
    assert set(net.meta["naip_train_dates"]) <= {"20090818", "20120731", "20150926", "20170827", "20190904"}
    assert net.meta["naip_train_part"] == "left half"
    members = net.meta["members"]  # three fits of one recipe, different seeds, averaged in the file (mean p)
    assert net.meta["combine"] == "mean of p" and len(members) == 3
    assert sorted(m["seed"] for m in members) == [0, 1, 2]
    assert all(m["epochs"] == members[0]["epochs"] and m["naip_train_dates"] == members[0]["naip_train_dates"]
               and m["naip_train_part"] == "left half" for m in members)
    z = net.logit(np.zeros((6, 2 * MIN_PX, 3 * MIN_PX), np.float32))
    assert z.shape == (2 * MIN_PX, 3 * MIN_PX) and np.isfinite(z).all()


def test_a_broken_net_file_is_an_input_error(tmp_path):
    bad = tmp_path / "water_cnn.onnx"
    bad.write_text(json.dumps({"version": "x"}))
    with pytest.raises(InputError, match="water net"):
        load_cnn(str(bad))


def test_lake_and_field_are_told_apart():
    """The net alone on a real NAIP crop (held-out date 2018): p(water) high on the reference's water, low on its
    land (a sanity floor, not a score; measured 0.975 / 0.013, each member 0.97-0.98 / 0.011-0.014). A synthetic
    dark-flat-vs-striped tile served here before: out of the nets' domain, the three seeds put 0.02-0.51 on it."""
    from pathlib import Path

    from PIL import Image

    data = Path(__file__).with_name("data")
    img = np.asarray(Image.open(next(data.glob("naip_20180716_r*_rgbn.png")))).transpose(2, 0, 1)[:3].copy()
    ref = np.asarray(Image.open(next(data.glob("naip_20180716_r*_water.png")))) > 127
    p = cnn_water_proba(img, np.ones(ref.shape, bool))
    assert p[ref].mean() > 0.9 and p[~ref].mean() < 0.05


def test_log_colour_inputs_are_tile_relative():
    """A per-band gain (white balance / exposure between dates) leaves the log-colour channels (nearly) unchanged."""
    img = _tile()
    v = np.ones(img.shape[1:], bool)
    gained = np.clip(img.astype(np.float32) * np.array([1.2, 0.9, 1.1])[:, None, None], 0, 255).astype(np.uint8)
    x0, x1 = prepare(img, v), prepare(gained, v)
    assert np.abs(x1[3:] - x0[3:]).mean() < 0.03
    assert np.abs(x1[:3] - x0[:3]).mean() > 0.02  # the raw channels do move


@pytest.mark.parametrize("h, w", [(1, 1), (3, 7), (38, 83), (64, 64), (128, 100)])
def test_proba_shape_range_any_tile_size(h, w):
    img = _tile(max(h, 4), max(w, 4))[:, :h, :w].copy()
    p = cnn_water_proba(img, np.ones((h, w), bool))
    assert p.shape == (h, w) and p.dtype == np.float32 and ((p >= 0) & (p <= 1)).all()
    assert MIN_PX % MULTIPLE == 0 and MIN_PX // MULTIPLE > 4  # the dilation-4 reflect pad at 1/4 scale needs > 4 px


def test_nodata_content_does_not_matter_and_is_zero():
    img = _tile(seed=3)
    v = np.ones(img.shape[1:], bool)
    v[:, -12:] = False
    black, white = img.copy(), img.copy()
    black[:, ~v] = 0
    white[:, ~v] = 255
    p0, p1 = cnn_water_proba(black, v), cnn_water_proba(white, v)
    np.testing.assert_array_equal(p0, p1)
    assert (p0[~v] == 0).all()
    q = water_proba(black, v)
    assert (q[~v] == 0).all() and ((q >= 0) & (q <= 1)).all()


def test_segment_smoothing_weights():
    rng = np.random.default_rng(1)
    p = rng.random((6, 8)).astype(np.float32)
    labels = np.repeat(np.arange(4), 12).reshape(6, 8)
    v = np.ones(p.shape, bool)
    np.testing.assert_allclose(segment_smooth(p, labels, v, 0.0), p)
    full = segment_smooth(p, labels, v, 1.0)
    for k in range(4):
        np.testing.assert_allclose(full[labels == k], p[labels == k].mean(), rtol=1e-5)
    v[0, 0] = False
    assert segment_smooth(p, labels, v, 0.5)[0, 0] == 0


def _tiny_net(path, w, b, seed):
    """A one-layer water net file (1x1 conv of the six inputs) in the shipped format, for the merge test."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from borderwatch.onnxrt import write_metadata
    from borderwatch.analysis.landcover.cnn import FORMAT

    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["z"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, "h", "w"])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 1, "h", "w"])],
        [helper.make_tensor("w", TensorProto.FLOAT, [1, 6, 1, 1], list(w)), helper.make_tensor("b", TensorProto.FLOAT, [1], [b])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save_model(m, str(path))
    meta = {"seed": seed, "naip_train_dates": ["20090818"], "naip_train_part": "left half"}
    write_metadata(path, {"borderwatch.format": FORMAT, "borderwatch.version": f"tiny-{seed}", "borderwatch.meta": json.dumps(meta)})
    return str(path)


def _fit_landcover():
    """scripts/fit_landcover.py as a module (it is a script, not part of the package)."""
    from scripts_under_test import load_script

    return load_script("fit_landcover")


def test_merged_nets_average_the_members_probabilities(tmp_path):
    """scripts/fit_landcover.py merge_nets: one file whose p is the mean of its members' p (not of their logits)."""
    fl = _fit_landcover()
    rng = np.random.default_rng(0)
    paths = [_tiny_net(tmp_path / f"n{i}.onnx", rng.normal(0, 3, 6), float(rng.normal()), i) for i in range(3)]
    out = tmp_path / "water_cnn.onnx"
    fl.merge_nets(paths, "cnn-test", out)
    merged = load_cnn(str(out))
    assert merged.version == "cnn-test" and [m["seed"] for m in merged.meta["members"]] == [0, 1, 2]
    img, v = _tile(40, 48), np.ones((40, 48), bool)
    ps = [cnn_water_proba(img, v, load_cnn(p)) for p in paths]
    got = cnn_water_proba(img, v, merged)
    np.testing.assert_allclose(got, np.mean(ps, 0), atol=1e-5)
    z = np.mean([np.log(p) - np.log1p(-p) for p in np.clip(ps, 1e-6, 1 - 1e-6)], 0)  # logit averaging differs
    assert np.abs(got - 1 / (1 + np.exp(-z))).max() > 1e-3


def _lake_and_field(h=40, w=40, shore=20, seed=1):
    """Dark lake in columns < shore, bright green field beyond, a little noise."""
    rng = np.random.default_rng(seed)
    img = np.empty((3, h, w), np.float32)
    img[:, :, :shore] = np.array([40, 55, 50], np.float32)[:, None, None]
    img[:, :, shore:] = np.array([90, 130, 60], np.float32)[:, None, None]
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_refine_shore_gives_the_lake_rim_back():
    """The net's soft edge left the lake's last column as land (p 0.3); the tile's colours say water."""
    img = _lake_and_field()
    v = np.ones(img.shape[1:], bool)
    p = np.where(np.arange(40)[None, :] < 19, 0.95, 0.05).astype(np.float32) * np.ones((40, 1), np.float32)
    p[:, 19] = 0.3  # lake colour, called land
    out = refine_shore(p, img, v)
    assert (out[:, 19] > 0.5).all()  # re-decided as water
    assert (out[:, 20] < 0.5).all()  # the field's first column stays land
    far = np.ones_like(v)
    far[:, 17:22] = False
    assert np.array_equal(out[far], p[far])  # only the rim moves
    assert out.dtype == np.float32 and p[0, 19] == np.float32(0.3)  # the input is not changed in place


def test_refine_shore_leaves_a_tile_without_both_sides_alone():
    img = _lake_and_field()
    v = np.ones(img.shape[1:], bool)
    p = np.full((40, 40), 0.95, np.float32)
    p[:, 30:] = 0.4  # land that is not sure: too few sure-land pixels to learn its colour
    assert np.array_equal(refine_shore(p, img, v), p)
    p[:1, :SHORE_MIN_PX] = 0.05  # still one short of... exactly SHORE_MIN_PX sure land pixels: now trusted
    assert not np.array_equal(refine_shore(p, img, v), p)


def test_refine_shore_treats_the_tile_edge_and_nodata_as_no_shore():
    """Water running off the tile edge is not a shore there, and invalid pixels are never touched."""
    img = _lake_and_field()
    v = np.ones(img.shape[1:], bool)
    v[:5] = False
    p = np.where(np.arange(40)[None, :] < 20, 0.6, 0.05).astype(np.float32) * np.ones((40, 1), np.float32)
    p[:, :10] = 0.95
    p[~v] = 0.0
    out = refine_shore(p, img, v)
    assert np.array_equal(out[~v], p[~v])
    assert np.array_equal(out[5:, 0], p[5:, 0])  # the lake touches the left tile edge: no rim there
    assert np.array_equal(out[-1, :18], p[-1, :18])  # nor along the bottom edge, away from the real shore


def test_fit_cnn_trains_a_net_of_other_widths_that_onnxruntime_runs(tmp_path, monkeypatch):
    """fit-cnn --channels / --device (train_water_net + export_water_net): a net of the asked widths, fitted on the
    left half of a scene only, written as a water net file whose record names its widths and device (torch only)."""
    import argparse

    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    fl = _fit_landcover()
    rng = np.random.default_rng(3)
    scene = np.empty((4, 160, 300), np.uint8)  # R, G, B, NIR: a dark lake (NIR-dark) left, a green field right
    scene[:3] = _lake_and_field(160, 300, shore=100)
    scene[3] = np.where(np.arange(300) < 100, 20, 150)[None, :] + rng.integers(0, 5, (160, 300))
    def scenes(_):
        yield "20090818", scene

    monkeypatch.setattr(fl, "naip_scenes", scenes)
    args = argparse.Namespace(naip="unused", dates="20090818", epochs=2, steps=3, lr=3e-3, seed=0, threads=1,
                              part="left", water_aug=0.0, channels="8,8,12", device="cpu")
    net, meta = fl.train_water_net(args)
    assert meta["channels"] == [8, 8, 12] and meta["fit_device"] == "cpu" and meta["naip_train_part"] == "left half"
    assert net.e1[0][0].out_channels == 8 and net.e3[0][0].out_channels == 12
    out = tmp_path / "water_cnn.onnx"
    fl.export_water_net(net, "cnn-test-wide", meta, out, scene)  # asserts onnxruntime gives torch's answer
    got = load_cnn(str(out))
    assert got.version == "cnn-test-wide" and got.meta["channels"] == [8, 8, 12]
    p = cnn_water_proba(scene[:3], np.ones(scene.shape[1:], bool), got)
    assert p.shape == scene.shape[1:] and np.isfinite(p).all()
    # the shipped recipe's widths are not recorded, so its metadata is unchanged
    args.channels = ",".join(map(str, fl.CHANNELS))
    assert "channels" not in fl.train_water_net(args)[1]


def test_water_recolouring_moves_only_the_water_toward_the_chosen_lake_colours(monkeypatch):
    """fit-cnn --water-aug / --water-colours: land keeps its pixels; water moves toward a colour of the chosen set."""
    fl = _fit_landcover()
    assert fl.water_colours(None) == tuple(fl.WATER_COLOURS)
    assert fl.water_colours("algae green, turbid brown") == ("algae green", "turbid brown")
    with pytest.raises(SystemExit, match="unknown"):
        fl.water_colours("algae green,sky blue")
    # one exact colour per name: blue stays for "algae green" (target blue = the lake's), not for the others
    monkeypatch.setitem(fl.WATER_COLOURS, "algae green", ((130, 130), (160, 160), (60, 60)))
    monkeypatch.setitem(fl.WATER_COLOURS, "turbid brown", ((150, 150), (120, 120), (100, 100)))
    rng = np.random.default_rng(0)
    rgb = np.zeros((3, 32, 32), np.uint8)
    rgb[:] = np.array([40, 50, 60], np.uint8)[:, None, None]  # dark lake
    water = np.zeros((32, 32), bool)
    water[:, :16] = True
    rgb[:, ~water] = np.array([120, 110, 90], np.uint8)[:, None]  # field
    for colours, blue_kept in ((("algae green",), True), (("turbid brown",), False)):
        for _ in range(5):
            out = fl._water_recolour(rgb, water, rng, colours=colours)
            assert np.array_equal(out[:, ~water], rgb[:, ~water])
            assert (out[0, water] > 40).all() and (out[1, water] > 50).all()
            assert (out[2, water] == 60).all() == blue_kept
