"""scripts/merge_front_columns.py and train_front.py's JPEG reading: the recipe of the check run with the JPEG variant."""

from __future__ import annotations

import numpy as np
import pytest

from borderwatch.analysis.detect.front import SAMPLES_ACROSS, SAMPLES_ALONG, FrontModel, default_front_path
from scripts_under_test import load_script


def test_merge_script_rebuilds_the_shipped_jpeg_check_from_its_columns(tmp_path, capsys):
    """The shipped file's car column is check 4.1's and its other columns its own: merging them again with 4.1's
    calibration gives a check that answers as the shipped one for every class, with the same calibration."""
    pytest.importorskip("onnx")
    shipped, jpeg = default_front_path(), default_front_path(jpeg=True)
    out = tmp_path / "again.onnx"
    rc = load_script("merge_front_columns").main(
        ["--column", f"small_vehicle={shipped}", "--column", f"large_vehicle={jpeg}", "--column", f"heavy_equipment={jpeg}",
         "--calibration-from", str(shipped), "--version", "jpeg-test", "--out", str(out)])
    assert rc == 0 and "jpeg-test" in capsys.readouterr().out
    again, want = FrontModel.load(out), FrontModel.load(jpeg)
    assert again.calibration == want.calibration
    rng = np.random.default_rng(1)
    patches = rng.uniform(0, 255, (30, SAMPLES_ACROSS, SAMPLES_ALONG, 3)).astype(np.float32)
    conf, classes = rng.uniform(0, 1, 30), ["small_vehicle", "large_vehicle", "heavy_equipment"] * 10
    np.testing.assert_array_equal(again.class_logits(patches, conf, classes), want.class_logits(patches, conf, classes))


def test_merge_script_refuses_a_column_without_a_file(tmp_path):
    with pytest.raises(SystemExit):
        load_script("merge_front_columns").main(["--column", "small_vehicle", "--version", "x", "--out", str(tmp_path / "o.onnx")])


def test_jpeg_reader_draws_one_quality_per_image_and_keeps_it(tmp_path):
    """Fit images are saved as JPEG at a quality drawn per image (the same on every run); a fixed quality is used as given."""
    import cv2

    from borderwatch.analysis.detect.labels import LabelledImage

    rng = np.random.default_rng(2)
    img = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    paths = []
    for k in range(4):
        p = tmp_path / f"im{k}.png"
        cv2.imwrite(str(p), img[:, :, ::-1])
        paths.append(LabelledImage(p, 96, 64))
    script = load_script("train_front")
    drawn = script.jpeg_reader(None, seed=3)
    first = [drawn(im) for im in paths]
    assert all(np.array_equal(a, drawn(im)) for a, im in zip(first, paths))  # the same draw again
    assert len({a.tobytes() for a in first}) > 1  # not one quality for all
    fixed = script.jpeg_reader(75, seed=3)
    from borderwatch.analysis.detect.train import jpeg_roundtrip

    assert np.array_equal(fixed(paths[0]), jpeg_roundtrip(img, 75))
