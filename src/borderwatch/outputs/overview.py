"""Small Web Mercator PNG overviews of one date's scenes, for the web map's image layers.

Each scene is read decimated (GDAL picks the overview level that fits, so the
full-resolution raster is never held in memory), warped to EPSG:3857 and
mosaicked; nodata becomes transparent. Because the PNG is north-up in Web
Mercator, its lon/lat bounds are exactly what ``L.imageOverlay`` needs.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.warp import calculate_default_transform, reproject, transform_bounds

from borderwatch.errors import InputError, SceneError
from borderwatch.imagery.handles import gdal_path
from borderwatch.imagery.scene import Scene

WEB_MERCATOR = "EPSG:3857"
#: Web Mercator's latitude limit (degrees).
MAX_LAT = 85.05112878

BoundsLonLat = tuple[float, float, float, float]  # west, south, east, north


@dataclass(frozen=True)
class ImageOverlay:
    """One date's imagery as a PNG in EPSG:3857 with its lon/lat bounds (west, south, east, north)."""

    label: str
    png: Path
    bounds_lonlat: BoundsLonLat
    date: dt.date | None = None
    provider: str = ""
    licence: str = ""


def render_overlay(
    scene_paths: Sequence[str | Path | Scene],
    out_png: str | Path,
    *,
    bounds_lonlat: BoundsLonLat | None = None,
    max_px: int = 4096,
) -> tuple[Path, BoundsLonLat]:
    """Mosaic one date's scenes into an RGBA PNG in Web Mercator; return it and its lon/lat bounds.

    Items are raster paths or :class:`Scene` records (needed for Google Earth
    exports, whose georeferencing lives in the record, not the file). Where
    scenes overlap the earlier item wins. ``bounds_lonlat`` (west, south, east,
    north) clips the output; by default it covers all scenes. The longer side is
    at most ``max_px`` and never finer than the finest scene.
    """
    items = list(scene_paths)
    if not items:
        raise InputError("scene_paths", "no scenes to render")
    if int(max_px) < 16:
        raise InputError("max_px", f"max_px must be at least 16, got {max_px!r}")
    out_png = Path(out_png)

    with _open_all(items) as sources:
        extents = [transform_bounds(s.crs, WEB_MERCATOR, *s.bounds, densify_pts=21) for s in sources]
        native = [s.native_res() for s in sources]
        if bounds_lonlat is not None:
            w, s_, e, n = _check_bounds(bounds_lonlat)
            left, bottom, right, top = transform_bounds("EPSG:4326", WEB_MERCATOR, w, s_, e, n)
        else:
            left = min(b[0] for b in extents)
            bottom = min(b[1] for b in extents)
            right = max(b[2] for b in extents)
            top = max(b[3] for b in extents)
        if not any(b[0] < right and b[2] > left and b[1] < top and b[3] > bottom for b in extents):
            raise InputError(sources[0].name, "the scenes do not overlap the requested bounds")
        res = max(max(right - left, top - bottom) / int(max_px), min(native))
        width = max(1, min(int(max_px), math.ceil((right - left) / res - 1e-9)))
        height = max(1, min(int(max_px), math.ceil((top - bottom) / res - 1e-9)))
        dst_transform = Affine(res, 0.0, left, 0.0, -res, top)

        eight_bit = all(dt_ == "uint8" for s in sources for dt_ in s.ds.dtypes)
        mosaic = np.zeros((3, height, width), dtype="float32")
        alpha = np.zeros((height, width), dtype=bool)
        for src in sources:
            rgb, valid = _warp_one(src, dst_transform, width, height, res)
            fill = valid & ~alpha  # the earlier scene wins where scenes overlap
            mosaic[:, fill] = rgb[:, fill]
            alpha |= valid
            del rgb, valid

    out = _to_rgba8(mosaic, alpha, stretch=not eight_bit)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(out_png.stem + ".part.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tmp, "w", driver="PNG", width=width, height=height, count=4, dtype="uint8") as dst:
            dst.write(out)
    tmp.with_name(tmp.name + ".aux.xml").unlink(missing_ok=True)
    tmp.replace(out_png)

    w, s_, e, n = transform_bounds(WEB_MERCATOR, "EPSG:4326", left, top - height * res, left + width * res, top)
    return out_png, (w, s_, e, n)


def build_overlays(
    scenes: Iterable[Scene],
    out_dir: str | Path,
    *,
    bounds_lonlat: BoundsLonLat | None = None,
    max_px: int = 4096,
) -> list[ImageOverlay]:
    """One overlay per capture date (``out_dir/YYYY-MM-DD.png``), oldest first; the finest scene wins overlaps."""
    by_date: dict[dt.date, list[Scene]] = {}
    for s in scenes:
        by_date.setdefault(s.capture_date, []).append(s)
    out = []
    for date in sorted(by_date):
        group = sorted(by_date[date], key=lambda s: (s.gsd_m, s.scene_id))  # finest on top
        png, bounds = render_overlay(
            group, Path(out_dir) / f"{date.isoformat()}.png", bounds_lonlat=bounds_lonlat, max_px=max_px
        )
        providers = sorted({s.provider for s in group if s.provider})
        licences = sorted({s.licence for s in group if s.licence})
        out.append(ImageOverlay(date.isoformat(), png, bounds, date, ", ".join(providers), "; ".join(licences)))
    return out


# -- helpers --------------------------------------------------------------------


@dataclass
class _Source:
    """An open raster with the georeferencing to use (its own, or the Scene record's)."""

    name: str
    ds: rasterio.DatasetReader
    crs: CRS
    transform: Affine

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t, w, h = self.transform, self.ds.width, self.ds.height
        xs, ys = zip(*(t @ (c, r) for c, r in ((0, 0), (w, 0), (0, h), (w, h))))
        return min(xs), min(ys), max(xs), max(ys)

    def native_res(self) -> float:
        """The scene's pixel size in Web Mercator metres."""
        t, _, _ = calculate_default_transform(self.crs, WEB_MERCATOR, self.ds.width, self.ds.height, *self.bounds)
        return abs(t.a)


class _open_all:
    """Open several rasters, closing all on exit, with a SceneError naming the bad one."""

    def __init__(self, items: list):
        self.items = items
        self.opened: list[_Source] = []

    def __enter__(self) -> list[_Source]:
        try:
            for item in self.items:
                self.opened.append(_open(item))
        except BaseException:
            self.__exit__()
            raise
        return self.opened

    def __exit__(self, *exc) -> None:
        for s in self.opened:
            s.ds.close()
        self.opened = []


def _open(item: str | Path | Scene) -> _Source:
    if isinstance(item, Scene):
        name, gdal_name = item.path, gdal_path(item.path, item.member)
    else:
        name = gdal_name = str(item)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(gdal_name)
    except RasterioIOError as exc:
        raise SceneError(name, f"cannot be read as a raster ({str(exc).strip().splitlines()[0]})") from None
    if isinstance(item, Scene) and item.transform is not None:
        return _Source(name, ds, CRS.from_wkt(item.crs_wkt), Affine(*item.transform))
    if ds.crs is None:
        ds.close()
        raise SceneError(name, "has no coordinate reference system (register it as a scene to use its KML)")
    return _Source(name, ds, ds.crs, ds.transform)


def _check_bounds(b: BoundsLonLat) -> BoundsLonLat:
    w, s, e, n = (float(v) for v in b)
    if not (-180 <= w < e <= 180 and -MAX_LAT <= s < n <= MAX_LAT):
        raise InputError("bounds_lonlat", f"need west < east, south < north within Web Mercator, got {b!r}")
    return w, s, e, n


def _display_bands(src: rasterio.DatasetReader) -> list[int]:
    """Band indexes to show as R, G, B (a single band is shown grey)."""
    ci = list(src.colorinterp)
    if all(c in ci for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)):
        return [ci.index(ColorInterp.red) + 1, ci.index(ColorInterp.green) + 1, ci.index(ColorInterp.blue) + 1]
    names = [(d or "").lower() for d in src.descriptions]
    for trio in (("red", "green", "blue"), ("b04", "b03", "b02"), ("b4", "b3", "b2")):
        if all(t in names for t in trio):
            return [names.index(t) + 1 for t in trio]
    colour = [i + 1 for i, c in enumerate(ci) if c not in (ColorInterp.alpha, ColorInterp.undefined)]
    bands = colour if len(colour) >= 3 else [i + 1 for i, c in enumerate(ci) if c != ColorInterp.alpha]
    if not bands:
        bands = [1]
    return bands[:3] if len(bands) >= 3 else [bands[0]] * 3


def _warp_one(source: _Source, dst_transform: Affine, width: int, height: int, res: float):
    """One scene warped onto the output grid: float RGB and a validity mask."""
    # decimate the read so source pixels are about the output pixel size: GDAL
    # serves this from overviews when the file has them
    src = source.ds
    factor = max(1.0, res / source.native_res())
    rw = max(1, int(round(src.width / factor)))
    rh = max(1, int(round(src.height / factor)))
    bands = _display_bands(src)
    uniq = sorted(set(bands))
    try:
        data = src.read(uniq, out_shape=(len(uniq), rh, rw), resampling=Resampling.average)
        mask = src.dataset_mask(out_shape=(rh, rw), resampling=Resampling.nearest)
    except RasterioIOError as exc:
        raise SceneError(source.name, f"cannot read pixels ({exc})") from None
    read_transform = source.transform @ Affine.scale(src.width / rw, src.height / rh)

    rgb = np.zeros((3, height, width), dtype="float32")
    for i, b in enumerate(uniq):
        first = bands.index(b)
        reproject(
            data[i],
            rgb[first],
            src_transform=read_transform,
            src_crs=source.crs,
            dst_transform=dst_transform,
            dst_crs=WEB_MERCATOR,
            resampling=Resampling.bilinear,
        )
        for j, other in enumerate(bands):
            if other == b and j != first:
                rgb[j] = rgb[first]
    del data
    valid = np.zeros((height, width), dtype="uint8")
    reproject(
        mask.astype("uint8"),
        valid,
        src_transform=read_transform,
        src_crs=source.crs,
        dst_transform=dst_transform,
        dst_crs=WEB_MERCATOR,
        src_nodata=0,
        dst_nodata=0,
        resampling=Resampling.nearest,
    )
    return rgb, valid > 0


def _to_rgba8(mosaic: np.ndarray, alpha: np.ndarray, *, stretch: bool) -> np.ndarray:
    """Scale to 8 bits (2-98 % per band over valid pixels when ``stretch``) and add alpha."""
    out = np.zeros((4, *alpha.shape), dtype="uint8")
    out[3] = np.where(alpha, 255, 0)
    if not alpha.any():
        return out
    if not stretch:
        lo, hi = np.zeros(3), np.full(3, 255.0)
    else:
        vals = mosaic[:, alpha]
        lo = np.percentile(vals, 2, axis=1)
        hi = np.percentile(vals, 98, axis=1)
    for i in range(3):
        span = max(float(hi[i] - lo[i]), 1e-6)
        band = np.clip((mosaic[i] - lo[i]) / span * 255.0, 0, 255)
        out[i] = np.where(alpha, np.round(band), 0).astype("uint8")
    return out
