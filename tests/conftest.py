"""Shared tiny fixtures: small generated GeoTIFFs over the upper Yalu, made in tmp dirs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin


def write_geotiff(
    path: Path,
    bounds: tuple[float, float, float, float],
    *,
    gsd: float = 4.0,
    epsg: int = 32652,
    date: dt.date | None = dt.date(2025, 7, 31),
    seed: int = 0,
    nodata_fraction: float = 0.0,
) -> Path:
    """A 3-band uint8 GeoTIFF over ``bounds`` (metres in ``epsg``) with textured pixels."""
    minx, miny, maxx, maxy = bounds
    w, h = int(round((maxx - minx) / gsd)), int(round((maxy - miny) / gsd))
    rng = np.random.default_rng(seed)
    data = rng.integers(20, 230, size=(3, h, w), dtype=np.uint8)
    if nodata_fraction:
        data[:, : int(h * nodata_fraction), :] = 0
    tags = {"CAPTURE_DATE": date.isoformat(), "PROVIDER": "test", "SENSOR": "fixture"} if date else {}
    with rasterio.open(
        path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs=f"EPSG:{epsg}",
        transform=from_origin(minx, maxy, gsd, gsd), nodata=0, tiled=True, blockxsize=256, blockysize=256,
    ) as dst:
        dst.write(data)
        dst.update_tags(**tags)
    return path


@pytest.fixture
def geotiff_factory(tmp_path):
    def make(name: str = "scene.tif", **kwargs) -> Path:
        return write_geotiff(tmp_path / name, **kwargs)

    return make


@pytest.fixture(scope="session")
def short_corridor():
    from borderwatch.corridor import load_corridor

    return load_corridor("yalu-upper[0:2]")
