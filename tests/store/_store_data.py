"""Small generated data for the store tests: scenes, a corridor, tiles, a filled store."""

from __future__ import annotations

import datetime as dt
import hashlib

from shapely.geometry import LineString, box

from borderwatch.imagery.scene import Scene
from borderwatch.store import Store

LON0, LAT0 = 126.5, 41.4  # upper Yalu


def make_scene(i: int, date: dt.date = dt.date(2024, 5, 1), **kw) -> Scene:
    sha = hashlib.sha256(f"scene-{i}".encode()).hexdigest()
    fields = dict(
        scene_id=sha[:16],
        path=f"images/scene_{i}.tif",
        sha256=sha,
        capture_date=date,
        date_source="tag",
        provider="Maxar",
        sensor="WV3",
        gsd_m=0.31,
        band_count=3,
        band_names=("red", "green", "blue"),
        dtype="uint8",
        width=2048,
        height=1024,
        crs_wkt='PROJCS["WGS 84 / UTM zone 52N"]',
        footprint_wkt=box(LON0 + i * 0.01, LAT0, LON0 + i * 0.01 + 0.02, LAT0 + 0.01).wkt,
        licence="CC-BY-4.0",
        sidecar=None,
        extra={"cloud": 0.1, "tags": ["a", "b"]},
    )
    fields.update(kw)
    return Scene(**fields)


def tile_row(i: int, run_id: str, date: str = "2024-05-01", param_hash: str = "p1", versions_hash: str = "v1") -> dict:
    x = LON0 + i * 0.005
    return {
        "tile_id": f"T{i:05d}",
        "date": date,
        "param_hash": param_hash,
        "versions_hash": versions_hash,
        "run_id": run_id,
        "chainage_km": i * 0.512,
        "geometry": box(x, LAT0, x + 0.005, LAT0 + 0.005),
        "stats": {"water_frac": 0.25, "n": i},
    }


CORRIDOR = {
    "name": "yalu-upper",
    "crs": "EPSG:32652",
    "left_country": "KP",
    "right_country": "CN",
    "left_width_m": 1500.0,
    "right_width_m": 1500.0,
    "origin": "Hyesan",
    "length_km": 81.08,
    "source": "OSM",
    "attribution": "(c) OpenStreetMap contributors",
    "params": {"chainage_offset_km": 0.0},
}
CORRIDOR_LINE = LineString([(LON0, LAT0), (LON0 + 0.3, LAT0 + 0.1), (LON0 + 0.6, LAT0 + 0.05)])



def populate(store: Store) -> dict:
    """One or more rows in every borderwatch table; returns the ids used."""
    store.upsert_corridor(CORRIDOR, CORRIDOR_LINE)
    scenes = [make_scene(0), make_scene(1, dt.date(2024, 6, 2))]
    scene_ids = store.add_scenes(scenes)
    run = store.start_run("yalu-upper", {"tile_m": 512}, {"detector": "v1"})
    store.put_tile_results([tile_row(i, run) for i in range(3)])
    x, y = LON0 + 0.001, LAT0 + 0.001
    store.write_rows("detections", [{
        "geometry": box(x, y, x + 0.0001, y + 0.00005), "scene_id": scene_ids[0], "date": "2024-05-01",
        "tile_id": "T00000", "run_id": run, "class": "boat", "subclass": "raft", "score": 0.9,
        "length_m": 6.0, "width_m": 2.0, "heading_deg": 45.0, "heading_conf": 0.7, "country": "KP",
        "chainage_km": 0.1, "dist_water_m": 0.0,
    }])
    store.write_rows("evidence", [
        {"geometry": LineString([(x, y), (x + 0.001, y + 0.001)]), "kind": "path", "score": 0.6,
         "scene_id": scene_ids[0], "date": dt.date(2024, 5, 1), "run_id": run, "country": "CN",
         "chainage_km": 0.2, "details": {"length_m": 120.5}},
    ])
    store.write_rows("sites", [{
        "geometry": box(x, y, x + 0.002, y + 0.002), "site_id": "S-0001", "number": 1, "chainage_km": 0.15,
        "kind": "landing", "scale": "small", "bank_evidence": "both", "status": "candidate",
    }])
    store.write_rows("observations", [{
        "site_id": "S-0001", "date": "2024-05-01", "run_id": run, "counts": {"boat": 1},
        "activity_score": 0.8, "scale": "small",
    }])
    store.write_rows("reviews", [{
        "target_table": "sites", "target_id": "S-0001", "reviewer": "jo", "verdict": "confirmed",
        "comment": "clear landing", "reviewed_at": "2024-07-01T10:00:00Z",
    }])
    return {"scene_ids": scene_ids, "run_id": run}
