"""Reading corridor windows: georeferencing of GE overlays, mosaics, masks, bit depth, bands."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.enums import ColorInterp
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from tblib import pickling_support

from borderwatch.errors import InputError, SceneError
from borderwatch.imagery import read_tile, reader, register_scene
from borderwatch.imagery.handles import dataset_for
from borderwatch.imagery.reader import same_grid_window
from imagery_helpers import rotated_corner, write_tif

TAGS = {"CAPTURE_DATE": "2023-05-14"}
TO_UTM = Transformer.from_crs(4326, 32652, always_xy=True)


def _window(x, y, half):
    return (x - half, y - half, x + half, y + half)


def _bright_centre(tile):
    """UTM centre of the white pixels of a read window."""
    rows, cols = np.nonzero(tile.data.min(axis=0) > 200)
    assert rows.size, "the white block is not in the window"
    t = tile.transform
    return t @ (cols.mean() + 0.5, rows.mean() + 0.5)


@pytest.mark.parametrize("rotation", [0.0, 35.0, -120.0])
def test_google_earth_corner_reads_back_at_its_lon_lat(ge_export, rotation):
    img, _, box = ge_export(rotation=rotation)
    s = register_scene(img)
    # the 8x8 white block sits in the image's top-left corner: centre at (4, 4) of 100x80 px
    lon, lat = rotated_corner(rotation=rotation, u=4 / 100, v=4 / 80, **box)
    x, y = TO_UTM.transform(lon, lat)
    tile = read_tile([s], _window(x, y, 150), 32652, 2.0)
    bx, by = _bright_centre(tile)
    assert np.hypot(bx - x, by - y) < 12  # well under one image pixel (~8-11 m)
    assert tile.scene_ids == (s.scene_id,)


def test_rotated_overlay_leaves_outside_invalid(ge_export):
    img, _, box = ge_export(rotation=45.0)
    s = register_scene(img)
    # the unrotated box's north-east corner is outside a 45-degree-turned image
    x, y = TO_UTM.transform(box["east"] - 0.0003, box["north"] - 0.0003)
    tile = read_tile([s], _window(x, y, 20), 32652, 4.0)
    assert not tile.valid.any()
    cx, cy = TO_UTM.transform((box["east"] + box["west"]) / 2, (box["north"] + box["south"]) / 2)
    centre = read_tile([s], _window(cx, cy, 20), 32652, 4.0)
    assert centre.valid.all() and centre.data.max() < 120  # dark grey, not the corner block


def test_kml_itself_reads_the_same_pixels(ge_export):
    img, kml, _ = ge_export(rotation=10.0)
    a, b = register_scene(img), register_scene(kml)
    win = read_tile([a], _window(*_utm_centre(a), 300), 32652, 5.0)
    win2 = read_tile([b], _window(*_utm_centre(b), 300), 32652, 5.0)
    assert win.valid.any()
    assert np.array_equal(win.data, win2.data) and np.array_equal(win.valid, win2.valid)


def _utm_centre(scene):
    c = shapely.from_wkt(scene.footprint_wkt).centroid
    return TO_UTM.transform(c.x, c.y)


def test_mosaic_finest_then_latest_wins(tmp_path, centre):
    x, y, _, _ = centre
    coarse = write_tif(tmp_path / "coarse.tif", np.full((3, 40, 40), 50, np.uint8), origin=(x - 400, y + 400), gsd=20.0, tags=TAGS)
    fine = write_tif(tmp_path / "fine.tif", np.full((3, 80, 40), 200, np.uint8), origin=(x, y + 400), gsd=10.0, tags=TAGS)
    a, b = register_scene(coarse), register_scene(fine)
    win = (x - 300, y - 300, x + 300, y + 300)
    tile = read_tile([b, a], win, 32652, 10.0)  # order must not matter for different GSDs
    assert tile.valid.all()
    assert (tile.data[:, :, :25] == 50).all()  # west: only the coarse scene
    assert (tile.data[:, :, 35:] == 200).all()  # east: the finer scene wins
    assert set(tile.scene_ids) == {a.scene_id, b.scene_id}
    # same GSD: the later-registered (later in the list) wins
    other = write_tif(tmp_path / "other.tif", np.full((3, 40, 40), 90, np.uint8), origin=(x - 400, y + 400), gsd=20.0, tags=TAGS)
    c = register_scene(other)
    assert (read_tile([a, c], win, 32652, 10.0).data == 90).all()
    assert (read_tile([c, a], win, 32652, 10.0).data == 50).all()
    # a window the coarse scene alone fills never opens the fine one
    only = read_tile([a, b], (x - 300, y - 300, x - 100, y + 300), 32652, 10.0)
    assert only.scene_ids == (a.scene_id,)


def test_nodata_in_the_fine_scene_shows_the_coarse_one(tmp_path, centre):
    x, y, _, _ = centre
    coarse = write_tif(tmp_path / "c.tif", np.full((3, 40, 40), 50, np.uint8), origin=(x - 400, y + 400), gsd=20.0, tags=TAGS)
    data = np.full((3, 80, 80), 200, np.uint8)
    data[:, :, :40] = 0
    fine = write_tif(tmp_path / "f.tif", data, origin=(x - 400, y + 400), gsd=10.0, nodata=0, tags=TAGS)
    tile = read_tile([register_scene(coarse), register_scene(fine)], (x - 300, y - 300, x + 300, y + 300), 32652, 10.0)
    assert tile.valid.all()
    assert (tile.data[:, :, :25] == 50).all() and (tile.data[:, :, 35:] == 200).all()


def _masked_scene(tmp_path, x, y, kind):
    """A 64 x 64 px scene at 10 m, grey 150, whose west quarter has no data (marked the ``kind`` way)."""
    data = np.full((3, 64, 64), 150, np.uint8)
    masked = np.zeros((64, 64), bool)
    masked[:, :16] = True  # west quarter has no data
    path = tmp_path / f"{kind}.tif"
    if kind == "nodata":
        data[:, masked] = 0
        write_tif(path, data, origin=(x - 320, y + 320), gsd=10.0, nodata=0, tags=TAGS)
    elif kind == "alpha":
        alpha = np.where(masked, 0, 255).astype(np.uint8)
        write_tif(path, np.concatenate([data, alpha[None]]), origin=(x - 320, y + 320), gsd=10.0, tags=TAGS, photometric="RGB")
        with rasterio.open(path, "r+") as ds:
            ds.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
    else:
        write_tif(path, data, origin=(x - 320, y + 320), gsd=10.0, tags=TAGS)
        if kind == "internal_mask":
            with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "r+") as ds:
                ds.write_mask(np.where(masked, 0, 255).astype(np.uint8))
    return register_scene(path)


@pytest.mark.parametrize("gsd", [5.0, 10.0], ids=["warped", "same-grid"])
@pytest.mark.parametrize("kind", ["nodata", "internal_mask", "alpha", "plain"])
def test_mask_honoured_and_outside_invalid(tmp_path, centre, kind, gsd):
    x, y, _, _ = centre
    s = _masked_scene(tmp_path, x, y, kind)
    # window: 100 m west of the scene to its centre, rows inside
    tile = read_tile([s], (x - 420, y - 100, x, y + 100), 32652, gsd)
    cols_valid = tile.valid.any(axis=0)
    first = int(np.argmax(cols_valid))
    edge = 0 if kind == "plain" else 160  # metres from the scene's west edge where data starts
    assert first * gsd == pytest.approx(100 + edge, abs=5)
    assert tile.valid[:, first + 2 :].all()
    assert (tile.data[:, tile.valid] >= 140).all()  # no black nodata leaking in
    assert (tile.data[:, ~tile.valid] == 0).all()


def _gdal_warp(monkeypatch, *args, **kw):
    """read_tile with both shortcuts (same grid, plain warp) switched off: GDAL's masked warp, the reference."""
    with monkeypatch.context() as m:
        m.setattr(reader, "same_grid_window", lambda *a, **k: None)
        m.setattr(reader, "_warp_inside", lambda *a, **k: None)
        return read_tile(*args, **kw)


@pytest.mark.parametrize("kind", ["nodata", "internal_mask", "alpha", "plain"])
def test_same_grid_reads_skip_the_warp_and_match_it(tmp_path, centre, kind, monkeypatch):
    x, y, _, _ = centre
    s = _masked_scene(tmp_path, x, y, kind)
    warps = []

    def counted(*args, **kw):
        warps.append(kw)
        return WarpedVRT(*args, **kw)

    monkeypatch.setattr(reader, "WarpedVRT", counted)
    windows = [(x - 420, y - 100, x, y + 100), (x + 200, y - 500, x + 500, y - 200), (x - 1000, y, x - 500, y + 100)]
    for rs in ("bilinear", "nearest", "cubic"):
        for win in windows:  # across the west edge, across the south-east corner, wholly outside
            want = _gdal_warp(monkeypatch, [s], win, 32652, 10.0, resampling=rs)
            warps.clear()
            got = read_tile([s], win, 32652, 10.0, resampling=rs)
            assert not warps
            assert np.array_equal(got.data, want.data) and np.array_equal(got.valid, want.valid), (rs, win)
            assert got.scene_ids == want.scene_ids
    # half a pixel off the scene's grid, a finer GSD, or a smoothing resampling: warped as before
    for win, gsd, rs in [((x - 415, y - 100, x + 5, y + 100), 10.0, "bilinear"), ((x - 420, y - 100, x, y + 100), 5.0, "bilinear"),
                         ((x - 420, y - 100, x, y + 100), 10.0, "cubic_spline")]:
        warps.clear()
        read_tile([s], win, 32652, gsd, resampling=rs)
        assert len(warps) == 1


@pytest.mark.parametrize("crs", [32652, 3857])
def test_windows_wholly_inside_valid_pixels_warp_without_the_mask(tmp_path, centre, monkeypatch, crs):
    """Off the scene's grid, a window whose source pixels are all valid skips GDAL's masked warp, same pixels."""
    x, y, _, lat = centre
    rng = np.random.default_rng(5)
    data = rng.integers(1, 256, (3, 128, 128), dtype=np.uint8)  # texture: interpolation differences would show
    data[:, :, :32] = 0  # the west quarter is nodata
    s = register_scene(write_tif(tmp_path / "n.tif", data, origin=(x - 320, y + 320), gsd=5.0, nodata=0, tags=TAGS))
    plain = []

    def counted(*args, **kw):
        got = inside(*args, **kw)
        plain.append(got is not None)
        return got

    inside = reader._warp_inside
    monkeypatch.setattr(reader, "_warp_inside", counted)
    win = (x - 101.7, y - 201.7, x + 248.3, y + 148.3)  # wholly inside the valid three quarters, off the grid
    k = 1.0
    if crs != 32652:  # the same window in Web Mercator: a real reprojection, whose metres are 1 / cos(lat) ground metres
        win, k = transform_bounds("EPSG:32652", f"EPSG:{crs}", *win), 1.0 / np.cos(np.radians(lat))
    # finer than the scene, or the same GSD off the grid: plain; coarser (GDAL widens the kernel) or nearest: masked
    cases = [(5.0 / 1.5, "bilinear", "plain"), (3.0, "cubic", "plain"), (6.5, "bilinear", "masked"),
             (5.0 / 1.5, "nearest", "masked")]
    if crs == 32652:  # (reprojected, the same GSD spans a little more than one source pixel's box: masked)
        cases.append((5.0, "bilinear", "plain"))
    for gsd, rs, mode in cases:
        plain.clear()
        got = read_tile([s], win, crs, gsd * k, resampling=rs)
        want = _gdal_warp(monkeypatch, [s], win, crs, gsd * k, resampling=rs)
        assert plain == [True] if mode == "plain" else plain in ([], [False])
        assert got.valid.all() and np.array_equal(got.valid, want.valid)
        d = np.abs(got.data.astype(int) - want.data)
        assert d.max() <= 1 and (d > 0).mean() < 0.01, (gsd, rs, d.max(), (d > 0).mean())  # rounding apart, at most
    for win in [(x - 250, y - 200, x + 100, y + 150), (x + 200, y - 200, x + 500, y + 100)]:  # over the hole; off the edge
        plain.clear()
        got = read_tile([s], win, 32652, 5.0 / 1.5)
        assert plain == [False]
        want = _gdal_warp(monkeypatch, [s], win, 32652, 5.0 / 1.5)
        assert np.array_equal(got.data, want.data) and np.array_equal(got.valid, want.valid)
        assert 0.1 < got.valid.mean() < 0.9


def _damaged_scene(tmp_path, x, y):
    """A tiled, compressed GeoTIFF at 1 m whose middle bytes are overwritten: it opens, but blocks fail to decode."""
    path = tmp_path / "damaged.tif"
    data = np.random.default_rng(0).integers(1, 256, (3, 512, 512), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=512, height=512, count=3, dtype="uint8", crs="EPSG:32652",
                       transform=Affine(1.0, 0.0, x - 256, 0.0, -1.0, y + 256), tiled=True, blockxsize=128,
                       blockysize=128, compress="deflate") as dst:
        dst.write(data)
        dst.update_tags(**TAGS)
    scene = register_scene(path)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 40_000] = b"\x55" * 40_000
    path.write_bytes(bytes(raw))
    return scene


def test_damaged_pixels_name_the_file_and_window(tmp_path, centre):
    x, y, _, _ = centre
    s = _damaged_scene(tmp_path, x, y)
    for shift, gsd in [(0.0, 1.0), (0.3, 1.0), (0.0, 2.0)]:  # same grid, off the grid inside the scene, warped
        win = (x - 200 + shift, y - 200, x + 200 + shift, y + 200)
        with pytest.raises(SceneError, match="could not be read, the file may be damaged") as exc:
            read_tile([s], win, 32652, gsd)
        assert exc.value.source == s.path and "IReadBlock failed" in exc.value.problem
    # the pipeline's dask workers send it back pickled with its context (tblib): it must arrive whole
    pickling_support.install(exc.value)
    back = pickle.loads(pickle.dumps(exc.value))
    assert type(back) is SceneError and back.source == s.path and back.problem == exc.value.problem


def test_same_grid_window():
    utm, other = CRS.from_epsg(32652), CRS.from_epsg(32651)
    scene = Affine(0.5, 0.0, 1000.0, 0.0, -0.5, 5000.0)
    assert same_grid_window(utm, scene, utm, Affine(0.5, 0.0, 1010.5, 0.0, -0.5, 4990.0)) == (21, 20)
    assert same_grid_window(utm, scene, utm, Affine(0.5, 0.0, 990.0, 0.0, -0.5, 5001.0)) == (-20, -2)
    assert same_grid_window(utm, scene, utm, Affine(0.5, 0.0, 1010.25, 0.0, -0.5, 4990.0)) is None  # half a pixel off
    assert same_grid_window(utm, scene, utm, Affine(1.0, 0.0, 1010.0, 0.0, -1.0, 4990.0)) is None  # other GSD
    assert same_grid_window(other, scene, utm, Affine(0.5, 0.0, 1010.5, 0.0, -0.5, 4990.0)) is None  # other CRS
    turned = scene * Affine.rotation(10.0)
    assert same_grid_window(utm, turned, utm, Affine(0.5, 0.0, 1010.5, 0.0, -0.5, 4990.0)) is None


def test_nodata_pixel_is_valid_where_any_band_has_data(tmp_path, centre):
    """The mask read with the bands follows GDAL's: a pixel is nodata only where every band is."""
    x, y, _, _ = centre
    data = np.full((4, 32, 32), 90, np.uint8)
    data[:3, :, :8] = 0  # RGB nodata, near-infrared not: still a valid pixel
    data[:, :, 8:12] = 0  # every band nodata
    s = register_scene(write_tif(tmp_path / "n.tif", data, origin=(x, y), gsd=10.0, nodata=0, tags=TAGS, photometric="MINISBLACK"))
    for gsd in (10.0, 5.0):  # same grid, warped
        tile = read_tile([s], (x, y - 320, x + 320, y), 32652, gsd)
        k = int(10 / gsd)
        assert tile.valid[:, : 8 * k - 1].all() and not tile.valid[:, 8 * k + 1 : 12 * k - 1].any()
        assert tile.valid[:, 12 * k + 1 :].all()


def test_sixteen_bit_is_read_through_one_gain_and_single_band_repeated(tmp_path, centre):
    x, y, _, _ = centre
    ramp = np.tile(np.linspace(1000, 5000, 64, dtype=np.uint16), (64, 1))[None]
    s = register_scene(write_tif(tmp_path / "u16.tif", ramp, origin=(x - 320, y + 320), gsd=10.0, tags=TAGS))
    tile = read_tile([s], (x - 320, y - 320, x + 320, y + 320), 32652, 10.0, resampling="nearest")
    assert tile.data.dtype == np.uint8 and tile.data.shape == (3, 64, 64)
    assert (tile.data[0] == tile.data[1]).all() and (tile.data[1] == tile.data[2]).all()
    row = tile.data[0, 32].astype(float)
    # value x 230 / (99.8th percentile ~ 5000): proportional, not stretched from the darkest pixel to black
    assert row == pytest.approx(ramp[0, 32] * 230.0 / 5000.0, abs=1.0)


def test_a_sixteen_bit_copy_reads_like_its_eight_bit_original_up_to_one_gain(tmp_path, centre):
    """A 16-bit product keeps its colours: one gain for all bands, so band ratios (and NDWI) hold.

    The per-band 2nd-98th percentile stretch used before recoloured such a copy and more than doubled
    its contrast; the detector then found ~3,600 cars in a demo stretch holding 24 vehicles."""
    x, y, _, _ = centre
    rng = np.random.default_rng(3)
    rgb8 = np.stack([rng.integers(20, 90, (64, 64)), rng.integers(40, 120, (64, 64)), rng.integers(10, 70, (64, 64))])
    rgb8 = rgb8.astype(np.uint8)
    win = (x - 320, y - 320, x + 320, y + 320)
    scenes = [register_scene(write_tif(tmp_path / name, data, origin=(x - 320, y + 320), gsd=10.0, tags=TAGS))
              for name, data in (("u8.tif", rgb8), ("u16.tif", rgb8.astype(np.uint16) * 40))]
    want, got = (read_tile([s], win, 32652, 10.0, resampling="nearest").data.astype(float) for s in scenes)
    gain = got.sum() / want.sum()
    assert gain > 1.0  # the 8-bit original is dim (its brightest 0.2 % near 119): the gain brightens it
    assert np.abs(got - want * gain).max() <= 1.0  # the same gain on every band and pixel
    ratio = (got[1] - got[0]) / (got[1] + got[0])
    assert ratio == pytest.approx((want[1] - want[0]) / (want[1] + want[0]), abs=0.02)


def test_limits_stored_by_the_older_per_band_stretch_are_measured_again(tmp_path, centre):
    x, y, _, _ = centre
    data = np.stack([np.full((64, 64), v, np.uint16) for v in (1000, 2000, 3000)])
    s = register_scene(write_tif(tmp_path / "old.tif", data, origin=(x - 320, y + 320), gsd=10.0, tags=TAGS))
    old = dataclasses.replace(s, extra={"stretch": [[900.0, 1100.0], [1900.0, 2100.0], [2900.0, 3100.0]]})
    for scene in (s, old):
        px = read_tile([scene], (x - 100, y - 100, x + 100, y + 100), 32652, 10.0).data[:, 5, 5]
        assert px.tolist() == [77, 153, 230]


def test_four_band_rgb_and_nir(tmp_path, centre):
    x, y, _, _ = centre
    data = np.stack([np.full((64, 64), v, np.uint8) for v in (10, 20, 30, 40)])
    # MINISBLACK: a plain 4-band file (GDAL would otherwise write the 4th byte band as alpha)
    s = register_scene(write_tif(tmp_path / "rgbn.tif", data, origin=(x - 320, y + 320), gsd=10.0, tags=TAGS, photometric="MINISBLACK"))
    win = (x - 100, y - 100, x + 100, y + 100)
    assert read_tile([s], win, 32652, 10.0).data[:, 5, 5].tolist() == [10, 20, 30]
    assert read_tile([s], win, 32652, 10.0, bands=4).data[:, 5, 5].tolist() == [10, 20, 30, 40]
    rgb = register_scene(write_tif(tmp_path / "rgb.tif", data[:3], origin=(x - 320, y + 320), gsd=10.0, tags=TAGS))
    with pytest.raises(SceneError, match="near-infrared"):
        read_tile([rgb], win, 32652, 10.0, bands=4)


def test_bad_reads(tmp_path, centre):
    x, y, _, _ = centre
    a = register_scene(write_tif(tmp_path / "a.tif", np.full((3, 8, 8), 9, np.uint8), origin=(x, y), gsd=10.0, tags=TAGS))
    b = register_scene(write_tif(tmp_path / "b.tif", np.full((3, 8, 8), 9, np.uint8), origin=(x, y), gsd=10.0, tags={"CAPTURE_DATE": "2023-06-01"}))
    win = (x, y - 80, x + 80, y)
    with pytest.raises(InputError, match="one date"):
        read_tile([a, b], win, 32652, 10.0)
    with pytest.raises(InputError, match="resampling"):
        read_tile([a], win, 32652, 10.0, resampling="sideways")
    with pytest.raises(InputError, match="resampling 'gauss'"):  # a GDAL resampling the warper lacks
        read_tile([a], win, 32652, 10.0, resampling="gauss")
    with pytest.raises(InputError):
        read_tile([a], win, 32652, 0.0)
    empty = read_tile([], win, 32652, 10.0)
    assert not empty.valid.any() and empty.scene_ids == ()


def test_open_datasets_are_cached(tmp_path, centre):
    x, y, _, _ = centre
    s = register_scene(write_tif(tmp_path / "a.tif", np.full((3, 8, 8), 9, np.uint8), origin=(x, y), gsd=10.0, tags=TAGS))
    assert dataset_for(s) is dataset_for(s)
    read_tile([s], (x, y - 80, x + 80, y), 32652, 10.0)
    assert dataset_for(s) is dataset_for(s) and not dataset_for(s).closed


def _read_sum(args):
    scenes, bounds = args
    tile = read_tile(scenes, bounds, 32652, 10.0)
    return int(tile.data.sum()), int(tile.valid.sum()), tile.scene_ids


def test_worker_processes_reopen_scenes_lazily(tmp_path, centre):
    """Scenes travel to workers as plain records; each process opens its own files."""
    import concurrent.futures as cf
    import multiprocessing as mp

    x, y, _, _ = centre
    data = np.arange(64 * 64, dtype=np.uint16).reshape(1, 64, 64)
    s = register_scene(write_tif(tmp_path / "a.tif", data, origin=(x - 320, y + 320), gsd=10.0, tags=TAGS))
    read_tile([s], (x - 320, y - 320, x, y), 32652, 10.0)  # parent holds an open handle before forking
    jobs = [([s], (x - 320 + i * 100, y - 320, x + i * 100, y)) for i in range(4)]
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork")) as pool:
        remote = list(pool.map(_read_sum, jobs))
    assert remote == [_read_sum(j) for j in jobs]
    assert all(r[2] == (s.scene_id,) for r in remote)
