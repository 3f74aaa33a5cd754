"""Crossing evidence in a run's outputs: evidence.geojson and one web-map layer per date."""

from __future__ import annotations

import datetime as dt
import json
import re

from lxml import etree

from borderwatch.corridor import load_corridor
from borderwatch.outputs.publish import EVIDENCE_COLOURS, evidence_geojson, write_run_outputs
from borderwatch.store import Store
from borderwatch.store.store import corridor_record

from rasters import make_geotiff, make_scene

KEY = ("p" * 16, "v" * 16)


def write_evidence(store: Store, corridor, key=KEY) -> None:
    store.upsert_corridor(*corridor_record(corridor))
    run = store.start_run(corridor.name, {"landcover": True}, {"borderwatch": "test"})
    for date, km, kind in (("2025-07-31", 1.0, "track_to_water"), ("2025-09-13", 1.0, "ford_trace"), ("2025-09-13", 2.0, "cleared_bank")):
        tile = f"t{km:g}"
        geom = corridor.to_lonlat(corridor.point_at(km, 40.0).buffer(12.0))
        store.put_tile_results([{"tile_id": tile, "date": date, "param_hash": key[0], "versions_hash": key[1], "run_id": run,
                                 "chainage_km": km, "geometry": corridor.to_lonlat(corridor.point_at(km).buffer(256, cap_style="square")),
                                 "stats": {"coverage": 1.0}}])
        store.write_rows("evidence", [{
            "kind": kind, "score": 0.8, "date": date, "run_id": run, "tile_id": tile, "param_hash": key[0],
            "versions_hash": key[1], "country": "KP", "chainage_km": km,
            "details": {"reach_m": 40.0, "anchor_lonlat": [128.2, 41.4]}, "geometry": geom}])


def test_evidence_geojson_keeps_provenance_and_colours_by_kind(tmp_path):
    corridor = load_corridor("yalu-upper[0:4]")
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        write_evidence(store, corridor)
        fc = evidence_geojson(store.current_rows("evidence", *KEY))
    assert [f["properties"]["kind"] for f in fc["features"]] == ["track_to_water", "ford_trace", "cleared_bank"]
    p = fc["features"][1]["properties"]
    assert p["colour"] == EVIDENCE_COLOURS["ford_trace"] and p["date"] == "2025-09-13" and p["run_id"] and p["tile_id"] == "t1"
    assert json.loads(p["details"]) == {"reach_m": 40.0}  # anchor coordinates are the geometry's business
    assert fc["features"][0]["geometry"]["type"] == "Polygon"


def test_run_outputs_write_the_runs_evidence_and_a_layer_per_date(tmp_path):
    corridor = load_corridor("yalu-upper[0:4]")
    scenes = [make_scene(make_geotiff(tmp_path / f"{d}.tif", lon=128.16, lat=41.41), dt.date.fromisoformat(d))
              for d in ("2025-07-31", "2025-09-13")]
    out = tmp_path / "out"
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        write_evidence(store, corridor)
        written = write_run_outputs(out, corridor, scenes, store, result_key=KEY, with_detections=False)
        assert out / "evidence.geojson" in written and not (out / "detections.geojson").exists()  # land cover only
        assert len(json.loads((out / "evidence.geojson").read_text())["features"]) == 3
        data = json.loads(re.search(r'id="bw-data">(.*?)</script>', (out / "index.html").read_text(), re.S).group(1))
        names = json.dumps(data)
        assert "Crossing evidence 2025-07-31 (1)" in names and "Crossing evidence 2025-09-13 (2)" in names
        # and in Google Earth: one dated placemark per piece, its reasons in the balloon
        kml = etree.parse(str(out / "corridor.kml"))
        ns = {"k": "http://www.opengis.net/kml/2.2"}
        marks = kml.findall(".//k:Folder[k:name='Crossing evidence']/k:Placemark", ns)
        assert [m.findtext("k:name", namespaces=ns) for m in marks] == ["track to water", "ford trace", "cleared bank"]
        assert marks[1].findtext("k:TimeStamp/k:when", namespaces=ns) == "2025-09-13"
        assert "reach_m 40.0" in marks[1].findtext("k:description", namespaces=ns)
        # another parameter set (land cover off): no evidence of its own, and the old file goes
        write_run_outputs(out, corridor, scenes, store, result_key=("x" * 16, "y" * 16))
    assert not (out / "evidence.geojson").exists() and "Crossing evidence" not in (out / "corridor.kml").read_text()
