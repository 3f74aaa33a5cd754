"""The site register built from stored evidence rows: grouping, status, stable ids, numbering, warnings."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely

from borderwatch.corridor import load_corridor
from borderwatch.sites import SiteParams, renumber_register, update_register
from borderwatch.sites.belief import belief_for
from borderwatch.store import Store
from borderwatch.imagery.scene import Scene as ImageryScene
from borderwatch.store.store import corridor_record

PKEY, VKEY = "p" * 16, "v" * 16
DATES = ("2025-07-31", "2025-09-13")


@pytest.fixture(scope="module")
def stretch():
    return load_corridor("yalu-upper[0:4]")


class Scene:
    """Evidence and tile rows written the way the pipeline writes them."""

    def __init__(self, store: Store, corridor, detect: bool = False, detector: str | None = None,
                 snow: dict[str, float] | None = None, ice: dict[str, float] | None = None,
                 scene_ids: dict[str, list[str]] | None = None):
        self.store, self.c = store, corridor
        self.snow = snow or {}  # date -> the tiles' snow_share (the pipeline's stat; absent in older results)
        self.ice = ice or {}  # date -> the share of the tiles' river surface that the land cover read as ice
        self.scene_ids = scene_ids or {}  # date -> the scenes its tiles were read from (absent in older results)
        store.upsert_corridor(*corridor_record(corridor))
        versions = {"borderwatch": "test", **({"detector": detector} if detector else {})}
        self.run_id = store.start_run(corridor.name, {"detect": detect, "landcover": True}, versions)
        self.tiles: set[tuple[str, str]] = set()

    def tile(self, date: str, km: float, water: float = 0.3) -> str:
        tid = f"t{int(km * 2)}"
        if (tid, date) not in self.tiles:
            self.tiles.add((tid, date))
            geom = self.c.to_lonlat(self.c.point_at(km).buffer(300, cap_style="square"))
            ice = self.ice.get(date, 0.0)
            cover = {"water": water * (1 - ice), "ice": water * ice, "vegetation": 1 - water} if water else {"vegetation": 1.0}
            self.store.put_tile_results([{
                "tile_id": tid, "date": date, "param_hash": PKEY, "versions_hash": VKEY, "run_id": self.run_id,
                "chainage_km": km, "geometry": geom,
                "stats": {"coverage": 1.0, "landcover": {k: v for k, v in cover.items() if v},
                          **({"valid_pixels": 1000} if date in self.snow or date in self.ice else {}),
                          **({"snow_share": self.snow[date]} if date in self.snow else {}),
                          **({"scene_ids": self.scene_ids[date]} if date in self.scene_ids else {})},
            }])
        return tid

    def evidence(self, kind: str, km: float, offset_m: float, date: str = DATES[0], score: float = 0.9, **details):
        p = self.c.point_at(km, offset_m)
        lon, lat = self.c.to_lonlat(p).coords[0]
        self.store.write_rows("evidence", [{
            "kind": kind, "score": score, "date": date, "run_id": self.run_id, "tile_id": self.tile(date, km),
            "param_hash": PKEY, "versions_hash": VKEY, "country": self.c.country_for_offset(offset_m), "chainage_km": km,
            "details": {"anchor_lonlat": [lon, lat], **details}, "geometry": self.c.to_lonlat(p.buffer(10.0)),
        }])

    def ford(self, km: float, date: str = DATES[0]):
        self.evidence("track_to_water", km, 60.0, date)
        self.evidence("cleared_bank", km + 0.02, -60.0, date, area_m2=600.0)


def build(store, corridor, **kw):
    return update_register(corridor, store, (PKEY, VKEY), **kw)


def test_landings_on_both_banks_make_a_numbered_site_one_bank_a_candidate(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch)
        s.ford(1.0)
        s.evidence("cleared_bank", 2.5, 50.0, area_m2=600.0)  # one bank only
        s.evidence("bridge", 3.2, 0.0, length_m=80.0)  # a deck spans the channel
        reg = build(store, stretch)
        assert [(r["number"], r["status"], r["kind"], r["bank_evidence"]) for r in reg.sites] == [
            (1, "site", "ford", "both"), (None, "candidate", "crossing", "KP"), (2, "site", "bridge", "both")]
        ford, cand, bridge = reg.sites
        assert ford["chainage_km"] == pytest.approx(1.01, abs=0.02)
        assert ford["site_id"].startswith("yalu-upper:km001.0")
        assert cand["score"] < ford["score"]
        assert ford["details"]["sources"]["evidence_fids"] and ford["details"]["result_key"] == [PKEY, VKEY]
        assert ford["geometry"].contains(stretch.to_lonlat(stretch.point_at(1.0, 0.0)))
        assert len(reg.observations) == 3 * 1  # one date analysed
        assert reg.summary["sites"] == 2 and reg.summary["candidates"] == 1
        assert reg.summary["sites_per_km"] == pytest.approx(0.5)
        assert reg.summary["by_kind"] == {"bridge": 1, "ford": 1}
        # stored as returned
        assert {r["site_id"] for r in store.read_rows("sites")} == {r["site_id"] for r in reg.sites}


def two_fords(store, stretch) -> tuple[Scene, object]:
    """Fords at km 1 and 3 on the first date, and the register built from them."""
    s = Scene(store, stretch)
    s.ford(1.0)
    s.ford(3.0)
    return s, build(store, stretch)


def test_ids_stay_and_numbers_follow_river_order_when_dates_and_sites_are_added(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s, first = two_fords(store, stretch)
        ids = {r["number"]: r["site_id"] for r in first.sites}
        # a second date: the same crossings, landings seen a few metres away, and a new one between them
        s.ford(1.03, DATES[1])
        s.ford(2.98, DATES[1])
        s.ford(2.0, DATES[1])
        second = build(store, stretch)
        by_id = {r["site_id"]: r for r in second.sites}
        assert ids[1] in by_id and ids[2] in by_id  # stable ids
        # numbers once given stay; the new site between 1 and 2 is 1a, so the labels still read in river order
        assert [(r["number"], r["label"]) for r in second.sites] == [(1, "1"), (1, "1a"), (2, "2")]
        assert by_id[ids[1]]["label"] == "1" and by_id[ids[2]]["label"] == "2"
        assert len(second.new_ids) == 1 and by_id[second.new_ids[0]]["label"] == "1a"
        assert second.renumbered == [] and not any("numbers changed" in w for w in second.warnings)
        assert any(w.startswith("1 new site(s) lie between") and f"1a ({second.new_ids[0]})" in w and "--renumber" in w
                   for w in second.warnings)
        assert str(by_id[ids[1]]["first_seen"]) == DATES[0] and str(by_id[ids[1]]["last_seen"]) == DATES[1]
        # observations: one per site and date, rebuilt not duplicated
        third = build(store, stretch)
        assert len(third.observations) == 3 * 2 == len(store.read_rows("observations"))
        assert third.new_ids == [] and third.renumbered == []


def test_a_stretch_shares_the_rivers_register_and_chainage(tmp_path):
    part = load_corridor("yalu-upper[2:4]")
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, part)
        s.ford(0.5)  # km 0.5 of the stretch = km 2.5 of yalu-upper
        reg = build(store, part)
        assert reg.corridor == "yalu-upper"
        assert reg.sites[0]["chainage_km"] == pytest.approx(2.51, abs=0.03)
        assert reg.sites[0]["corridor"] == "yalu-upper"


def test_dry_tiles_on_the_river_are_named_and_nothing_is_invented(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch)
        tid = s.tile(DATES[0], 1.5, water=0.0)
        reg = build(store, stretch)
        assert reg.sites == []
        assert any(tid in w and "no water found" in w for w in reg.warnings)


def test_without_land_cover_the_stored_register_is_left_alone(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch)
        s.ford(1.0)
        build(store, stretch)
        before = store.read_rows("sites")
        other = ("q" * 16, VKEY)
        reg = update_register(stretch, store, other)
        assert reg.sites == [] and any("no land cover" in w for w in reg.warnings)
        assert store.read_rows("sites") == before


def test_weak_lone_clues_are_noise_not_candidates(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch)
        s.evidence("cleared_bank", 1.0, 50.0, score=0.3, area_m2=150.0)
        reg = build(store, stretch, params=SiteParams())
        assert reg.sites == []


def test_landings_facing_each_other_add_up_where_one_alone_is_too_faint(tmp_path, stretch):
    """A worn landing on each bank of a quiet ford: neither alone makes a site, the pair does."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch)
        s.evidence("cleared_bank", 1.0, 70.0, score=0.75, area_m2=450.0)
        s.evidence("cleared_bank", 1.005, -60.0, score=0.35, area_m2=200.0)
        s.evidence("cleared_bank", 3.0, 70.0, score=0.75, area_m2=450.0)  # the same landing, alone
        s.evidence("cleared_bank", 3.01, 90.0, score=0.75, area_m2=450.0)  # and another on the same bank
        reg = build(store, stretch)
        assert [(r["number"], r["status"], r["bank_evidence"]) for r in reg.sites] == [(1, "site", "both")]


def test_vehicles_facing_each_bank_give_the_direction_share(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True)
        s.ford(1.0)
        river = stretch.direction_deg_at(1.0, 100.0)
        rows = []
        for i, (offset, heading, cls) in enumerate([
            (40, river - 90, "large_vehicle"), (45, river - 90, "large_vehicle"), (50, river + 90, "large_vehicle"),
            (-40, river + 90, "small_vehicle"), (-45, river, "small_vehicle"), (-50, river + 90, "heavy_equipment"),
            (40.5, river + 90, "small_vehicle"),  # a car on the first truck's deck (a transporter's load)
        ]):
            p = stretch.point_at(1.0, offset)
            box = shapely.box(p.x - 4, p.y - 1.2, p.x + 4, p.y + 1.2)
            rows.append({
                "scene_id": None, "date": DATES[0], "tile_id": s.tile(DATES[0], 1.0), "run_id": s.run_id, "class": cls,
                "subclass": None, "score": 0.9, "length_m": 8.0, "width_m": 2.4, "heading_deg": heading % 360,
                "heading_conf": 0.9, "country": stretch.country_for_offset(offset), "chainage_km": 1.0,
                "dist_water_m": 5.0, "ground": "bank", "geometry": stretch.to_lonlat(box),
            })
        store.write_rows("detections", rows)
        reg = build(store, stretch)
        (obs,) = reg.observations
        c = obs["counts"]
        assert (c["large_vehicle"], c["small_vehicle"], c["heavy_equipment"], c["vehicles"]) == (3, 3, 1, 7)
        # facing the left (KP) bank: 2 trucks; facing CN: 1 truck + 1 car; one car drives along the river;
        # the car carried on a truck faces whichever way it was loaded and is left out of the share
        assert c["cargo_vehicles"] == 1
        assert c["toward"] == {"KP": 2, "CN": 2} and c["share_toward"] == {"KP": 0.5, "CN": 0.5}
        assert c["share_from"] == {"small_vehicle": 1, "large_vehicle": 3}  # what the share rests on
        lo, hi = c["share_interval"]["KP"]  # four vehicles, each front 90 % sure: a wide 95 % range
        assert 0.0 <= lo < 0.3 and 0.7 < hi <= 1.0 and c["share_interval"]["CN"] == [round(1 - hi, 3), round(1 - lo, 3)]
        assert c["heavy_in_water"] == 0 and obs["scale"] == "small" and 0 < obs["activity_score"] < 1
        assert reg.sites[0]["scale"] == "small"


def _vehicles(s: Scene, stretch, items) -> list[dict]:
    """Detection rows: (offset m, heading deg, class, score[, km]), at km 1.0 unless given."""
    rows = []
    for offset, heading, cls, score, *km in items:
        p = stretch.point_at(km[0] if km else 1.0, offset)
        box = shapely.box(p.x - 4, p.y - 1.2, p.x + 4, p.y + 1.2)
        rows.append({
            "scene_id": None, "date": DATES[0], "tile_id": s.tile(DATES[0], 1.0), "run_id": s.run_id, "class": cls,
            "subclass": None, "score": score, "length_m": 8.0, "width_m": 2.4, "heading_deg": heading % 360,
            "heading_conf": 0.95, "country": stretch.country_for_offset(offset), "chainage_km": 1.0,
            "dist_water_m": 5.0, "ground": "bank", "geometry": stretch.to_lonlat(box),
        })
    return rows


@pytest.mark.parametrize("detector, weighed", [("borderwatch-vehicles@0.2.2+front-2+screen-1", True),
                                               ("my-own-detector@3", False)])
def test_likely_false_alarms_barely_move_the_share_of_the_bundled_detector(tmp_path, stretch, detector, weighed):
    """Three sure trucks facing KP, three faint detections facing CN (roof corners in the village beside the ford)."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True, detector=detector)
        s.ford(1.0)
        river = stretch.direction_deg_at(1.0, 100.0)
        store.write_rows("detections", _vehicles(s, stretch, [
            (40, river - 90, "large_vehicle", 0.9), (48, river - 90, "large_vehicle", 0.85), (56, river - 90, "large_vehicle", 0.8),
            (70, river + 90, "small_vehicle", 0.37), (80, river + 90, "small_vehicle", 0.38), (90, river + 90, "small_vehicle", 0.36),
        ]))
        c = build(store, stretch).observations[0]["counts"]
        assert c["toward"] == {"KP": 3, "CN": 3} and c["vehicles"] == 6  # counts stay what the detector reported
        if weighed:
            assert c["share_toward"]["KP"] > 0.8 and c["share_belief"].startswith("borderwatch-vehicles@0.2.2")
        else:  # a detector without a measured belief: every detection counts fully, and the row says so
            assert c["share_toward"]["KP"] == pytest.approx(0.5, abs=0.01) and c["share_belief"] is None
        assert build(store, stretch, params=SiteParams(weigh_by_belief=False)).observations[0]["counts"]["share_belief"] is None


def test_faint_trucks_decide_the_share_over_faint_cars(tmp_path, stretch):
    """At the same low score a "truck" is nearly always a truck and a "car" often a roof corner (sites.belief): four
    faint trucks facing KP outweigh four faint cars facing CN, where one curve for all classes would call it even."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True, detector="borderwatch-vehicles@0.2.3+front-4.1+screen-1")
        s.ford(1.0)
        river = stretch.direction_deg_at(1.0, 100.0)
        store.write_rows("detections", _vehicles(s, stretch, [
            *[(40 + 8 * i, river - 90, "large_vehicle", 0.4) for i in range(4)],
            *[(80 + 8 * i, river + 90, "small_vehicle", 0.4) for i in range(4)],
        ]))
        c = build(store, stretch).observations[0]["counts"]
        assert c["toward"] == {"KP": 4, "CN": 4} and c["share_toward"]["KP"] > 0.75
        assert "per class" in c["share_belief"]
        # the expected vehicles count each class by its own curve: about three of the trucks, hardly any car
        b = belief_for("borderwatch-vehicles@0.2.3")
        assert c["expected_vehicles"] == pytest.approx(float(np.sum(b([0.4] * 8, ["large_vehicle"] * 4 + ["small_vehicle"] * 4))), abs=0.01)
        assert b([0.4], ["large_vehicle"])[0] > 0.5 > b([0.4])[0] > b([0.4], ["small_vehicle"])[0]


@pytest.mark.parametrize("items, scale", [
    ([(45, None, "small_vehicle", 0.4)], "inactive"),  # one doubtful detection (a roof corner?): 0.36 expected
    ([(45, None, "small_vehicle", 0.9)], "inactive"),  # a lone car beside a quiet landing
    ([(45, None, "small_vehicle", 0.45), (60, None, "small_vehicle", 0.4)], "inactive"),  # two doubtful ones: 1.0
    ([(45, None, "small_vehicle", 0.9), (60, None, "small_vehicle", 0.8)], "small"),  # two likely cars: 2.0
])
def test_a_quiet_site_needs_more_than_a_lone_or_doubtful_vehicle_to_be_active(tmp_path, stretch, items, scale):
    """The scale says whether traffic crossed: "small" needs the detections to hold 1.5 likely vehicles or more."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True, detector="borderwatch-vehicles@0.2.2")
        s.ford(1.0)
        river = stretch.direction_deg_at(1.0, 100.0)  # every vehicle faces the KP bank
        store.write_rows("detections", _vehicles(s, stretch, [(o, river - 90, c, sc) for o, _, c, sc in items]))
        (obs,) = build(store, stretch).observations
        c = obs["counts"]
        assert obs["scale"] == scale and c["vehicles"] == len(items)  # counts stay what the detector reported
        assert (c["expected_vehicles"] >= 1.5) == (scale == "small") and c["expected_vehicles"] <= len(items)
        # no traffic seen, no direction: a lone or doubtful vehicle's front is not the site's (its count stays)
        assert c["toward"]["KP"] == len(items)
        assert (c["share_toward"] is None and c["share_interval"] is None) == (scale == "inactive")
        # a detector with no measured belief: each detection counts fully, so two of anything make a site active
        (raw,) = build(store, stretch, params=SiteParams(weigh_by_belief=False)).observations
        assert raw["counts"]["expected_vehicles"] == len(items)
        assert raw["scale"] == ("small" if len(items) >= 2 else "inactive")


@pytest.mark.parametrize("parked, kind", [(10, "ford"), (20, "parking_field")])
def test_a_queue_at_a_landing_is_a_ford_and_a_lot_is_a_parking_field(tmp_path, stretch, parked, kind):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True)
        s.ford(1.0)
        river = stretch.direction_deg_at(1.0, 100.0)
        # trucks in rows of five, 10 m apart each way, 60 m and more inland on the KP bank: one parking cluster
        store.write_rows("detections", _vehicles(s, stretch, [
            (60 + 10 * (i // 5), river - 90, "large_vehicle", 0.9, 1.0 + 0.01 * (i % 5)) for i in range(parked)]))
        reg = build(store, stretch)
        assert [(r["kind"], r["status"]) for r in reg.sites] == [(kind, "site")]
        assert reg.observations[0]["counts"]["parking_vehicles"] == parked


def test_a_ford_trace_carries_a_one_bank_landing_across_but_alone_stays_a_candidate(tmp_path, stretch):
    def trace(s: Scene, km: float, score: float = 0.8):
        ends = [s.c.to_lonlat(s.c.point_at(km, off)).coords[0] for off in (45.0, -45.0)]
        s.evidence("ford_trace", km, 0.0, score=score, ends_lonlat=[list(e) for e in ends])

    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch)
        s.evidence("track_to_water", 1.0, -60.0)  # a landing on the CN bank only ...
        trace(s, 1.02)  # ... and light water across the channel in line with it
        trace(s, 3.0, score=1.0)  # clear light water across, no landing on either bank
        reg = build(store, stretch)
        assert [(r["number"], r["status"], r["kind"], r["bank_evidence"]) for r in reg.sites] == [
            (1, "site", "ford", "both"), (None, "candidate", "crossing", "water")]
        assert reg.sites[0]["details"]["evidence"] == {"ford_trace": 1, "track_to_water": 1}


def test_a_route_over_a_bar_from_land_to_land_is_a_site_on_its_own(tmp_path, stretch):
    def route(s: Scene, km: float, ends: list[str]):
        tips = [list(s.c.to_lonlat(s.c.point_at(km, off)).coords[0]) for off in (70.0, -70.0)]
        s.evidence("bar_track", km, 0.0, score=0.9, ends=ends, ends_lonlat=tips)

    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch)
        route(s, 1.0, ["land", "land"])  # over the bar from one bank to the other
        route(s, 3.0, ["water", "water"])  # a strip between two channels: not enough on its own
        reg = build(store, stretch)
        assert [(r["number"], r["status"], r["bank_evidence"]) for r in reg.sites] == [(1, "site", "both"), (None, "candidate", "water")]


@pytest.mark.parametrize("from_pairs", [True, False])
def test_a_long_queue_says_how_reliable_the_fronts_are(tmp_path, stretch, from_pairs):
    """24 trucks queued nose to tail toward the river, their fronts each stated 80 % sure, every one agreeing with
    its neighbours: the image's fronts are surer than stated, so the share's range narrows (sites.fronts)."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True)
        s.ford(1.0)
        river = stretch.direction_deg_at(1.0, 100.0)
        rows = _vehicles(s, stretch, [(40 + 11 * i, river - 90, "large_vehicle", 0.9) for i in range(24)])
        for r in rows:
            r["heading_conf"], r["subclass"] = 0.8, "dump_truck"
        rows[-1]["subclass"] = "truck"
        store.write_rows("detections", rows)
        reg = build(store, stretch, params=SiteParams(front_from_pairs=from_pairs))
        c = reg.observations[0]["counts"]
    # one queue of 24, a convoy of the 23 identical dump trucks in it (sites.queues)
    assert (c["longest_queue"], c["convoy"], c["convoy_subclass"]) == (24, 23, "dump_truck")
    inside = c["share_from"]["large_vehicle"]
    assert inside >= 5 and c["share_toward"]["KP"] == 1.0
    rel = c["front_reliability"]["large_vehicle"]
    lo = c["share_interval"]["KP"][0]
    if from_pairs:
        assert rel["pairs"] == 23 and rel["agree"] == 1.0 and rel["expected"] == 0.68
        assert rel["range"][0] > 1.0 and rel["applied"] == rel["factor"] and lo > 0.9  # measured 0.915
    else:
        assert rel is None and lo < 0.9  # the fixed range 0.6-1.2 on 80 % fronts: 0.855


def _queue(s: Scene, stretch, offsets, heading, km=1.0, dist_water=20.0):
    rows = _vehicles(s, stretch, [(o, heading, "large_vehicle", 0.9, km) for o in offsets])
    for r, o in zip(rows, offsets):
        r["dist_water_m"] = dist_water + abs(o) - abs(offsets[0])
        r["ground"] = "land"
    return rows


def test_queues_waiting_at_both_landings_make_a_site_where_no_track_is_seen(tmp_path, stretch):
    """Trucks waiting on a landing cover its track's last metres (the land cover reads them as built-up), so no
    track reaches the water; queues pointing across the river on both banks still show the crossing."""
    river = stretch.direction_deg_at(1.0, 100.0)
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True)
        s.tile(DATES[0], 1.0)
        store.write_rows("detections", _queue(s, stretch, [60, 70, 80, 90], river - 90)
                         + _queue(s, stretch, [-60, -70, -80], river + 90))
        reg = build(store, stretch)
        assert [(r["status"], r["kind"], r["bank_evidence"]) for r in reg.sites] == [("site", "ford", "both")]
        assert reg.sites[0]["details"]["evidence"] == {"landing_queue": 2}
        assert reg.observations[0]["counts"]["large_vehicle"] == 7


@pytest.mark.parametrize("built_up, site", [(0.5, False), (0.1, True), (None, True)])
def test_cars_queued_among_buildings_are_a_towns_traffic(tmp_path, stretch, built_up, site):
    """Two towns facing each other: cars queued in streets that run down to the river on both banks, and parked in
    a row. Among buildings (built_up_around, pipeline.tasks) the queues are no landing, and the parked row alone is
    too faint to keep (at most a candidate: sites.cluster.NOT_CROSSING_KINDS). On open ground, or where the surroundings are not known (a store from before they were read), the
    queues make a site."""
    river = stretch.direction_deg_at(1.0, 100.0)
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True)
        s.tile(DATES[0], 1.0)
        rows = (_queue(s, stretch, [60, 70, 80, 90], river - 90) + _queue(s, stretch, [-60, -70, -80], river + 90)
                + _vehicles(s, stretch, [(150 + 3 * k, river, "small_vehicle", 0.9) for k in range(10)]))
        for r in rows:
            r["built_up_around"] = built_up
        store.write_rows("detections", rows)
        reg = build(store, stretch)
        assert [(r["status"], r["details"]["evidence"]) for r in reg.sites] == (
            [("site", {"landing_queue": 2, "parking": 1})] if site else [])


@pytest.mark.parametrize("cls, built_up, candidate", [
    ("small_vehicle", 0.5, False),  # a town's parked cars on both banks
    ("small_vehicle", 0.1, True),  # cars on open ground
    ("large_vehicle", 0.5, True),  # a lot packed with trucks (its gaps and hidden trucks read as built-up)
    ("small_vehicle", None, True),  # surroundings not known
])
def test_a_towns_parked_cars_make_no_parking_clue(tmp_path, stretch, cls, built_up, candidate):
    """Parking clusters facing each other across the river: a candidate (nothing at the water), unless they are
    mostly cars among buildings (sites.clues.TOWN_CARS_SHARE): a town's parking then makes no clue at all."""
    river = stretch.direction_deg_at(1.0, 100.0)
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True)
        s.tile(DATES[0], 1.0)
        rows = _vehicles(s, stretch, [(side * (150 + 6 * row), river, cls, 0.9, 1.0 + 0.004 * k)
                                      for side in (1, -1) for row in range(5) for k in range(6)])
        for r in rows:
            r["built_up_around"], r["ground"] = built_up, "land"
        rows[0]["class"] = "large_vehicle"  # a bus or a van among the cars
        store.write_rows("detections", rows)
        reg = build(store, stretch)
        assert [(r["status"], r["kind"], r["details"]["evidence"]) for r in reg.sites] == (
            [("candidate", "parking_field", {"parking": 2})] if candidate else [])


@pytest.mark.parametrize("what", ["along the river", "far from the water"])
def test_traffic_that_is_not_waiting_at_a_landing_makes_no_queue_clue(tmp_path, stretch, what):
    river = stretch.direction_deg_at(1.0, 100.0)
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True)
        s.tile(DATES[0], 1.0)
        rows = []
        for side in (1, -1):
            if what == "along the river":  # a bank road's traffic, nose to tail along the river
                rows += _vehicles(s, stretch, [(60 * side, river, "large_vehicle", 0.9, 1.0 + 0.01 * k) for k in range(4)])
            else:
                rows += _queue(s, stretch, [side * o for o in (60, 70, 80, 90)], river - 90 * side, dist_water=150.0)
        store.write_rows("detections", rows)
        assert build(store, stretch).sites == []


def test_a_number_once_given_is_never_given_to_another_site_and_renumbering_is_a_new_edition(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s, first = two_fords(store, stretch)
        assert [r["label"] for r in first.sites] == ["1", "2"]
        last = first.sites[1]["site_id"]
        # a rerun with other parameters no longer finds site 2: its number is not handed on
        store.delete_rows("evidence", {"chainage_km": 3.0})
        store.delete_rows("evidence", {"chainage_km": 3.02})
        s.ford(3.6, DATES[1])
        second = build(store, stretch)
        assert last not in {r["site_id"] for r in second.sites}
        assert [r["label"] for r in second.sites] == ["1", "3"]
        ledger = store.read_rows("site_numbers", {"corridor": "yalu-upper"})
        assert [(r["label"], r["edition"]) for r in ledger] == [("1", 1), ("2", 1), ("3", 1)]
        assert ledger[1]["site_id"] == last
        # the user renumbers: 1 .. N in river order, a new edition; the first edition stays in the ledger
        changes = renumber_register(store, "yalu-upper")
        assert [(was, now) for _, was, now in changes] == [("1", "1"), ("3", "2")]
        assert [r["label"] for r in sorted(store.read_rows("sites"), key=lambda r: r["chainage_km"])] == ["1", "2"]
        assert [(r["label"], r["edition"]) for r in store.read_rows("site_numbers")][-2:] == [("1", 2), ("2", 2)]
        # later builds keep the new edition's numbers
        third = build(store, stretch)
        assert [r["label"] for r in third.sites] == ["1", "2"] and third.renumbered == []


def test_a_site_that_loses_its_confirmation_gets_its_number_back_when_confirmed_again(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s, _ = two_fords(store, stretch)
        store.delete_rows("evidence", {"chainage_km": 1.02})  # one bank only now: a candidate
        second = build(store, stretch)
        assert [(r["label"], r["status"]) for r in second.sites] == [(None, "candidate"), ("2", "site")]
        assert any("numbers changed" in w and "1->-" in w for w in second.warnings)
        s.evidence("cleared_bank", 1.02, -60.0, DATES[1], area_m2=600.0)
        third = build(store, stretch)
        assert [(r["label"], r["status"]) for r in third.sites] == [("1", "site"), ("2", "site")]


def test_a_snowy_date_is_flagged_in_its_observations_and_warned_about(tmp_path, stretch):
    """The detector over-counts cars on snow: a register must say which dates were snowy before anyone compares them."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, snow={DATES[0]: 0.01, DATES[1]: 0.62})
        for d in DATES:
            s.ford(1.0, d)
        reg = build(store, stretch)
        by_date = {str(o["date"])[:10]: o["counts"] for o in reg.observations}
        assert (by_date[DATES[0]]["snow_cover"], by_date[DATES[0]]["snow_flag"]) == (0.01, False)
        assert (by_date[DATES[1]]["snow_cover"], by_date[DATES[1]]["snow_flag"]) == (0.62, True)
        snowy = [w for w in reg.warnings if "snow" in w]
        assert len(snowy) == 1 and snowy[0].startswith(f"{DATES[1]}: 62% of the watched area looks snow-covered")
        assert "hides tracks" in snowy[0] and "counts" not in snowy[0]  # no detector ran: nothing left out


def test_results_without_a_snow_share_say_unknown_not_snow_free(tmp_path, stretch):
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        Scene(store, stretch).ford(1.0)
        reg = build(store, stretch)
        (obs,) = reg.observations
        assert obs["counts"]["snow_cover"] is None and obs["counts"]["snow_flag"] is None
        assert not any("snow" in w for w in reg.warnings)


def test_a_frozen_river_is_said_and_a_route_over_the_ice_makes_a_site(tmp_path, stretch):
    """On a frozen date the landings face each other across the ice: an ice road joins them as a ford trace does
    across water, the river's ice share is in the observations, and ice is not taken for a dry river."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, ice={DATES[0]: 0.0, DATES[1]: 1.0})
        s.ford(1.0, DATES[0])
        s.evidence("track_to_water", 1.0, 60.0, DATES[1])
        p_kp, p_cn = stretch.point_at(1.01, 50.0), stretch.point_at(1.01, -50.0)
        ends = [list(stretch.to_lonlat(p).coords[0]) for p in (p_kp, p_cn)]
        s.evidence("ice_road", 1.01, 0.0, DATES[1], ends=["land", "land"], ends_lonlat=ends)
        reg = build(store, stretch)
        assert [(r["status"], r["kind"], r["bank_evidence"]) for r in reg.sites] == [("site", "ford", "both")]
        assert reg.sites[0]["details"]["evidence"] == {"cleared_bank": 1, "ice_road": 1, "track_to_water": 2}
        by_date = {str(o["date"])[:10]: o["counts"] for o in reg.observations}
        assert (by_date[DATES[0]]["river_ice"], by_date[DATES[1]]["river_ice"]) == (0.0, 1.0)
        assert [w for w in reg.warnings if "frozen" in w] == [
            f"{DATES[1]}: the river looks frozen (100% of its surface is ice): vehicles cross on the ice, so look for "
            "ice roads rather than ford traces, and read fewer fords as a change of route, not of traffic"]
        assert not any("no water" in w for w in reg.warnings)
        # the ice road alone, from land to land, reaches both banks (as a ford trace would)
        for kind in ("track_to_water", "cleared_bank"):
            store.delete_rows("evidence", {"kind": kind})
        assert [(r["status"], r["bank_evidence"]) for r in build(store, stretch).sites] == [("site", "both")]


def test_the_snow_cover_of_a_date_weighs_each_tile_by_its_imagery():
    from borderwatch.sites.register import snow_cover

    tiles = [{"date": DATES[0], "stats": {"valid_pixels": 300, "snow_share": 0.9}},
             {"date": DATES[0], "stats": {"valid_pixels": 100, "snow_share": 0.1}},
             {"date": DATES[0], "stats": {"valid_pixels": 0}},  # no imagery: no say
             {"date": DATES[1], "stats": {"valid_pixels": 500}}]  # analysed before the share was recorded
    assert snow_cover(tiles) == {DATES[0]: pytest.approx(0.7)}


def _ford_with_six_cars(s: Scene, store, stretch, dates) -> None:
    """A ford at km 1 with six cars crossing toward one bank on each date (detections as the pipeline writes them)."""
    river = stretch.direction_deg_at(1.0, 100.0)
    for d in dates:
        s.ford(1.0, d)
        rows = _vehicles(s, stretch, [(40 + 10 * i, river - 90, "small_vehicle", 0.8) for i in range(6)])
        store.write_rows("detections", [{**r, "date": d, "tile_id": s.tile(d, 1.0)} for r in rows])


def test_a_snowy_dates_detections_are_left_out_unless_asked_for(tmp_path, stretch):
    """On snow the bundled detector reports thousands of false cars: their counts and clues would be a fake surge of
    traffic. The register leaves them out (unknown, not zero) unless the detector is known to work on snow."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True, detector="borderwatch-vehicles@0.2.3", snow={DATES[0]: 0.0, DATES[1]: 0.6})
        _ford_with_six_cars(s, store, stretch, DATES)
        reg = build(store, stretch)
        c = {str(o["date"])[:10]: o for o in reg.observations}
        assert c[DATES[0]]["counts"]["vehicles"] == 6 and c[DATES[0]]["scale"] == "small"
        snowy = c[DATES[1]]["counts"]
        assert snowy["vehicles"] is None and snowy["share_toward"] is None and snowy["counts_withheld"] == "snow"
        assert snowy["detections_run"] is True and snowy["snow_flag"] is True
        assert c[DATES[1]]["scale"] == "active"  # from the ground evidence alone, as without a detector
        assert any(w.startswith(f"{DATES[1]}: 60% of the watched area") and "left out of the register" in w
                   for w in reg.warnings)
        kept = {str(o["date"])[:10]: o["counts"] for o in build(store, stretch, params=SiteParams(counts_on_snow=True)).observations}
        assert kept[DATES[1]]["vehicles"] == 6 and "counts_withheld" not in kept[DATES[1]]


def test_a_date_with_river_ice_has_its_detections_left_out_unless_asked_for(tmp_path, stretch):
    """Freezing or breaking ice: the bundled detector reads floes and the ice edge as vehicles, with no snow to flag
    the date. From 10 % of the river's surface as ice its counts are left out (unknown, not zero), as on snow."""
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True, detector="borderwatch-vehicles@0.2.3",
                  snow={DATES[0]: 0.0, DATES[1]: 0.04}, ice={DATES[0]: 0.05, DATES[1]: 0.3})
        _ford_with_six_cars(s, store, stretch, DATES)
        reg = build(store, stretch)
        c = {str(o["date"])[:10]: o["counts"] for o in reg.observations}
        assert c[DATES[0]]["vehicles"] == 6 and "counts_withheld" not in c[DATES[0]]  # 5 % ice: kept
        assert c[DATES[1]]["vehicles"] is None and c[DATES[1]]["counts_withheld"] == "river ice"
        assert c[DATES[1]]["snow_flag"] is False and c[DATES[1]]["detections_run"] is True
        assert [w for w in reg.warnings if "floes" in w] == [
            f"{DATES[1]}: 30% of the river's surface is ice; the bundled detector, trained without river ice, reads ice "
            "floes and the edge of the ice as vehicles, so this date's vehicle counts are left out of the register "
            "(unknown, not zero; the detections stay in the store and detections.geojson)"]
        kept = build(store, stretch, params=SiteParams(counts_on_ice=True))
        assert {str(o["date"])[:10]: o["counts"]["vehicles"] for o in kept.observations} == {DATES[0]: 6, DATES[1]: 6}
        assert any("counts are kept (counts_on_ice)" in w for w in kept.warnings)
    # snow and ice on one date: both reasons; keeping counts on snow alone does not keep them
    with Store.open(tmp_path / "both.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True, detector="borderwatch-vehicles@0.2.3", snow={DATES[1]: 0.6},
                  ice={DATES[1]: 0.3})
        _ford_with_six_cars(s, store, stretch, DATES[1:])
        both = {str(o["date"])[:10]: o["counts"] for o in build(store, stretch).observations}
        assert both[DATES[1]]["counts_withheld"] == "snow and river ice"
        on_snow = build(store, stretch, params=SiteParams(counts_on_snow=True)).observations
        assert {str(o["date"])[:10]: o["counts"].get("counts_withheld") for o in on_snow}[DATES[1]] == "river ice"


def test_the_river_ice_of_a_date_weighs_each_tiles_river_by_its_imagery():
    from borderwatch.sites.register import river_ice

    tiles = [{"date": DATES[0], "stats": {"valid_pixels": 300, "landcover": {"ice": 0.2, "water": 0.1, "forest": 0.7}}},
             {"date": DATES[0], "stats": {"valid_pixels": 100, "landcover": {"water": 0.3, "forest": 0.7}}},
             {"date": DATES[0], "stats": {"valid_pixels": 100, "landcover": {"forest": 1.0}}},  # no river: no say
             {"date": DATES[1], "stats": {"valid_pixels": 500}},  # no land cover: not measured
             {"date": DATES[1], "stats": {"valid_pixels": 500, "landcover": {"vegetation": 1.0}}}]
    assert river_ice(tiles) == {DATES[0]: pytest.approx(60 / (90 + 30))}


def test_vehicles_on_a_frozen_river_are_crossing_clues_and_equipment_on_the_ice_is_in_the_river(tmp_path, stretch):
    river = stretch.direction_deg_at(1.0, 100.0)
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        s = Scene(store, stretch, detect=True)
        s.ford(1.0)
        rows = _vehicles(s, stretch, [(10.0, river + 90, "large_vehicle", 0.9), (-5.0, river, "heavy_equipment", 0.9)])
        for r in rows:
            r["ground"], r["dist_water_m"] = "ice", 0.0
        store.write_rows("detections", rows)
        reg = build(store, stretch)
        evidence = reg.sites[0]["details"]["evidence"]
        assert evidence.get("vehicle_on_ice") == 1 and evidence.get("heavy_at_water") == 1
        assert "vehicle_in_water" not in evidence
        assert reg.observations[0]["counts"]["heavy_in_water"] == 1


def _scene_over(corridor, date: str, km: tuple[float, float], name: str) -> ImageryScene:
    """A registered scene whose valid-data footprint covers the watched corridor from km[0] to km[1]."""
    ground = shapely.union_all([corridor.point_at(k).buffer(700) for k in np.arange(km[0], km[1] + 1e-9, 0.1)])
    sha = (name * 64)[:64]
    return ImageryScene(scene_id=sha[:16], path=f"{name}.tif", sha256=sha, capture_date=dt.date.fromisoformat(date),
                        date_source="tag", provider="test", sensor="test", gsd_m=0.5, band_count=3,
                        band_names=("red", "green", "blue"), dtype="uint8", width=1, height=1, crs_wkt="",
                        footprint_wkt=corridor.to_lonlat(ground).wkt)


def test_a_site_outside_a_dates_imagery_gets_no_observation_that_date_not_zero_vehicles(tmp_path, stretch):
    # the second date's image ends at km 2: the ford at km 3 was not seen that day, which is not "traffic stopped"
    full, half = _scene_over(stretch, DATES[0], (0.0, 4.0), "a"), _scene_over(stretch, DATES[1], (0.0, 2.0), "b")
    with Store.open(tmp_path / "s.gpkg", create=True) as store:
        store.add_scenes([full, half])
        s = Scene(store, stretch, scene_ids={DATES[0]: [full.scene_id], DATES[1]: [half.scene_id]})
        s.ford(1.0, DATES[0])
        s.ford(3.0, DATES[0])
        s.ford(1.0, DATES[1])
        s.tile(DATES[1], 3.0)  # the second date's run also read the tile past the image's end (no pixels there)
        reg = build(store, stretch)
        seen = {(r["site_id"], str(o["date"])[:10]): o for r in reg.sites for o in reg.observations
                if o["site_id"] == r["site_id"]}
        near, far = (r["site_id"] for r in reg.sites)
        assert set(seen) == {(near, DATES[0]), (near, DATES[1]), (far, DATES[0])}
        assert seen[(near, DATES[1])]["counts"]["imaged_share"] == 1.0
        assert str(next(r for r in reg.sites if r["site_id"] == far)["last_seen"]) == DATES[0]
        assert reg.summary["trend"][DATES[1]]["imaged"] == 1 and reg.summary["trend"][DATES[0]]["imaged"] == 2
        # a rebuild after the first one had observed the far site on both dates drops the stale observation
        stale = {k: v for k, v in seen[(far, DATES[0])].items() if k not in ("fid", "created_at")}
        store.write_rows("observations", [{**stale, "date": DATES[1]}])
        again = build(store, stretch)
        assert {(o["site_id"], str(o["date"])[:10]) for o in again.observations} == set(seen)
