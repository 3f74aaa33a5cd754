"""render_overlay: Web Mercator PNGs whose lon/lat bounds place pixels where they belong."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from borderwatch.errors import InputError, SceneError
from borderwatch.outputs.overview import build_overlays, render_overlay

from rasters import make_geotiff, make_scene

TO_MERC = Transformer.from_crs(4326, 3857, always_xy=True)


def _read_png(path):
    with rasterio.open(path) as src:
        return src.read()


def _pixel(img, bounds, lon, lat):
    """(row, col) of a lon/lat in a north-up EPSG:3857 image with lon/lat bounds."""
    w, s, e, n = bounds
    x0, y0 = TO_MERC.transform(w, n)
    x1, y1 = TO_MERC.transform(e, s)
    x, y = TO_MERC.transform(lon, lat)
    h, wd = img.shape[1:]
    return int((y0 - y) / (y0 - y1) * h), int((x - x0) / (x1 - x0) * wd)


def test_overlay_places_pixels_in_web_mercator(geotiff, tmp_path):
    png, bounds = render_overlay([geotiff["path"]], tmp_path / "o.png", max_px=256)
    img = _read_png(png)
    assert img.shape[0] == 4 and img.dtype == np.uint8
    assert max(img.shape[1:]) == 256
    # bounds cover the raster (warping to 3857 keeps the corners inside)
    w, s, e, n = bounds
    gw, gs, ge, gn = geotiff["bounds_lonlat"]
    assert w <= gw + 1e-6 and s <= gs + 1e-6 and e >= ge - 1e-6 and n >= gn - 1e-6
    assert (e - w) < (ge - gw) * 1.1 and (n - s) < (gn - gs) * 1.1
    # the white square is white where its lon/lat says
    r, c = _pixel(img, bounds, *geotiff["square_center"])
    assert img[3, r, c] == 255 and img[:3, r, c].min() > 240
    # the dark green field is not white, and the nodata columns are transparent
    r, c = _pixel(img, bounds, *geotiff["lonlat_of"](500, 50))
    assert img[3, r, c] == 255 and img[1, r, c] < 120 and img[0, r, c] < img[1, r, c]
    r, c = _pixel(img, bounds, *geotiff["lonlat_of"](60, 200))
    assert img[3, r, c] == 0
    # outside the rotated UTM footprint (a corner of the 3857 box) is transparent too, or data
    assert not (tmp_path / "o.png.aux.xml").exists()


def test_overlay_never_finer_than_the_scene(geotiff, tmp_path):
    png, _ = render_overlay([geotiff["path"]], tmp_path / "o.png", max_px=4096)
    img = _read_png(png)
    # 600 x 400 px at 5 m stay about 600 x 400 px (5 m is ~6.7 Web Mercator metres there), not 4096
    assert 580 < img.shape[2] < 640 and 380 < img.shape[1] < 440


def test_overlay_clips_to_bounds_and_mosaics(tmp_path):
    a = make_geotiff(tmp_path / "a.tif", lon=128.1, lat=41.4)
    b = make_geotiff(tmp_path / "b.tif", lon=128.13, lat=41.4, nodata_cols=0, square=(0, 0, 1))
    want = (128.105, 41.385, 128.15, 41.398)
    png, bounds = render_overlay([a["path"], b["path"]], tmp_path / "m.png", bounds_lonlat=want, max_px=300)
    assert bounds == pytest.approx(want, abs=2e-4)
    img = _read_png(png)
    assert max(img.shape[1:]) <= 300
    # pixels from both scenes are there
    r, c = _pixel(img, bounds, *a["square_center"])
    assert img[3, r, c] == 255 and img[0, r, c] > 240
    r, c = _pixel(img, bounds, *b["lonlat_of"](200, 100))
    assert img[3, r, c] == 255 and img[0, r, c] < 120


def test_overlay_stretches_16_bit(tmp_path):
    g = make_geotiff(tmp_path / "u16.tif", dtype="uint16")
    png, bounds = render_overlay([g["path"]], tmp_path / "o.png", max_px=200)
    img = _read_png(png)
    r, c = _pixel(img, bounds, *g["square_center"])
    assert img[:3, r, c].min() > 240
    r, c = _pixel(img, bounds, *g["lonlat_of"](500, 50))
    assert img[1, r, c] < 100


def test_build_overlays_one_per_date(tmp_path):
    a = make_geotiff(tmp_path / "a.tif")
    b = make_geotiff(tmp_path / "b.tif", lon=128.12)
    c = make_geotiff(tmp_path / "c.tif", lon=128.11)
    scenes = [
        make_scene(a, dt.date(2021, 5, 1)),
        make_scene(b, dt.date(2021, 5, 1), licence="other"),
        make_scene(c, dt.date(2019, 9, 9)),
    ]
    overlays = build_overlays(scenes, tmp_path / "ov", max_px=128)
    assert [o.label for o in overlays] == ["2019-09-09", "2021-05-01"]
    assert overlays[1].png.name == "2021-05-01.png" and overlays[1].png.exists()
    assert overlays[1].licence == "CC-BY-4.0 (test); other"
    assert overlays[1].bounds_lonlat[2] > overlays[0].bounds_lonlat[2]


def test_overlay_errors(geotiff, tmp_path):
    with pytest.raises(InputError):
        render_overlay([], tmp_path / "o.png")
    bad = tmp_path / "not-a-raster.tif"
    bad.write_text("hello")
    with pytest.raises(SceneError, match="not-a-raster.tif"):
        render_overlay([bad], tmp_path / "o.png")
    with pytest.raises(InputError, match="overlap"):
        render_overlay([geotiff["path"]], tmp_path / "o.png", bounds_lonlat=(10.0, 10.0, 11.0, 11.0))
    with pytest.raises(InputError):
        render_overlay([geotiff["path"]], tmp_path / "o.png", bounds_lonlat=(129.0, 41.0, 128.0, 42.0))
    assert not (tmp_path / "o.png").exists()


def test_overlay_reads_from_overviews_not_full_resolution(tmp_path):
    """Overviews built, then the full-resolution pixels changed: a small render shows the overview."""
    g = make_geotiff(tmp_path / "ovr.tif", nodata_cols=0, square=(0, 0, 1))
    with rasterio.open(g["path"], "r+") as dst:  # overviews keep the old dark green field
        dst.write(np.full((3, dst.height, dst.width), 250, dtype="uint8"))
    png, bounds = render_overlay([g["path"]], tmp_path / "small.png", max_px=64)
    img = _read_png(png)
    r, c = _pixel(img, bounds, *g["lonlat_of"](300, 200))
    assert img[3, r, c] == 255 and img[1, r, c] < 120  # from the overview
    png, bounds = render_overlay([g["path"]], tmp_path / "full.png", max_px=4096)
    img = _read_png(png)
    r, c = _pixel(img, bounds, *g["lonlat_of"](300, 200))
    assert img[1, r, c] > 240  # at full resolution the new pixels show


def test_overlay_of_a_google_earth_export_uses_the_scene_record(tmp_path):
    """A plain JPEG/PNG with its georeferencing in the Scene record (from the KML) renders in place."""
    import warnings
    from dataclasses import replace

    from rasterio.errors import NotGeoreferencedWarning

    data = np.zeros((3, 200, 300), dtype="uint8")
    data[1] = 90
    data[:, 80:120, 130:170] = 255
    png_in = tmp_path / "ge-export.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(png_in, "w", driver="PNG", width=300, height=200, count=3, dtype="uint8") as dst:
            dst.write(data)
    lon0, lat0, d = 128.15, 41.41, 0.0001  # north-up lon/lat GroundOverlay, ~8 x 11 m pixels
    info = {"path": png_in, "footprint_wkt": f"POLYGON (({lon0} {lat0}, {lon0 + 0.03} {lat0}, "
            f"{lon0 + 0.03} {lat0 - 0.02}, {lon0} {lat0 - 0.02}, {lon0} {lat0}))"}
    scene = replace(make_scene(info, dt.date(2020, 6, 1)), crs_wkt=rasterio.crs.CRS.from_epsg(4326).to_wkt(),
                    transform=(d, 0.0, lon0, 0.0, -d, lat0), sidecar=str(tmp_path / "ge-export.kml"))
    with pytest.raises(SceneError, match="no coordinate reference system"):
        render_overlay([png_in], tmp_path / "o.png")
    png, bounds = render_overlay([scene], tmp_path / "o.png", max_px=256)
    assert bounds == pytest.approx((lon0, lat0 - 0.02, lon0 + 0.03, lat0), abs=2e-4)
    img = _read_png(png)
    r, c = _pixel(img, bounds, lon0 + 150 * d, lat0 - 100 * d)
    assert img[3, r, c] == 255 and img[:3, r, c].min() > 240
    r, c = _pixel(img, bounds, lon0 + 50 * d, lat0 - 30 * d)
    assert img[1, r, c] < 120
