"""What a raster covers: ground sample distance, valid-data footprint, value stretch.

All three are measured once at registration from a decimated read, so a large
scene costs a few reads of at most ``MAX_SIDE`` pixels a side.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Geod, Transformer
from rasterio.enums import ColorInterp
from rasterio.features import shapes

#: Longest side of the decimated mask the footprint is traced from.
MAX_SIDE = 1024
#: Non-8-bit scenes are read through one gain for every band, zero at zero: the brightest
#: ``STRETCH_PERCENTILE`` % of the colour bands' valid values land at ``STRETCH_TARGET``, about where
#: the 8-bit imagery the models were fitted on puts them (99.8th percentile, all bands pooled: NAIP
#: 177-210, KIT Munich aerials 239-254, Minsk drone frames 240-255, synthetic scenes about 175).
#: One gain keeps colour and band ratios (NDWI, NDVI); a stretch per band with an offset (2nd-98th
#: percentile, as GIS viewers show an image) recolours the scene and more than doubles its contrast,
#: and the detector then found 3,600 "cars" in a 16-bit copy of a scene holding 24 vehicles.
STRETCH_PERCENTILE = 99.8
STRETCH_TARGET = 230.0
#: Recorded with the limits in a scene's ``extra`` so a store says how its scenes were read; limits
#: stored without it (the older per-band stretch) are measured again.
STRETCH_METHOD = "one-gain-p99.8-to-230"

_GEOD = Geod(ellps="WGS84")


#: A scene's GSD is measured from its georeferencing (gsd_metres), so a nominal 0.8 m or 2 m image can come out a
#: hair coarser: limits on a scene's GSD allow this much over.
GSD_SLACK = 1.02


def gsd_metres(transform: Affine, crs: CRS, width: int, height: int) -> float:
    """Mean pixel size in metres: nominal for projected CRSs, geodesic at the centre otherwise."""
    if crs.is_projected:
        factor = _linear_factor(crs)
        if factor is not None:
            return float((math.hypot(transform.a, transform.d) + math.hypot(transform.b, transform.e)) / 2.0 * factor)
    cx, cy = width / 2.0, height / 2.0
    px = [(cx, cy), (cx + 1, cy), (cx, cy + 1)]
    xs, ys = zip(*(transform @ p for p in px))
    to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
    lons, lats = to_ll.transform(xs, ys)
    _, _, dx = _GEOD.inv(lons[0], lats[0], lons[1], lats[1])
    _, _, dy = _GEOD.inv(lons[0], lats[0], lons[2], lats[2])
    return float((dx + dy) / 2.0)


def _linear_factor(crs: CRS) -> float | None:
    for axis in crs.axis_info:
        if axis.unit_conversion_factor:
            return float(axis.unit_conversion_factor)
    return None


def decimation(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """(rows, cols) of a decimated read no longer than ``max_side`` a side."""
    f = max(1, math.ceil(max(width, height) / max_side))
    return max(1, math.ceil(height / f)), max(1, math.ceil(width / f))


def footprint_lonlat(mask: np.ndarray, transform: Affine, crs: CRS, width: int, height: int):
    """The valid-data footprint in EPSG:4326 from a (possibly decimated) mask.

    ``mask`` is non-zero where the scene has data; ``transform`` is the
    full-resolution one. Returns an empty geometry when nothing is valid.
    """
    rows, cols = mask.shape
    t = transform @ Affine.scale(width / cols, height / rows)
    valid = mask > 0
    if not valid.any():
        return shapely.Polygon()
    polys = [shapely.geometry.shape(g) for g, v in shapes(valid.astype(np.uint8), mask=valid, transform=t) if v]
    geom = shapely.union_all(polys)
    pix = math.hypot(t.a, t.d)
    geom = geom.simplify(pix * 0.5, preserve_topology=True)
    geom = shapely.segmentize(geom, pix * 64)
    to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
    geom = shapely.transform(geom, lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1])))
    return shapely.make_valid(geom)


def data_bands(colorinterp) -> list[int]:
    """1-based bands that are not alpha."""
    return [i + 1 for i, ci in enumerate(colorinterp) if ci != ColorInterp.alpha]


def colour_bands(colorinterp) -> list[int]:
    """1-based bands giving R, G, B: those labelled so, else the first three that are not alpha (a single
    band three times: panchromatic). Empty when every band is alpha."""
    data = data_bands(colorinterp)
    if not data:
        return []
    if len(data) < 3:
        return [data[0]] * 3
    ci = {c: i + 1 for i, c in enumerate(colorinterp)}
    if all(c in ci for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)):
        return [ci[ColorInterp.red], ci[ColorInterp.green], ci[ColorInterp.blue]]
    return data[:3]


def stretch_limits(values: np.ndarray, valid: np.ndarray, colour: list[int] | None = None) -> list[list[float]]:
    """Per band [low, high] mapped onto 0..255: [0, H] for every band, one gain for all (``STRETCH_METHOD``).

    ``colour``: indices into ``values`` of the bands that set the gain (R, G, B; default all), so a
    near-infrared band gets the gain of the colour bands. Fixed per scene (not per tile) so the same
    ground reads the same in every tile of a scene, which change detection relies on.
    """
    picks = range(len(values)) if colour is None else colour
    pooled = [band[valid] for i, band in enumerate(values) if i in picks]
    v = np.concatenate(pooled) if pooled else np.empty(0)
    v = v[np.isfinite(v)] if v.dtype.kind == "f" else v
    v = v[v > 0]  # zero (and below) is dark, not brightness to scale by
    top = float(np.percentile(v, STRETCH_PERCENTILE)) if v.size else 0.0
    high = top * 255.0 / STRETCH_TARGET if top > 0 else 1.0
    return [[0.0, high] for _ in range(len(values))]


def to_uint8(values: np.ndarray, limits: list[list[float]]) -> np.ndarray:
    """Map each band's [low, high] linearly onto 0..255 (clipped)."""
    if values.dtype == np.uint8:
        return values
    out = np.empty(values.shape, dtype=np.uint8)
    for i, (lo, hi) in enumerate(limits):
        scaled = (values[i].astype(np.float64) - lo) * (255.0 / (hi - lo))
        out[i] = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).round().astype(np.uint8)
    return out
