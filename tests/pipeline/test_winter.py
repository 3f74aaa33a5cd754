"""A frozen river through the whole pipeline: land cover reads ice only in the freeze season, a ford's route over
the ice is evidence, and the register says the river was frozen."""

from __future__ import annotations

import datetime as dt

import pytest

from borderwatch.corridor import load_corridor
from borderwatch.imagery import register_scene
from borderwatch.pipeline import AnalysisParams, run_pipeline
from borderwatch.sites import update_register
from borderwatch.store import Store

SUMMER, WINTER = dt.date(2025, 9, 13), dt.date(2026, 2, 10)
FORD_KM = 2.68  # a small ford of the seed 7 world (truth: S033b at km 2.681 of yalu-upper)
START_KM = 2.45  # the stretch run (evidence chainage is along it; the register's along the whole river)


@pytest.fixture(scope="module")
def frozen_ford(tmp_path_factory):
    from borderwatch.synth import write_scenes

    out = tmp_path_factory.mktemp("winter")
    write_scenes(load_corridor("yalu-upper"), km=(START_KM, 2.95), gsd_m=0.8, dates=[SUMMER, WINTER], seed=7, out_dir=out)
    stretch = load_corridor(f"yalu-upper[{START_KM}:2.95]")
    with Store.open(out / "s.gpkg", create=True) as store:
        summary = run_pipeline(stretch, [register_scene(out / f"{d}.tif") for d in (SUMMER, WINTER)], store,
                               params=AnalysisParams(gsd_m=0.8, landcover=True))
        reg = update_register(stretch, store, (summary.param_hash, summary.versions_hash))
        return store.tile_results(), store.read_rows("evidence"), reg


@pytest.mark.slow
def test_ice_is_read_in_the_freeze_season_only(frozen_ford):
    tiles, _, _ = frozen_ford
    by_date = {}
    for r in tiles:
        st = r["stats"]
        if "landcover" in st:
            by_date.setdefault(str(r["date"]), []).append(st)
    summer, winter = by_date[str(SUMMER)], by_date[str(WINTER)]
    assert not any(st["river_ice_considered"] for st in summer) and all(st["river_ice_considered"] for st in winter)
    assert not any("ice" in st["landcover"] for st in summer)
    ice = sum(st["landcover"].get("ice", 0.0) for st in winter)
    water = sum(st["landcover"].get("water", 0.0) for st in winter)
    assert ice > 3 * water  # closed but for a lead or two


@pytest.mark.slow
def test_the_ford_is_an_ice_road_in_winter_and_the_register_says_the_river_was_frozen(frozen_ford):
    _, evidence, reg = frozen_ford
    roads = [e for e in evidence if e["kind"] == "ice_road"]
    assert roads and all(str(e["date"]) == str(WINTER) for e in roads)
    at_ford = [e for e in evidence if abs(START_KM + e["chainage_km"] - FORD_KM) < 0.1]
    assert any(e["kind"] == "ice_road" for e in at_ford)
    assert not [e for e in at_ford if e["kind"] == "ford_trace" and str(e["date"]) == str(WINTER)]  # no ford through ice
    site = min(reg.sites, key=lambda r: abs(r["chainage_km"] - FORD_KM))
    assert abs(site["chainage_km"] - FORD_KM) < 0.1 and site["status"] == "site"
    assert site["details"]["evidence"].get("ice_road", 0) >= 1
    obs = {str(o["date"])[:10]: o["counts"] for o in reg.observations if o["site_id"] == site["site_id"]}
    assert obs[str(SUMMER)]["river_ice"] == 0.0 and obs[str(WINTER)]["river_ice"] > 0.75
    assert [w for w in reg.warnings if "frozen" in w and w.startswith(str(WINTER))]
