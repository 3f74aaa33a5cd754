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
from rasterio.features import shapes

#: Longest side of the decimated mask the footprint is traced from.
MAX_SIDE = 1024
#: Percentiles of valid values mapped to 0 and 255 for non-8-bit scenes.
STRETCH_PERCENTILES = (2.0, 98.0)

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


def stretch_limits(values: np.ndarray, valid: np.ndarray) -> list[list[float]]:
    """Per band [low, high] at ``STRETCH_PERCENTILES`` of the valid values.

    Fixed per scene (not per tile) so the same ground reads the same in every
    tile of a scene, which change detection relies on.
    """
    out = []
    lo_p, hi_p = STRETCH_PERCENTILES
    for band in values:
        v = band[valid]
        v = v[np.isfinite(v)] if v.dtype.kind == "f" else v
        if v.size == 0:
            out.append([0.0, 1.0])
            continue
        lo, hi = np.percentile(v, [lo_p, hi_p])
        if hi <= lo:
            hi = lo + 1.0
        out.append([float(lo), float(hi)])
    return out


def to_uint8(values: np.ndarray, limits: list[list[float]]) -> np.ndarray:
    """Map each band's [low, high] linearly onto 0..255 (clipped)."""
    if values.dtype == np.uint8:
        return values
    out = np.empty(values.shape, dtype=np.uint8)
    for i, (lo, hi) in enumerate(limits):
        scaled = (values[i].astype(np.float64) - lo) * (255.0 / (hi - lo))
        out[i] = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).round().astype(np.uint8)
    return out
