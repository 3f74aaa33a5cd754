"""The file is a GeoPackage that GDAL (pyogrio, ogrinfo) reads without complaint."""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import subprocess

import pyogrio
import pytest
import shapely
from _store_data import LAT0, LON0, populate
from shapely.geometry import LineString, Point, Polygon, box

from borderwatch.store import Store, from_blob, to_blob

SPATIAL = {"corridors", "scenes", "tile_results", "detections", "evidence", "sites"}
ATTRIBUTES = {"runs", "observations", "reviews", "bw_meta", "site_numbers"}


def test_header_and_core_tables(store, store_path):
    populate(store)
    store.close()
    conn = sqlite3.connect(store_path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10300
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    srs = {r[0] for r in conn.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")}
    assert {-1, 0, 4326} <= srs
    contents = dict(conn.execute("SELECT table_name, data_type FROM gpkg_contents"))
    assert {t for t, k in contents.items() if k == "features"} == SPATIAL
    assert {t for t, k in contents.items() if k == "attributes"} == ATTRIBUTES
    geom_cols = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
        "SELECT table_name, column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns")}
    assert geom_cols["corridors"] == ("geom", "LINESTRING", 4326)
    assert geom_cols["scenes"] == ("geom", "MULTIPOLYGON", 4326)
    rtree = {r[0] for r in conn.execute(
        "SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'")}
    assert rtree == SPATIAL
    # extents in gpkg_contents follow the data
    minx, maxx = conn.execute("SELECT min_x, max_x FROM gpkg_contents WHERE table_name='corridors'").fetchone()
    assert (minx, maxx) == pytest.approx((LON0, LON0 + 0.6))
    conn.close()
    # rollback journal: nothing but the .gpkg beside it after close
    assert sorted(p.name for p in store_path.parent.iterdir()) == [store_path.name]


def test_blob_layout_and_roundtrip():
    poly = box(126.0, 41.0, 126.5, 41.25)
    blob = to_blob(poly)
    assert blob[:2] == b"GP" and blob[2] == 0
    assert blob[3] == 0b11  # xy envelope, little endian, not empty
    assert struct.unpack("<i4d", blob[4:40]) == (4326, 126.0, 126.5, 41.0, 41.25)
    assert shapely.from_wkb(blob[40:]).equals(poly)
    for geom in (poly, Point(126.1, 41.2), LineString([(126, 41), (127, 42)]), Polygon()):
        assert shapely.equals_exact(from_blob(to_blob(geom)), geom) or geom.is_empty
    empty = to_blob(Polygon())
    assert empty[3] & 0b1_0000 and from_blob(empty).is_empty
    assert from_blob(to_blob(Point(126.1, 41.2, 5.0))).has_z is False  # the store is 2D


def test_pyogrio_reads_every_layer(store, store_path):
    populate(store)
    store.close()
    layers = dict(pyogrio.list_layers(store_path))
    assert set(layers) == SPATIAL | ATTRIBUTES
    assert layers["corridors"] == "LineString"
    assert layers["runs"] is None
    for name in SPATIAL:
        df = pyogrio.read_dataframe(store_path, layer=name)
        assert df.crs.to_epsg() == 4326, name
        assert len(df) >= 1 and df.geometry.notna().all(), name
    corr = pyogrio.read_dataframe(store_path, layer="corridors")
    assert corr.geometry.iloc[0].coords[0] == (LON0, LAT0)
    scenes = pyogrio.read_dataframe(store_path, layer="scenes")
    assert str(scenes["capture_date"].iloc[0])[:10] == "2024-05-01"
    runs = pyogrio.read_dataframe(store_path, layer="runs", read_geometry=False)
    assert runs["corridor"].tolist() == ["yalu-upper"]


def _ogrinfo_or_skip() -> str:
    exe = shutil.which("ogrinfo")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("ogrinfo (Debian gdal-bin) is required in CI")
        pytest.skip("ogrinfo not installed (apt-get install gdal-bin)")
    return exe


@pytest.mark.parametrize("args", [["-al", "-so"], ["-al"]], ids=["summary", "features"])
def test_ogrinfo_opens_cleanly(store, store_path, args):
    exe = _ogrinfo_or_skip()
    populate(store)
    store.close()
    proc = subprocess.run([exe, *args, str(store_path)], capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Warning" not in out and "ERROR" not in out, out
    assert "Layer name: tile_results" in out and "Feature Count: 3" in out


def test_ogrinfo_empty_store(store_path):
    exe = _ogrinfo_or_skip()
    Store.open(store_path, create=True).close()
    proc = subprocess.run([exe, "-al", "-so", str(store_path)], capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Warning" not in out and "ERROR" not in out, out


def test_rtree_answers_bbox_query(store):
    ids = populate(store)
    store.put_tile_results([
        {"tile_id": "FAR", "date": "2024-05-01", "param_hash": "p1", "versions_hash": "v1",
         "run_id": ids["run_id"], "chainage_km": 80.0, "geometry": box(127.5, 41.9, 127.51, 41.91), "stats": {}},
    ])
    conn = store._conn
    n_rtree = conn.execute("SELECT count(*) FROM rtree_tile_results_geom").fetchone()[0]
    assert n_rtree == 4
    # tiles 0..2 span LON0 .. LON0+0.015; query a box around tile 1 only
    q = (LON0 + 0.0051, LAT0 + 0.001, LON0 + 0.0099, LAT0 + 0.002)
    hits = conn.execute(
        "SELECT t.tile_id FROM tile_results t JOIN rtree_tile_results_geom r ON r.id = t.fid "
        "WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?",
        (q[2], q[0], q[3], q[1]),
    ).fetchall()
    assert hits == [("T00001",)]
    assert [r["tile_id"] for r in store.read_rows("tile_results", bbox=q)] == ["T00001"]
    assert [r["tile_id"] for r in store.read_rows("tile_results", bbox=(127.0, 41.5, 128.0, 42.0))] == ["FAR"]
    # the triggers keep the index in step with deletes and geometry updates
    with store.transaction():
        conn.execute("DELETE FROM tile_results WHERE tile_id = 'FAR'")
        conn.execute("UPDATE tile_results SET geom = ? WHERE tile_id = 'T00000'",
                     (to_blob(box(120.0, 30.0, 120.1, 30.1)),))
    assert store.read_rows("tile_results", bbox=(127.0, 41.5, 128.0, 42.0)) == []
    assert [r["tile_id"] for r in store.read_rows("tile_results", bbox=(119, 29, 121, 31))] == ["T00000"]


def test_gdal_can_append_to_a_layer(store, store_path):
    """QGIS/GDAL edits go through GDAL's own R-tree triggers; our reader sees them."""
    import geopandas as gpd

    ids = populate(store)
    store.close()
    gdf = gpd.GeoDataFrame(
        {"class": ["person"], "score": [0.5], "run_id": [ids["run_id"]]},
        geometry=[box(128.0, 40.0, 128.001, 40.001)], crs=4326,
    )
    pyogrio.write_dataframe(gdf, store_path, layer="detections", append=True)
    with Store.open(store_path) as s:
        rows = s.read_rows("detections", bbox=(127.9, 39.9, 128.1, 40.1))
        assert [r["class"] for r in rows] == ["person"]
        assert rows[0]["geometry"].equals(box(128.0, 40.0, 128.001, 40.001))
        # and we can still write after GDAL has added its own bookkeeping triggers
        s.write_rows("detections", [{"class": "boat", "geometry": box(128.0, 40.0, 128.0005, 40.0005)}])
        assert len(s.read_rows("detections", bbox=(127.9, 39.9, 128.1, 40.1))) == 2
    assert len(pyogrio.read_dataframe(store_path, layer="detections")) == 3
