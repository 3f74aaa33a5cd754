"""scripts/evaluate_sites.py: a direction miss is put down to what the detector saw of the site's traffic."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import shapely

from borderwatch.corridor import load_corridor
from borderwatch.pipeline.run import convergence_deg
from borderwatch.sites.evaluate import DirectionPair
from borderwatch.store import Store
from borderwatch.store.store import corridor_record
from scripts_under_test import load_script

DAY = dt.date(2025, 9, 13)
KEY = ("a" * 16, "v" * 16)


def test_a_direction_miss_is_explained_vehicle_by_vehicle(tmp_path):
    c = load_corridor("yalu-upper")
    river = c.direction_deg_at(1.0, 100.0)
    to_kp, to_cn = (river - 90.0) % 360.0, (river + 90.0) % 360.0  # KP is the left bank
    at = {name: c.point_at(km, off) for name, km, off in (("a", 1.0, 40.0), ("b", 1.0, -40.0), ("c", 1.05, 60.0),
                                                          ("x", 0.95, -100.0), ("far", 2.0, 40.0))}
    # the truth: A faces KP, B and C face CN; the detector saw A right, B turned round, not C, and a roof as a car
    truth = [{"class": "small_vehicle", "role": "crossing", "site_id": "S1", "x": at[n].x, "y": at[n].y, "heading_deg": h}
             for n, h in (("a", to_kp), ("b", to_cn), ("c", to_cn))]
    truth.append({"class": "small_vehicle", "role": "distractor", "x": at["far"].x, "y": at["far"].y, "heading_deg": 0.0})
    world = SimpleNamespace(objects=lambda day, km: truth)
    outline = c.to_lonlat(shapely.LineString([c.point_at(1.0, 200), c.point_at(1.0, -200)]).buffer(120, cap_style="flat"))
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        store.upsert_corridor(*corridor_record(c))
        run = store.start_run(c.name, {}, {"borderwatch": "test"})
        store.put_tile_results([{"tile_id": "t2", "date": DAY.isoformat(), "param_hash": KEY[0], "versions_hash": KEY[1],
                                 "run_id": run, "chainage_km": 1.0, "stats": {},
                                 "geometry": c.to_lonlat(c.point_at(1.0).buffer(400, cap_style="square"))}])
        turn = convergence_deg(c, at["a"].x, at["a"].y)  # detections carry true-north headings
        store.write_rows("detections", [{
            "scene_id": None, "date": DAY.isoformat(), "tile_id": "t2", "run_id": run, "class": "small_vehicle",
            "subclass": "car", "score": 0.7, "length_m": 4.5, "width_m": 1.8, "heading_deg": (h + turn) % 360.0,
            "heading_conf": 0.9, "country": None, "chainage_km": 1.0, "dist_water_m": 20.0, "ground": "bank",
            "geometry": c.to_lonlat(at[n].buffer(1.5)),
        } for n, h in (("a", to_kp), ("b", to_kp), ("x", to_cn), ("far", to_cn))])
        scores = SimpleNamespace(direction=[DirectionPair("S1", "site-1", DAY.isoformat(), 1 / 3, 1.0, 3)])
        register = SimpleNamespace(sites=[{"site_id": "site-1", "geometry": outline}])
        script = load_script("evaluate_sites")
        dets = script.detections_by_date(store, KEY, c)
        (got,) = script.explain_misses(scores, register, dets, world, c, (0.0, 4.0))
    assert {k: got[k] for k in ("right", "flipped", "along", "merged", "missed", "extra")} == {
        "right": 1, "flipped": 1, "along": 0, "merged": 0, "missed": 1, "extra": 1}
    assert "1 right, 1 flipped, 1 missed, 1 extra" in script.format_explained("seed 1, 0.5 m", [got])
    # where the site's vehicles stood: all three on land, two of them found (C was missed)
    for o in truth[:3]:
        o["on"] = "land"
    assert script.found_at_sites(dets, world, (0.0, 4.0), [DAY]) == {"small_vehicle": {"land": [2, 3]}}
    # a share within the tolerance needs no explaining
    scores.direction = [DirectionPair("S1", "site-1", DAY.isoformat(), 1 / 3, 0.4, 3)]
    assert script.explain_misses(scores, register, dets, world, c, (0.0, 4.0)) == []
