"""The corridor: bundled Yalu lines, chainage, banks, stretches, tiles and bad files."""

import json

import pytest
from pyproj import CRS
from shapely.geometry import LineString, Point

from borderwatch.corridor import load_corridor, tile_corridor, utm_crs_for
from borderwatch.corridor.model import Corridor
from borderwatch.errors import CorridorError


@pytest.fixture(scope="module")
def upper():
    return load_corridor("yalu-upper")


def test_yalu_upper_length_and_crs(upper):
    assert upper.length_km == pytest.approx(81.0, abs=1.0)
    assert upper.epsg == 32652
    assert (upper.left_country, upper.right_country) == ("KP", "CN")


def test_hyesan_is_km0_on_the_kp_bank(upper):
    hyesan = upper.place("Hyesan")
    assert hyesan.chainage_km == pytest.approx(0.0, abs=0.01)
    assert hyesan.country == "KP"


def test_changbai_is_opposite_hyesan_on_the_cn_bank(upper):
    # Changbai's GeoNames point lies inside a bend, 0.8 km off the line: its
    # nearest point on the line is 3.7 km upstream of Hyesan's (see SOURCES:
    # OSM chainages 494.93 vs 491.21). It is on the CN bank, within 2.5 km of Hyesan.
    changbai, hyesan = upper.place("Changbai"), upper.place("Hyesan")
    assert changbai.country == "CN"
    assert changbai.chainage_km == pytest.approx(-3.72, abs=0.1)
    a = upper.from_lonlat(Point(changbai.lon, changbai.lat))
    b = upper.from_lonlat(Point(hyesan.lon, hyesan.lat))
    assert a.distance(b) < 2500


def test_places_downstream_and_upstream(upper):
    assert upper.place("Kimjongsuk").chainage_km == pytest.approx(81.08, abs=0.05)
    assert upper.place("Poch'on").chainage_km < 0  # upstream of Hyesan
    assert upper.place("kimhyongjik-up").chainage_km > upper.length_km  # beyond the stretch
    assert [p.chainage_km for p in upper.places] == sorted(p.chainage_km for p in upper.places)


def test_locate_sign_and_banks(upper):
    p_left = upper.point_at(40.0, 300.0)
    p_right = upper.point_at(40.0, -300.0)
    loc_l, loc_r = upper.locate(p_left.x, p_left.y), upper.locate(p_right.x, p_right.y)
    assert loc_l.chainage_km == pytest.approx(40.0, abs=0.05)
    assert loc_l.offset_m == pytest.approx(300.0, abs=1.0) and loc_l.country == "KP"
    assert loc_r.offset_m == pytest.approx(-300.0, abs=1.0) and loc_r.country == "CN"
    assert upper.left_bank.contains(p_left) and upper.right_bank.contains(p_right)


def test_stretch_by_km_and_by_place():
    s = load_corridor("yalu-upper[0:10]")
    assert s.length_km == pytest.approx(10.0, abs=1e-6)
    assert s.place("Hyesan").chainage_km == pytest.approx(0.0, abs=0.01)
    mid = load_corridor("yalu-upper[20:30]")
    assert mid.place("Hyesan").chainage_km == pytest.approx(-20.0, abs=0.01)
    whole = load_corridor("yalu")
    assert whole.length_km == pytest.approx(803, abs=2)
    by_place = load_corridor("yalu[Hyesan:Kimjongsuk-up]")
    assert by_place.length_km == pytest.approx(81.08, abs=0.1)


def test_a_stretch_does_not_watch_the_rivers_next_loop():
    """A meander brings the river back within a bank's width: that ground belongs to other chainages."""
    # a hairpin: east 5 km along y=0, a turn, west 5 km along y=1000
    parent = LineString([(0, 0), (5000, 0), (5500, 500), (5000, 1000), (0, 1000)])
    c = Corridor("hairpin", parent, CRS.from_epsg(32652), "KP", "CN", "origin", parent_line=parent)
    s = c.stretch(1.0, 4.0)  # on the first arm only
    assert s.area.contains(Point(2500, 300)) and s.area.contains(Point(2500, -1400))  # its own banks
    assert not s.area.contains(Point(2500, 900))  # beside the other arm (chainage about 8.8 km), 900 m away
    assert s.area.contains(Point(2500, 480)) and not s.area.contains(Point(2500, 520))  # split halfway, to ~20 m
    assert not s.area.contains(Point(800, 0)) and not s.area.contains(Point(4200, 0))  # beyond its ends
    # the whole corridor watches both arms, and a line with no parent keeps its plain bank strips
    assert c.area.contains(Point(2500, 900)) and c.area.contains(Point(2500, 300))
    alone = Corridor("alone", LineString([(1000, 0), (4000, 0)]), CRS.from_epsg(32652), "KP", "CN", "o")
    assert alone.area.contains(Point(2500, 900)) and alone.area.area == pytest.approx(3000 * 3000, rel=1e-4)


def test_yalu_upper_km_20_29_leaves_the_loop_at_km_17_to_its_neighbour(upper):
    """On the bundled line the river at km 17.3 passes 1.26 km from km 21.5: a km 20-29 run must not claim it."""
    p = upper.point_at(17.31)
    s = upper.stretch(20.0, 29.0)
    assert s.line.distance(p) < 1300
    assert not s.area.contains(p) and upper.area.contains(p) and upper.stretch(15.0, 20.0).area.contains(p)


def test_width_option_changes_area():
    narrow = load_corridor("yalu-upper[0:5]", width_m=500)
    wide = load_corridor("yalu-upper[0:5]")
    assert narrow.area.area < wide.area.area / 2


def test_tiles_are_in_river_order_and_cover_the_corridor():
    c = load_corridor("yalu-upper[0:5]")
    tiles = tile_corridor(c, tile_m=512)
    kms = [t.chainage_km for t in tiles]
    assert kms == sorted(kms)
    assert len({t.tile_id for t in tiles}) == len(tiles)
    covered = sum(t.corridor_share for t in tiles) * 512 * 512
    assert covered == pytest.approx(c.area.area, rel=1e-6)
    # the same ground keeps its id in a longer stretch
    longer = {t.tile_id for t in tile_corridor(load_corridor("yalu-upper[0:8]"), tile_m=512)}
    assert {t.tile_id for t in tiles} <= longer


def test_utm_zone():
    assert utm_crs_for(128.18, 41.4).to_epsg() == 32652
    assert utm_crs_for(-70.0, -33.0).to_epsg() == 32719


def _write_line(tmp_path, coords, **props):
    path = tmp_path / "line.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": coords}}]}))
    return path


def test_corridor_from_geojson_file_oriented_from_origin(tmp_path):
    coords = [[128.0, 41.40], [128.05, 41.41], [128.10, 41.40]]
    path = _write_line(tmp_path, coords, left_country="KP", right_country="CN", origin="128.10,41.40")
    c = load_corridor(str(path))
    start = c.line_lonlat.coords[0]
    assert start[0] == pytest.approx(128.10, abs=1e-4)
    assert c.length_km == pytest.approx(8.6, abs=0.3)


def test_corridor_from_multilinestring_kml(tmp_path):
    kml = tmp_path / "river.kml"
    kml.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>r</name><MultiGeometry>
<LineString><coordinates>128.00,41.40 128.02,41.41</coordinates></LineString>
<LineString><coordinates>128.02,41.41 128.05,41.40</coordinates></LineString>
</MultiGeometry></Placemark></Document></kml>""")
    c = load_corridor(str(kml), left_country="A", right_country="B")
    assert c.line.geom_type == "LineString"
    assert c.length_km == pytest.approx(4.75, abs=0.05)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(CorridorError, match="no-such-river: unknown corridor"):
        load_corridor("no-such-river")


def test_file_without_line_is_a_clear_error(tmp_path):
    path = tmp_path / "points.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [128, 41]}}]}))
    with pytest.raises(CorridorError, match=r"points.geojson: contains no LineString"):
        load_corridor(str(path), left_country="A", right_country="B")


def test_file_that_is_not_vector_data(tmp_path):
    path = tmp_path / "junk.geojson"
    path.write_text("this is not json")
    with pytest.raises(CorridorError, match=r"junk.geojson: not a readable vector file"):
        load_corridor(str(path), left_country="A", right_country="B")


def test_file_without_countries(tmp_path):
    path = _write_line(tmp_path, [[128.0, 41.4], [128.1, 41.4]])
    with pytest.raises(CorridorError, match="which country is on each bank"):
        load_corridor(str(path))


def test_unknown_place_in_stretch():
    with pytest.raises(CorridorError, match="unknown place 'Atlantis'"):
        load_corridor("yalu-upper[Atlantis:10]")


def test_corridor_from_geopackage(tmp_path):
    import geopandas as gpd

    path = tmp_path / "river.gpkg"
    gdf = gpd.GeoDataFrame(
        {"left_country": ["KP"], "right_country": ["CN"], "name": ["test-river"]},
        geometry=[LineString([(128.0, 41.40), (128.05, 41.41), (128.10, 41.40)])],
        crs=4326,
    )
    gdf.to_crs(32652).to_file(path, driver="GPKG")  # another CRS: read back in lon/lat
    c = load_corridor(str(path))
    assert c.name == "test-river" and c.length_km == pytest.approx(8.6, abs=0.3)
    assert c.line_lonlat.coords[0][0] == pytest.approx(128.0, abs=1e-4)


def test_the_yalu_can_be_frozen_from_mid_november_to_mid_april_and_a_stretch_keeps_its_season():
    from datetime import date

    for c in (load_corridor("yalu-upper"), load_corridor("yalu-upper[2:4]"), load_corridor("yalu")):
        assert c.describe()["freeze_season"] == "11-15/04-15"
        assert [c.may_freeze_on(date(2025, m, d)) for m, d in ((7, 31), (9, 13), (11, 14), (11, 15), (12, 31))] == [
            False, False, False, True, True]
        assert [c.may_freeze_on(date(2026, m, d)) for m, d in ((1, 1), (2, 10), (4, 15), (4, 16))] == [True, True, True, False]


def test_a_corridor_file_may_give_its_freeze_season(tmp_path):
    from datetime import date

    coords = [[128.0, 41.40], [128.05, 41.41], [128.10, 41.40]]
    plain = load_corridor(str(_write_line(tmp_path, coords, left_country="KP", right_country="CN")))
    assert plain.freeze_season is None and not plain.may_freeze_on(date(2026, 1, 15))  # unknown: never ice
    (tmp_path / "b").mkdir()
    inside = _write_line(tmp_path / "b", coords, left_country="A", right_country="B", freeze_season="01-05/02-20")
    c = load_corridor(str(inside))
    assert c.freeze_season == ((1, 5), (2, 20)) and c.may_freeze_on(date(2026, 2, 1)) and not c.may_freeze_on(date(2026, 3, 1))
    for i, bad in enumerate(("11-15", "13-01/02-01", "winter", "11-31/04-15")):
        (tmp_path / str(i)).mkdir()
        path = _write_line(tmp_path / str(i), coords, left_country="A", right_country="B", freeze_season=bad)
        with pytest.raises(CorridorError, match=r"line.geojson: freeze season .* is not 'MM-DD/MM-DD'"):
            load_corridor(str(path))


def test_bearing_near_is_the_lines_direction_where_it_passes_a_point():
    from shapely.geometry import MultiLineString

    from borderwatch.corridor.model import bearing_near

    bend = LineString([(0, 0), (0, 1000), (1000, 1000)])  # north, then east: one tile can hold both
    assert bearing_near(bend, 10, 300) == pytest.approx(0.0)
    assert bearing_near(bend, 600, 990) == pytest.approx(90.0)
    # a line clipped to a tile's neighbourhood can come in parts: the nearest part answers
    parts = MultiLineString([[(0, 0), (0, 500)], [(800, 1000), (1000, 1000)]])
    assert bearing_near(parts, 900, 1010) == pytest.approx(90.0) and bearing_near(parts, 5, 100) == pytest.approx(0.0)
    assert bearing_near(LineString(), 0, 0) is None


def test_a_stretch_of_a_line_with_repeated_vertices():
    parent = LineString([(0, 0), (2000, 0), (2000, 0), (4000, 0)])  # a vertex written twice, as some exports do
    c = Corridor("twice", parent, CRS.from_epsg(32652), "KP", "CN", "origin", parent_line=parent)
    s = c.stretch(1.0, 3.0)
    assert s.area.contains(Point(2000, 500)) and not s.area.contains(Point(3500, 500))
