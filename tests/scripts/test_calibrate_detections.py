"""scripts/calibrate_detections.py: what the belief table of sites/belief.py is measured on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import shapely

from borderwatch.corridor import load_corridor
from borderwatch.errors import InputError
from borderwatch.store import Store
from borderwatch.store.store import corridor_record
from scripts_under_test import load_script

DAY = dt.date(2025, 9, 13)
K1, K2 = ("a" * 16, "v" * 16), ("b" * 16, "v" * 16)


def _script():
    return load_script("calibrate_detections")


class World:
    """The one true vehicle, a truck 40 m off the left bank at km 1."""

    def __init__(self, c):
        p = c.point_at(1.0, 40.0)
        self.truck = {"class": "large_vehicle", "x": p.x, "y": p.y}

    def objects(self, day, km):
        return [self.truck]


def _store(path: Path, c, result_keys) -> None:
    with Store.open(path, create=True) as store:
        store.upsert_corridor(*corridor_record(c))
        site = c.to_lonlat(shapely.LineString([c.point_at(1.0, 300), c.point_at(1.0, -300)]).buffer(150, cap_style="flat"))
        for i, (key, offsets, score) in enumerate([(K1, [40.0], 0.8), (K2, [40.0, 90.0, 120.0], 0.4)]):
            run = store.start_run(c.name, {"run": i}, {"borderwatch": "test"})
            store.put_tile_results([{"tile_id": "t2", "date": DAY.isoformat(), "param_hash": key[0], "versions_hash": key[1],
                                     "run_id": run, "chainage_km": 1.0, "stats": {},
                                     "geometry": c.to_lonlat(c.point_at(1.0).buffer(300, cap_style="square"))}])
            store.write_rows("detections", [{
                "scene_id": None, "date": DAY.isoformat(), "tile_id": "t2", "run_id": run, "class": "large_vehicle",
                "subclass": None, "score": score, "length_m": 8.0, "width_m": 2.4, "heading_deg": 0.0, "heading_conf": 0.9,
                "country": c.country_for_offset(off), "chainage_km": 1.0, "dist_water_m": 5.0, "ground": "bank",
                "geometry": c.to_lonlat(c.point_at(1.0, off).buffer(3.0)),
            } for off in offsets])
        store.write_rows("sites", [{
            "site_id": f"yalu-upper:km001.{i:03d}", "number": i + 1, "corridor": "yalu-upper", "chainage_km": 1.0 + i / 1000,
            "kind": "ford", "scale": "large", "bank_evidence": "both", "status": "site", "score": 0.9,
            "first_seen": DAY.isoformat(), "last_seen": DAY.isoformat(),
            "details": {"result_key": list(k)} if k else {}, "geometry": site,
        } for i, k in enumerate(result_keys)])


def test_only_the_detections_the_register_was_built_on_are_counted(tmp_path):
    """Another run's detections in the same store (other parameters or model) must not enter the table."""
    c = load_corridor("yalu-upper[0:4]")
    _store(tmp_path / "s.gpkg", c, [K1])
    got = _script().outcomes(tmp_path / "s.gpkg", World(c), c, (0.0, 4.0), [DAY], 4.0)
    assert got == [(0.8, True, "large_vehicle")]


@pytest.mark.parametrize("keys", [[K1, K2], [None]])
def test_sites_from_several_result_keys_or_none_are_refused(tmp_path, keys):
    c = load_corridor("yalu-upper[0:4]")
    _store(tmp_path / "s.gpkg", c, keys)
    with pytest.raises(InputError, match="result key"):
        _script().outcomes(tmp_path / "s.gpkg", World(c), c, (0.0, 4.0), [DAY], 4.0)


def test_the_table_shows_each_class_apart():
    """A truck at 0.42 and a car at 0.42 are not equally likely to be vehicles: the table says so per class."""
    rows = [(0.42, True, "large_vehicle")] * 3 + [(0.42, False, "small_vehicle")] * 3 + [(0.8, True, "small_vehicle")]
    text = _script().format_table(rows)
    blocks = {b.split(" (", 1)[0]: b for b in text.split("\n") if not b.startswith(" ")}
    assert set(blocks) == {"all", "small_vehicle", "large_vehicle", "heavy_equipment"}
    lines = text.split("\n")
    row = {name: lines[lines.index(head) + 2] for name, head in blocks.items()}  # the 0.40-0.45 bin
    assert row["all"].endswith("6 detections, share that are vehicles 0.50")
    assert row["large_vehicle"].endswith("3 detections, share that are vehicles 1.00")
    assert row["small_vehicle"].endswith("3 detections, share that are vehicles 0.00")
    assert row["heavy_equipment"].endswith("0 detections, share that are vehicles -")


def test_stores_of_several_seeds_take_one_seed_each_or_one_for_all():
    per_store = _script()._per_store
    assert per_store([2], ["a", "b"], "--seed") == [2, 2]
    assert per_store([1, 2], ["a", "b"], "--seed") == [1, 2]
    with pytest.raises(InputError, match="one per --store"):
        per_store([1, 2], ["a", "b", "c"], "--seed")


def test_held_out_seeds_are_refused_among_several(tmp_path, capsys):
    code = _script().main(["--store", str(tmp_path / "a.gpkg"), "--seed", "3", "--store", str(tmp_path / "b.gpkg"),
                           "--seed", "1004", "--km", "0:4", "--dates", DAY.isoformat()])
    assert code == 2 and "held out" in capsys.readouterr().err
