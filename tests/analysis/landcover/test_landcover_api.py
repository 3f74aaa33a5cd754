"""classify_landcover: contract, provenance and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from borderwatch.analysis.landcover import (
    CODES, LANDCOVER_VERSION, MAX_GSD_M, LandCover, LandcoverRangeWarning, classify_landcover,
)
from borderwatch.analysis.landcover.model import load_params
from borderwatch.errors import InputError


def _field(h=96, w=96, colour=(88, 130, 66), seed=0):
    rng = np.random.default_rng(seed)
    img = np.empty((3, h, w), np.uint8)
    for i, c in enumerate(colour):
        img[i] = np.clip(c + rng.normal(0, 6, (h, w)), 1, 255)
    return img


def test_code_table_matches_synthetic_truth():
    from borderwatch.synth.palette import LANDCOVER

    assert CODES == LANDCOVER


def test_result_shape_dtype_method_and_shares():
    img = _field()
    lc = classify_landcover(img, np.ones(img.shape[1:], bool), 0.5)
    assert isinstance(lc, LandCover)
    assert lc.classes.shape == img.shape[1:] and lc.classes.dtype == np.uint8
    assert LANDCOVER_VERSION in lc.method and lc.method.endswith("/rgb")
    assert set(np.unique(lc.classes)) <= set(range(1, 8))
    assert sum(lc.shares().values()) == pytest.approx(1.0)
    assert lc.share("water") == lc.share(1)
    assert lc.area_m2("vegetation") == pytest.approx(lc.share(4) * img.shape[1] * img.shape[2] * 0.25)


def test_green_field_has_no_water():
    img = _field()
    lc = classify_landcover(img, np.ones(img.shape[1:], bool), 0.5)
    assert not lc.water_mask.any()
    assert lc.share("vegetation") > 0.9


def test_nodata_pixels_are_zero_and_all_nodata_is_all_zero():
    img = _field()
    valid = np.ones(img.shape[1:], bool)
    valid[:, :40] = False
    lc = classify_landcover(img, valid, 0.5)
    assert (lc.classes[~valid] == 0).all() and (lc.classes[valid] > 0).all()
    empty = classify_landcover(img, np.zeros_like(valid), 0.5)
    assert not empty.classes.any() and empty.share("water") == 0.0


def test_odd_sizes_and_gsds():
    for h, w, g in ((1, 1, 0.5), (37, 53, 0.5), (37, 53, 0.8), (20, 30, 5.0), (9, 9, 300.0)):
        img = _field(h, w)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LandcoverRangeWarning)
            lc = classify_landcover(img, np.ones((h, w), bool), g)
        assert lc.classes.shape == (h, w) and (lc.classes > 0).all()


@pytest.mark.parametrize("gsd", [0.3, 0.5, 0.8, 5.0, MAX_GSD_M])
def test_no_range_warning_inside_the_range(gsd):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LandcoverRangeWarning)
        classify_landcover(_field(24, 24), np.ones((24, 24), bool), gsd)


@pytest.mark.parametrize("gsd", [MAX_GSD_M * 1.01, 30.0, 300.0])
def test_coarse_gsd_warns_instead_of_a_silent_answer(gsd):
    """Landsat-like GSD: the ~2 m features mean nothing there; the caller is told, with the GSD named."""
    with pytest.warns(LandcoverRangeWarning, match=f"{gsd:g} m GSD"):
        classify_landcover(_field(24, 24), np.ones((24, 24), bool), gsd)


def test_nir_band_is_used_only_when_asked():
    """The RGB path is the default even with a 4th band: it held up better on real NAIP (classify.py's note)."""
    img = np.concatenate([_field(), np.full((1, 96, 96), 160, np.uint8)])
    valid = np.ones((96, 96), bool)
    assert classify_landcover(img, valid, 5.0, nir=True).method.endswith("/rgbn-p50")
    default = classify_landcover(img, valid, 5.0)
    assert default.method.endswith("/rgb+cnn")  # RGB at 5 m: the conv net decides the water
    np.testing.assert_array_equal(default.classes, classify_landcover(img[:3], valid, 5.0).classes)
    np.testing.assert_array_equal(default.classes, classify_landcover(img, valid, 5.0, nir=False).classes)


@pytest.mark.parametrize(
    "img, valid, gsd, kw",
    [
        (np.zeros((2, 8, 8), np.uint8), np.ones((8, 8), bool), 0.5, {}),
        (np.zeros((5, 8, 8), np.uint8), np.ones((8, 8), bool), 0.5, {}),
        (np.zeros((3, 8, 8), np.uint16), np.ones((8, 8), bool), 0.5, {}),
        (np.zeros((3, 8, 8), np.float32), np.ones((8, 8), bool), 0.5, {}),
        (np.zeros((8, 8), np.uint8), np.ones((8, 8), bool), 0.5, {}),
        ([[1, 2]], np.ones((8, 8), bool), 0.5, {}),
        (np.zeros((3, 8, 8), np.uint8), np.ones((8, 9), bool), 0.5, {}),
        (np.zeros((3, 8, 8), np.uint8), np.ones((8, 8), np.uint8), 0.5, {}),
        (np.zeros((3, 8, 8), np.uint8), np.ones((8, 8), bool), 0.0, {}),
        (np.zeros((3, 8, 8), np.uint8), np.ones((8, 8), bool), float("nan"), {}),
        (np.zeros((3, 8, 8), np.uint8), np.ones((8, 8), bool), "half", {}),
        (np.zeros((3, 8, 8), np.uint8), np.ones((8, 8), bool), 0.5, {"nir": True}),
    ],
)
def test_bad_input_raises_input_error(img, valid, gsd, kw):
    with pytest.raises(InputError):
        classify_landcover(img, valid, gsd, **kw)


def test_unknown_class_name_raises():
    lc = classify_landcover(_field(8, 8), np.ones((8, 8), bool), 0.5)
    with pytest.raises(InputError):
        lc.share("lava")
    with pytest.raises(InputError):
        lc.share(9)


def test_shipped_parameters_fit_the_features():
    from borderwatch.analysis.landcover.features import NIR_FEATURES, RGB_FEATURES

    p = load_params()
    assert p.land.mu.shape == (len(RGB_FEATURES),) and p.water_rgb.mu.shape == (len(RGB_FEATURES),)
    assert p.water_nir is not None and p.water_nir.mu.shape == (len(RGB_FEATURES) + len(NIR_FEATURES),)
    assert p.land.classes == (2, 3, 4, 5, 6, 7, 8) and p.water_rgb.classes == (0, 1)  # 8: river ice
    assert (p.land.sd > 0).all()


def test_black_nodata_border_is_not_water_next_to_it():
    img = _field(128, 128)
    valid = np.ones((128, 128), bool)
    img[:, :, :48] = 0  # a scene edge: black fill outside the footprint
    valid[:, :48] = False
    lc = classify_landcover(img, valid, 0.5)
    assert not lc.water_mask.any()


def test_speed_is_in_the_right_range():
    """Loose floor (the bench gives ~45 Mpx/s per core at 0.5 m); catches an order-of-magnitude slip."""
    import time

    img = _field(1024, 1024)
    valid = np.ones((1024, 1024), bool)
    classify_landcover(img, valid, 0.5)
    t0 = time.process_time()
    classify_landcover(img, valid, 0.5)
    assert 1.05 / max(time.process_time() - t0, 1e-6) > 3.0  # Mpx per CPU-second


def test_model_card_names_the_shipped_files_and_versions():
    """The card ships beside the weights and names the versions a result records, so a reader can match them."""
    from importlib.resources import files

    from borderwatch.analysis.landcover.cnn import load_cnn

    folder = files("borderwatch.analysis.landcover")
    card = folder.joinpath("MODEL_CARD.md").read_text(encoding="utf-8")
    assert card.startswith(f"# Land cover ({LANDCOVER_VERSION})")
    for name, version in (("params.json", load_params().version), ("water_cnn.onnx", load_cnn().version)):
        assert folder.joinpath(name).is_file()
        assert f"| `{name}` |" in card and f"| {version} |" in card
    for held_out in ("2010", "2014", "2016", "2018", "2020"):  # the dates its real-pixel figures are read on
        assert held_out in card

