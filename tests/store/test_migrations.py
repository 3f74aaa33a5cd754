"""Opening files: new, empty, older, newer, foreign and broken ones."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import geopandas as gpd
import pyogrio
import pytest
from _store_data import populate
from shapely.geometry import Point

from borderwatch.errors import StoreError
from borderwatch.store import Store, schema
from borderwatch.store.schema import Migration, Table, create_table


LATEST = schema.MIGRATIONS[-1].version
NEXT = LATEST + 1


def test_new_store_is_latest_version(store_path):
    with Store.open(store_path, create=True) as s:
        assert s.schema_version == LATEST == 5
    conn = sqlite3.connect(store_path)
    assert [r[0] for r in conn.execute("SELECT version FROM bw_meta ORDER BY version")] == [1, 2, 3, 4, 5]
    conn.close()


def test_version_1_store_gains_site_columns(store_path, monkeypatch):
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
    with Store.open(store_path, create=True) as s:
        populate(s)
        assert s.schema_version == 1
    monkeypatch.undo()
    with Store.open(store_path) as s:
        assert s.schema_version == LATEST
        s.write_rows("sites", [{"site_id": "S-9", "score": 0.7, "details": {"evidence": ["bridge"]}}])
        assert s.read_rows("sites", {"site_id": "S-9"})[0]["details"] == {"evidence": ["bridge"]}
        assert len(s.scenes()) == 2


def test_version_2_store_keeps_its_site_numbers_as_labels_and_in_the_ledger(store_path, monkeypatch):
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
    with Store.open(store_path, create=True) as s:
        s.write_rows("sites", [
            {"site_id": "r:km002", "corridor": "r", "number": 2, "chainage_km": 2.0, "status": "site"},
            {"site_id": "r:km001", "corridor": "r", "number": 1, "chainage_km": 1.0, "status": "site"},
            {"site_id": "r:km005", "corridor": "r", "number": None, "chainage_km": 5.0, "status": "candidate"},
        ])
    monkeypatch.undo()
    with Store.open(store_path) as s:
        assert s.schema_version == LATEST
        assert [(r["site_id"], r["number"], r["label"]) for r in s.read_rows("sites")] == [
            ("r:km002", 2, "2"), ("r:km001", 1, "1"), ("r:km005", None, None)]
        assert [(r["corridor"], r["edition"], r["label"], r["number"], r["suffix"], r["site_id"])
                for r in s.read_rows("site_numbers")] == [("r", 1, "1", 1, "", "r:km001"), ("r", 1, "2", 2, "", "r:km002")]


def test_version_3_store_gains_the_surroundings_of_its_detections(store_path, monkeypatch):
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:3])
    def columns() -> set[str]:
        with closing(sqlite3.connect(store_path)) as conn:
            return {r[1] for r in conn.execute('PRAGMA table_info("detections")')}

    Store.open(store_path, create=True).close()
    assert "built_up_around" not in columns()
    monkeypatch.undo()
    with Store.open(store_path) as s:
        assert s.schema_version == LATEST
    assert "built_up_around" in columns()


def test_version_4_store_gains_the_detector_of_each_detection(store_path, monkeypatch):
    """Older rows keep NULL (their run's model_versions name the one detector that ran then); new rows name theirs."""
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:4])
    with Store.open(store_path, create=True) as s:
        populate(s)
        before = len(s.read_rows("detections"))
    monkeypatch.undo()
    with Store.open(store_path) as s:
        assert s.schema_version == LATEST
        rows = s.read_rows("detections")
        assert len(rows) == before and all(r["detector"] is None for r in rows)


def test_missing_file_needs_create(store_path):
    with pytest.raises(StoreError, match="no such store") as err:
        Store.open(store_path)
    assert str(store_path) in str(err.value)
    assert not store_path.exists()
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(store_path.parent / "nope" / "bw.gpkg", create=True)


@pytest.mark.parametrize("kind", ["zero-bytes", "sqlite-without-tables"])
def test_empty_file_is_version_zero(store_path, kind):
    if kind == "zero-bytes":
        store_path.write_bytes(b"")
    else:
        sqlite3.connect(store_path).execute("PRAGMA user_version = 0").close()
    with pytest.raises(StoreError, match="empty database"):
        Store.open(store_path)
    with Store.open(store_path, create=True) as s:
        assert s.schema_version == LATEST
        populate(s)
    with Store.open(store_path) as s:
        assert len(s.scenes()) == 2


def test_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.gpkg"
    path.write_text("this is not a database\n" * 10)
    with pytest.raises(StoreError, match="not an SQLite database") as err:
        Store.open(path, create=True)
    assert str(path) in str(err.value)
    assert path.read_text().startswith("this is not")


def test_other_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a GeoPackage") as err:
        Store.open(path, create=True)
    assert str(path) in str(err.value)


def test_directory_is_refused(tmp_path):
    with pytest.raises(StoreError, match="directory"):
        Store.open(tmp_path, create=True)


def test_foreign_geopackage_gets_tables_only_with_create(tmp_path):
    path = tmp_path / "qgis_project.gpkg"
    gdf = gpd.GeoDataFrame({"name": ["ferry"]}, geometry=[Point(126.6, 41.4)], crs=4326)
    pyogrio.write_dataframe(gdf, path, layer="my_points")
    with pytest.raises(StoreError, match="without borderwatch tables"):
        Store.open(path)
    with Store.open(path, create=True) as s:
        assert s.schema_version == LATEST
        populate(s)
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"my_points", "scenes", "runs"} <= layers
    assert pyogrio.read_dataframe(path, layer="my_points")["name"].tolist() == ["ferry"]


def test_foreign_geopackage_with_clashing_table_is_untouched(tmp_path):
    path = tmp_path / "clash.gpkg"
    gdf = gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(126.6, 41.4)], crs=4326)
    pyogrio.write_dataframe(gdf, path, layer="sites")
    with pytest.raises(StoreError, match="already exist"):
        Store.open(path, create=True)
    assert {name for name, _ in pyogrio.list_layers(path)} == {"sites"}


def test_newer_store_is_refused(store_path):
    Store.open(store_path, create=True).close()
    conn = sqlite3.connect(store_path)
    conn.execute("INSERT INTO bw_meta (version, name, software_version) VALUES (99, 'future', '9.0')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99, newer") as err:
        Store.open(store_path, create=True)
    assert str(store_path) in str(err.value)


def _v2(conn):
    conn.execute("ALTER TABLE sites ADD COLUMN note TEXT")
    create_table(conn, Table("notes", "free notes", (("text", "TEXT"),)))


def test_older_store_migrates(store_path, monkeypatch):
    with Store.open(store_path, create=True) as s:
        populate(s)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, Migration(NEXT, "site notes", _v2)])
    with Store.open(store_path) as s:  # no create needed to migrate
        assert s.schema_version == NEXT
        s.write_rows("sites", [{"site_id": "S-2", "note": "new column works"}])
        s.write_rows("notes", [{"text": "hello"}])
        assert s.read_rows("sites", {"site_id": "S-2"})[0]["note"] == "new column works"
        assert len(s.scenes()) == 2  # data kept
    conn = sqlite3.connect(store_path)
    assert [r[0] for r in conn.execute("SELECT version FROM bw_meta ORDER BY version")] == [*range(1, NEXT + 1)]
    conn.close()
    # the migrated file is still a valid GeoPackage for GDAL
    assert "notes" in {n for n, _ in pyogrio.list_layers(store_path)}


def test_failed_migration_leaves_store_untouched(store_path, monkeypatch):
    with Store.open(store_path, create=True) as s:
        populate(s)
    before = store_path.read_bytes()

    def broken(conn):
        _v2(conn)
        conn.execute("INSERT INTO nowhere VALUES (1)")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, Migration(NEXT, "broken", broken)])
    with pytest.raises(StoreError, match=f"migration from schema version {LATEST} failed") as err:
        Store.open(store_path)
    assert str(store_path) in str(err.value)
    assert store_path.read_bytes() == before
    monkeypatch.undo()
    with Store.open(store_path) as s:
        assert s.schema_version == LATEST
        assert "note" not in s.read_rows("sites")[0]
