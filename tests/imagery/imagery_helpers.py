"""Helpers for the imagery tests: tiny GeoTIFFs, Google Earth KML, a marked image."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine


def write_tif(
    path: Path,
    data: np.ndarray,
    *,
    origin: tuple[float, float],
    gsd: float,
    crs: str = "EPSG:32652",
    nodata=None,
    tags: dict | None = None,
    photometric: str | None = None,
) -> Path:
    """A GeoTIFF from a (bands, H, W) array with its top-left corner at ``origin``."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    kw = {"photometric": photometric} if photometric else {}
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype=data.dtype, crs=crs, transform=Affine(gsd, 0.0, origin[0], 0.0, -gsd, origin[1]), nodata=nodata, **kw,
    ) as dst:
        dst.write(data)
        if tags:
            dst.update_tags(**tags)
    return path


def kml_text(image: str, *, north, south, east, west, rotation=0.0, when="2022-10-03T03:10:00Z",
             timespan=False, box=True, quad=None) -> str:
    time = (f"<TimeSpan><begin>{when}</begin></TimeSpan>" if timespan else f"<TimeStamp><when>{when}</when></TimeStamp>") if when else ""
    geo = ""
    if box:
        geo = (f"<LatLonBox><north>{north}</north><south>{south}</south><east>{east}</east>"
               f"<west>{west}</west><rotation>{rotation}</rotation></LatLonBox>")
    if quad:
        geo += "<gx:LatLonQuad><coordinates>" + " ".join(f"{lo},{la},0" for lo, la in quad) + "</coordinates></gx:LatLonQuad>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">
<Folder><name>export</name>
<GroundOverlay><name>hyesan</name>{time}<Icon><href>{image}</href></Icon>{geo}</GroundOverlay>
</Folder></kml>"""


def marked_image(width: int = 100, height: int = 80, block: int = 8) -> np.ndarray:
    """An RGB image, dark grey, with a white block in its top-left (north-west) corner."""
    img = np.full((height, width, 3), 60, dtype=np.uint8)
    img[:block, :block] = 255
    return img


def rotated_corner(north, south, east, west, rotation, u, v):
    """Lon/lat of the image point at fractions (u across, v down) of a rotated LatLonBox.

    Written out independently of the code under test: the box is turned
    counter-clockwise on the ground (longitudes shortened by cos(lat)).
    """
    cx, cy = (east + west) / 2, (north + south) / 2
    k = math.cos(math.radians(cy))
    lon = west + u * (east - west)
    lat = north - v * (north - south)
    x, y = (lon - cx) * k, lat - cy
    r = math.radians(rotation)
    xr, yr = x * math.cos(r) - y * math.sin(r), x * math.sin(r) + y * math.cos(r)
    return cx + xr / k, cy + yr
