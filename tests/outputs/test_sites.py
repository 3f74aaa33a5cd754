"""The crossing-site register as files and text: read from the store, GeoJSON, CSV, the printed table."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math

import pytest
from shapely.geometry import Point, shape

from borderwatch.corridor import load_corridor
from borderwatch.errors import InputError, StoreError
from borderwatch.outputs.sites import (
    corridor_register,
    corridors_with_sites,
    format_register,
    read_register,
    sites_geojson,
    write_register,
    write_sites_csv,
    write_sites_geojson,
)
from borderwatch.sites import summarise
from borderwatch.store import Store

from register_rows import DATES, make_register, site_polygon

NUMBERS = [1, 2, None, 3]  # river order; the candidate has no number


@pytest.fixture(scope="module")
def corridor():
    return load_corridor("yalu-upper[0:10]")


@pytest.fixture
def store(tmp_path, corridor):
    with Store.open(tmp_path / "bw.gpkg", create=True) as st:
        make_register(st, corridor)
        yield st


@pytest.fixture
def register(store, corridor):
    return corridor_register(store, corridor)


def test_read_register_river_order_and_newest_observation(store, corridor, register):
    sites, obs = register
    assert [s["number"] for s in sites] == NUMBERS  # written in reverse
    assert [s["chainage_km"] for s in sites] == sorted(s["chainage_km"] for s in sites)
    assert read_register(store, "yalu-upper") == register  # a stretch reads its river's register
    assert len(obs) == 7  # the rerun's older observation of site 1 is dropped
    first = [o for o in obs if o["site_id"] == sites[0]["site_id"] and str(o["date"]) == DATES[0]]
    assert len(first) == 1 and first[0]["counts"]["vehicles"] == 14
    # another corridor's sites stay out
    store.write_rows("sites", [{"site_id": "other:S1", "number": 1, "corridor": "other", "chainage_km": 0.5, "kind": "ford",
                                "scale": "small", "bank_evidence": "both", "status": "site",
                                "geometry": site_polygon(corridor, 0.5)}])
    assert [s["number"] for s in corridor_register(store, corridor)[0]] == NUMBERS
    assert corridors_with_sites(store) == ["other", "yalu-upper"]
    assert read_register(store, "nowhere") == ([], [])


def test_a_stretch_shows_the_sites_on_it(tmp_path):
    """Sites of the whole river live in one register; a stretch's outputs show the ones inside it."""
    river = load_corridor("yalu-upper")
    with Store.open(tmp_path / "bw.gpkg", create=True) as store:
        make_register(store, load_corridor("yalu-upper[0:10]"))
        make_register(store, load_corridor("yalu-upper[20:30]"), km_offset=20.0)
        assert len(read_register(store, "yalu-upper")[0]) == 8
        on_second = corridor_register(store, load_corridor("yalu-upper[20:30]"))[0]
        assert [s["chainage_km"] for s in on_second] == [21.2, 23.5, 26.0, 28.4]
        assert len(corridor_register(store, river)[0]) == 8
        assert corridor_register(store, load_corridor("yalu-upper[40:50]")) == ([], [])


def test_site_without_geometry_is_a_store_error(store):
    store.write_rows("sites", [{"site_id": "x:S1", "number": 1, "corridor": "x", "chainage_km": 1.0}])
    with pytest.raises(StoreError, match="x:S1.*no geometry"):
        read_register(store, "x")


def test_geojson_has_one_numbered_polygon_per_site_with_per_date_counts(corridor, register):
    sites, obs = register
    fc = sites_geojson(sites, obs, ["KP", "CN"])
    json.dumps(fc, allow_nan=False)  # strict JSON
    assert fc["type"] == "FeatureCollection" and fc["dates"] == list(DATES) and fc["countries"] == ["KP", "CN"]
    feats = fc["features"]
    assert [f["properties"]["number"] for f in feats] == NUMBERS
    for f, s in zip(feats, sites):
        p = f["properties"]
        for key in ("number", "site_id", "chainage_km", "kind", "scale", "bank_evidence", "status", "score", "first_seen",
                    "last_seen", "dates"):
            assert key in p, key
        assert f["geometry"]["type"] == "Polygon"
        geom = shape(f["geometry"])
        lon, lat = geom.centroid.x, geom.centroid.y
        assert 127.5 < lon < 128.5 and 41 < lat < 42  # lon/lat, not UTM
        # the polygon lies across the river at the site's chainage
        assert corridor.locate(*corridor.from_lonlat(geom.centroid).coords[0]).chainage_km == pytest.approx(s["chainage_km"], abs=0.01)
        assert geom.contains(corridor.to_lonlat(corridor.point_at(s["chainage_km"], 0.0)))
    p1 = feats[0]["properties"]
    assert p1["vehicles_2025-07-31"] == 14 and p1["large_vehicle_2025-07-31"] == 5 and p1["heavy_equipment_2025-09-13"] == 2
    assert p1["share_toward_KP_2025-07-31"] == 0.75 and p1["share_toward_CN_2025-09-13"] == 0.75
    assert (p1["share_low_KP_2025-07-31"], p1["share_high_KP_2025-07-31"]) == (0.42, 0.95)
    assert p1["share_low_KP_2025-09-13"] is None  # no interval stored for that date
    # what the share rests on (cars / large vehicles facing a bank), where the register recorded it
    assert (p1["share_from_small_vehicle_2025-07-31"], p1["share_from_large_vehicle_2025-07-31"]) == (3, 5)
    assert p1["share_from_small_vehicle_2025-09-13"] is None
    # the front factor the share applied, measured on the image's queued pairs (cars had too few)
    assert (p1["front_factor_large_vehicle_2025-07-31"], p1["front_pairs_large_vehicle_2025-07-31"]) == (1.12, 81)
    assert p1["front_factor_small_vehicle_2025-07-31"] is None and p1["front_factor_large_vehicle_2025-09-13"] is None
    # the longest queue and convoy of identical vehicles, where the register recorded them
    assert (p1["longest_queue_2025-07-31"], p1["convoy_2025-07-31"], p1["convoy_subclass_2025-07-31"]) == (9, 7, "dump_truck")
    assert p1["convoy_2025-09-13"] is None
    # how much of each date's imagery looked snow-covered, and whether its counts are flagged for it
    assert (p1["snow_cover_2025-07-31"], p1["snow_flag_2025-07-31"]) == (0.01, False)
    assert (p1["snow_cover_2025-09-13"], p1["snow_flag_2025-09-13"]) == (0.58, True)
    # which detector counted the date (older observations: none recorded)
    assert (p1["detectors_2025-07-31"], p1["detectors_2025-09-13"]) == (
        None, "borderwatch-vehicles-jpeg@0.2.4+front-jpeg-1+screen-1, borderwatch-vehicles@0.2.3+front-4.1+screen-1")
    # how much of the river's surface was ice (the second date: frozen)
    assert (p1["river_ice_2025-07-31"], p1["river_ice_2025-09-13"]) == (0.12, 0.93)
    assert p1["toward_KP_2025-07-31"] == 6 and p1["activity_score_2025-09-13"] == 0.93 and p1["scale_2025-07-31"] == "large"
    assert p1["dates"]["2025-07-31"]["vehicles"] == 14 and p1["dates"]["2025-07-31"]["share_toward"]["KP"] == 0.75
    assert p1["dates"]["2025-07-31"]["run_id"] == p1["run_id_2025-07-31"]
    assert p1["first_seen"] == "2025-07-31" and p1["evidence"] == "ford 1, track 3"
    p2 = feats[1]["properties"]
    assert p2["share_toward_KP_2025-07-31"] is None  # no vehicle heading across: no share, not 0
    p3 = feats[2]["properties"]
    assert p3["status"] == "candidate" and p3["bank_evidence"] == "KP"
    assert list(p3["dates"]) == ["2025-09-13"]
    assert p3["vehicles_2025-07-31"] is None and p3["vehicles_2025-09-13"] == 3  # not observed is not zero
    assert set(feats[0]["properties"]) == set(p3)  # every feature has every column (QGIS)


def test_geojson_reads_back_in_gdal(tmp_path, register):
    pyogrio = pytest.importorskip("pyogrio")
    sites, obs = register
    path = write_sites_geojson(tmp_path / "out" / "sites.geojson", sites, obs, ["KP", "CN"])
    df = pyogrio.read_dataframe(path)
    assert list(df["number"].fillna(-1)) == [1, 2, -1, 3]
    assert list(df["vehicles_2025-07-31"].fillna(-1)) == [14, 4, -1, 0]
    assert df.crs.to_epsg() == 4326
    assert not list(tmp_path.glob("out/*.part"))


def test_csv_one_row_per_site_with_flat_date_columns(tmp_path, register):
    sites, obs = register
    path = write_sites_csv(tmp_path / "sites.csv", sites, obs, ["KP", "CN"])
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [r["number"] for r in rows] == ["1", "2", "", "3"]
    assert rows[0]["site_id"] == sites[0]["site_id"] and rows[0]["kind"] == "ford"
    assert rows[0]["vehicles_2025-07-31"] == "14" and rows[0]["share_toward_CN_2025-07-31"] == "0.25"
    assert rows[0]["share_low_KP_2025-07-31"] == "0.42" and rows[0]["share_from_large_vehicle_2025-07-31"] == "5"
    assert rows[2]["vehicles_2025-07-31"] == "" and rows[2]["vehicles_2025-09-13"] == "3"
    assert rows[2]["status"] == "candidate"
    lon, lat = float(rows[0]["lon"]), float(rows[0]["lat"])
    assert sites[0]["geometry"].contains(Point(lon, lat))
    assert "dates" not in rows[0]  # nested values only in the GeoJSON


def test_write_register_by_extension(tmp_path, register):
    sites, obs = register
    assert json.loads(write_register(tmp_path / "a.GeoJSON", sites, obs).read_text())["type"] == "FeatureCollection"
    assert write_register(tmp_path / "a.csv", sites, obs).read_text().startswith("number,label,site_id,")
    with pytest.raises(InputError, match=r"a\.txt.*\.csv or \.geojson"):
        write_register(tmp_path / "a.txt", sites, obs)
    with pytest.raises(InputError, match="expected a .csv"):
        write_sites_csv(tmp_path / "b.geojson", sites, obs)
    assert not (tmp_path / "a.txt").exists() and not (tmp_path / "b.geojson").exists()


def test_format_register_in_river_order_with_counts_and_summary(corridor, register):
    sites, obs = register
    text = format_register(sites, obs, summarise(sites, obs, corridor.length_km, corridor.name), ["KP", "CN"])
    lines = text.splitlines()
    assert DATES[0] in lines[0] and DATES[1] in lines[0] and lines[0].index(DATES[0]) < lines[0].index(DATES[1])
    head = lines[1].split()
    assert head[:7] == ["#", "site", "km", "kind", "scale", "banks", "status"] and head.count("KP") == 2
    assert "CN" not in head  # the share toward CN is the rest
    rows = [ln.split() for ln in lines[2:6]]
    assert [r[0] for r in rows] == ["1", "2", "-", "3"]
    assert rows[0][1:8] == [sites[0]["site_id"], "1.20", "ford", "large", "both", "site", "14"]
    # the share toward KP with its 95 % interval; a store without intervals prints the share alone
    # the vehicles seen facing KP:CN, then the share toward KP with its 95 % interval (weighed: 6 of 8 seen, 0.75);
    # a store without intervals prints the share alone
    assert rows[0][8:] == ["5/8/1", "6:2", "0.75", "(0.42-0.95)", "19", "7/10/2", "3:9", "0.25"]
    assert rows[2][6:] == ["candidate", "-", "3", "0/3/0", "0:1", "0.00"]  # not observed on the first date
    assert rows[1][9:11] == ["0:0", "-"]  # nobody heading across: no share
    assert "KP:CN: the vehicles seen facing each bank, as detected, before any weighing" in lines[6]
    assert lines[6].startswith("to KP (95 %): share of vehicles facing KP (the rest face CN)")
    assert "95 % interval: a wide one means too few clear fronts" in lines[6]
    assert "front factor" in lines[6] and "convoy" in lines[6]  # where the rest of the evidence is
    # a date the register flagged as snowy says so over its columns and under the table; a frozen river over them
    assert f"{DATES[1]} (snow, river frozen)" in lines[0] and f"{DATES[0]} (" not in lines[0]
    # the candidate has no observation on the first date: not imaged there, which is not idle
    assert lines[7].startswith("- under veh: not imaged on that date") and "not seen, not idle" in lines[7]
    # the bridge's second date was imaged in part: its count is marked as possibly low
    assert rows[1][11] == "4*" and lines[8].startswith("*: only part of the site was imaged on that date")
    assert lines[9].startswith(f"{DATES[1]} (snow): 58% of that date's imagery looks snow-covered")
    # the per-date columns line up under their date
    col = lines[0].index(DATES[1])
    assert lines[1][col:].startswith("veh") or lines[1][col:].lstrip().startswith("veh")
    summary = "\n".join(lines[6:])
    assert "3 site(s) and 1 candidate(s) over 10.0 km" in summary and "0.30 sites/km" in summary
    assert "one every 3.3 km" in summary
    assert "by scale: large 1, small 1, inactive 1" in summary and "by kind:" in summary
    # the trend: per date, the confirmed sites its imagery showed and the vehicles counted at them
    assert lines[lines.index("by date (confirmed sites):") + 1:] == [
        f"  {DATES[0]}: 3 of 3 imaged; large 1, small 1, inactive 1; vehicles 18 (large 5, heavy equipment 1, small 12)",
        f"  {DATES[1]}: 3 of 3 imaged (1 partly); large 1, small 1, inactive 1; vehicles 23 (large 8, heavy equipment 2, "
        "small 13)"]


def test_format_register_empty_and_nan():
    assert format_register([], [], None) == "no crossing sites"
    site = {"site_id": "c:S1", "number": 1, "chainage_km": float("nan"), "kind": "ford", "scale": "small",
            "bank_evidence": "both", "status": "site", "score": float("nan"), "geometry": Point(128.1, 41.4).buffer(0.001)}
    obs = [{"site_id": "c:S1", "date": "2025-07-31", "run_id": None, "activity_score": float("nan"), "scale": "small",
            "counts": {"vehicles": 2, "share_toward": None}}]
    fc = sites_geojson([site], obs)
    json.dumps(fc, allow_nan=False)
    p = fc["features"][0]["properties"]
    assert p["chainage_km"] is None and p["score"] is None and p["activity_score_2025-07-31"] is None
    assert p["vehicles_2025-07-31"] == 2 and p["large_vehicle_2025-07-31"] is None
    text = format_register([site], obs, None)
    assert text.splitlines()[2].split()[:3] == ["1", "c:S1", "ford"]  # no km printed for a NaN chainage
    assert not any(isinstance(v, float) and math.isnan(v) for v in p.values())


def test_run_outputs_include_the_register(tmp_path, corridor, store):
    """write_run_outputs: sites.geojson, the KML folder and the page's layer whenever the store holds sites."""
    import datetime as dt
    import re

    from lxml import etree

    from borderwatch.outputs.publish import write_run_outputs

    from rasters import make_geotiff, make_scene

    scenes = [make_scene(make_geotiff(tmp_path / "a.tif", lon=128.16, lat=41.41), dt.date(2025, 7, 31))]
    steps = []
    written = write_run_outputs(tmp_path / "out", corridor, scenes, store, progress=lambda d, t: steps.append((d, t)))
    out = tmp_path / "out"
    assert out / "sites.geojson" in written and out / "corridor.kml" in written and out / "index.html" in written
    assert steps[-1][0] == steps[-1][1] == len(steps)
    fc = json.loads((out / "sites.geojson").read_text())
    assert [f["properties"]["number"] for f in fc["features"]] == NUMBERS and fc["countries"] == ["KP", "CN"]
    kml = etree.parse(str(out / "corridor.kml"))
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert len(kml.findall(".//k:Folder[k:name='Crossing sites']/k:Placemark", ns)) == 4
    data = json.loads(re.search(r'id="bw-data">(.*?)</script>', (out / "index.html").read_text(), re.S).group(1))
    assert len(data["sites"]["features"]) == 4 and data["sites"]["summary"]

    # a store without a register for this corridor: the outputs as before, and no stale sites file
    with Store.open(tmp_path / "empty.gpkg", create=True) as empty:
        written = write_run_outputs(out, corridor, scenes, empty)
    assert not (out / "sites.geojson").exists() and len(written) == 3
    assert "Crossing sites" not in (out / "corridor.kml").read_text()
    assert '"sites":null' in (out / "index.html").read_text()


def test_analysed_length_merges_the_stretches_run(tmp_path):
    """Density is over the kilometres the runs covered: overlapping stretches count once."""
    from borderwatch.outputs.sites import analysed_length_km
    from borderwatch.store.store import corridor_record

    with Store.open(tmp_path / "bw.gpkg", create=True) as store:
        assert analysed_length_km(store, load_corridor("yalu-upper")) is None
        for spec in ("yalu-upper[0:10]", "yalu-upper[5:20]", "yalu-upper[40:42]"):
            store.upsert_corridor(*corridor_record(load_corridor(spec)))
            store.start_run(spec, {}, {})
        store.upsert_corridor(*corridor_record(load_corridor("yalu-upper[60:70]")))  # stored, never run
        assert analysed_length_km(store, load_corridor("yalu-upper")) == pytest.approx(22.0, abs=1e-6)
        assert analysed_length_km(store, load_corridor("yalu-upper[15:45]")) == pytest.approx(7.0, abs=1e-6)
        assert analysed_length_km(store, load_corridor("yalu-upper[50:80]")) is None


def test_every_scale_has_its_own_colour():
    from borderwatch.outputs.sites import CANDIDATE_COLOUR, SCALE_COLOURS, site_colour

    colours = [site_colour({"status": "site", "scale": s}) for s in ("large", "small", "active", "inactive")]
    assert len(set(colours)) == 4 and CANDIDATE_COLOUR not in colours
    assert site_colour({"status": "candidate", "scale": "large"}) == CANDIDATE_COLOUR
    assert set(SCALE_COLOURS) == {"large", "small", "active", "inactive"}


def test_a_site_numbered_after_its_neighbours_shows_its_label_everywhere(tmp_path, store, corridor):
    from lxml import etree

    from borderwatch.outputs.kml import write_corridor_kml

    sites, _ = corridor_register(store, corridor)
    store.update_rows("sites", {"site_id": sites[1]["site_id"]}, {"number": 1, "label": "1a"})
    store.update_rows("sites", {"site_id": sites[3]["site_id"]}, {"number": 2, "label": "2"})
    sites, obs = corridor_register(store, corridor)
    assert [s["site_id"] for s in sites] == [s["site_id"] for s in sorted(sites, key=lambda s: s["chainage_km"])]
    fc = sites_geojson(sites, obs)
    assert [(f["properties"]["number"], f["properties"]["label"]) for f in fc["features"]] == [
        (1, "1"), (1, "1a"), (None, None), (2, "2")]
    rows = list(csv.DictReader(write_sites_csv(tmp_path / "s.csv", sites, obs).open()))
    assert [r["label"] for r in rows] == ["1", "1a", "", "2"]
    text = format_register(sites, obs, None, ["KP", "CN"])
    assert [ln.split()[0] for ln in text.splitlines()[2:6]] == ["1", "1a", "-", "2"]
    tree = etree.parse(str(write_corridor_kml(corridor, tmp_path / "c.kml", sites=sites, observations=obs)))
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    names = [pm.findtext("k:name", namespaces=ns) for pm in tree.iterfind(".//k:Folder[k:name='Crossing sites']/k:Placemark", ns)]
    assert names == ["1", "1a", "candidate km 6.0", "2"]
    # a register written before labels existed still shows its numbers
    old = [{k: v for k, v in s.items() if k != "label"} for s in sites]
    assert [f["properties"]["label"] for f in sites_geojson(old, obs)["features"]] == ["1", "1", None, "2"]


def test_a_numbered_site_says_when_and_in_which_edition_its_number_was_given(tmp_path, store, corridor):
    sites, _ = corridor_register(store, corridor)
    first, second = sites[0], sites[1]
    store.write_rows("site_numbers", [
        {"corridor": "yalu-upper", "edition": 1, "label": str(first["number"]), "number": first["number"],
         "site_id": first["site_id"], "chainage_km": first["chainage_km"]},
        {"corridor": "yalu-upper", "edition": 2, "label": str(first["number"]), "number": first["number"],
         "site_id": first["site_id"], "chainage_km": first["chainage_km"]},  # renumbered: the latest edition counts
        {"corridor": "other", "edition": 1, "label": str(second["number"]), "number": second["number"],
         "site_id": second["site_id"], "chainage_km": second["chainage_km"]},  # another river's ledger
    ])
    sites, obs = corridor_register(store, corridor)
    props = [f["properties"] for f in sites_geojson(sites, obs)["features"]]
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert (props[0]["numbering_edition"], props[0]["label_given"]) == (2, today)
    assert (props[1]["numbering_edition"], props[1]["label_given"]) == (None, None)  # not in this river's ledger
    rows = list(csv.DictReader(write_sites_csv(tmp_path / "s.csv", sites, obs).open()))
    assert (rows[0]["numbering_edition"], rows[0]["label_given"]) == ("2", today)


def test_format_register_marks_a_date_whose_counts_were_left_out_for_river_ice(corridor, register):
    """A date the register left out for river ice (floes read as vehicles) says so over its columns and under the
    table; a frozen date says "river frozen" instead."""
    sites, obs = register
    iced = [dict(o) for o in obs]
    for o in iced:
        if str(o["date"])[:10] == DATES[0]:
            o["counts"] = {**o["counts"], "river_ice": 0.3, "counts_withheld": "river ice"}
    lines = format_register(sites, iced, None, ["KP", "CN"]).splitlines()
    assert f"{DATES[0]} (river ice)" in lines[0] and f"{DATES[1]} (snow, river frozen)" in lines[0]
    assert (f"{DATES[0]}: 30% of the river's surface is ice; the detector reads ice floes and the ice edge as vehicles: "
            "its counts are left out (-)") in lines


def test_a_candidate_says_why_it_is_one():
    from borderwatch.outputs.sites import candidate_note

    assert candidate_note({"bank_evidence": "KP"}) == "evidence on the KP bank only"
    both = candidate_note({"bank_evidence": "both"})  # a town's parking facing another's (sites.cluster)
    assert "both banks" in both and "nothing seen at the water" in both
    assert "either bank" in candidate_note({"bank_evidence": "water"})
