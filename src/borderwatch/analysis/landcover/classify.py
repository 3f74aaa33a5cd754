"""classify_landcover: per-pixel land-cover codes for one tile, RGB or RGB+NIR."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from borderwatch.analysis.landcover.codes import CODES, ICE, LANDCOVER_VERSION, NAMES, NODATA, WATER
from borderwatch.analysis.landcover.features import coarse_features, factor_for
from borderwatch.analysis.landcover.model import load_params
from borderwatch.analysis.landcover.cnn import load_cnn, water_proba
from borderwatch.analysis.landcover.regions import uses_regions
from borderwatch.errors import InputError, positive_gsd


#: coarsest GSD (m) the classifier answers for without a warning. Its features are colour and texture on
#: a ~2 m grid, checked at 0.3-1 m (synthetic) and 5 m (NAIP); at 30-300 m (Landsat) a river, a bar or a
#: track is sub-pixel and the texture windows span kilometres, so the classes mean nothing there.
MAX_GSD_M = 10.0


class LandcoverRangeWarning(UserWarning):
    """The tile's GSD is outside the range the land-cover classifier was built and checked for."""


@dataclass(frozen=True)
class LandCover:
    """Codes per pixel (see codes.CODES) plus the method that made them, for provenance."""

    classes: np.ndarray  # (H, W) uint8
    gsd_m: float
    method: str

    @property
    def water_mask(self) -> np.ndarray:
        return self.classes == WATER

    @property
    def valid(self) -> np.ndarray:
        return self.classes != NODATA

    def share(self, cls: int | str) -> float:
        """Fraction of the valid pixels in class cls (code or name); 0.0 on an all-nodata tile."""
        code = _code(cls)
        n = int(np.count_nonzero(self.classes))
        return float(np.count_nonzero(self.classes == code)) / n if n else 0.0

    def shares(self) -> dict[str, float]:
        n = int(np.count_nonzero(self.classes))
        counts = np.bincount(self.classes.ravel(), minlength=len(CODES))
        return {CODES[c]: (float(counts[c]) / n if n else 0.0) for c in CODES if c != NODATA}

    def area_m2(self, cls: int | str) -> float:
        return float(np.count_nonzero(self.classes == _code(cls))) * self.gsd_m**2


def _code(cls: int | str) -> int:
    if isinstance(cls, str):
        if cls not in NAMES:
            raise InputError("landcover", f"unknown class name {cls!r}; known: {', '.join(NAMES)}")
        return NAMES[cls]
    if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool) and int(cls) in CODES:
        return int(cls)
    raise InputError("landcover", f"unknown class code {cls!r}; known: {sorted(CODES)}")


def _check(img, valid, gsd_m, nir) -> tuple[float, bool]:
    if not isinstance(img, np.ndarray) or img.ndim != 3:
        raise InputError("image", f"expected a (bands, H, W) array, got {getattr(img, 'shape', type(img).__name__)}")
    if img.dtype != np.uint8:
        raise InputError("image", f"expected uint8 pixels, got {img.dtype}")
    bands = img.shape[0]
    if bands not in (3, 4):
        raise InputError("image", f"expected 3 (RGB) or 4 (RGB+NIR) bands, got {bands}")
    if not isinstance(valid, np.ndarray) or valid.dtype != np.bool_ or valid.shape != img.shape[1:]:
        raise InputError("valid", f"expected a bool mask of shape {img.shape[1:]}, got "
                         f"{getattr(valid, 'dtype', type(valid).__name__)} {getattr(valid, 'shape', '')}")
    g = positive_gsd(gsd_m)
    if nir and bands != 4:
        raise InputError("image", f"nir=True needs 4 bands (R, G, B, NIR), got {bands}")
    return g, bool(nir)


def classify_landcover(
    rgb_or_rgbn: np.ndarray, valid: np.ndarray, gsd_m: float, *, nir: bool = False, ice: bool = False
) -> LandCover:
    """Land cover of one tile: features on a ~2 m grid, two small MLP heads, 3x3 smoothing, water hysteresis;
    on RGB at 3-10 m the water is decided by a small convolutional net smoothed with the tile's segments
    (cnn.py), where pixel colour fails on real lakes.

    nir=True decides water with the NIR head alone (its p(water) > 0.5); by default a 4th band is ignored and
    the RGB path answers, which held up better on real NAIP scenes (see the note above WATER_SEED_P).
    ice=True offers the river-ice class: only for dates the river can be frozen (Corridor.may_freeze_on). Bright,
    colourless ground (concrete, roofs, dry fields) looks like snow-covered ice to the colour features: on real
    summer imagery 15-28 % of pixels were read as ice with it on, so it is off unless the season allows it.
    Pixels outside `valid` are NODATA (0). Raises InputError on wrong bands/dtypes/shapes; warns
    (LandcoverRangeWarning) when gsd_m > MAX_GSD_M, where the result is not meaningful.
    """
    g, use_nir = _check(rgb_or_rgbn, valid, gsd_m, nir)
    if g > MAX_GSD_M:
        warnings.warn(f"land cover at {g:g} m GSD: outside the classifier's range (<= {MAX_GSD_M:g} m; features "
                      "at ~2 m); at this scale rivers, bars and tracks are sub-pixel, so the classes are unreliable",
                      LandcoverRangeWarning, stacklevel=2)
    params = load_params()
    nir_head = use_nir and params.water_nir is not None
    conv = not nir_head and uses_regions(g)
    version = f"{params.version}+{load_cnn().version}" if conv else params.version
    method = f"{LANDCOVER_VERSION}/{version}/{'rgbn-p50' if nir_head else 'rgb+cnn' if conv else 'rgb'}"
    H, W = valid.shape
    out = np.zeros((H, W), np.uint8)
    if not valid.any():
        return LandCover(out, g, method)
    f = factor_for(g)
    feats = coarse_features(rgb_or_rgbn, f, use_nir, valid)
    h, w, nf = feats.shape
    model = params.rgbn if nir_head else params.rgb
    prob = model.proba(feats.reshape(-1, nf)).reshape(h, w, -1)
    codes = np.array((WATER,) + params.land.classes, np.uint8)
    if not ice and ICE in params.land.classes:
        prob[..., int(np.flatnonzero(codes == ICE)[0])] = 0.0  # out of season: never a frozen river
    prob = cv2.blur(prob, (3, 3), borderType=cv2.BORDER_REFLECT)
    best = prob.argmax(axis=2)
    if conv:  # 3-10 m RGB: water from the conv net (f == 1 here, so the grids match); land from the MLP head
        _region_water(best, prob, water_proba(rgb_or_rgbn[:3], valid) > 0.5)
    elif nir_head:  # a binary water head fitted on NAIP: its own p > 0.5, not a contest with the land classes
        _region_water(best, prob, prob[..., 0] > 0.5)
    else:  # 0.3-2 m RGB: water regions need a sure cell (hysteresis)
        _water_hysteresis(best, prob)
    cls = codes[best]
    if f > 1:
        cls = cv2.resize(cls, (w * f, h * f), interpolation=cv2.INTER_NEAREST)[:H, :W]
    np.copyto(out, cls, where=valid)
    return LandCover(out, g, method)


# Why a 4th band is not used unless asked (docs/landcover-fitting.md, "The NIR path", 2026-11-28): on the right
# halves of the NAIP train dates (never fitted), 128 px tiles with the pipeline's margin, water IoU of the RGB path
# 0.894 against 0.923 for the NIR head, but the NIR head lost 0.08 on 2012 (grey fields with high NDWI); on the
# held-out dates it was worse on the mean (0.862 against 0.887). Both are scored against an NDWI-derived reference.

#: RGB path: a water region must hold at least one cell this sure of water (hysteresis); on NAIP this drops
#: speckled dark-crop false alarms and lifts held-out water IoU by ~0.05 (see docs/landcover-fitting.md)
WATER_SEED_P = 0.9


def _region_water(best: np.ndarray, prob: np.ndarray, water: np.ndarray) -> None:
    """In place: water where `water` says so (3-10 m RGB path); elsewhere the best land class."""
    land = ~water & (best == 0)
    if land.any():
        best[land] = prob[land, 1:].argmax(axis=1) + 1
    best[water] = 0


def _water_hysteresis(best: np.ndarray, prob: np.ndarray) -> None:
    """In place: water regions with no confident cell go to their best land class."""
    water = best == 0
    if not water.any():
        return
    lab, n = ndimage.label(water)
    sure = np.zeros(n + 1, bool)
    sure[np.unique(lab[water & (prob[..., 0] > WATER_SEED_P)])] = True
    sure[0] = True
    drop = ~sure[lab]
    if drop.any():
        best[drop] = prob[drop, 1:].argmax(axis=1) + 1
