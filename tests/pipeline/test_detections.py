"""Detection inside the pipeline: stored with provenance and position, counted once across tile seams."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely

from borderwatch.corridor import load_corridor
from borderwatch.imagery import register_scene
from borderwatch.pipeline import AnalysisParams, run_pipeline
from borderwatch.store import Store

DATE = dt.date(2025, 9, 13)


@pytest.fixture(scope="module")
def parking_field(tmp_path_factory):
    """A synthetic stretch around the parking field at km 7 of yalu-upper (seed 7): ~60 trucks."""
    from borderwatch.synth import SynthWorld, write_scenes

    out = tmp_path_factory.mktemp("parking")
    whole = load_corridor("yalu-upper")
    write_scenes(whole, km=(6.7, 7.3), gsd_m=0.5, dates=[DATE], seed=7, out_dir=out, landcover=True)
    stretch = load_corridor("yalu-upper[6.7:7.3]")
    world = SynthWorld(whole, seed=7, dates=[DATE])  # truth in the corridor CRS
    truth = [o for o in world.objects(DATE, (6.0, 8.0)) if o["class"] != "distractor" and stretch.area.contains(shapely.Point(o["x"], o["y"]))]
    return stretch, register_scene(out / f"{DATE}.tif"), truth, out / "truth" / f"landcover_{DATE}.tif"


def _detections(tmp_path, stretch, scene, tile_m):
    with Store.open(tmp_path / f"t{tile_m}.gpkg", create=True) as store:
        run_pipeline(stretch, [scene], store, params=AnalysisParams(gsd_m=0.5, tile_m=tile_m, detect=True))
        return store.read_rows("detections")


@pytest.mark.slow
def test_detections_are_stored_with_provenance_and_position(tmp_path, parking_field):
    stretch, scene, truth, _ = parking_field
    dets = _detections(tmp_path, stretch, scene, 512.0)
    large_truth = sum(o["class"] == "large_vehicle" for o in truth)
    assert large_truth >= 40
    # the parking field is found (its accuracy is the model card's business, measured by `evaluate`)
    field = [d for d in dets if d["class"] == "large_vehicle"]
    assert len(field) >= large_truth / 2
    for d in dets:
        assert d["scene_id"] == scene.scene_id and str(d["date"]) == DATE.isoformat()
        assert -0.01 <= d["chainage_km"] <= stretch.length_km + 0.01
        assert d["country"] in ("KP", "CN") and 0 <= d["heading_deg"] < 360
        assert d["geometry"].geom_type == "Polygon" and 125 < d["geometry"].centroid.x < 130


@pytest.mark.slow
def test_tile_seams_do_not_change_the_count(tmp_path, parking_field):
    stretch, scene, _, _ = parking_field
    big = _detections(tmp_path, stretch, scene, 512.0)
    small = _detections(tmp_path, stretch, scene, 256.0)  # four times as many seams
    assert abs(len(big) - len(small)) <= max(2, 0.03 * len(big))


@pytest.mark.slow
def test_jpeg_compressed_scenes_are_read_by_the_jpeg_variant(tmp_path):
    """JPEG keeps colour at half resolution. On a JPEG (quality 75) copy of the parking field at 0.8 m the default
    model loses a quarter of the trucks (measured: 43 where the uncompressed scene gives 60); the JPEG variant, which
    the run picks for that scene by itself, finds them (68). Each tile records which detector ran."""
    import rasterio.shutil

    from borderwatch.analysis.detect.runtime import default_model_path
    from borderwatch.synth import write_scenes

    write_scenes(load_corridor("yalu-upper"), km=(6.7, 7.3), gsd_m=0.8, dates=[DATE], seed=7, out_dir=tmp_path)
    plain, jpeg = tmp_path / f"{DATE}.tif", tmp_path / "jpeg.tif"
    rasterio.shutil.copy(plain, jpeg, driver="GTiff", compress="jpeg", photometric="ycbcr", jpeg_quality=75, tiled=True)
    stretch = load_corridor("yalu-upper[6.7:7.3]")
    large, detectors = {}, {}
    for name, path, model in (("plain", plain, "bundled"), ("jpeg", jpeg, "bundled"),
                              ("jpeg, default model", jpeg, str(default_model_path()))):
        with Store.open(tmp_path / f"{name}.gpkg", create=True) as store:
            run_pipeline(stretch, [register_scene(path)], store, params=AnalysisParams(gsd_m=0.8, detect=True, model=model))
            rows = store.read_rows("detections")
            large[name] = sum(d["class"] == "large_vehicle" for d in rows)
            detectors[name] = {r["stats"]["detector"] for r in store.tile_results() if "detector" in r["stats"]}
            assert {d["detector"] for d in rows} == detectors[name]  # each detection names its detector too
            versions = store.runs()[-1]["model_versions"]
    assert [len(d) for d in detectors.values()] == [1, 1, 1]
    assert detectors["plain"] == detectors["jpeg, default model"] != detectors["jpeg"]
    assert next(iter(detectors["jpeg"])).startswith("borderwatch-vehicles-jpeg@")
    assert "+front-jpeg-" in next(iter(detectors["jpeg"]))  # with the front check fitted for it
    assert "detector_jpeg" not in versions  # a model file of the user's own is not switched
    assert large["plain"] >= 50
    assert large["jpeg, default model"] < 0.85 * large["plain"]
    assert abs(large["jpeg"] - large["plain"]) < abs(large["jpeg, default model"] - large["plain"])


def test_the_run_records_both_bundled_detectors():
    from borderwatch.pipeline.tasks import versions

    v = versions(AnalysisParams(detect=True))
    assert v["detector"].startswith("borderwatch-vehicles@") and v["detector_jpeg"].startswith("borderwatch-vehicles-jpeg@")
    assert v["detector_sha256"] != v["detector_jpeg_sha256"]
    assert "+front-4." in v["detector"] and "+front-jpeg-" in v["detector_jpeg"]


def test_gsd_outside_the_detector_range_is_refused_before_work(tmp_path, short_corridor, geotiff_factory):
    from borderwatch.errors import InputError

    minx, miny, maxx, maxy = short_corridor.area.bounds
    scene = register_scene(geotiff_factory("a.tif", bounds=(minx, miny, maxx, maxy)))
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        with pytest.raises(InputError, match="--gsd"):
            run_pipeline(short_corridor, [scene], store, params=AnalysisParams(gsd_m=4.0, detect=True))
        assert store.runs() == [] and store.tile_results() == []


@pytest.mark.slow
def test_landcover_shares_follow_the_truth_and_give_distance_to_water(tmp_path, parking_field):
    import numpy as np
    import rasterio
    from rasterio.windows import from_bounds

    stretch, scene, _, truth_path = parking_field
    with Store.open(tmp_path / "lc.gpkg", create=True) as store:
        run_pipeline(stretch, [scene], store, params=AnalysisParams(gsd_m=0.5, detect=True, landcover=True))
        results = store.tile_results()
        dets = store.read_rows("detections")
        runs = store.runs()
    assert runs[-1]["model_versions"]["landcover"]
    pairs = []  # (true water share, measured water share) per tile with imagery
    with rasterio.open(truth_path) as src:
        for r in results:
            minx, miny, maxx, maxy = stretch.from_lonlat(r["geometry"]).bounds
            truth = src.read(1, window=from_bounds(minx, miny, maxx, maxy, src.transform), boundless=True, fill_value=0)
            valid = truth > 0
            if valid.sum() < 0.2 * truth.size:
                continue
            pairs.append((float((truth[valid] == 1).mean()), r["stats"]["landcover"].get("water", 0.0)))
    wet = [(t, m) for t, m in pairs if t > 0.02]
    assert len(wet) >= 2  # the river crosses the stretch
    assert all(abs(t - m) < 0.03 for t, m in wet)
    assert np.mean([abs(t - m) for t, m in pairs]) < 0.01
    near = [d["dist_water_m"] for d in dets if d["dist_water_m"] is not None]
    assert near and min(near) >= 0 and max(near) < 600


def test_the_screen_is_a_parameter_and_the_run_says_which_detector_ran():
    """The default key is the one stores made before the option existed carry; turning the screen off is a
    different analysis, and the detector name stored with the run says whether a screen ran."""
    from dataclasses import asdict

    from borderwatch.pipeline.tasks import _digest, versions

    on, off = AnalysisParams(detect=True), AnalysisParams(detect=True, screen=False)
    d = asdict(on)
    del d["screen"], d["front_calibration"]
    assert on.key() == _digest(d) and off.key() != on.key()
    assert "+screen-" in versions(on)["detector"] and "+screen-" not in versions(off)["detector"]
    assert versions(on)["detector_sha256"] == versions(off)["detector_sha256"]  # the same detector file


def test_the_front_calibration_is_a_parameter_the_run_records():
    """Real-street calibration by default (the key of older stores); the front check's own probability is
    another analysis, and the stored detector name says which."""
    from borderwatch.pipeline.tasks import versions

    real, own = AnalysisParams(detect=True), AnalysisParams(detect=True, front_calibration="none")
    assert own.key() != real.key()
    assert AnalysisParams(detect=True, front_calibration="real").key() == real.key()
    name_real, name_own = versions(real)["detector"], versions(own)["detector"]
    assert name_real != name_own and "-uncalibrated" in name_own and "-uncalibrated" not in name_real
    with pytest.raises(ValueError, match="front_calibration"):
        AnalysisParams(front_calibration="synthetic")


@pytest.mark.slow
def test_no_screen_finds_the_same_parking_field(tmp_path, parking_field):
    stretch, scene, _, _ = parking_field
    with Store.open(tmp_path / "all.gpkg", create=True) as store:
        run_pipeline(stretch, [scene], store, params=AnalysisParams(gsd_m=0.5, detect=True, screen=False))
        every_pixel = store.read_rows("detections")
    screened = _detections(tmp_path, stretch, scene, 512.0)
    confident = [d for d in every_pixel if d["score"] >= 0.5]
    assert len(confident) >= 20
    near = [min(abs(d["geometry"].centroid.distance(s["geometry"].centroid)) for s in screened) for d in confident]
    assert sum(n < 1e-5 for n in near) >= 0.95 * len(confident)  # within ~1 m (degrees)


def test_distance_to_water_is_to_the_rivers_water_once_its_zones_are_known():
    """A car beside a town's dark street read as water is not "at the water": with the river's zones (the line
    says which wet ground is the river) its distance is to the channel; without them, to the nearest water."""
    import numpy as np
    import shapely
    from affine import Affine

    from borderwatch.analysis.crossings import coarse_classes, find_evidence
    from borderwatch.analysis.landcover.codes import SANDBAR, VEGETATION, WATER
    from borderwatch.analysis.landcover.features import factor_for
    from borderwatch.pipeline.tasks import _add_distance_to_water

    gsd = 0.5
    f = factor_for(gsd)
    transform = Affine(gsd, 0, 0.0, 0, -gsd, 800.0)  # 1600 x 1600 px, 800 m square
    classes = np.full((1600, 1600), VEGETATION, np.uint8)
    classes[1300:1500] = WATER  # the channel, 100 m wide, in the south
    classes[100:300, 400:1200] = SANDBAR  # a town's paving ...
    classes[190:210, 400:1200] = WATER  # ... with a dark street, 400 m north of the channel
    line = shapely.LineString([(0.0, 100.0), (800.0, 100.0)])  # down the channel's middle
    _, zones = find_evidence(coarse_classes(classes, f), transform * Affine.scale(f), gsd * f, line=line)
    car = {"x": 400.0, "y": 800.0 - 215 * gsd}  # 2.5 m south of the street
    _add_distance_to_water([car], classes == WATER, transform, gsd)
    assert car["dist_water_m"] < 5.0
    _add_distance_to_water([car], classes == WATER, transform, gsd, zones)
    assert car["dist_water_m"] == pytest.approx(1300 * gsd - 215 * gsd, abs=3.0)


def test_built_up_around_a_vehicle_leaves_the_vehicles_out():
    """Trucks read as built-up themselves: a field full of them is open ground around each, a street between houses
    is built-up around its cars; where nothing around is known the share is unknown (None), never a guess."""
    import numpy as np
    import shapely
    from affine import Affine

    from borderwatch.analysis.landcover.codes import BUILT_UP, VEGETATION
    from borderwatch.pipeline.tasks import SURROUNDINGS_M, _add_built_up_around

    gsd = 0.5
    transform = Affine(gsd, 0, 0.0, 0, -gsd, 200.0)  # 400 x 400 px, 200 m square
    classes = np.full((400, 400), VEGETATION, np.uint8)

    def truck(x, y):
        box = shapely.box(x - 6, y - 1.25, x + 6, y + 1.25)
        c0, r0 = ~transform * (x - 6, y + 1.25)
        classes[int(r0):int(r0) + 5, int(c0):int(c0) + 24] = BUILT_UP  # the truck itself reads as built-up
        return {"x": x, "y": y, "polygon_wkb": shapely.to_wkb(box)}

    lot = [truck(30.0 + 14 * i, 150.0 + 4 * j) for i in range(4) for j in range(4)]  # 16 trucks nose to tail in rows
    classes[300:400, 200:400] = BUILT_UP  # houses in the south-east ...
    classes[340:350, 200:400] = VEGETATION  # ... along a street with a car in it
    car = truck(150.0, 200.0 - 345 * gsd)
    _add_built_up_around(lot + [car], classes, transform, gsd)
    assert max(d["built_up_around"] for d in lot) < 0.05
    assert car["built_up_around"] > 0.6
    away = {"x": -500.0, "y": -500.0, "polygon_wkb": shapely.to_wkb(shapely.box(-501, -501, -499, -499))}
    classes[:] = 0  # nodata all around
    _add_built_up_around([lot[0], away], classes, transform, gsd)
    assert lot[0]["built_up_around"] is None and away["built_up_around"] is None
    assert SURROUNDINGS_M == 25.0
