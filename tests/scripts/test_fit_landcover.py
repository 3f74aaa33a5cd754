"""scripts/fit_landcover.py train_head: partial labels (a real street frame is known to hold no sandbar, not which
land class each pixel is) and scripts/landcover_negatives.py: the frames' GSD."""

from __future__ import annotations

import numpy as np
import pytest

from scripts_under_test import load_script


def _toy(rng, n=600):
    """1-D features: class 2 near 0, class 3 near 4; cells near 1 that may be 3 or 4 but are not 2."""
    x2 = rng.normal(0.0, 0.3, (n, 1))
    x3 = rng.normal(4.0, 0.3, (n, 1))
    xp = rng.normal(1.0, 0.2, (n, 1))
    return x2, x3, xp


def test_one_hot_rows_train_exactly_as_plain_labels():
    fl = load_script("fit_landcover")
    rng = np.random.default_rng(0)
    x2, x3, _ = _toy(rng)
    x = np.concatenate([x2, x3]).astype(np.float32)
    y = np.r_[np.full(len(x2), 2), np.full(len(x3), 3)]
    onehot = np.zeros((len(y), 2), bool)
    onehot[np.arange(len(y)), y - 2] = True
    a = fl.train_head(x, y, (2, 3), hidden=4, epochs=2)
    b = fl.train_head(x, y, (2, 3), hidden=4, epochs=2, allowed=onehot)
    for k in ("w1", "b1", "w2", "b2"):
        assert np.array_equal(getattr(a, k), getattr(b, k))


def test_a_partial_label_rules_out_the_class_it_excludes():
    fl = load_script("fit_landcover")
    rng = np.random.default_rng(1)
    x2, x3, xp = _toy(rng)
    classes = (2, 3, 4)
    probe = np.array([[1.0]], np.float32)
    plain = fl.train_head(np.concatenate([x2, x3]), np.r_[np.full(len(x2), 2), np.full(len(x3), 3)], classes,
                          hidden=8, epochs=30, batch=64)
    x = np.concatenate([x2, x3, xp])
    y = np.r_[np.full(len(x2), 2), np.full(len(x3), 3), np.full(len(xp), 2)]  # y is ignored where a row is partial
    allowed = np.zeros((len(y), 3), bool)
    allowed[: len(x2), 0] = True
    allowed[len(x2): len(x2) + len(x3), 1] = True
    allowed[len(x2) + len(x3):, 1:] = True  # "3 or 4, not 2"
    partial = fl.train_head(x, y, classes, hidden=8, epochs=30, batch=64, allowed=allowed)
    assert plain.proba(probe)[0, 0] > 0.8  # without them, cells near 1 read as class 2
    assert partial.proba(probe)[0, 0] < 0.2


def test_street_frame_gsd_from_its_labelled_cars(tmp_path):
    neg = load_script("landcover_negatives")
    img = tmp_path / "frame.jpg"
    # YOLO rows: class cx cy w h (normalised); two cars 90 px long in a 1000 x 500 frame, a bus ignored
    img.with_suffix(".txt").write_text("0 0.5 0.5 0.09 0.04\n0 0.2 0.2 0.02 0.18\n2 0.5 0.5 0.5 0.1\n")
    assert neg.frame_gsd(img, 1000, 500) == pytest.approx(4.5 / 90)
    img.with_suffix(".txt").write_text("2 0.5 0.5 0.5 0.1\n")
    with pytest.raises(ValueError, match="no labelled car"):
        neg.frame_gsd(img, 1000, 500)


def test_street_frames_name_a_missing_folder(tmp_path):
    neg = load_script("landcover_negatives")
    with pytest.raises(FileNotFoundError, match="munich_road"):
        next(neg.frames({"kit": tmp_path, "minsk": tmp_path}, ("munich_road",), 0.5))


def test_street_frames_need_both_data_sets(capsys):
    fl = load_script("fit_landcover")
    with pytest.raises(SystemExit):
        fl.main(["fit", "--naip", "naip", "--negatives-kit", "kit"])
    assert "--negatives-kit and --negatives-minsk go together" in capsys.readouterr().err
