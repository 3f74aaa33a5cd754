"""Round trips of every table through the Store API."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from _store_data import CORRIDOR, CORRIDOR_LINE, LAT0, LON0, make_scene, populate, tile_row
from shapely.geometry import LineString, MultiPolygon, Point, box

from borderwatch.errors import StoreError
from borderwatch.imagery.scene import Scene
from borderwatch.store import Store, corridor_record


def test_corridor_upsert_roundtrip_and_update(store):
    store.upsert_corridor(CORRIDOR, CORRIDOR_LINE)
    (row,) = store.corridors()
    assert {k: row[k] for k in CORRIDOR} == CORRIDOR
    assert row["geometry"].equals(CORRIDOR_LINE)
    created = row["created_at"]
    assert created.tzinfo is not None
    moved = LineString([(LON0, LAT0), (LON0 + 0.1, LAT0 + 0.1)])
    store.upsert_corridor({"name": "yalu-upper", "length_km": 12.0}, moved)
    (row,) = store.corridors()
    assert row["length_km"] == 12.0 and row["origin"] == "Hyesan"  # other fields kept
    assert row["geometry"].equals(moved) and row["created_at"] == created
    assert [r["name"] for r in store.read_rows("corridors", bbox=(LON0 + 0.4, LAT0, LON0 + 0.6, LAT0 + 0.1))] == []


def test_corridor_record_from_bundled_corridor(store):
    from borderwatch.corridor import load_corridor

    corridor = load_corridor("yalu-upper[0:10]")
    record, line = corridor_record(corridor)
    store.upsert_corridor(record, line)
    (row,) = store.corridors()
    assert row["crs"] == "EPSG:32652" and row["left_country"] == "KP"
    assert row["length_km"] == pytest.approx(corridor.length_km)
    assert row["geometry"].equals_exact(corridor.line_lonlat, 1e-9)


def test_scenes_roundtrip_and_idempotent(store):
    a, b = make_scene(0), make_scene(1, dt.date(2024, 6, 2), sidecar="images/scene_1.kml", licence="")
    assert store.add_scenes([a, b]) == [a.scene_id, b.scene_id]
    assert store.add_scenes([b, a, b]) == [b.scene_id, a.scene_id, b.scene_id]
    got = store.scenes()
    assert got == [a, b]  # dataclass equality: dates, tuples, dicts round-trip
    assert isinstance(got[0].capture_date, dt.date) and isinstance(got[0].band_names, tuple)
    assert store.scenes(date=dt.date(2024, 6, 2)) == [b]
    assert store.scenes(date="2024-05-01") == [a]
    assert store.scene(a.scene_id) == a
    geom = store.read_rows("scenes", {"scene_id": a.scene_id})[0]["geometry"]
    assert isinstance(geom, MultiPolygon) and geom.equals(box(LON0, LAT0, LON0 + 0.02, LAT0 + 0.01))
    assert len(store.read_rows("scenes")) == 2


def test_every_scene_field_is_stored(store):
    columns = {r[1] for r in store._conn.execute("PRAGMA table_info(scenes)")}
    assert {f.name for f in dataclasses.fields(Scene)} <= columns
    extras = {}
    if "transform" in columns and any(f.name == "transform" for f in dataclasses.fields(Scene)):
        extras = {"transform": (0.5, 0.0, 500000.0, 0.0, -0.5, 4580000.0), "member": "files/image.jpg"}
    scene = make_scene(3, sidecar="doc.kml", **extras)
    store.add_scenes([scene])
    assert store.scenes() == [scene]


def test_add_scenes_is_atomic(store):
    good = make_scene(0)
    bad = make_scene(1, footprint_wkt="POLYGON ((500000 4580000, 501000 4580000, 501000 4581000, 500000 4580000))")
    with pytest.raises(StoreError, match="not lon/lat"):
        store.add_scenes([good, bad])
    assert store.scenes() == []
    clash = make_scene(2, scene_id=good.scene_id)  # same id, different sha256
    store.add_scenes([good])
    with pytest.raises(StoreError, match="clashes"):
        store.add_scenes([clash])
    assert store.scenes() == [good]


def test_runs_roundtrip(store):
    store.upsert_corridor(CORRIDOR, CORRIDOR_LINE)
    run = store.start_run("yalu-upper", {"tile_m": 512, "dates": ["2024-05-01"]}, {"detector": "v1.2"})
    assert len(run) == 32 and int(run, 16) >= 0
    (row,) = store.runs()
    assert row["run_id"] == run and row["status"] == "running" and row["finished_at"] is None
    assert row["parameters"] == {"tile_m": 512, "dates": ["2024-05-01"]}
    assert row["model_versions"] == {"detector": "v1.2"}
    assert row["software_version"] and row["host"]
    store.finish_run(run, "ok")
    (row,) = store.runs()
    assert row["status"] == "ok" and row["finished_at"] >= row["started_at"]
    with pytest.raises(StoreError, match="no run"):
        store.finish_run("0" * 32, "ok")
    with pytest.raises(StoreError, match="not in the store"):
        store.start_run("no-such-river", {}, {})


def test_tile_results_roundtrip_and_rerun_skip(store, run_id):
    rows = [tile_row(i, run_id) for i in range(3)] + [tile_row(0, run_id, date="2024-06-02")]
    rows[1]["stats"] = {"frac": np.float32(0.5), "n": np.int64(3), "hist": np.arange(3), "bad": float("nan")}
    assert store.put_tile_results(rows) == 4
    keys = store.finished_tile_keys("p1", "v1")
    assert keys == {
        ("T00000", "2024-05-01"), ("T00001", "2024-05-01"), ("T00002", "2024-05-01"), ("T00000", "2024-06-02"),
    }
    assert store.finished_tile_keys("p2", "v1") == set()
    # a rerun with the same key keeps the stored row; other params are new rows
    assert store.put_tile_results([tile_row(0, run_id), tile_row(0, run_id, param_hash="p2")]) == 1
    got = store.tile_results(date=dt.date(2024, 5, 1))
    assert [r["tile_id"] for r in got] == ["T00000", "T00001", "T00002", "T00000"]
    first = got[0]
    assert first["date"] == dt.date(2024, 5, 1) and first["chainage_km"] == 0.0
    assert first["stats"] == {"water_frac": 0.25, "n": 0}
    assert first["geometry"].equals(rows[0]["geometry"])
    assert got[1]["stats"] == {"frac": 0.5, "n": 3, "hist": [0, 1, 2], "bad": None}
    assert len(store.tile_results()) == 5


def test_put_tile_results_rejects_bad_rows_atomically(store, run_id):
    bad_geom = tile_row(1, run_id)
    bad_geom["geometry"] = Point(LON0, LAT0)
    with pytest.raises(StoreError, match="expected a POLYGON"):
        store.put_tile_results([tile_row(0, run_id), bad_geom])
    missing = tile_row(2, run_id)
    del missing["stats"]
    with pytest.raises(StoreError, match="missing"):
        store.put_tile_results([missing])
    unknown_run = tile_row(3, "f" * 32)
    with pytest.raises(StoreError, match="rejected"):
        store.put_tile_results([unknown_run])
    bad_date = tile_row(4, run_id, date="05/01/2024")
    with pytest.raises(StoreError, match="not a date"):
        store.put_tile_results([bad_date])
    assert store.tile_results() == []


def test_later_tables_roundtrip(store):
    ids = populate(store)
    (det,) = store.read_rows("detections")
    assert det["class"] == "boat" and det["scene_id"] == ids["scene_ids"][0] and det["run_id"] == ids["run_id"]
    assert det["date"] == dt.date(2024, 5, 1) and det["heading_deg"] == 45.0 and det["geometry"].area > 0
    (ev,) = store.read_rows("evidence", {"kind": "path"})
    assert isinstance(ev["geometry"], LineString) and ev["details"] == {"length_m": 120.5}
    (site,) = store.read_rows("sites")
    assert site["site_id"] == "S-0001" and site["number"] == 1 and site["bank_evidence"] == "both"
    (obs,) = store.read_rows("observations", {"site_id": "S-0001"})
    assert obs["counts"] == {"boat": 1} and obs["date"] == dt.date(2024, 5, 1) and "geometry" not in obs
    (rev,) = store.read_rows("reviews")
    assert rev["verdict"] == "confirmed"
    assert rev["reviewed_at"] == dt.datetime(2024, 7, 1, 10, 0, tzinfo=dt.timezone.utc)
    assert store.read_rows("detections", {"subclass": None}) == []
    assert store.write_rows("evidence", [{"kind": "scar", "geometry": None}]) == [ev["fid"] + 1]


def test_write_rows_errors(store):
    populate(store)
    with pytest.raises(StoreError, match="unknown table"):
        store.write_rows("nope", [{}])
    with pytest.raises(StoreError, match="unknown table"):
        store.read_rows("bw_meta")
    with pytest.raises(StoreError, match="unknown or automatic column 'colour'"):
        store.write_rows("sites", [{"site_id": "S-9", "colour": "red"}])
    with pytest.raises(StoreError, match="rejected"):  # site_id must be unique
        store.write_rows("sites", [{"site_id": "S-0001"}])
    with pytest.raises(StoreError, match="rejected"):  # foreign key
        store.write_rows("observations", [{"site_id": "S-404", "date": "2024-05-01"}])
    with pytest.raises(StoreError, match="unknown column"):
        store.read_rows("sites", {"colour": "red"})
    with pytest.raises(StoreError, match="has no geometry"):
        store.read_rows("runs", bbox=(0, 0, 1, 1))
    with pytest.raises(StoreError, match="not JSON"):
        store.write_rows("observations", [{"site_id": "S-0001", "date": "2024-05-02", "counts": {"x": object()}}])
    assert len(store.read_rows("sites")) == 1 and len(store.read_rows("observations")) == 1


def test_reopen_keeps_everything(store_path):
    with Store.open(store_path, create=True) as s:
        ids = populate(s)
        before = {t: s.read_rows(t) for t in ("corridors", "runs", "tile_results", "sites", "observations")}
        scenes = s.scenes()
    with Store.open(store_path) as s:
        assert s.scenes() == scenes and s.runs()[0]["run_id"] == ids["run_id"]
        for table, rows in before.items():
            assert [_plain(r) for r in s.read_rows(table)] == [_plain(r) for r in rows], table


def _plain(row):
    return {k: (v.wkb if k == "geometry" and v is not None else v) for k, v in row.items()}


def test_update_and_delete_rows(store):
    populate(store)
    moved = box(LON0 + 1.0, LAT0, LON0 + 1.01, LAT0 + 0.01)
    assert store.update_rows("sites", {"site_id": "S-0001"}, {"status": "confirmed", "geometry": moved}) == 1
    (site,) = store.read_rows("sites", bbox=moved.bounds)
    assert site["status"] == "confirmed" and site["geometry"].equals(moved)
    assert store.read_rows("sites", bbox=(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)) == []
    with pytest.raises(StoreError, match="needs a where"):
        store.update_rows("sites", {}, {"status": "x"})
    with pytest.raises(StoreError, match="delete rejected"):  # observations still refer to it
        store.delete_rows("sites", {"site_id": "S-0001"})
    assert store.delete_rows("observations", {"site_id": "S-0001"}) == 1
    assert store.delete_rows("sites", {"site_id": "S-0001"}) == 1
    assert store.read_rows("sites") == []
    assert store._conn.execute("SELECT count(*) FROM rtree_sites_geom").fetchone()[0] == 0


def test_unreadable_stored_value_is_a_store_error(store, store_path):
    populate(store)
    store._conn.execute("UPDATE observations SET date = 'last tuesday'")
    with pytest.raises(StoreError, match="observations.date") as err:
        store.read_rows("observations")
    assert str(store_path) in str(err.value)
