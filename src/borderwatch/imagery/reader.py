"""Read any window of the corridor grid, at any GSD, from the scenes of one date.

Each scene is warped straight onto the requested grid with a rasterio
WarpedVRT the size of the window, so GDAL reads only the source blocks the
window needs. A scene already on the window's pixel grid (same CRS and GSD,
origins whole pixels apart: imagery rendered or pre-warped onto the corridor
grid) is read without the warp, which gives the same pixels. Off the grid, a
window whose source pixels are all valid is warped without the source's mask
(GDAL's masked warp is about 3x slower; same pixels unless the image is shrunk,
where the masked one is used). The validity mask comes from the same read as
the bands wherever it can (alpha, nodata). Where scenes overlap the finest GSD wins, then the one
registered later (later in ``scenes``). Output is always 8-bit: 16-bit and
float scenes are read through one gain per scene, the same for every band and zero
at zero (``footprint.STRETCH_METHOD``, measured at registration), so a scene's
tiles agree with each other and its colours and band ratios are kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.transform import array_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import SUPPORTED_RESAMPLING, reproject, transform_bounds
from rasterio.windows import Window

from borderwatch.errors import InputError, SceneError, library_message
from borderwatch.imagery.footprint import STRETCH_METHOD, colour_bands, data_bands, decimation, stretch_limits, to_uint8
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
    rs = Resampling.__members__.get(resampling)
    if rs not in SUPPORTED_RESAMPLING:
        names = ", ".join(r.name for r in SUPPORTED_RESAMPLING)
        raise InputError("resampling", f"unknown resampling {resampling!r} (one of: {names})")
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
    unique = sorted(set(picks))
    src_crs = CRS.from_wkt(scene.crs_wkt) if scene.transform is not None else CRS.from_user_input(src.crs)
    src_t = Affine(*scene.transform) if scene.transform is not None else src.transform
    try:
        raw, ok = _read_window(scene, src, unique, src_crs, src_t, dst_crs, dst_t, width, height, rs)
        failure = None
    except RasterioError as exc:
        failure = library_message(exc)
    if failure is not None:  # raised outside the handler: GDAL's own errors, as its context, would not unpickle
        window = ", ".join(f"{v:.1f}" for v in array_bounds(height, width, dst_t))
        raise SceneError(scene.path, f"pixels for the window ({window}) could not be read, the file may be damaged "
                                     f"({failure})")
    values = raw[[unique.index(b) for b in picks]]
    if values.dtype != np.uint8:
        limits = _limits(scene)
        values = to_uint8(values, [limits[b - 1] for b in picks])
    return values, ok


def _read_window(scene: Scene, src, unique: list[int], src_crs: CRS, src_t: Affine, dst_crs: CRS, dst_t: Affine,
                 width: int, height: int, rs: Resampling) -> tuple[np.ndarray, np.ndarray]:
    """Bands ``unique`` of one scene on the window grid, in the scene's data type, and their validity."""
    window = same_grid_window(src_crs, src_t, dst_crs, dst_t) if rs in _EXACT_ON_GRID else None
    if window is not None:
        return _read_on_grid(src, unique, window, width, height)
    if rs in _MASK_COSTLY:
        inside = _warp_inside(src, unique, src_crs, src_t, dst_crs, dst_t, width, height, rs)
        if inside is not None:
            return inside
    kw = dict(crs=dst_crs, transform=dst_t, width=width, height=height, resampling=rs)
    if scene.transform is not None:
        kw.update(src_crs=src_crs, src_transform=src_t)
    if src.nodata is None and ColorInterp.alpha not in src.colorinterp:
        # an added alpha band carries the source's mask (or its edge) through the warp
        kw["add_alpha"] = True
    with WarpedVRT(src, **kw) as vrt:
        return _read_with_mask(vrt, unique)


#: kernels whose masked warp costs several times the plain one (nearest and average cost about the same either way)
_MASK_COSTLY = frozenset({Resampling.bilinear, Resampling.cubic, Resampling.cubic_spline, Resampling.lanczos})
#: source pixels read beyond a window's footprint: the widest kernel's reach (lanczos, 3 px) and one to spare
_KERNEL_PAD_PX = 4
#: the plain warp is only tried where a window pixel spans at most this many source pixels: when shrinking the
#: image, GDAL's masked warp widens its kernel (anti-aliasing) where the plain 8-bit one does not. Measured on a
#: textured scene: identical up to 1.02 source pixels a pixel, 31 grey levels apart at 1.04
_MAX_SOURCE_PX_PER_PIXEL = 1.01


def _warp_inside(src, unique: list[int], src_crs: CRS, src_t: Affine, dst_crs: CRS, dst_t: Affine, width: int,
                 height: int, rs: Resampling) -> tuple[np.ndarray, np.ndarray] | None:
    """The window warped from source pixels that are all inside the scene and all valid; None where they are not.

    Given a source mask (nodata, alpha, an internal mask), GDAL's warper weighs
    every source pixel's validity on a general, slower path (bilinear: about 3x
    the time of the plain warp of 8-bit RGB). Where every source pixel the
    window's kernel reaches is valid, the plain warp of those same pixels gives
    the same values when the image is not shrunk (measured identical at the
    scene's own GSD), so the window is read once, checked, and warped without a
    mask.
    Windows at a scene's edge or over its holes go the masked way (None).
    """
    box = transform_bounds(dst_crs, src_crs, *array_bounds(height, width, dst_t), densify_pts=21)
    inv = ~src_t
    cols, rows = zip(*(inv * xy for xy in ((box[0], box[1]), (box[0], box[3]), (box[2], box[1]), (box[2], box[3]))))
    per_pixel = max((max(cols) - min(cols)) / width, (max(rows) - min(rows)) / height)
    if per_pixel > _MAX_SOURCE_PX_PER_PIXEL:
        return None
    pad = _KERNEL_PAD_PX + int(np.ceil(per_pixel))
    c0, r0 = int(np.floor(min(cols))) - pad, int(np.floor(min(rows))) - pad
    c1, r1 = int(np.ceil(max(cols))) + pad, int(np.ceil(max(rows))) + pad
    if c0 < 0 or r0 < 0 or c1 > src.width or r1 > src.height:
        return None
    raw, ok = _read_with_mask(src, unique, window=Window(c0, r0, c1 - c0, r1 - r0))
    if not ok.all():
        return None
    out = np.zeros((len(unique), height, width), dtype=raw.dtype)
    reproject(raw, out, src_transform=src_t * Affine.translation(c0, r0), src_crs=src_crs, dst_transform=dst_t,
              dst_crs=dst_crs, resampling=rs, src_nodata=None, dst_nodata=None)
    return out, np.ones((height, width), dtype=bool)


#: resamplings that return a pixel's own value when the grids match (interpolating kernels, not smoothing ones)
_EXACT_ON_GRID = frozenset({Resampling.nearest, Resampling.bilinear, Resampling.cubic, Resampling.lanczos})
#: how far (in pixels) a scene's grid may sit from the window's and still count as the same grid
_GRID_TOLERANCE_PX = 1e-6


def same_grid_window(src_crs: CRS, src_t: Affine, dst_crs: CRS, dst_t: Affine) -> tuple[int, int] | None:
    """(column, row) of the window's top-left pixel in the scene when both share one pixel grid, else None.

    Same CRS, same north-up pixel size and origins whole pixels apart: every
    window pixel is then one scene pixel, and any resampling returns the scene's
    values unchanged, so reading the pixels straight is exact and skips the warp
    (several times faster; imagery rendered or pre-warped onto the corridor grid).
    """
    if not (src_t.is_rectilinear and dst_t.is_rectilinear) or src_t.b or src_t.d or dst_t.b or dst_t.d:
        return None
    if not (np.isclose(src_t.a, dst_t.a, rtol=1e-9, atol=0) and np.isclose(src_t.e, dst_t.e, rtol=1e-9, atol=0)):
        return None
    col, row = (dst_t.c - src_t.c) / src_t.a, (dst_t.f - src_t.f) / src_t.e
    if abs(col - round(col)) > _GRID_TOLERANCE_PX or abs(row - round(row)) > _GRID_TOLERANCE_PX:
        return None
    if not src_crs.equals(dst_crs):
        return None
    return int(round(col)), int(round(row))


def _read_on_grid(src, unique: list[int], origin: tuple[int, int], width: int, height: int):
    """Bands ``unique`` of the scene's own pixels from ``origin`` (column, row), ``width`` x ``height``; 0 and
    invalid outside the scene."""
    col, row = origin
    c0, r0 = max(col, 0), max(row, 0)
    c1, r1 = min(col + width, src.width), min(row + height, src.height)
    raw = np.zeros((len(unique), height, width), dtype=src.dtypes[unique[0] - 1])
    ok = np.zeros((height, width), dtype=bool)
    if c1 > c0 and r1 > r0:
        inner, inner_ok = _read_with_mask(src, unique, window=Window(c0, r0, c1 - c0, r1 - r0))
        rows, cols = slice(r0 - row, r1 - row), slice(c0 - col, c1 - col)
        raw[:, rows, cols] = inner
        ok[rows, cols] = inner_ok
    return raw, ok


def _read_with_mask(ds, unique: list[int], **read_kw) -> tuple[np.ndarray, np.ndarray]:
    """Bands ``unique`` of ``ds`` and its dataset mask (rasterio's ``dataset_mask() > 0``).

    Where the mask follows from the bands (an alpha band, a nodata value, or no
    mask at all) it comes from the same read: asking GDAL for the mask separately
    reads (and through a WarpedVRT, warps) every band a second time.
    """
    flags = ds.mask_flag_enums
    alpha = [i + 1 for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha]
    if alpha:
        raw = ds.read(unique + alpha[:1], **read_kw)
        return raw[:-1], raw[-1] > 0
    if all(MaskFlags.all_valid in f for f in flags):
        raw = ds.read(unique, **read_kw)
        return raw, np.ones(raw.shape[1:], dtype=bool)
    if ds.nodata is not None and all(MaskFlags.nodata in f for f in flags):
        every = ds.read(**read_kw)  # a pixel is valid where any band is not nodata
        hole = np.isnan(every) if np.isnan(ds.nodata) else every == ds.nodata
        return every[[b - 1 for b in unique]], ~hole.all(axis=0)
    return ds.read(unique, **read_kw), ds.dataset_mask(**read_kw) > 0


def _band_plan(scene: Scene, src, bands: int) -> list[int]:
    """1-based source bands giving R, G, B (and NIR)."""
    rgb = colour_bands(src.colorinterp)
    if not rgb:
        raise SceneError(scene.path, "scene has no data bands")
    if bands == 3:
        return rgb
    data = data_bands(src.colorinterp)
    rest = [b for b in data if b not in rgb]
    if not rest:
        raise SceneError(scene.path, f"scene has no near-infrared band ({len(data)} data bands; bands=4 needs 4)")
    return rgb + [rest[0]]


_lock = threading.Lock()
_limits_cache: dict[str, list[list[float]]] = {}


def _limits(scene: Scene) -> list[list[float]]:
    """Per-band stretch for a non-8-bit scene: from registration, else measured once here."""
    stored = scene.extra.get("stretch")
    if scene.extra.get("stretch_method") == STRETCH_METHOD and stored and len(stored) >= scene.band_count:
        return stored
    with _lock:
        if scene.scene_id in _limits_cache:
            return _limits_cache[scene.scene_id]
    src = dataset_for(scene)
    rows, cols = decimation(src.width, src.height)
    values = src.read(out_shape=(src.count, rows, cols))
    colour = [b - 1 for b in colour_bands(src.colorinterp)]
    limits = stretch_limits(values, src.dataset_mask(out_shape=(rows, cols)) > 0, colour)
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
