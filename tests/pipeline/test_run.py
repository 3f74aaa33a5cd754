"""The pipeline: every (tile, date) stored once, reruns skip, interruptions resume, executors agree."""

from __future__ import annotations

import datetime as dt

import pytest

from borderwatch.imagery import register_scene
from borderwatch.pipeline import AnalysisParams, DaskExecutor, InProcessExecutor, make_executor, run_pipeline
from borderwatch.store import Store

D1, D2 = dt.date(2025, 7, 31), dt.date(2025, 9, 13)
PARAMS = AnalysisParams(gsd_m=4.0, tile_m=512.0, detect=False)


@pytest.fixture
def scenes(short_corridor, geotiff_factory):
    minx, miny, maxx, maxy = short_corridor.area.bounds
    midx = (minx + maxx) / 2
    # date 1 covers the whole stretch; date 2 only its western half
    a = geotiff_factory("a.tif", bounds=(minx - 100, miny - 100, maxx + 100, maxy + 100), date=D1, seed=1)
    b = geotiff_factory("b.tif", bounds=(minx - 100, miny - 100, midx, maxy + 100), date=D2, seed=2)
    return [register_scene(a), register_scene(b)]


def _results(store):
    """Tile stats without their timings (the only part that may differ between two runs)."""
    return {(r["tile_id"], str(r["date"])): {k: v for k, v in r["stats"].items() if k != "seconds"} for r in store.tile_results()}


def test_run_stores_every_tile_and_date(tmp_path, short_corridor, scenes):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        store.add_scenes(scenes)
        summary = run_pipeline(short_corridor, scenes, store, params=PARAMS)
        results = _results(store)
        runs = store.runs()
    assert summary.tasks == summary.tiles * 2
    assert len(results) == summary.tiles * 2
    full = [s for (t, d), s in results.items() if d == D1.isoformat()]
    assert all(s["coverage"] > 0.99 for s in full if s.get("watched_pixels", 1))
    half = [s["coverage"] for (t, d), s in results.items() if d == D2.isoformat()]
    assert min(half) == 0.0 and max(half) > 0.99  # the eastern half has no imagery on date 2
    # how much looks snow-covered (sites.register flags snowy dates); unknown where a tile has no imagery
    assert all(0.0 <= s["snow_share"] < 0.05 for s in results.values() if s.get("valid_pixels"))
    assert not any("snow_share" in s for s in results.values() if not s.get("valid_pixels"))
    assert runs[-1]["status"] == "finished"
    assert runs[-1]["parameters"]["gsd_m"] == 4.0


def test_rerun_skips_finished_tiles(tmp_path, short_corridor, scenes):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        first = run_pipeline(short_corridor, scenes, store, params=PARAMS)
        second = run_pipeline(short_corridor, scenes, store, params=PARAMS)
        changed = run_pipeline(short_corridor, scenes, store, params=AnalysisParams(gsd_m=8.0, tile_m=512.0, detect=False))
    assert second.computed == 0 and second.skipped == first.tasks
    assert changed.skipped == 0 and changed.tasks == first.tasks


class _Interrupting(InProcessExecutor):
    """Stops like a Ctrl-C after ``n`` tiles."""

    def __init__(self, n):
        self.n = n

    def map_unordered(self, fn, items):
        for i, result in enumerate(super().map_unordered(fn, items)):
            if i == self.n:
                raise KeyboardInterrupt
            yield result


def test_interrupted_run_resumes_with_the_same_results(tmp_path, short_corridor, scenes):
    with Store.open(tmp_path / "ref.gpkg", create=True) as store:
        run_pipeline(short_corridor, scenes, store, params=PARAMS)
        reference = _results(store)
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(short_corridor, scenes, store, params=PARAMS, executor=_Interrupting(20), batch_size=8)
        partial = _results(store)
        assert 0 < len(partial) < len(reference)
        assert store.runs()[-1]["status"] == "interrupted"
        resumed = run_pipeline(short_corridor, scenes, store, params=PARAMS)
        assert resumed.skipped == len(partial)
        assert _results(store) == reference


@pytest.mark.slow
def test_dask_local_cluster_matches_in_process(tmp_path, short_corridor, scenes):
    with Store.open(tmp_path / "a.gpkg", create=True) as store:
        run_pipeline(short_corridor, scenes, store, params=PARAMS)
        reference = _results(store)
    executor = make_executor(workers=2)
    try:
        assert isinstance(executor, DaskExecutor)
        assert executor.client.scheduler.address.startswith("tcp://127.0.0.1")
        with Store.open(tmp_path / "b.gpkg", create=True) as store:
            summary = run_pipeline(short_corridor, scenes, store, params=PARAMS, executor=executor)
            assert _results(store) == reference
        assert "LocalCluster" in summary.executor
    finally:
        executor.close()


@pytest.mark.slow
def test_existing_scheduler_by_address(tmp_path, short_corridor, scenes):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        executor = make_executor(scheduler=cluster.scheduler_address)
        try:
            with Store.open(tmp_path / "c.gpkg", create=True) as store:
                summary = run_pipeline(short_corridor, scenes[:1], store, params=PARAMS, executor=executor)
            assert summary.computed > 0 and cluster.scheduler_address in summary.executor
        finally:
            executor.close()


@pytest.mark.parametrize("gsd, landcover, detect, want_m", [
    (0.5, True, True, 32.0),    # 32 m of land-cover context (64 px) covers the detector's 24 m
    (0.5, False, True, 24.0),   # detection alone: 48 px, already whole 8 px blocks
    (0.3, True, False, 33.6),   # 32 m is 106.7 px: rounded up to 112 px
    (5.0, True, False, 80.0),   # the coarse water net wants 16 px, more than 32 m (6.4 px) gives
    (0.5, False, False, 0.0),   # nothing to see beyond the tile
])
def test_read_margin_covers_what_each_stage_needs(gsd, landcover, detect, want_m):
    from borderwatch.pipeline.tasks import read_margin_m

    m = read_margin_m(AnalysisParams(gsd_m=gsd, landcover=landcover, detect=detect))
    assert m == pytest.approx(want_m)
    assert (m / gsd) == pytest.approx(round(m / gsd)) and round(m / gsd) % 8 == 0  # whole 8 px blocks


def test_tasks_carry_the_corridor_line_near_their_tile(short_corridor, scenes):
    # a deck on a bend is judged against the river where it stands (analysis.crossings), not the tile's one bearing
    import shapely

    from borderwatch.pipeline import plan_tasks
    from borderwatch.pipeline.run import LINE_NEAR_TILE_M

    _, tasks, _, _ = plan_tasks(short_corridor, scenes, PARAMS)
    assert tasks
    for t in tasks:
        line = shapely.from_wkb(t.river_line_wkb)
        near = t.tile.geometry.buffer(LINE_NEAR_TILE_M + 1e-6)
        assert line.is_empty or near.covers(line)
        if t.tile.geometry.intersects(short_corridor.line):
            assert not line.is_empty and line.length >= t.tile.geometry.intersection(short_corridor.line).length


def test_too_coarse_for_crossings_keeps_land_cover_reads_no_evidence_and_warns(tmp_path, scenes, geotiff_factory):
    """Above EVIDENCE_MAX_GSD_M tracks and decks are a cell or two wide and the land head is off its fitted grid:
    the tiles keep their land cover, read no evidence (stats evidence None), and the register says why it is empty.
    What counts is the detail in the pixels: a 4 m image read at 2 m is still 4 m."""
    from borderwatch.analysis.crossings import EVIDENCE_MAX_GSD_M
    from borderwatch.corridor import load_corridor
    from borderwatch.sites import update_register

    part = load_corridor("yalu-upper[0.3:0.5]")  # a few tiles
    limit = EVIDENCE_MAX_GSD_M

    def run(name, scenes_, gsd):
        with Store.open(tmp_path / name, create=True) as store:
            store.add_scenes(scenes_)
            done = run_pipeline(part, scenes_, store, params=AnalysisParams(gsd_m=gsd, tile_m=512.0, landcover=True))
            reg = update_register(part, store, (done.param_hash, done.versions_hash))
            return [r for r in store.tile_results() if r["stats"].get("valid_pixels")], reg

    for gsd in (4.0, limit):  # the fixture's 4 m scenes analysed at 4 m, then read at the limit
        tiles, reg = run(f"coarse-{gsd:g}.gpkg", scenes, gsd)
        assert tiles and all("landcover" in r["stats"] and r["stats"]["evidence"] is None for r in tiles)
        assert all(r["stats"]["source_gsd_m"] == 4.0 for r in tiles)
        assert reg.sites == []
        where = "analysed at 4 m" if gsd == 4.0 else f"analysed at {limit:g} m from imagery of 4 m"
        for d in {str(r["date"]) for r in tiles}:
            n = sum(str(r["date"]) == d for r in tiles)
            assert any(w.startswith(f"{d}: {n} tile(s) {where}, coarser than the {limit:g} m") for w in reg.warnings), reg.warnings
    # imagery as fine as the limit, analysed at it: evidence is read
    minx, miny, maxx, maxy = part.area.bounds
    fine = register_scene(geotiff_factory("fine.tif", bounds=(minx - 100, miny - 100, maxx + 100, maxy + 100), gsd=limit, date=D1))
    tiles, reg = run("fine.gpkg", [fine], limit)
    assert tiles and all(isinstance(r["stats"]["evidence"], int) for r in tiles)
    assert not any("coarser than" in w for w in reg.warnings)


def test_detecting_on_imagery_too_coarse_for_the_detector_is_refused_before_any_work(tmp_path, short_corridor, scenes):
    """Read at 0.5 m, a 4 m image is blur to the detector: the run names the scene and stores nothing."""
    from borderwatch.errors import InputError

    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        with pytest.raises(InputError, match=r"a\.tif.*imagery of 4 m is too coarse for the detector \(it needs 0\.8 m"):
            run_pipeline(short_corridor, scenes, store, params=AnalysisParams(gsd_m=0.5, detect=True))
        assert store.runs() == [] and store.tile_results() == []


@pytest.mark.parametrize("detect, landcover", [(True, False), (False, True)])
def test_a_panchromatic_scene_is_refused_for_the_detector_and_land_cover_before_any_work(
        tmp_path, geotiff_factory, short_corridor, detect, landcover):
    """Both read colour: a grey image read as R = G = B gives road everywhere and shadows for cars."""
    from borderwatch.errors import InputError

    minx, miny, maxx, maxy = short_corridor.area.bounds
    box = (minx, miny, minx + 200, miny + 200)
    pan = register_scene(geotiff_factory("pan.tif", bounds=box, gsd=0.5, bands=1))
    params = AnalysisParams(gsd_m=0.5, detect=detect, landcover=landcover)
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        with pytest.raises(InputError, match=r"pan\.tif: 1 colour band\(s\) \(panchromatic\?\).*need colour \(RGB\)"):
            run_pipeline(short_corridor, [pan], store, params=params)
        assert store.runs() == [] and store.tile_results() == []
        # read for its footprint alone (no detector, no land cover), a grey scene is fine
        run_pipeline(short_corridor, [pan], store, params=AnalysisParams(gsd_m=0.5))
        assert len(store.runs()) == 1


def test_jpeg_scenes_are_named_in_a_warning_when_the_detector_reads_them(tmp_path, geotiff_factory, short_corridor):
    """JPEG keeps colour at half resolution and the detector loses vehicles there: the run says so, per scene."""
    import rasterio.shutil

    from borderwatch.pipeline.run import jpeg_warnings

    minx, miny, maxx, maxy = short_corridor.area.bounds
    plain = geotiff_factory("plain.tif", bounds=(minx, miny, minx + 200, miny + 200), gsd=0.5)
    jpeg = tmp_path / "jpeg.tif"
    rasterio.shutil.copy(plain, jpeg, driver="GTiff", compress="jpeg", photometric="ycbcr", tiled=True)
    scenes = [register_scene(plain), register_scene(jpeg)]
    warned = jpeg_warnings(AnalysisParams(gsd_m=0.5, detect=True), scenes)
    assert len(warned) == 1 and warned[0].startswith(f"{scenes[1].path}: JPEG-compressed imagery of 0.5 m")
    assert jpeg_warnings(AnalysisParams(gsd_m=0.5, landcover=True), scenes) == []  # no detector, no warning


def test_a_scene_a_hair_over_the_detectors_range_is_accepted(geotiff_factory, short_corridor):
    """A scene's GSD is measured from its georeferencing: a nominal 0.8 m image may come out at 0.81 m."""
    from borderwatch.errors import InputError
    from borderwatch.pipeline.run import check_detector_gsd

    minx, miny, maxx, maxy = short_corridor.area.bounds
    box = (minx, miny, minx + 200, miny + 200)
    params = AnalysisParams(gsd_m=0.5, detect=True)
    check_detector_gsd(params, [register_scene(geotiff_factory("near.tif", bounds=box, gsd=0.81))])
    with pytest.raises(InputError, match="too coarse for the detector"):
        check_detector_gsd(params, [register_scene(geotiff_factory("far.tif", bounds=box, gsd=0.9))])
