"""Read any window of the corridor grid, at any GSD, from the scenes of one date.

Each scene is warped straight onto the requested grid with a rasterio
WarpedVRT the size of the window, so GDAL reads only the source blocks the
window needs. Where scenes overlap the finest GSD wins, then the one
registered later (later in ``scenes``). Output is always 8-bit: 16-bit and
float scenes are stretched per scene between their 2nd and 98th percentiles
(``footprint.STRETCH_PERCENTILES``, measured at registration), so a scene's
tiles agree with each other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from borderwatch.errors import InputError, SceneError
from borderwatch.imagery.footprint import decimation, stretch_limits, to_uint8
from borderwatch.imagery.handles import dataset_for
from borderwatch.imagery.scene import Scene


@dataclass
class TileImage:
    """Pixels of one window: ``data`` (bands, H, W) uint8, ``valid`` (H, W) bool."""

    data: np.ndarray
    valid: np.ndarray
    scene_ids: tuple[str, ...]
    bounds: tuple[float, float, float, float]
    crs: CRS
    gsd_m: float

    @property
    def transform(self) -> Affine:
        return Affine(self.gsd_m, 0.0, self.bounds[0], 0.0, -self.gsd_m, self.bounds[3])

    @property
    def valid_share(self) -> float:
        return float(self.valid.mean()) if self.valid.size else 0.0


def read_tile(
    scenes: list[Scene],
    bounds: tuple[float, float, float, float],
    crs,
    gsd_m: float,
    *,
    bands: int = 3,
    resampling: str = "bilinear",
) -> TileImage:
    """The window ``bounds`` (minx, miny, maxx, maxy in ``crs``) at ``gsd_m`` metres a pixel.

    ``bands=3`` gives RGB (a single band repeated), ``bands=4`` adds the
    near-infrared band (the fourth non-alpha band) and needs scenes that have
    one. Pixels no scene covers are ``valid == False`` and 0.
    """
    if bands not in (3, 4):
        raise InputError("bands", f"bands must be 3 or 4, not {bands!r}")
    try:
        rs = Resampling[resampling]
    except KeyError:
        raise InputError("resampling", f"unknown resampling {resampling!r}") from None
    if not gsd_m or gsd_m <= 0:
        raise InputError("gsd", f"GSD must be positive, not {gsd_m!r}")
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    width, height = int(round((maxx - minx) / gsd_m)), int(round((maxy - miny) / gsd_m))
    if width < 1 or height < 1:
        raise InputError("bounds", f"window {bounds} is empty at {gsd_m} m")
    dates = {s.capture_date for s in scenes}
    if len(dates) > 1:
        raise InputError("scenes", f"read_tile takes scenes of one date, got {sorted(map(str, dates))}")
    dst_crs = CRS.from_user_input(crs)
    dst_t = Affine(gsd_m, 0.0, minx, 0.0, -gsd_m, maxy)

    data = np.zeros((bands, height, width), dtype=np.uint8)
    valid = np.zeros((height, width), dtype=bool)
    used: list[str] = []
    window_ll = shapely.box(*transform_bounds(dst_crs, "EPSG:4326", minx, miny, maxx, maxy, densify_pts=21))
    order = sorted(range(len(scenes)), key=lambda i: (scenes[i].gsd_m, -i))
    for i in order:
        scene = scenes[i]
        if valid.all():
            break
        if not window_ll.intersects(_bounds_ll(scene)):
            continue
        pix, ok = _warp(scene, dst_crs, dst_t, width, height, rs, bands)
        fill = ok & ~valid
        if fill.any():
            np.copyto(data, pix, where=fill[None])
            valid |= fill
            used.append(scene.scene_id)
    return TileImage(data, valid, tuple(used), (minx, miny, maxx, maxy), dst_crs, float(gsd_m))


def _warp(scene: Scene, dst_crs: CRS, dst_t: Affine, width: int, height: int, rs: Resampling, bands: int):
    """One scene on the window grid: (bands, H, W) uint8 and its validity."""
    src = dataset_for(scene)
    picks = _band_plan(scene, src, bands)
    kw = dict(crs=dst_crs, transform=dst_t, width=width, height=height, resampling=rs)
    if scene.transform is not None:
        kw.update(src_crs=CRS.from_wkt(scene.crs_wkt), src_transform=Affine(*scene.transform))
    has_alpha = ColorInterp.alpha in src.colorinterp
    if src.nodata is None and not has_alpha:
        # an added alpha band carries the source's mask (or its edge) through the warp
        kw["add_alpha"] = True
    with WarpedVRT(src, **kw) as vrt:
        unique = sorted(set(picks))
        raw = vrt.read(unique)
        ok = vrt.dataset_mask() > 0
    values = raw[[unique.index(b) for b in picks]]
    if values.dtype != np.uint8:
        limits = _limits(scene)
        values = to_uint8(values, [limits[b - 1] for b in picks])
    return values, ok


def _band_plan(scene: Scene, src, bands: int) -> list[int]:
    """1-based source bands giving R, G, B (and NIR)."""
    data = [i + 1 for i, ci in enumerate(src.colorinterp) if ci != ColorInterp.alpha]
    if not data:
        raise SceneError(scene.path, "scene has no data bands")
    if len(data) < 3:
        rgb = [data[0]] * 3
    else:
        ci = {c: i + 1 for i, c in enumerate(src.colorinterp)}
        if all(c in ci for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)):
            rgb = [ci[ColorInterp.red], ci[ColorInterp.green], ci[ColorInterp.blue]]
        else:
            rgb = data[:3]
    if bands == 3:
        return rgb
    rest = [b for b in data if b not in rgb]
    if not rest:
        raise SceneError(scene.path, f"scene has no near-infrared band ({len(data)} data bands; bands=4 needs 4)")
    return rgb + [rest[0]]


_lock = threading.Lock()
_limits_cache: dict[str, list[list[float]]] = {}


def _limits(scene: Scene) -> list[list[float]]:
    """Per-band stretch for a non-8-bit scene: from registration, else measured once here."""
    if "stretch" in scene.extra and len(scene.extra["stretch"]) >= scene.band_count:
        return scene.extra["stretch"]
    with _lock:
        if scene.scene_id in _limits_cache:
            return _limits_cache[scene.scene_id]
    src = dataset_for(scene)
    rows, cols = decimation(src.width, src.height)
    values = src.read(out_shape=(src.count, rows, cols))
    limits = stretch_limits(values, src.dataset_mask(out_shape=(rows, cols)) > 0)
    with _lock:
        _limits_cache[scene.scene_id] = limits
    return limits


_extent_cache: dict[tuple[str, str], shapely.Polygon] = {}


def _bounds_ll(scene: Scene) -> shapely.Polygon:
    """The scene's full extent in lon/lat (unsimplified, so no edge window is skipped wrongly)."""
    key = (scene.scene_id, scene.path)
    with _lock:
        hit = _extent_cache.get(key)
    if hit is not None:
        return hit
    t = Affine(*scene.transform) if scene.transform is not None else dataset_for(scene).transform
    xs, ys = zip(*(t @ c for c in [(0, 0), (scene.width, 0), (scene.width, scene.height), (0, scene.height)]))
    crs = CRS.from_wkt(scene.crs_wkt)
    ext = shapely.box(*transform_bounds(crs, "EPSG:4326", min(xs), min(ys), max(xs), max(ys), densify_pts=21))
    with _lock:
        _extent_cache[key] = ext
    return ext
