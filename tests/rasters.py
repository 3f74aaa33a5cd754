"""Small generated GeoTIFFs near Hyesan (EPSG:32652) with known pixels, shared by the output and web tests."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import box
import shapely

from borderwatch.imagery.scene import Scene

UTM = "EPSG:32652"
TO_UTM = Transformer.from_crs(4326, UTM, always_xy=True)
TO_LONLAT = Transformer.from_crs(UTM, 4326, always_xy=True)


def _to_lonlat(geom):
    return shapely.transform(geom, TO_LONLAT.transform, interleaved=False)


def make_geotiff(
    path: Path,
    *,
    lon: float = 128.1,
    lat: float = 41.4,
    width: int = 600,
    height: int = 400,
    res: float = 5.0,
    nodata_cols: int = 200,
    square: tuple[int, int, int] = (300, 200, 40),
    dtype: str = "uint8",
) -> dict:
    """An RGB GeoTIFF whose top-left corner is at lon/lat, with the left ``nodata_cols``
    columns nodata (0) and a white square (col, row, size) on a dark green field."""
    x0, y0 = TO_UTM.transform(lon, lat)
    t = from_origin(x0, y0, res, res)
    hi = 255 if dtype == "uint8" else 4000
    data = np.zeros((3, height, width), dtype=dtype)
    data[0], data[1], data[2] = hi * 0.15, hi * 0.35, hi * 0.1
    c, r, s = square
    data[:, r : r + s, c : c + s] = hi
    data[:, :, :nodata_cols] = 0
    with rasterio.open(
        path, "w", driver="GTiff", width=width, height=height, count=3, dtype=dtype, crs=UTM,
        transform=t, nodata=0, tiled=True, blockxsize=256, blockysize=256,
    ) as dst:
        dst.write(data)
        dst.build_overviews([2, 4, 8], rasterio.enums.Resampling.average)
    def lonlat_of(col: float, row: float) -> tuple[float, float]:
        x, y = t @ (col, row)
        return TO_LONLAT.transform(x, y)
    bounds_utm = box(x0, y0 - height * res, x0 + width * res, y0)
    footprint = _to_lonlat(box(x0 + nodata_cols * res, y0 - height * res, x0 + width * res, y0))
    return {
        "path": path,
        "lonlat_of": lonlat_of,
        "bounds_lonlat": _to_lonlat(bounds_utm).bounds,
        "footprint_wkt": footprint.wkt,
        "square_center": lonlat_of(c + s / 2, r + s / 2),
    }


def make_scene(info: dict, date: dt.date, *, provider: str = "Test Sat", licence: str = "CC-BY-4.0 (test)") -> Scene:
    """A Scene record for a generated GeoTIFF."""
    digest = hashlib.sha256(Path(info["path"]).read_bytes()).hexdigest()
    return Scene(
        scene_id=digest[:16], path=str(info["path"]), sha256=digest, capture_date=date, date_source="cli",
        provider=provider, sensor="test", gsd_m=5.0, band_count=3, band_names=("red", "green", "blue"),
        dtype="uint8", width=600, height=400, crs_wkt=UTM, footprint_wkt=info["footprint_wkt"], licence=licence,
    )


def write_geotiff(
    path: Path,
    bounds: tuple[float, float, float, float],
    *,
    gsd: float = 4.0,
    epsg: int = 32652,
    date: dt.date | None = dt.date(2025, 7, 31),
    seed: int = 0,
    nodata_fraction: float = 0.0,
    bands: int = 3,
) -> Path:
    """A ``bands``-band uint8 GeoTIFF (RGB by default) over ``bounds`` (metres in ``epsg``) with textured pixels."""
    minx, miny, maxx, maxy = bounds
    w, h = int(round((maxx - minx) / gsd)), int(round((maxy - miny) / gsd))
    rng = np.random.default_rng(seed)
    data = rng.integers(20, 230, size=(bands, h, w), dtype=np.uint8)
    if nodata_fraction:
        data[:, : int(h * nodata_fraction), :] = 0
    tags = {"CAPTURE_DATE": date.isoformat(), "PROVIDER": "test", "SENSOR": "fixture"} if date else {}
    with rasterio.open(
        path, "w", driver="GTiff", width=w, height=h, count=bands, dtype="uint8", crs=f"EPSG:{epsg}",
        transform=from_origin(minx, maxy, gsd, gsd), nodata=0, tiled=True, blockxsize=256, blockysize=256,
    ) as dst:
        dst.write(data)
        dst.update_tags(**tags)
    return path
