"""`borderwatch sites`: the register in river order from a store, --out CSV/GeoJSON, and clear errors."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from cli_helpers import call
from borderwatch.corridor import load_corridor
from borderwatch.store import Store

from register_rows import make_register

STRETCH = "yalu-upper[0:10]"


@pytest.fixture(scope="module")
def corridor():
    return load_corridor(STRETCH)


@pytest.fixture
def store_file(tmp_path, corridor):
    path = tmp_path / "bw.gpkg"
    with Store.open(path, create=True) as store:
        make_register(store, corridor)
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sites_help(capsys):
    code, out, _ = call(["sites", "--help"], capsys)
    assert code == 0 and "river order" in out and "--out" in out and "--corridor" in out


def test_sites_prints_the_register_in_river_order(store_file, capsys):
    before = _digest(store_file)
    code, out, err = call(["sites", "--store", str(store_file)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    # the whole river, with the density over the stretch the runs covered
    assert lines[0] == "Crossing sites on yalu-upper (10.0 of 81.1 km analysed), in river order; km along yalu-upper"
    assert "2025-07-31" in lines[1] and "2025-09-13" in lines[1]
    rows = [ln.split() for ln in lines[3:7]]
    assert [r[0] for r in rows] == ["1", "2", "-", "3"]  # the candidate has no number
    assert [r[2] for r in rows] == ["1.20", "3.50", "6.00", "8.40"]
    # the vehicles seen facing KP:CN, the share toward KP and its 95 % interval
    assert rows[0][7:12] == ["14", "5/8/1", "6:2", "0.75", "(0.42-0.95)"]
    assert rows[2][6] == "candidate"
    tail = "\n".join(lines[7:])
    assert "3 site(s) and 1 candidate(s) over 10.0 km" in tail and "by scale:" in tail and "by kind:" in tail
    assert _digest(store_file) == before  # reading never writes the store


def test_sites_out_csv_and_geojson(store_file, tmp_path, capsys):
    code, out, err = call(["sites", "--store", str(store_file), "--corridor", STRETCH, "--out", str(tmp_path / "r.csv")], capsys)
    assert code == 0, err
    assert f"wrote {tmp_path / 'r.csv'}" in out
    rows = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert [r["number"] for r in rows] == ["1", "2", "", "3"] and rows[0]["vehicles_2025-07-31"] == "14"
    code, _, err = call(["sites", "--store", str(store_file), "--out", str(tmp_path / "r.geojson")], capsys)
    assert code == 0, err
    fc = json.loads((tmp_path / "r.geojson").read_text())
    assert [f["properties"]["number"] for f in fc["features"]] == [1, 2, None, 3]
    assert fc["features"][0]["properties"]["share_toward_KP_2025-07-31"] == 0.75


def _one_line_error(code, err) -> str:
    assert code == 2
    assert err.strip().count("\n") == 0, err
    return err


def test_bad_out_extension_names_the_file(store_file, tmp_path, capsys):
    target = tmp_path / "register.txt"
    err = _one_line_error(*call(["sites", "--store", str(store_file), "--out", str(target)], capsys)[::2])
    assert "register.txt" in err and ".csv or .geojson" in err
    assert not target.exists()


def test_missing_store_and_store_without_sites(tmp_path, capsys):
    missing = tmp_path / "nope.gpkg"
    err = _one_line_error(*call(["sites", "--store", str(missing)], capsys)[::2])
    assert "nope.gpkg" in err and "no such store" in err
    assert not missing.exists()
    empty = tmp_path / "empty.gpkg"
    Store.open(empty, create=True).close()
    err = _one_line_error(*call(["sites", "--store", str(empty)], capsys)[::2])
    assert "empty.gpkg" in err and "no crossing sites" in err


def test_store_analysed_too_coarse_says_why_it_has_no_sites(tmp_path, corridor, capsys):
    from borderwatch.store.store import corridor_record

    path = tmp_path / "coarse.gpkg"
    with Store.open(path, create=True) as store:
        store.upsert_corridor(*corridor_record(corridor))
        run_id = store.start_run(corridor.name, {"landcover": True, "gsd_m": 5.0}, {"borderwatch": "test"})
        store.put_tile_results([{
            "tile_id": "t0", "date": "2025-07-31", "param_hash": "p" * 16, "versions_hash": "v" * 16, "run_id": run_id,
            "chainage_km": 1.0, "geometry": corridor.to_lonlat(corridor.point_at(1.0).buffer(300, cap_style="square")),
            "stats": {"coverage": 1.0, "gsd_m": 5.0, "landcover": {"water": 0.3, "vegetation": 0.7}, "evidence": None},
        }])
    for args in (["sites", "--store", str(path)], ["sites", "--store", str(path), "--corridor", STRETCH]):
        code, _, err = call(args, capsys)
        assert code != 0 and "no crossing sites" in err
        assert "2025-07-31: 1 tile(s) analysed at 5 m, coarser than the 2 m crossing evidence needs" in err


def test_corridor_choice(store_file, corridor, capsys):
    code, out, _ = call(["sites", "--store", str(store_file), "--corridor", STRETCH], capsys)
    assert code == 0 and out.startswith(f"Crossing sites on {STRETCH} (10.0 km), in river order")
    assert "over 10.0 km" in out
    err = _one_line_error(*call(["sites", "--store", str(store_file), "--corridor", "yalu-upper[40:50]"], capsys)[::2])
    assert "no crossing sites on yalu-upper[40:50] (it holds sites on yalu-upper)" in err
    with Store.open(store_file) as store:
        make_register(store, load_corridor("yalu[0:10]"))
    err = _one_line_error(*call(["sites", "--store", str(store_file)], capsys)[::2])
    assert "several rivers (yalu, yalu-upper)" in err and "--corridor" in err
    code, out, _ = call(["sites", "--store", str(store_file), "--corridor", "yalu[0:10]"], capsys)
    assert code == 0 and "yalu:km001.200" in out and "yalu-upper:km" not in out


@pytest.mark.slow
def test_demo_builds_the_register_and_its_outputs(tmp_path, capsys):
    """`demo` (land cover on) builds the register; the run folder and `sites` show the same numbered sites."""
    import re

    from lxml import etree

    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--km", "1.5:3", "--gsd", "0.8"]
    code, text, err = call(argv, capsys)
    assert code == 0, err
    m = re.search(r"crossing sites on yalu-upper\[1\.5:3\]: (\d+) site\(s\) and (\d+) candidate\(s\)", text.replace("\n", " "))
    assert m, text
    n_sites, n_cand = int(m.group(1)), int(m.group(2))
    assert n_sites >= 1  # the synthetic stretch has crossings near km 1.9 and 2.7
    fc = json.loads((out / "sites.geojson").read_text())
    numbers = [f["properties"]["number"] for f in fc["features"]]
    assert len(numbers) == n_sites + n_cand
    assert [n for n in numbers if n is not None] == sorted(n for n in numbers if n is not None)
    assert all(1.5 <= f["properties"]["chainage_km"] <= 3.0 for f in fc["features"])  # km from Hyesan
    # the demo runs the detector by default: its sites carry vehicle counts and a scale from them
    assert any((f["properties"].get("vehicles_2025-09-13") or 0) > 0 for f in fc["features"])
    assert {f["properties"]["scale"] for f in fc["features"]} <= {"large", "small", "inactive"}
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    kml = etree.parse(str(out / "corridor.kml"))
    assert len(kml.findall(".//k:Folder[k:name='Crossing sites']/k:Placemark", ns)) == len(numbers)
    assert '"sites":{"name":"Crossing sites' in (out / "index.html").read_text()

    code, listing, err = call(["sites", "--store", str(out / "borderwatch.gpkg")], capsys)
    assert code == 0, err
    for f in fc["features"]:
        assert f["properties"]["site_id"] in listing

    # a rerun keeps ids and numbers
    assert call(argv, capsys)[0] == 0
    again = json.loads((out / "sites.geojson").read_text())
    assert [(f["properties"]["site_id"], f["properties"]["number"]) for f in again["features"]] == [
        (f["properties"]["site_id"], f["properties"]["number"]) for f in fc["features"]]


def test_sites_renumber_starts_a_new_edition_in_river_order(store_file, corridor, capsys):
    with Store.open(store_file) as store:  # the last site was confirmed after 1 and 2 were given
        last = max(store.read_rows("sites"), key=lambda r: r["chainage_km"])["site_id"]
        store.update_rows("sites", {"site_id": last}, {"number": 2, "label": "2a"})
    code, out, err = call(["sites", "--store", str(store_file)], capsys)
    assert code == 0, err and [ln.split()[0] for ln in out.splitlines()[3:7]] == ["1", "2", "-", "2a"]
    code, out, err = call(["sites", "--store", str(store_file), "--renumber"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "renumbered 3 site(s) on yalu-upper as a new numbering edition; 1 changed number"
    assert lines[1].split() == ["2a", "->", "3", last]
    assert [ln.split()[0] for ln in lines[5:9]] == ["1", "2", "-", "3"]
    with Store.open(store_file) as store:
        assert [(r["label"], r["edition"]) for r in store.read_rows("site_numbers")] == [("1", 2), ("2", 2), ("3", 2)]
    assert "--renumber" in call(["sites", "--help"], capsys)[1]


def test_sites_renumber_with_only_candidates_changes_nothing(store_file, capsys):
    with Store.open(store_file) as store:
        for r in store.read_rows("sites"):
            store.update_rows("sites", {"site_id": r["site_id"]}, {"status": "candidate", "number": None, "label": None})
    code, out, err = call(["sites", "--store", str(store_file), "--renumber"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "no confirmed sites on yalu-upper to renumber; numbering left as it was"
    with Store.open(store_file) as store:
        assert store.read_rows("site_numbers") == []
