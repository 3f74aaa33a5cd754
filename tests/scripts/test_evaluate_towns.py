"""scripts/evaluate_towns.py: real street frames packed into town blocks and pasted on land beside the river, and
scripts/landcover_negatives.py leaving out the oblique stills."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from scripts_under_test import load_script


def test_a_town_block_is_packed_from_whole_frames():
    towns = load_script("evaluate_towns")
    pieces = [np.full((3, 7, 11), v, np.uint8) for v in (50, 90, 130)]
    block = towns.town_block(pieces, (20, 30), np.random.default_rng(0))
    assert block.shape == (3, 20, 30)
    filled = block.any(axis=0)
    assert filled[:14].all()  # two shelves of frames 7 px high
    assert set(np.unique(block[0][filled])) <= {50, 90, 130}


def test_pasting_writes_the_blocks_into_a_copy_and_nothing_else(tmp_path):
    towns = load_script("evaluate_towns")
    clean = tmp_path / "scene.tif"
    data = np.full((3, 40, 60), 77, np.uint8)
    prof = dict(driver="GTiff", width=60, height=40, count=3, dtype="uint8", crs="EPSG:32652", nodata=0,
                transform=from_origin(1000.0, 2000.0, 0.5, 0.5))
    with rasterio.open(clean, "w", **prof) as ds:
        ds.write(data)
        ds.update_tags(CAPTURE_DATE="2025-07-31")
    block = np.zeros((3, 10, 20), np.uint8)
    block[:, :5, :] = 200
    block[:, 0, 0] = (0, 0, 3)  # a nearly black street pixel: its zeros are written as 1, never as nodata
    town = {"bounds": (1005.0, 1990.0, 1015.0, 1995.0)}  # 20 x 10 px from column 10, row 10
    out = towns.paste(clean, tmp_path / "towns" / "scene.tif", [town], [block])
    with rasterio.open(out) as ds:
        got = ds.read()
        assert ds.tags()["CAPTURE_DATE"] == "2025-07-31"
    with rasterio.open(clean) as ds:
        assert np.array_equal(ds.read(), data)  # the clean scene is untouched
    assert got[:, 10, 10].tolist() == [1, 1, 3]
    assert (got[:, 10:15, 11:30] == 200).all()
    assert (got[:, 15:20, 10:30] == 77).all()  # the block's empty foot keeps the scene
    outside = np.ones((40, 60), bool)
    outside[10:20, 10:30] = False
    assert (got[:, outside] == 77).all()


def test_town_blocks_stand_on_land_away_from_the_true_sites():
    towns = load_script("evaluate_towns")
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    c = load_corridor("yalu-upper")
    world = SynthWorld(c, seed=20, dates=[dt.date(2025, 7, 31)])
    km = (40.0, 44.0)
    picked = towns.pick_towns(world, c, km, 2, (60.0, 40.0), 2.0, clear_km=0.6, step_m=20.0)
    assert picked
    sites = [s["chainage_km"] for s in world.sites(km)]
    for t in picked:
        assert all(abs(t["chainage_km"] - s) >= 0.6 for s in sites)
        _, lc = world.render_with_landcover(t["bounds"], 2.0, dt.date(2025, 7, 31))
        assert not np.isin(lc, towns.NOT_LAND).any()


def test_oblique_stills_are_left_out_of_the_street_frames(tmp_path):
    neg = load_script("landcover_negatives")
    for name in ("DJI_0010.JPG", "DJI_0028.JPG"):
        Image.fromarray(np.full((100, 200, 3), 120, np.uint8)).save(tmp_path / name)
        (tmp_path / name).with_suffix(".txt").write_text("0 0.5 0.5 0.09 0.04\n")
    names = [n for _, n, _ in neg.frames({"kit": tmp_path, "minsk": tmp_path}, ("minsk_stills",), 0.5)]
    assert names == ["DJI_0010.JPG"]
    assert "DJI_0028.JPG" in neg.OBLIQUE
    with pytest.raises(FileNotFoundError):
        next(neg.frames({"kit": tmp_path / "none", "minsk": tmp_path / "none"}, ("minsk_stills",), 0.5))


def test_a_set_back_town_stands_farther_from_the_river():
    towns = load_script("evaluate_towns")
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    c = load_corridor("yalu-upper")
    world = SynthWorld(c, seed=20, dates=[dt.date(2025, 7, 31)])
    args = ((40.0, 42.0), 1, (60.0, 40.0), 2.0)
    near = towns.pick_towns(world, c, *args, clear_km=0.6, step_m=20.0)
    back = towns.pick_towns(world, c, *args, clear_km=0.6, step_m=20.0, set_back_m=100.0)
    assert near and back and back[0]["chainage_km"] == near[0]["chainage_km"]
    assert back[0]["offset_m"] >= near[0]["offset_m"] + 100.0


def test_a_bad_block_size_is_named(capsys):
    towns = load_script("evaluate_towns")
    with pytest.raises(SystemExit):
        towns.main(["--kit", "k", "--minsk", "m", "--workdir", "w", "--block-m", "300"])
    assert "--block-m: expected WIDTHxHEIGHT" in capsys.readouterr().err
