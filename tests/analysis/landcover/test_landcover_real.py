"""Real pixels: NAIP (held-out dates, right half of the scene) and Landsat crops in data/ (see README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from borderwatch.analysis.landcover import LandcoverRangeWarning, classify_landcover, iou, ndwi_water_reference

DATA = Path(__file__).with_name("data")


def _load(stem: str):
    img = np.asarray(Image.open(next(DATA.glob(f"{stem}_r*_rgb*.png")))).transpose(2, 0, 1).copy()
    ref = np.asarray(Image.open(next(DATA.glob(f"{stem}_r*_water.png")))) > 127
    return img, ref


# Measured with the shipped nets (water_cnn.onnx cnn-20261126-wide-ens3, three seeds averaged, + params fit-20261125e;
# lc-mlp-cnn-6, whose shore is re-decided by each tile's colours) on these crops: RGB-only water IoU 0.9708 (2018;
# 0.9707 in lc-mlp-cnn-4/5, 0.8997 with the segment heads of lc-mlp-2, 0.73 before them) and 0.9457 (2020, a
# wind-rippled lake; 0.9242 in lc-mlp-cnn-5, 0.34 with the segment heads); with NIR 0.95 and 0.98. The guards sit
# under those figures so a regression fails. Both crops are over 0.9 now, but the target (RGB-only IoU
# >= 0.9 on held-out dates) is read on the whole held-out scenes, which are not in the repository: there it is
# NOT met (tiled 0.83-0.90, 0.82-0.92 with the pipeline's context; scripts/fit_landcover.py eval). Two crops passing is no evidence that it is, so no test
# here claims it either way (until lc-mlp-cnn-5 a strict xfail did, while the 2020 crop sat under 0.9).
@pytest.mark.parametrize("stem, rgb_min, nir_min", [("naip_20180716", 0.95, 0.9), ("naip_20200831", 0.9, 0.9)])
def test_naip_water_iou(stem, rgb_min, nir_min):
    img, ref = _load(stem)
    valid = np.ones(ref.shape, bool)
    rgb = classify_landcover(img[:3], valid, 5.0)
    rgbn = classify_landcover(img, valid, 5.0, nir=True)
    assert rgb.method.endswith("/rgb+cnn") and rgbn.method.endswith("/rgbn-p50")
    assert iou(rgb.water_mask, ref) >= rgb_min
    assert iou(rgbn.water_mask, ref) >= nir_min


def test_naip_rgb_cnn_with_a_black_nodata_edge():
    """A scene edge (black fill, invalid) inside the tile: nodata stays 0 and the lake is still found (0.962 measured)."""
    img, ref = _load("naip_20180716")
    img = img[:3].copy()
    valid = np.ones(ref.shape, bool)
    valid[:, -40:] = False
    img[:, ~valid] = 0
    lc = classify_landcover(img, valid, 5.0)
    assert lc.method.endswith("/rgb+cnn") and (lc.classes[~valid] == 0).all() and (lc.classes[valid] > 0).all()
    assert iou(lc.water_mask[valid], ref[valid]) >= 0.93


def test_naip_dry_crop_with_nir_has_little_water():
    img, ref = _load("naip_20160816")
    assert ref.mean() < 0.05
    assert classify_landcover(img, np.ones(ref.shape, bool), 5.0, nir=True).share("water") < 0.06


def test_naip_nir_head_decides_water_on_its_own_probability():
    """The NIR head is a binary water head; until 2026-11-28 its p(water) competed with the land head's classes, whose
    probability is spread over seven, so water won at p ~ 0.3: on this crop (2019, right half, never fitted; picked
    by its reference share alone) it called 0.60 of the pixels water for 0.19 in the reference (IoU 0.32).
    With p > 0.5: 0.19 and IoU 0.98 (the RGB default: 0.96)."""
    img, ref = _load("naip_20190904")
    lc = classify_landcover(img, np.ones(ref.shape, bool), 5.0, nir=True)
    assert abs(lc.share("water") - ref.mean()) < 0.05
    assert iou(lc.water_mask, ref) >= 0.9


def test_naip_dry_crop_rgb_only_has_little_water():
    """Was a strict xfail with the per-pixel RGB path; met since the segment heads (water share 0.029), and by
    the conv net (0.024; the three-seed ensemble 0.027; with the shore refinement of lc-mlp-cnn-5 0.031; 0.032 with
    the wider nets of lc-mlp-cnn-6)."""
    img, ref = _load("naip_20160816")
    assert classify_landcover(img[:3], np.ones(ref.shape, bool), 5.0).share("water") < 0.1


_GAP = "300 m Landsat is far outside the ~2 m feature scale (warned, not classified meaningfully)"


def test_landsat_gsd_is_flagged_out_of_range():
    """At 300 m the classifier does not pretend: it warns (the answer stays unreliable: see the xfail below)."""
    img, ref = _load("landsat_RGB")
    with pytest.warns(LandcoverRangeWarning, match="300 m GSD"):
        classify_landcover(img, np.ones(ref.shape, bool), 300.0)


@pytest.mark.filterwarnings("ignore::borderwatch.analysis.landcover.LandcoverRangeWarning")
@pytest.mark.xfail(strict=True, reason=_GAP)
def test_target_landsat_sea_is_water():
    img, ref = _load("landsat_RGB")
    lc = classify_landcover(img, np.ones(ref.shape, bool), 300.0)
    assert lc.classes.shape == ref.shape and (lc.classes > 0).all()
    assert iou(lc.water_mask, ref) >= 0.5


def test_reference_needs_dark_nir():
    """Bright bare soil with high NDWI must not count as water; dark NIR + green does."""
    img = np.zeros((4, 40, 40), np.uint8)
    img[:3] = 150
    img[3] = 140  # bare soil: NDWI slightly > 0, NIR bright
    img[:3, :20] = np.array([40, 60, 50], np.uint8)[:, None, None]
    img[3, :20] = 15  # water: NIR dark
    img[3, 20:, :20] = 200  # vegetation
    ref = ndwi_water_reference(img)
    assert ref[:20].all() and not ref[20:].any()


def test_iou_beyond_shore_leaves_out_only_the_shore_band():
    from borderwatch.analysis.landcover.reference import iou_beyond_shore

    ref = np.zeros((40, 40), bool)
    ref[10:30, 10:30] = True  # a 20 x 20 px lake
    shifted = np.zeros_like(ref)
    shifted[11:31, 10:30] = True  # the same lake one pixel off: the shore disagrees
    assert iou(shifted, ref) < 0.95 and iou_beyond_shore(shifted, ref) == 1.0
    half = np.zeros_like(ref)
    half[10:30, 10:20] = True  # half the lake missed: far beyond the shore band
    assert iou_beyond_shore(half, ref) < 0.6


# Real street frames at 0.5 m with no river, lake or gravel bar in them (data/README.md; scripts/landcover_negatives.py):
# none of their pixels is water or sandbar. The shipped heads read 0.278 of the Minsk frame as water (dark asphalt) and
# 0.258 / 0.335 of the two frames as sandbar (paving). Heads fitted with the street frames fixed both on unseen places
# but cost crossing sites on synthetic worlds, so they are not shipped (docs/landcover-fitting.md); these strict xfails
# turn into failures the day a shipped head gets streets right, so the model card's caveat is updated then.
_STREETS = ("street_minsk_crossroads", "street_munich_road")


def _street(stem: str) -> np.ndarray:
    return np.asarray(Image.open(next(DATA.glob(f"{stem}_*.png")))).transpose(2, 0, 1).copy()


@pytest.mark.parametrize("stem", _STREETS)
@pytest.mark.xfail(strict=True, reason="paving reads as sandbar (0.26 / 0.34 of the frames): not yet fixed without "
                   "losing synthetic crossing sites (docs/landcover-fitting.md)")
def test_target_real_streets_are_not_sandbar(stem):
    img = _street(stem)
    lc = classify_landcover(img, np.ones(img.shape[1:], bool), 0.5)
    assert lc.method.endswith("/rgb") and lc.share("sandbar") < 0.1


@pytest.mark.xfail(strict=True, reason="dark asphalt reads as water (0.28 of the frame): not yet fixed without moving "
                   "synthetic crossing sites (docs/landcover-fitting.md)")
def test_target_real_street_asphalt_is_not_water():
    img = _street("street_minsk_crossroads")
    assert classify_landcover(img, np.ones(img.shape[1:], bool), 0.5).share("water") < 0.03


def test_real_streets_read_as_river_today():
    """What the strict xfails above stand on, measured: the Minsk crossroads frame is about a quarter water and a
    quarter sandbar to the shipped heads (0.278 / 0.258), the Munich road a third sandbar (0.335). If this drifts,
    the model card's figures are stale."""
    minsk, munich = (_street(s) for s in _STREETS)
    a = classify_landcover(minsk, np.ones(minsk.shape[1:], bool), 0.5)
    b = classify_landcover(munich, np.ones(munich.shape[1:], bool), 0.5)
    assert 0.2 < a.share("water") < 0.35 and 0.2 < a.share("sandbar") < 0.32 and 0.28 < b.share("sandbar") < 0.4
