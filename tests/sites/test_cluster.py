"""Grouping clues into sites: chainage runs, and lots joined to the landing they touch."""

from __future__ import annotations

import shapely

from borderwatch.sites.cluster import SiteParams, attach_staging, group_clues
from borderwatch.sites.clues import Clue


def clue(kind, km, x, y, country="CN", score=1.0, size=10.0, **details):
    """A clue whose footprint is a square of `size` metres around (x, y) in the corridor CRS."""
    return Clue(kind, score, "2025-09-13", km, -80.0 if country == "CN" else 80.0, country, x, y,
                shapely.box(x - size / 2, y - size / 2, x + size / 2, y + size / 2), "test", [], details)


def ford(km, x):
    """Landings facing each other across the water at chainage km (x: where along a straight river)."""
    return [clue("track_to_water", km, x, -60.0, "CN", size=40.0), clue("track_to_water", km, x, 60.0, "KP", size=40.0)]


def lot(km, x, y, vehicles=40, large=None):
    return clue("parking", km, x, y, "CN", size=60.0, vehicles=vehicles, large=vehicles if large is None else large,
                area_m2=3600.0)


def test_a_lot_touching_a_landing_far_along_the_river_joins_its_site():
    # on a bend the lot's centre lies 0.2 km of chainage from its landing, but its footprint touches the track
    clues = ford(10.0, 0.0) + [lot(10.2, 0.0, -100.0)]
    (site,) = group_clues(clues, SiteParams(), "KP", "CN")
    assert site.kind == "parking_field" and site.status == "site" and len(site.clues) == 3
    assert abs(site.km - 10.0) < 1e-9  # where it crosses: the landings place it, the lot 0.2 km along does not
    # switched off: the lot alone is too faint to be anything, and the ford stays a ford
    off = SiteParams(staging_attach_m=0, lot_attach_m=0)
    assert [(g.kind, len(g.clues)) for g in group_clues(clues, off, "KP", "CN")] == [("ford", 2)]
    # a parking cluster too small to be a lot (a queue of 8-14) joins only where it touches the landing
    small = ford(10.0, 0.0) + [lot(10.2, 0.0, -150.0, vehicles=10)]
    assert [(g.kind, len(g.clues)) for g in group_clues(small, SiteParams(), "KP", "CN")] == [("ford", 2)]


def test_a_truck_lot_behind_the_bank_road_joins_the_crossing_on_its_bank():
    """On a bend a lot behind the bank road is cut from its landing by chainage and stands well clear of the landing's
    clues (fresh held-out worlds: 125 m; development seed 47: 107 m, its pad reading as a cleared bank). It joins the
    crossing whose clues on its own bank come within lot_attach_m, and the landings, not the lot, place the site."""
    pad = clue("cleared_bank", 10.31, 0.0, -190.0, "CN", size=30.0, area_m2=900.0)
    far_lot = [lot(10.3, 0.0, -207.0), pad]  # the run's near edge (its pad, y -175) 95 m beyond the CN track's (y -80)
    (site,) = group_clues(ford(10.0, 0.0) + far_lot, SiteParams(), "KP", "CN")
    assert site.kind == "parking_field" and site.status == "site" and len(site.clues) == 4
    assert abs(site.km - 10.0) < 1e-9
    assert site.outline.contains(shapely.Point(0.0, -207.0))  # its trucks are counted at the site
    # beyond the reach, or with no clue of the crossing on the lot's bank within it, the lot stays apart
    assert len(group_clues(ford(10.0, 0.0) + far_lot, SiteParams(lot_attach_m=60.0), "KP", "CN")) == 2
    kp_only = [clue("track_to_water", 10.0, 0.0, 60.0, "KP", size=40.0), clue("ford_trace", 10.0, 0.0, 0.0, "KP", size=20.0,
                                                                                ends=["land", "land"], end_countries=["KP", "CN"])]
    lot_far_from_kp = [lot(10.3, 0.0, -400.0)]  # 370 m from the KP clues, across the water
    assert all(len(g.clues) < 3 for g in group_clues(kp_only + lot_far_from_kp, SiteParams(), "KP", "CN"))
    # a fence gap nearer the lot than the landing is no crossing: the lot still goes to the landing
    gap = clue("fence_opening", 10.45, 0.0, -120.0, "CN", size=10.0)
    groups = group_clues(ford(10.0, 0.0) + far_lot + [gap], SiteParams(), "KP", "CN")
    assert [(g.kind, len(g.clues)) for g in groups][0] == ("parking_field", 4)
    # a car park (most of its vehicles cars) is no truck lot: it joins only where it touches the landing
    cars = [lot(10.3, 0.0, -207.0, large=10), pad]
    assert len(group_clues(ford(10.0, 0.0) + cars, SiteParams(), "KP", "CN")) == 2


def test_a_lot_between_two_crossings_joins_the_nearer_and_never_merges_them():
    runs = [ford(10.0, 0.0), [lot(10.25, 0.0, -130.0), clue("cleared_area", 10.26, 0.0, -190.0, size=60.0)],
            ford(10.5, 0.0)]
    runs[2] = [clue(c.kind, c.km, c.x, c.y - 195.0 if c.country == "CN" else c.y, c.country, size=40.0) for c in runs[2]]
    # run 1's lot touches ford A's CN track (gap 20 m); its cleared field touches ford B's (gap 15 m), so the lot and
    # field form one staging group that may join one site only: the nearer edge decides
    out = attach_staging(runs, 30.0)
    assert sorted(len(g) for g in out) == [2, 4]
    joined = next(g for g in out if len(g) == 4)
    assert {c.km for c in joined} == {10.25, 10.26, 10.5}
    # two landings' runs never join each other, however close
    assert len(attach_staging([ford(10.0, 0.0), ford(10.3, 5.0)], 30.0)) == 2


def test_bare_ground_stretches_the_outline_only_where_it_touches_the_sites_other_clues():
    # a harvested field 0.06 km along the river and 60 m beyond the CN track: chainage links it to the site, but
    # the village cars beside it are not the site's; a pad right behind the track is where its vehicles wait
    field = clue("cleared_area", 10.06, 0.0, -220.0, size=120.0, area_m2=14400.0)
    pad = clue("cleared_area", 10.01, 0.0, -110.0, size=40.0, area_m2=1600.0)
    (site,) = group_clues(ford(10.0, 0.0) + [field, pad], SiteParams(), "KP", "CN")
    assert len(site.clues) == 4 and site.evidence_counts()["cleared_area"] == 2  # both are the site's evidence
    assert site.outline.contains(shapely.Point(0.0, -110.0))  # the pad
    assert not site.outline.contains(shapely.Point(0.0, -220.0))  # the field's centre
    # how near is near enough is the staging_attach_m that joins lots to landings
    (wide,) = group_clues(ford(10.0, 0.0) + [field, pad], SiteParams(staging_attach_m=100.0), "KP", "CN")
    assert wide.outline.contains(shapely.Point(0.0, -220.0))


def test_a_harvested_field_facing_a_fence_gap_is_a_candidate_not_a_site():
    """Bare ground (a field cleared or harvested by October) is context beside a landing, not a landing: with a fence
    opening across the water it stays a one-bank candidate. Landings on both banks still make the site."""
    gap = clue("fence_opening", 10.0, 0.0, 60.0, "KP", score=0.9)
    field = clue("cleared_area", 10.02, 0.0, -150.0, "CN", size=150.0, area_m2=22500.0)
    (g,) = group_clues([gap, field], SiteParams(), "KP", "CN")
    assert (g.status, g.bank_evidence) == ("candidate", "KP")
    (g,) = group_clues(ford(10.0, 0.0) + [field], SiteParams(), "KP", "CN")
    assert (g.status, g.bank_evidence, g.kind) == ("site", "both", "parking_field")
    (g,) = group_clues([field], SiteParams(min_score=0.0), "KP", "CN")  # bare ground alone: its bank, as a candidate
    assert (g.status, g.bank_evidence) == ("candidate", "CN")


def test_bare_ground_on_both_banks_names_its_strongest_patch_every_run():
    """A candidate of bare ground only, on both banks: its bank_evidence is the bank of the strongest patch, not
    whichever country a set happens to yield first (that order changes with Python's string hashing)."""
    weak = clue("cleared_area", 10.0, 0.0, 150.0, "KP", score=0.6, size=150.0, area_m2=22500.0)
    strong = clue("cleared_area", 10.01, 0.0, -150.0, "CN", score=0.9, size=150.0, area_m2=22500.0)
    for clues in ([weak, strong], [strong, weak]):
        (g,) = group_clues(clues, SiteParams(min_score=0.0), "KP", "CN")
        assert (g.status, g.bank_evidence) == ("candidate", "CN")


def test_parked_vehicles_facing_each_other_across_the_water_are_a_candidate_not_a_site():
    """Street parking in two towns facing each other (Hyesan and Changbai), with gaps in the bank fence: traffic stands
    near the river on both banks, but nothing shows it goes across. A landing, a deck or a trace makes it a site."""
    cn = lot(10.0, 0.0, -120.0)
    kp = clue("parking", 10.02, 0.0, 120.0, "KP", size=60.0, vehicles=25, area_m2=3600.0)
    gap = clue("fence_opening", 10.01, 0.0, 70.0, "KP", score=0.9)
    (g,) = group_clues([cn, kp, gap], SiteParams(), "KP", "CN")
    assert (g.status, g.bank_evidence) == ("candidate", "both")
    track = clue("track_to_water", 10.01, 0.0, -60.0, "CN", size=40.0)
    (g,) = group_clues([cn, kp, gap, track], SiteParams(), "KP", "CN")
    assert (g.status, g.kind) == ("site", "parking_field")
