"""Sliced inference: tiling, seam merging, nodata skipping, georeferenced rasters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from borderwatch.analysis.detect import Detection, OrientedBox, TileDetections, merge_tiles
from borderwatch.analysis.detect.sliced import (
    ArraySource,
    RasterSource,
    SliceStats,
    detect_raster,
    detect_source,
    merge_clusters,
    resample_rgb,
    to_map,
)
from borderwatch.errors import SceneError


class FakeDetector:
    """Reports one box per bright square blob in each chip (a stand-in model with exact answers)."""

    multiple = 16
    gsd_m = 0.5
    gsd_range = (0.25, 0.8)
    score_threshold = 0.3

    def __init__(self):
        self.chips = 0
        self.batches = []

    def predict_chips(self, chips, score_threshold=None):
        import cv2

        self.batches.append(len(chips))
        out = []
        for c in chips:
            self.chips += 1
            mask = (c[:, :, 0] > 200).astype(np.uint8)
            n, _, st, cen = cv2.connectedComponentsWithStats(mask)
            dets = []
            for k in range(1, n):
                x, y, w, h, _ = st[k]
                dets.append(Detection(OrientedBox(cen[k][0] + 0.5, cen[k][1] + 0.5, max(w, h), min(w, h),
                                                  0.0 if h >= w else 90.0), 0.9, "small_vehicle"))
            out.append(dets)
        return out


def _scene(w=700, h=500, boxes=((100, 100), (250, 248), (400, 300), (510, 250), (255, 120))):
    img = np.full((h, w, 3), 60, np.uint8)
    for x, y in boxes:
        img[y - 2:y + 2, x - 5:x + 5] = 255  # 10 x 4 px "cars"
    return img, boxes


@pytest.mark.parametrize("tile", [80, 128, 256, 1024])
def test_each_vehicle_once_whatever_the_tiling(tile):
    img, boxes = _scene()
    fake = FakeDetector()
    dets = detect_source(fake, ArraySource(img, 0.5), tile=tile, overlap=32, batch=3)
    assert len(dets) == len(boxes)
    got = sorted((round(d.box.cx), round(d.box.cy)) for d in dets)
    assert got == sorted((x, y) for x, y in boxes)
    assert max(fake.batches) <= 3


def test_resamples_to_model_gsd_and_back():
    img, boxes = _scene()
    import cv2

    big = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)  # 0.25 m
    dets = detect_source(FakeDetector(), ArraySource(big, 0.25), tile=128, overlap=32)
    assert len(dets) == len(boxes)
    for d in dets:
        assert min(math.hypot(d.box.cx - 2 * x, d.box.cy - 2 * y) for x, y in boxes) < 2.5
        assert d.box.length == pytest.approx(20, abs=3)


def test_nodata_tiles_are_skipped():
    class Src(ArraySource):
        def read(self, x0, y0, x1, y1, ow, oh):
            a, _ = super().read(x0, y0, x1, y1, ow, oh)
            return a, not a.any()

    img, _ = _scene(w=1000, h=300, boxes=((100, 100),))
    img[:, 400:] = 0
    fake = FakeDetector()
    stats = SliceStats()
    dets = detect_source(fake, Src(img, 0.5), tile=128, overlap=32, stats=stats)
    assert len(dets) == 1
    assert stats.skipped > 0 and fake.chips == stats.tiles - stats.skipped


def test_skip_window_hook():
    img, _ = _scene()
    stats = SliceStats()
    dets = detect_source(FakeDetector(), ArraySource(img, 0.5), tile=128, overlap=32, stats=stats,
                         skip_window=lambda w: True)
    assert dets == [] and stats.skipped == stats.tiles


def _random_tiles(rng, n_tiles=4):
    tiles = []
    for t in range(n_tiles):
        x0 = t * 90.0
        dets = []
        for _ in range(25):
            cx, cy = rng.uniform(0, 128, 2)
            dets.append(Detection(OrientedBox(cx, cy, rng.uniform(6, 20), rng.uniform(3, 6), rng.uniform(0, 360)),
                                  float(rng.uniform(0.3, 1)), "small_vehicle"))
        tiles.append(TileDetections((x0, 0.0, x0 + 128, 128.0), dets))
    return tiles


@pytest.mark.parametrize("seed", range(5))
def test_cluster_merge_equals_merge_tiles(seed):
    tiles = _random_tiles(np.random.default_rng(seed))
    size = (3 * 90.0 + 128, 128.0)
    a = merge_tiles(tiles + [TileDetections((0, 0, size[0], size[1]), [])], image_size=size)
    b = merge_clusters(tiles, size)
    key = lambda d: (round(d.box.cx, 6), round(d.box.cy, 6), round(d.score, 6))  # noqa: E731
    assert sorted(map(key, a)) == sorted(map(key, b))


def _write_tif(path, img, gsd=0.5, crs="EPSG:32652", nodata=None, dtype="uint8"):
    import rasterio
    from rasterio.transform import from_origin

    h, w = img.shape[:2]
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=img.shape[2], dtype=dtype, crs=crs,
                       transform=from_origin(430000, 4585000, gsd, gsd), nodata=nodata) as ds:
        ds.write(img.transpose(2, 0, 1))
    return path


def test_a_sixteen_bit_raster_is_read_through_one_gain_as_the_pipeline_reads_it(tmp_path):
    """``detect --stretch``: a 16-bit copy reads as its 8-bit original times one gain for every band."""
    import rasterio

    rng = np.random.default_rng(5)
    img = np.dstack([rng.integers(1, 90, (64, 80)), rng.integers(1, 120, (64, 80)), rng.integers(1, 70, (64, 80))])
    p = _write_tif(tmp_path / "u16.tif", img.astype(np.uint16) * 40, dtype="uint16")
    with rasterio.open(p) as ds, pytest.warns(UserWarning, match="one gain for all bands"):
        src = RasterSource(ds, stretch=True)
        got, _ = src.read(0, 0, 80, 64, 80, 64)
    gain = 230.0 / np.percentile(img, 99.8)
    assert np.abs(got.astype(float) - img * gain).max() <= 1.0


def test_detect_raster_map_coordinates(tmp_path):
    img, boxes = _scene()
    p = _write_tif(tmp_path / "s.tif", img)
    dets, transform, crs, g = detect_raster(p, FakeDetector(), tile=256, overlap=32)
    assert g == pytest.approx(0.5) and len(dets) == len(boxes)
    rec = to_map(dets[0], transform, g)
    assert 430000 < rec["x"] < 430000 + 700 * 0.5 and 4585000 - 500 * 0.5 < rec["y"] < 4585000
    assert rec["length_m"] == pytest.approx(5.0, abs=1)
    assert rec["heading_deg"] in (pytest.approx(90.0), pytest.approx(270.0), pytest.approx(0.0))


def test_detect_raster_refuses_bad_rasters(tmp_path):
    img, _ = _scene()
    with pytest.raises(SceneError, match="single-band"):
        detect_raster(_write_tif(tmp_path / "pan.tif", img[:, :, :1]), FakeDetector())
    with pytest.raises(SceneError, match="uint16"):
        detect_raster(_write_tif(tmp_path / "u16.tif", img.astype(np.uint16), dtype="uint16"), FakeDetector())
    with pytest.raises(SceneError, match="geographic"):
        detect_raster(_write_tif(tmp_path / "geo.tif", img, gsd=0.00001, crs="EPSG:4326"), FakeDetector())
    from borderwatch.errors import InputError

    with pytest.raises(InputError, match="outside the detector's range"):
        detect_raster(_write_tif(tmp_path / "coarse.tif", img, gsd=10.0), FakeDetector())
    with pytest.warns(UserWarning, match="4 bands"):
        dets, *_ = detect_raster(_write_tif(tmp_path / "rgbn.tif", np.dstack([img, img[:, :, :1]])), FakeDetector(),
                                 tile=256)
    assert len(dets) == 5


def test_raster_nodata_mask_skips_tiles(tmp_path):
    img, _ = _scene(w=1200, h=300, boxes=((100, 100),))
    img[:, 500:] = 0
    p = _write_tif(tmp_path / "nd.tif", img, nodata=0)
    stats = SliceStats()
    dets, *_ = detect_raster(p, FakeDetector(), tile=128, overlap=32, stats=stats)
    assert len(dets) == 1 and stats.skipped >= 6


class _TwoPeaks(FakeDetector):
    """Reports each blob twice, as a long truck's two heatmap peaks: shifted 8 px along its axis (IoU 0.43)."""

    def predict_chips(self, chips, score_threshold=None):
        out = []
        for dets in super().predict_chips(chips, score_threshold):
            out.append([d for base in dets for d in (base, Detection(base.box.translated(8.0, 0.0), 0.8, "large_vehicle"))])
        return out


@pytest.mark.parametrize("nms_iou, expected", [(0.3, 1), (None, 2)])
def test_duplicate_peaks_of_one_vehicle_are_merged(nms_iou, expected):
    img = np.full((200, 200, 3), 60, np.uint8)
    img[98:102, 90:110] = 255  # one 20 x 4 px vehicle
    det = _TwoPeaks()
    det.nms_iou = nms_iou
    found = detect_source(det, ArraySource(img, 0.5), tile=128, overlap=32)
    assert len(found) == expected
    assert found[0].score == pytest.approx(0.9)  # the stronger peak is the one kept


def test_boxes_land_on_their_source_pixels_when_tiles_start_between_pixels():
    """At 0.7 m (1.4 model px per source px) most tiles start between source pixels."""
    img = np.full((400, 600, 3), 60, np.uint8)
    centres = [(33.5, 40.5), (150.5, 222.5), (301.5, 101.5), (452.5, 333.5), (571.5, 212.5), (200.5, 377.5)]
    for x, y in centres:
        img[int(y) - 2:int(y) + 3, int(x) - 4:int(x) + 5] = 255  # 9 x 5 px, centred on (x, y)
    dets = detect_source(FakeDetector(), ArraySource(img, 0.7), tile=128, overlap=32)
    assert len(dets) == len(centres)
    for d in dets:
        err = min(math.hypot(d.box.cx - x, d.box.cy - y) for x, y in centres)
        assert err < 0.35, (d.box.cx, d.box.cy, err)  # the stand-in model itself is good to ~0.25 px here


def test_arrays_are_brought_to_the_model_gsd_by_area_average_down_and_bilinear_up():
    """One rule for the runtime, evaluation and training chips (train.synth_samples), so the model learns on
    pixels resampled the way it will see them: a 0.8 m scene reaches the 0.5 m model enlarged and soft."""
    import cv2

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert resample_rgb(img, 40, 40) is img
    down, up = resample_rgb(img, 25, 25), resample_rgb(img, 64, 64)
    assert np.array_equal(down, cv2.resize(img, (25, 25), interpolation=cv2.INTER_AREA))
    assert np.array_equal(up, cv2.resize(img, (64, 64), interpolation=cv2.INTER_LINEAR))
    assert not np.array_equal(up, cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA))  # the two rules differ
    src = ArraySource(img, 0.8)
    assert np.array_equal(src.read(0, 0, 40, 40, 64, 64)[0], up)
