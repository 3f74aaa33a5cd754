"""The command line: help everywhere, corridor show, bad input that leaves the store untouched, a damaged scene."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from borderwatch.store import Store
from cli_helpers import call

SUBCOMMANDS = [[], ["corridor"], ["corridor", "show"], ["corridor", "list"], ["corridor", "export"], ["scenes"],
               ["scenes", "add"], ["scenes", "list"], ["synth"], ["run"], ["demo"]]


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=lambda a: " ".join(a) or "borderwatch")
def test_every_command_has_help(argv, capsys):
    code, out, _ = call(argv + ["--help"], capsys)
    assert code == 0 and "Usage:" in out


def test_corridor_show_yalu_upper(capsys):
    code, out, _ = call(["corridor", "show", "yalu-upper", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert abs(info["length_km"] - 81.1) < 0.2 and info["crs"] == "EPSG:32652"
    places = {p["name"]: p for p in info["places"]}
    assert places["Hyesan"]["chainage_km"] == 0.0 and places["Hyesan"]["country"] == "KP"
    assert places["Changbai"]["country"] == "CN"
    assert "OpenStreetMap" in info["attribution"]


def test_corridor_show_table(capsys):
    code, out, _ = call(["corridor", "show", "yalu-upper"], capsys)
    assert code == 0 and "81.1 km from Hyesan" in out and "EPSG:32652" in out and "Kimjongsuk-up" in out


def test_console_script_exit_code_on_error():
    proc = subprocess.run([sys.executable, "-m", "borderwatch.cli", "corridor", "show", "atlantis"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "atlantis: unknown corridor" in proc.stderr


# -- bad input leaves the store untouched -----------------------------------------------
@pytest.fixture
def store_with_one_scene(tmp_path, geotiff_factory, short_corridor, capsys):
    minx, miny, maxx, maxy = short_corridor.area.bounds
    good = geotiff_factory("good.tif", bounds=(minx, miny, maxx, maxy))
    store = tmp_path / "store.gpkg"
    code, _, err = call(["scenes", "add", str(good), "--store", str(store)], capsys)
    assert code == 0, err
    return store


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _bad_inputs(tmp_path, geotiff_factory, short_corridor):
    minx, miny, maxx, maxy = short_corridor.area.bounds
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    plain = tmp_path / "screenshot.png"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(plain)
    far = geotiff_factory("far.tif", bounds=(minx + 200_000, miny, minx + 201_000, miny + 1000))
    blank = geotiff_factory("blank.tif", bounds=(minx, miny, minx + 1000, miny + 1000), nodata_fraction=1.0)
    ge = tmp_path / "ge.jpg"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(ge)
    (tmp_path / "ge.kml").write_text(
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><GroundOverlay><name>x</name>'
        "<Icon><href>ge.jpg</href></Icon></GroundOverlay></kml>"
    )
    undated = geotiff_factory("undated.tif", bounds=(minx, miny, maxx, maxy), date=None)
    noline = tmp_path / "points.geojson"
    noline.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [128.1, 41.4]}}]}))
    return {
        "not a raster": (["scenes", "add", str(text)], "notes.tif"),
        "no georeferencing": (["scenes", "add", str(plain)], "screenshot.png"),
        "misses the corridor": (["scenes", "add", str(far), "--corridor", "yalu-upper[0:2]"], "far.tif"),
        "all nodata": (["scenes", "add", str(blank)], "blank.tif"),
        "kml without latlonbox": (["scenes", "add", str(ge)], "ge."),
        "unparseable date": (["scenes", "add", str(undated), "--date", "13/09/2025"], "--date"),
        "corridor file without a line": (["scenes", "add", str(undated), "--date", "2025-09-13", "--corridor", str(noline)], "points.geojson"),
        "unknown corridor": (["scenes", "add", str(undated), "--date", "2025-09-13", "--corridor", "atlantis"], "atlantis"),
    }


@pytest.mark.parametrize("case", ["not a raster", "no georeferencing", "misses the corridor", "all nodata",
                                  "kml without latlonbox", "unparseable date", "corridor file without a line", "unknown corridor"])
def test_bad_input_is_one_line_error_and_store_untouched(case, tmp_path, geotiff_factory, short_corridor, store_with_one_scene, capsys):
    argv, names = _bad_inputs(tmp_path, geotiff_factory, short_corridor)[case]
    before = _digest(store_with_one_scene)
    code, _, err = call(argv + ["--store", str(store_with_one_scene)], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip() and "error" in ln]
    assert len(lines) == 1, err
    assert names in lines[0]
    assert _digest(store_with_one_scene) == before


def test_a_batch_with_one_bad_file_registers_nothing(tmp_path, geotiff_factory, short_corridor, store_with_one_scene, capsys):
    minx, miny, maxx, maxy = short_corridor.area.bounds
    good2 = geotiff_factory("good2.tif", bounds=(minx, miny, maxx, maxy), date=dt.date(2025, 9, 13), seed=5)
    bad = tmp_path / "bad.tif"
    bad.write_text("nope")
    before = _digest(store_with_one_scene)
    code, _, _ = call(["scenes", "add", str(good2), str(bad), "--store", str(store_with_one_scene)], capsys)
    assert code == 2 and _digest(store_with_one_scene) == before


def test_scenes_list_shows_coverage(store_with_one_scene, capsys):
    code, out, err = call(["scenes", "list", "--corridor", "yalu-upper[0:2]", "--store", str(store_with_one_scene)], capsys)
    assert code == 0, err
    assert "2025-07-31" in out and "%" in out


def test_synth_command_writes_scenes_and_truth(tmp_path, capsys):
    out = tmp_path / "synth"
    code, _, err = call(["synth", "--corridor", "yalu-upper", "--km", "2:2.5", "--gsd", "2.0", "--dates", "2025-07-31", "--seed", "3", "--out", str(out)], capsys)
    assert code == 0, err
    assert (out / "2025-07-31.tif").exists() and (out / "truth" / "sites.geojson").exists()
    code, _, err = call(["synth", "--km", "5:2", "--out", str(out)], capsys)
    assert code == 2 and "--km" in err


def test_run_takes_the_scene_files_a_shell_glob_gives_after_scenes(tmp_path, geotiff_factory, short_corridor, capsys):
    """`run --scenes images/*.tif`, as the README writes it: the shell passes every file after --scenes."""
    minx, miny, maxx, maxy = short_corridor.area.bounds
    files = [geotiff_factory(f"{d}.tif", bounds=(minx, miny, maxx, maxy), date=dt.date.fromisoformat(d), seed=i)
             for i, d in enumerate(("2025-07-31", "2025-09-13"))]
    out = tmp_path / "out"
    code, _, err = call(["run", "--corridor", "yalu-upper[0:2]", "--gsd", "8", "--out", str(out),
                         "--scenes", *map(str, files)], capsys)
    assert code == 0, err
    with Store.open(out / "borderwatch.gpkg") as s:
        assert sorted(str(sc.capture_date) for sc in s.scenes()) == ["2025-07-31", "2025-09-13"]
        assert {str(r["date"]) for r in s.tile_results()} == {"2025-07-31", "2025-09-13"}


def test_run_over_a_damaged_scene_names_it_and_leaves_a_store_that_resumes(tmp_path, short_corridor, capsys):
    """A scene that opens but whose pixels fail to decode (a truncated download): a one-line error naming the
    file, the run marked failed, the tiles already done kept, and the same error again on a rerun."""
    minx, miny, maxx, maxy = short_corridor.area.bounds
    path = tmp_path / "damaged.tif"
    w, h = int((maxx - minx) / 4.0), int((maxy - miny) / 4.0)
    data = np.random.default_rng(1).integers(20, 230, (3, h, w), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs="EPSG:32652",
                       transform=from_origin(minx, maxy, 4.0, 4.0), tiled=True, blockxsize=128, blockysize=128,
                       compress="deflate") as dst:
        dst.write(data)
    store, out = tmp_path / "store.gpkg", tmp_path / "out"
    code, _, err = call(["scenes", "add", str(path), "--date", "2025-09-13", "--store", str(store)], capsys)
    assert code == 0, err
    raw = bytearray(path.read_bytes())
    start = int(len(raw) * 0.8)
    raw[start : start + 20_000] = b"\x55" * 20_000  # blocks near the end of the file no longer decode
    path.write_bytes(bytes(raw))
    argv = ["run", "--corridor", "yalu-upper[0:2]", "--gsd", "4", "--store", str(store), "--out", str(out)]
    code, _, err = call(argv, capsys)
    errors = [ln for ln in err.splitlines() if "error" in ln]
    assert code == 2 and len(errors) == 1, err
    assert "damaged.tif" in errors[0] and "could not be read, the file may be damaged" in errors[0]
    with Store.open(store) as s:
        assert [r["status"] for r in s.runs()] == ["failed"]
        done = len(s.tile_results())
        assert len(s.scenes()) == 1
    assert done > 0  # the tiles before the damaged ones were saved
    code, _, err = call(argv, capsys)
    assert code == 2 and "damaged.tif" in err
    with Store.open(store) as s:
        assert len(s.tile_results()) == done and [r["status"] for r in s.runs()] == ["failed", "failed"]
