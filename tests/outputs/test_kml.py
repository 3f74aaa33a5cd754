"""Corridor KML/KMZ: valid against the OGC KML 2.2 schema, with the folders users look for."""

from __future__ import annotations

import datetime as dt
import zipfile
from functools import lru_cache
from pathlib import Path

import fastkml
import pytest
from lxml import etree

from borderwatch.corridor import load_corridor
from borderwatch.errors import InputError, SceneError
from borderwatch.outputs.kml import chainage_marks, write_corridor_kml, write_kmz

from rasters import make_geotiff, make_scene

NS = {"k": "http://www.opengis.net/kml/2.2"}


@lru_cache(maxsize=1)
def kml_schema() -> etree.XMLSchema:
    """The OGC KML 2.2 schema (with gx, atom and xAL) shipped in the fastkml wheel."""
    xsd = Path(fastkml.__file__).parent / "schema" / "ogckml22.xsd"
    assert xsd.exists(), xsd
    return etree.XMLSchema(etree.parse(str(xsd)))


def assert_valid(tree) -> None:
    schema = kml_schema()
    if not schema.validate(tree):
        raise AssertionError(f"invalid KML: {schema.error_log}")


@pytest.fixture(scope="module")
def corridor():
    return load_corridor("yalu-upper[0:10]")


@pytest.fixture
def scenes(tmp_path):
    a = make_geotiff(tmp_path / "a.tif")
    b = make_geotiff(tmp_path / "b.tif", lon=128.12)
    return [make_scene(a, dt.date(2021, 5, 1)), make_scene(b, dt.date(2019, 9, 9), provider="Other <Sat>")]


def _folders(tree) -> dict[str, etree._Element]:
    return {f.findtext("k:name", namespaces=NS): f for f in tree.iterfind(".//k:Folder", NS)}


def test_kml_is_schema_valid_and_complete(corridor, scenes, tmp_path):
    path = write_corridor_kml(corridor, tmp_path / "out" / "corridor.kml", scenes=scenes)
    assert path == tmp_path / "out" / "corridor.kml"
    tree = etree.parse(str(path))
    assert_valid(tree)
    folders = _folders(tree)
    assert set(folders) == {"Corridor", "Banks", "Chainage (every 1 km)", "Places", "Scene footprints"}

    desc = folders["Corridor"].findtext("k:Placemark/k:description", namespaces=NS)
    assert "10.00 km" in desc and "Hyesan" in desc and "OpenStreetMap" in desc and "GeoNames" in desc
    coords = folders["Corridor"].findtext(".//k:LineString/k:coordinates", namespaces=NS).split()
    lon, lat = map(float, coords[0].split(","))
    assert 127.5 < lon < 128.5 and 41 < lat < 42  # lon,lat order

    banks = {pm.findtext("k:name", namespaces=NS): pm for pm in folders["Banks"].iterfind("k:Placemark", NS)}
    assert set(banks) == {"KP bank", "CN bank"}
    assert banks["KP bank"].find(".//k:Polygon", NS) is not None

    names = [pm.findtext("k:name", namespaces=NS) for pm in folders["Chainage (every 1 km)"].iterfind("k:Placemark", NS)]
    labels = [n for n in names if not n.endswith("tick")]
    assert labels == [f"km {i}" for i in range(11)]
    assert len(names) == 22
    # the km 5 tick crosses the line there, perpendicular: both ends ~250 m off, on opposite banks
    from shapely.geometry import LineString

    pm = [pm for pm in folders["Chainage (every 1 km)"].iterfind("k:Placemark", NS)
          if pm.findtext("k:name", namespaces=NS) == "km 5 tick"][0]
    pts = [tuple(map(float, c.split(","))) for c in pm.findtext(".//k:coordinates", namespaces=NS).split()]
    tick = corridor.from_lonlat(LineString(pts))
    ends = [corridor.locate(*xy) for xy in tick.coords]
    assert [round(e.chainage_km, 2) for e in ends] == [5.0, 5.0]
    assert ends[0].offset_m == pytest.approx(250, abs=2) and ends[1].offset_m == pytest.approx(-250, abs=2)
    assert (ends[0].country, ends[1].country) == ("KP", "CN")

    places = [pm.findtext("k:name", namespaces=NS) for pm in folders["Places"].iterfind("k:Placemark", NS)]
    assert "Hyesan" in places
    assert "Changbai (outside this stretch)" in places  # upstream of the origin: negative chainage
    assert "Kimjongsuk-up (outside this stretch)" in places

    fps = list(folders["Scene footprints"].iterfind("k:Placemark", NS))
    assert [pm.findtext("k:TimeStamp/k:when", namespaces=NS) for pm in fps] == ["2019-09-09", "2021-05-01"]
    d = fps[0].findtext("k:description", namespaces=NS)
    assert scenes[1].sha256 in d and "Other &lt;Sat&gt;" in d and "CC-BY-4.0 (test)" in d


def test_tick_spacing_and_bad_tick(corridor, tmp_path):
    tree = etree.parse(str(write_corridor_kml(corridor, tmp_path / "c.kml", tick_km=2.5)))
    assert_valid(tree)
    labels = [
        pm.findtext("k:name", namespaces=NS)
        for pm in _folders(tree)["Chainage (every 2.5 km)"].iterfind("k:Placemark", NS)
        if not pm.findtext("k:name", namespaces=NS).endswith("tick")
    ]
    assert labels == ["km 0", "km 2.5", "km 5", "km 7.5", "km 10"]
    assert "Scene footprints" not in _folders(tree)
    with pytest.raises(InputError, match="tick_km"):
        write_corridor_kml(corridor, tmp_path / "bad.kml", tick_km=0)
    assert not (tmp_path / "bad.kml").exists()
    assert chainage_marks(9.95, 1.0)[-1] == 9.0
    assert chainage_marks(9.9999999, 1.0)[-1] == 10.0  # float noise at the end still gets its tick


def test_kmz_holds_the_same_valid_document(corridor, scenes, tmp_path):
    path = write_kmz(corridor, tmp_path / "c.kmz", scenes=scenes)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["doc.kml"]
        tree = etree.fromstring(zf.read("doc.kml"))
    assert_valid(tree)
    assert len(tree.findall(".//k:TimeStamp", NS)) == 2


def test_bad_footprint_names_the_scene(corridor, scenes, tmp_path):
    from dataclasses import replace

    bad = replace(scenes[0], footprint_wkt="POLYGON ((1 2, 3")
    with pytest.raises(SceneError, match="a.tif"):
        write_corridor_kml(corridor, tmp_path / "c.kml", scenes=[bad])
    assert not (tmp_path / "c.kml").exists()


def test_schema_check_rejects_invalid_kml(corridor, tmp_path):
    """The validation used above does catch schema errors (out-of-order and unknown elements)."""
    tree = etree.parse(str(write_corridor_kml(corridor, tmp_path / "c.kml")))
    pm = tree.find(".//k:Placemark", NS)
    name = pm.find("k:name", NS)
    pm.remove(name)
    pm.append(name)  # <name> after the geometry: not allowed by the schema
    with pytest.raises(AssertionError, match="invalid KML"):
        assert_valid(tree)
    tree = etree.parse(str(tmp_path / "c.kml"))
    etree.SubElement(tree.find(".//k:Placemark", NS), "{%s}Colour" % NS["k"]).text = "red"
    with pytest.raises(AssertionError, match="invalid KML"):
        assert_valid(tree)


# -- crossing sites --------------------------------------------------------------------


@pytest.fixture
def register(tmp_path, corridor):
    from borderwatch.outputs.sites import corridor_register
    from borderwatch.store import Store

    from register_rows import make_register

    with Store.open(tmp_path / "bw.gpkg", create=True) as store:
        _, written = make_register(store, corridor)
        sites, obs = corridor_register(store, corridor)
    return sites, obs, written[0]["run_id"]  # the run whose observation a rerun replaced


def test_crossing_sites_folder_numbered_in_river_order(corridor, scenes, register, tmp_path):
    from shapely.geometry import Point, Polygon

    sites, obs, replaced_run = register
    tree = etree.parse(str(write_corridor_kml(corridor, tmp_path / "c.kml", scenes=scenes, sites=sites, observations=obs)))
    assert_valid(tree)
    folders = _folders(tree)
    assert "Crossing sites" in folders and "Scene footprints" in folders
    pms = list(folders["Crossing sites"].iterfind("k:Placemark", NS))
    assert [pm.findtext("k:name", namespaces=NS) for pm in pms] == ["1", "2", "candidate km 6.0", "3"]
    assert [pm.findtext("k:styleUrl", namespaces=NS) for pm in pms] == [
        "#site-large", "#site-small", "#site-candidate", "#site-inactive"]
    styles = {st.get("id"): st for st in tree.iterfind(".//k:Style", NS)}
    assert {"site-large", "site-small", "site-active", "site-inactive", "site-candidate"} <= set(styles)
    assert "open-diamond" in styles["site-candidate"].findtext(".//k:href", namespaces=NS)
    assert styles["site-candidate"].findtext("k:PolyStyle/k:fill", namespaces=NS) == "0"  # hollow: visibly not a site

    for pm, site in zip(pms, sites):
        # a pin (where the number shows) inside the site's area
        pt = pm.find("k:MultiGeometry/k:Point/k:coordinates", NS).text
        ring = pm.find("k:MultiGeometry/k:Polygon//k:coordinates", NS).text
        poly = Polygon([tuple(map(float, c.split(","))) for c in ring.split()])
        assert poly.contains(Point(*map(float, pt.split(","))))
        assert poly.equals_exact(site["geometry"], 1e-6)

    d1 = pms[0].findtext("k:description", namespaces=NS)
    assert sites[0]["site_id"] in d1 and "km 1.20 along yalu-upper" in d1 and "kind: ford" in d1 and "scale: large" in d1
    assert "<td>2025-07-31</td><td>14</td><td>5</td><td>8</td><td>1</td>" in d1  # vehicles, large, small, heavy
    assert "75% (6) [42&#8211;95%]" in d1 and "25% (2) [5&#8211;58%]" in d1  # toward KP, CN, with the 95 % range
    assert "25% (3)</td>" in d1 and "75% (9)</td>" in d1  # the second date has no interval stored: none shown
    assert "<td>3 / 5</td>" in d1 and "fronts of large vehicles are unmeasured" in d1  # what a share rests on
    # how reliable fronts were in that image, from its queued vehicles (stored for large vehicles only)
    assert ("fronts on 2025-07-31, large vehicles: 81 queued pairs agreed 96% where the calibration expected 81%; "
            "factor applied 1.12") in d1 and "fronts on 2025-07-31, cars" not in d1
    assert "on 2025-07-31: longest queue 9 vehicles; a convoy of 7 identical dump_truck" in d1
    assert "on 2025-09-13: longest queue" not in d1
    # counts kept on a snowy date (a detector validated on snow): doubtful; left out: said so
    assert "on 2025-09-13: 58% of the imagery looks snow-covered (snow, ice or cloud): car counts are doubtful" in d1
    assert "on 2025-09-13: the river looks frozen (93% of its surface is ice)" in d1
    assert "on 2025-07-31: the river looks frozen" not in d1
    assert "on 2025-07-31: 1% of the imagery" not in d1  # flagged dates only
    run_id = obs[1]["run_id"]
    assert f"run {run_id} (2025-07-31, 2025-09-13)" in d1
    assert replaced_run not in d1  # the replaced observation is not cited
    d2 = pms[1].findtext("k:description", namespaces=NS)  # the second date's image ends across the bridge
    assert "on 2025-09-13: only 70% of the site was imaged: counts may be low" in d2
    assert "imaged: counts may be low" not in d1
    d3 = pms[2].findtext("k:description", namespaces=NS)
    assert "Candidate crossing site" in d3 and "KP bank only" in d3 and "not imaged (outside that date's analysed imagery)" in d3


def test_sites_in_kmz_and_none_without_sites(corridor, register, tmp_path):
    sites, obs, _ = register
    with zipfile.ZipFile(write_kmz(corridor, tmp_path / "c.kmz", sites=sites, observations=obs)) as zf:
        tree = etree.fromstring(zf.read("doc.kml"))
    assert_valid(tree)
    assert len(tree.findall(".//k:Folder[k:name='Crossing sites']/k:Placemark", NS)) == 4
    plain = etree.parse(str(write_corridor_kml(corridor, tmp_path / "plain.kml")))
    assert "Crossing sites" not in _folders(plain)
    assert not [st for st in plain.iterfind(".//k:Style", NS) if st.get("id").startswith("site-")]


def _withheld_site_html(date: str, **why) -> str:
    """A site's KML description for one date whose counts the register left out (unknown: None), for ``why``."""
    from borderwatch.corridor import load_corridor
    from borderwatch.outputs.kml import _site_html

    c = load_corridor("yalu-upper[0:4]")
    site = {"site_id": "yalu-upper:km001.000", "number": 1, "chainage_km": 1.0, "kind": "ford", "scale": "small",
            "status": "site", "bank_evidence": "both"}
    counts = {k: None for k in ("vehicles", "small_vehicle", "large_vehicle", "heavy_equipment", "toward")}
    obs = {date: {"date": date, "scale": "active", "activity_score": 0.4, "counts": {**counts, **why}}}
    return _site_html(c, site, obs, [date], ["KP", "CN"])


def test_a_snowy_date_whose_counts_were_left_out_says_so():
    """The register leaves a snowy date's counts out (sites.register): the description says why its cells are empty."""
    html = _withheld_site_html("2026-02-10", snow_cover=0.6, snow_flag=True, counts_withheld="snow")
    assert "on 2026-02-10: 60% of the imagery looks snow-covered (snow, ice or cloud): vehicle counts left out" in html
    assert "<td>2026-02-10</td><td>&#8211;</td>" in html  # unknown, not zero


def test_a_date_counted_on_jpeg_imagery_says_so():
    """JPEG scenes are read by the detector's JPEG variant; its counts hold up there, its direction shares less so."""
    from borderwatch.outputs.sites import jpeg_variant_counted

    jpeg, plain = "borderwatch-vehicles-jpeg@0.2.4+front-jpeg-1+screen-1", "borderwatch-vehicles@0.2.3+front-4.1+screen-1"
    html = _withheld_site_html("2025-09-13", detectors=[plain, jpeg])
    assert ("on 2025-09-13: counted on JPEG imagery by the detector's JPEG variant: the direction share is less "
            "reliable there") in html
    assert "JPEG" not in _withheld_site_html("2025-09-13", detectors=[plain])
    assert "JPEG" not in _withheld_site_html("2025-09-13")  # an older store: no detector recorded
    assert jpeg_variant_counted(f"{plain}, {jpeg}") and not jpeg_variant_counted(plain) and not jpeg_variant_counted(None)


def test_a_date_whose_counts_were_left_out_for_river_ice_says_so():
    """Ice floes read as vehicles (sites.register.ICE_FLAG_SHARE): the description says why the cells are empty."""
    html = _withheld_site_html("2026-03-28", snow_cover=0.04, snow_flag=False, river_ice=0.3,
                               counts_withheld="river ice")
    assert ("on 2026-03-28: 30% of the river is ice, whose floes the detector reads as vehicles: vehicle counts left "
            "out") in html
    assert "snow-covered" not in html and "frozen" not in html
    # snowy too, but its counts kept on snow (counts_on_snow): the snow line says doubtful, the ice line left out
    html = _withheld_site_html("2026-03-28", snow_cover=0.6, snow_flag=True, river_ice=0.3, counts_withheld="river ice")
    assert "looks snow-covered (snow, ice or cloud): car counts are doubtful" in html and "vehicle counts left out" in html
