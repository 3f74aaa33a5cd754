"""Per-tile land cover (water, sandbar, disturbed, vegetation, forest, built-up, road).

    lc = classify_landcover(img, valid, gsd_m)      # img (3|4, H, W) uint8; a 4th band only with nir=True
    lc.classes, lc.water_mask, lc.share("water"), lc.method

RGB at 3-10 m (e.g. NAIP at 5 m) takes its water from a small conv net run with onnxruntime (cnn.py).
GSD above MAX_GSD_M (10 m, e.g. 300 m Landsat) warns LandcoverRangeWarning: the classes are not meaningful there.

Codes: see codes.CODES (0 nodata, 1 water, 2 sandbar, 3 disturbed, 4 vegetation,
5 forest, 6 built-up, 7 road), the same as the synthetic generator's truth.
"""

from borderwatch.analysis.landcover.classify import MAX_GSD_M, LandCover, LandcoverRangeWarning, classify_landcover
from borderwatch.analysis.landcover.codes import CODES, LANDCOVER_VERSION, NAMES
from borderwatch.analysis.landcover.reference import iou, ndwi_water_reference

__all__ = [
    "CODES", "LANDCOVER_VERSION", "MAX_GSD_M", "NAMES", "LandCover", "LandcoverRangeWarning", "classify_landcover", "iou",
    "ndwi_water_reference",
]
