"""Scoring a site register against synthetic truth: matching, counts, direction, stability."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from shapely.geometry import Point

from borderwatch.corridor import load_corridor
from borderwatch.errors import InputError
from borderwatch.sites.evaluate import (
    chainage_offset_km,
    compare_registers,
    evaluate_sites,
    add_found,
    explain_direction,
    format_found,
    format_scores,
    found_by_ground,
    match_by_chainage,
    merge_scores,
    truth_class_counts,
    truth_direction_counts,
    truth_direction_shares,
)
from borderwatch.synth import SynthWorld

D1, D2 = "2025-07-31", "2025-09-13"


@pytest.fixture(scope="module")
def corridor():
    return load_corridor("yalu-upper")


def truth(site_id, km, s1="large", s2="large", kind="ford"):
    return {"site_id": site_id, "kind": kind, "chainage_km": km, "scale_by_date": {D1: s1, D2: s2}}


def pred(site_id, km, number, status="site", kind="ford", **kw):
    return {"site_id": site_id, "chainage_km": km, "number": number, "status": status, "kind": kind, "score": 0.8, **kw}


def obs(site_id, d, scale="large", kp=None, cn=None, share=True, interval=None):
    counts = {}
    if kp is not None:
        counts["toward"] = {"KP": kp, "CN": cn}
        tot = kp + cn
        if share is not None:  # None: an observation from before the weighed share (no share_toward at all)
            counts["share_toward"] = ({"KP": kp / tot, "CN": cn / tot} if tot else None) if share else None
    if interval is not None:
        counts["share_interval"] = {"KP": list(interval), "CN": [1 - interval[1], 1 - interval[0]]}
    return {"site_id": site_id, "date": d, "scale": scale, "counts": counts}


def test_perfect_register_scores_one():
    t = [truth("T1", 1.0), truth("T2", 4.0, kind="bridge"), truth("T3", 7.5, kind="parking_field")]
    p = [pred("P1", 1.03, 1), pred("P2", 3.95, 2, kind="bridge"), pred("P3", 7.5, 3, kind="parking_field")]
    s = evaluate_sites(p, [], t, {D1: {}, D2: {}})
    assert (s.recall, s.precision, s.recall_confirmed, s.precision_confirmed) == (1.0, 1.0, 1.0, 1.0)
    assert s.chainage_error_m["max"] == pytest.approx(50.0)
    assert s.chainage_error_m["median"] == pytest.approx(30.0)
    assert s.numbering_in_order and s.numbering_consecutive and s.matches_in_truth_order
    assert s.kind_accuracy == 1.0
    assert [m.pred_id for m in s.matches] == ["P1", "P2", "P3"]
    assert s.targets()["recall (sites+candidates)"]["ok"]
    assert s.targets()["chainage error max (m)"]["ok"]


def test_matching_is_one_to_one_and_maximises_matches():
    # greedy nearest-first would pair P1-T2 (100 m) and then leave P2 (450 m from T1) unmatched
    pairs = match_by_chainage([1.2, 1.45], [1.0, 1.3], 250.0)
    assert sorted((r, c) for r, c, _ in pairs) == [(0, 0), (1, 1)]
    # two predictions on one truth site: one is true, the other false
    s = evaluate_sites([pred("P1", 2.0, 1), pred("P2", 2.05, 2)], [], [truth("T1", 2.02)], {D1: {}, D2: {}})
    assert s.tp == 1 and len(s.false_sites) == 1 and s.precision == 0.5 and s.recall == 1.0
    assert s.matches[0].pred_id == "P1"  # the nearer one
    # beyond the gate nothing matches
    s = evaluate_sites([pred("P1", 2.3, 1)], [], [truth("T1", 2.0)], {D1: {}, D2: {}}, match_m=250)
    assert s.tp == 0 and [m["site_id"] for m in s.misses] == ["T1"] and s.recall == 0.0


def test_truth_site_never_active_is_not_counted_and_a_prediction_there_is_false():
    t = [truth("T1", 1.0), truth("T2", 5.0, "inactive", "inactive")]
    s = evaluate_sites([pred("P1", 1.0, 1), pred("P2", 5.0, 2)], [], t, {D1: {}, D2: {}})
    assert s.n_truth == 1 and s.n_truth_inactive == 1
    assert s.recall == 1.0 and s.precision == 0.5
    assert [f["site_id"] for f in s.false_sites] == ["P2"]
    # evaluated on the first date only, a site that appears later does not count either
    t = [truth("T1", 1.0), truth("T3", 3.0, "inactive", "large")]
    s = evaluate_sites([pred("P1", 1.0, 1)], [], t, {D1: {}}, dates=[D1])
    assert s.n_truth == 1 and s.recall == 1.0


def test_candidates_are_scored_with_and_without():
    t = [truth("T1", 1.0), truth("T2", 4.0)]
    p = [pred("P1", 1.0, 1), pred("P2", 4.02, 2, status="candidate"), pred("P3", 6.0, 3, status="candidate")]
    s = evaluate_sites(p, [], t, {D1: {}, D2: {}})
    assert s.recall == 1.0 and s.precision == pytest.approx(2 / 3)
    assert s.recall_confirmed == 0.5 and s.precision_confirmed == 1.0
    assert s.candidates == {"true": 1, "false": 1}
    tg = s.targets()
    assert tg["precision (sites only)"]["ok"] and not tg["precision (sites+candidates)"]["ok"]
    assert not tg["recall (sites only)"]["ok"]


def test_window_edges_are_left_out():
    t = [truth("T0", 10.03), truth("T1", 12.0), truth("T2", 19.95)]
    p = [pred("P0", 10.05, 1), pred("P1", 12.0, 2), pred("P9", 19.98, 3), pred("Px", 25.0, 4)]
    s = evaluate_sites(p, [], t, {D1: {}, D2: {}}, km_range=(10.0, 20.0), edge_m=100.0)
    assert s.n_truth == 1 and s.n_truth_edge == 2
    assert s.tp == 1 and s.n_pred == 1 and s.n_pred_ignored == 3  # two at the edges, one outside
    assert not s.false_sites and not s.misses
    # an unmatched prediction inside the window proper is false
    s = evaluate_sites([*p, pred("Pf", 15.0, 5)], [], t, {D1: {}, D2: {}}, km_range=(10.0, 20.0))
    assert [f["site_id"] for f in s.false_sites] == ["Pf"]


def test_numbering_out_of_river_order_is_reported():
    t = [truth("T1", 1.0), truth("T2", 4.0), truth("T3", 8.0)]
    p = [pred("P1", 1.0, 1), pred("P2", 4.0, 3), pred("P3", 8.0, 2)]
    s = evaluate_sites(p, [], t, {D1: {}, D2: {}})
    assert not s.numbering_in_order and s.numbering_consecutive and not s.matches_in_truth_order
    assert s.numbering_offending[0]["a"]["number"] == "3" and s.numbering_offending[0]["b"]["number"] == "2"
    assert not s.targets()["numbering in river order"]["ok"]
    s = evaluate_sites([pred("P1", 1.0, 1), pred("P2", 4.0, 3)], [], t[:2], {D1: {}, D2: {}})
    assert s.numbering_in_order and not s.numbering_consecutive
    assert "out of order" not in format_scores(s)
    # a site numbered after its neighbours (1a) reads in river order; a lettered label out of place does not
    s = evaluate_sites([pred("P1", 1.0, 1), pred("P2", 4.0, 1, label="1a"), pred("P3", 8.0, 2)], [], t, {D1: {}, D2: {}})
    assert s.numbering_in_order and not s.numbering_consecutive and s.matches_in_truth_order
    assert [m.number for m in s.matches] == ["1", "1a", "2"]
    s = evaluate_sites([pred("P1", 1.0, 1, label="1a"), pred("P2", 4.0, 1), pred("P3", 8.0, 2)], [], t, {D1: {}, D2: {}})
    assert not s.numbering_in_order and s.numbering_offending[0]["a"]["number"] == "1a"


def test_direction_share_errors_per_site_and_date():
    t = [truth("T1", 1.0), truth("T2", 4.0, "inactive", "small"), truth("T3", 7.0)]
    p = [pred("P1", 1.0, 1), pred("P2", 4.0, 2), pred("P3", 7.0, 3)]
    shares = {
        D1: {"T1": {"KP": 0.5, "CN": 0.5}, "T2": None, "T3": {"KP": 1.0, "CN": 0.0}},
        D2: {"T1": {"KP": 0.25, "CN": 0.75}, "T2": {"KP": 0.0, "CN": 1.0}, "T3": None},
    }
    counts = {D1: {"T1": {"KP": 5, "CN": 5}, "T3": {"KP": 3, "CN": 0}}, D2: {"T1": {"KP": 2, "CN": 6}, "T2": {"KP": 0, "CN": 2}}}
    o = [
        obs("P1", D1, kp=6, cn=4, interval=(0.3, 0.85)),  # 0.6 vs 0.5: within; truth inside the interval
        obs("P1", D2, kp=2, cn=2, share=None, interval=(0.3, 0.7)),  # raw 0.5 vs 0.25, and outside the interval
        obs("P2", D1, scale="inactive", kp=1, cn=0),  # predicted share on an idle truth site
        obs("P2", D2, scale="small", kp=0, cn=3),  # 0.0 vs 0.0 (no interval given: not scored for coverage)
        obs("P3", D1, kp=2, cn=0),  # 1.0 vs 1.0
        # P3 has no observation on D2 (truth idle there)
    ]
    s = evaluate_sites(p, o, t, shares, truth_counts_by_date=counts, min_direction_vehicles=5)
    d = s.direction_summary
    assert d["all"]["pairs"] == 4 and d["all"]["within"] == 3 and d["all"]["pred_only"] == 1
    assert d["all"]["max"] == pytest.approx(0.25) and d["all"]["missing_pred"] == 0
    assert d["ge5"]["pairs"] == 2 and d["ge5"]["within"] == 1  # T1 on both dates
    assert d["ge8"]["pairs"] == 2 and d["ge11"]["pairs"] == 0  # T1 has 10 and 8 vehicles facing a bank
    # only P1 on D2 states an interval at most 0.5 wide (0.3-0.7), and misses by 0.25
    assert d["interval_le0.5"]["pairs"] == 1 and d["interval_le0.5"]["within"] == 0
    assert "direction (interval_le0.5): 1 site-dates compared" in format_scores(s)
    assert d["all"]["interval_coverage"] == pytest.approx(0.5)  # one of the two intervals holds the truth
    assert "truth inside the 95 % interval: 0.500" in format_scores(s)
    assert not s.targets()["direction within ±0.15 (all site-dates)"]["ok"]
    errs = {(p.truth_id, p.date): p.error for p in s.direction}
    assert errs[("T1", D2)] == pytest.approx(0.25) and errs[("T3", D2)] is None
    # scale per date: a missing observation is its own column
    assert s.scale_confusion[D2]["large"] == {"large": 1, "missing": 1}
    assert s.scale_confusion[D1]["inactive"] == {"inactive": 1}
    assert s.scale_accuracy[D1] == 1.0 and s.scale_accuracy[D2] == pytest.approx(2 / 3)
    # truth traffic with no predicted share counts against the target
    s = evaluate_sites(p, o[:1] + o[2:], t, shares)
    assert s.direction_summary["all"]["missing_pred"] == 1
    assert s.direction_summary["all"]["share_within_incl_missing"] == pytest.approx(3 / 4)
    # ...and so does a share the register withheld (an inactive site-date): its raw counts are not scored in its place
    withheld = obs("P1", D2, scale="inactive", kp=1, cn=0, share=False)
    s = evaluate_sites(p, o[:1] + [withheld] + o[2:], t, shares)
    assert s.direction_summary["all"]["missing_pred"] == 1 and s.direction_summary["all"]["pairs"] == 3


def test_truth_dates_must_cover_the_evaluated_dates():
    with pytest.raises(InputError, match="no scale for 2025-10-20"):
        evaluate_sites([], [], [truth("T1", 1.0)], {D1: {}, "2025-10-20": {}})
    with pytest.raises(InputError, match="matching distance"):
        evaluate_sites([], [], [truth("T1", 1.0)], {D1: {}}, match_m=0)


def test_merged_scores_pool_counts():
    a = evaluate_sites([pred("P1", 1.0, 1)], [], [truth("T1", 1.0), truth("T2", 5.0)], {D1: {}, D2: {}}, label="seed 1")
    b = evaluate_sites([pred("P1", 1.0, 1), pred("P2", 3.0, 2)], [], [truth("T1", 1.06)], {D1: {}, D2: {}}, label="seed 2")
    m = merge_scores([a, b])
    assert (m.n_truth, m.tp, m.n_pred) == (3, 2, 3)
    assert m.recall == pytest.approx(2 / 3) and m.precision == pytest.approx(2 / 3)
    assert m.chainage_error_m["max"] == pytest.approx(60.0)
    assert [x["label"] for x in m.misses] == ["seed 1"] and [x["label"] for x in m.false_sites] == ["seed 2"]
    text = format_scores(m)
    assert "missed T2" in text and "seed 1" in text and "[MISS] recall (sites+candidates): 0.667" in text
    assert m.to_dict()["figures"]["recall"] == pytest.approx(2 / 3)


def test_compare_registers():
    before = [pred("A", 1.0, 1), pred("B", 4.0, 2), pred("C", 8.0, 3, status="candidate")]
    after = [pred("A", 1.0, 1), pred("B", 4.01, 2), pred("C", 8.0, 3)]
    r = compare_registers(before, after)
    assert r["ids_unchanged"] and r["numbers_unchanged"] and r["numbered"] == []
    assert r["max_shift_m"] == pytest.approx(10.0)
    assert r["status_changed"] == [{"site_id": "C", "before": "candidate", "after": "site"}]
    # a new site upstream pushes the numbers along
    r = compare_registers(before, [pred("N", 0.5, 1), pred("A", 1.0, 2), pred("B", 4.0, 3), pred("C", 8.0, 4)])
    assert r["ids_unchanged"] and not r["numbers_unchanged"]
    assert [x["site_id"] for x in r["renumbered"]] == ["A", "B", "C"] and r["new"][0]["site_id"] == "N"
    # an id that did not survive, replaced by a new one at the same place
    r = compare_registers(before, [pred("A", 1.0, 1), pred("B2", 4.05, 2), pred("C", 8.0, 3)])
    assert not r["ids_unchanged"] and not r["numbers_unchanged"]
    assert r["replaced"] == [{"before": "B", "after": "B2", "number_before": "2", "number_after": "2"}]
    # a site confirmed between two numbered ones takes a letter: nobody else's number changes
    r = compare_registers(before, [pred("A", 1.0, 1), pred("N", 2.0, 1, label="1a"), pred("B", 4.0, 2), pred("C", 8.0, 3)])
    assert r["numbers_unchanged"] and r["new"] == [{"site_id": "N", "number": "1a", "chainage_km": 2.0}]
    # a candidate confirmed by the new date is numbered; a site that loses its number changes one
    cand = [pred("A", 1.0, 1), pred("B", 4.0, None, status="candidate"), pred("C", 8.0, 2)]
    r = compare_registers(cand, [pred("A", 1.0, 1), pred("B", 4.0, 1, label="1a"), pred("C", 8.0, 2)])
    assert r["numbers_unchanged"] and r["renumbered"] == [] and r["numbered"] == [{"site_id": "B", "number": "1a"}]
    r = compare_registers(before, [pred("A", 1.0, None, status="candidate"), pred("B", 4.0, 2), pred("C", 8.0, 3)])
    assert not r["numbers_unchanged"] and r["renumbered"] == [{"site_id": "A", "before": "1", "after": None}]


def test_chainage_offset_of_a_stretch_register(corridor):
    stretch = corridor.stretch(20.0, 30.0)

    def site(km_local, stored):
        p = stretch.point_at(km_local)
        return {"site_id": "x", "chainage_km": stored, "geometry": stretch.to_lonlat(Point(p.x, p.y).buffer(80))}

    # stored from the stretch's start, from the corridor's origin, or on the line both come from
    assert chainage_offset_km([site(3.0, 3.0), site(6.0, 6.02)], stretch, corridor) == 20.0
    assert chainage_offset_km([site(3.0, 23.0)], stretch, corridor) == 0.0
    far = corridor.chainage_offset_km
    assert chainage_offset_km([site(3.0, 23.0 + far)], stretch, corridor) == pytest.approx(-far)
    with pytest.raises(InputError, match="match no known origin"):
        chainage_offset_km([site(3.0, 10.0)], stretch, corridor)
    with pytest.raises(InputError, match="chainage origin"):
        chainage_offset_km([{"site_id": "x", "chainage_km": 3.0, "geometry": None}], stretch, corridor)


# -- truth direction on a real synthetic stretch (no pixels) ------------------------------------
def _toward_by_moving(corridor, o, step=20.0):
    """The bank a vehicle drives toward, by moving it forward and seeing its offset change."""
    t = math.radians(o["heading_deg"])
    _, off0 = corridor.locate_xy(o["x"], o["y"])
    _, off1 = corridor.locate_xy(o["x"] + step * math.sin(t), o["y"] + step * math.cos(t))
    return corridor.left_country if off1[0] > off0[0] else corridor.right_country


def test_counts_per_class_against_the_truths_crossing_traffic():
    t = [truth("T1", 1.0), truth("T2", 4.0), truth("T3", 7.0)]
    p = [pred("P1", 1.0, 1), pred("P2", 4.0, 2)]  # T3 is missed: its counts are not scored
    objs = (
        [{"class": "large_vehicle", "site_id": "T1", "role": "crossing", "date": D1}] * 60
        + [{"class": "small_vehicle", "site_id": "T1", "role": "crossing", "date": D1}] * 2
        + [{"class": "small_vehicle", "site_id": None, "role": "distractor", "date": D1}] * 5
        + [{"class": "heavy_equipment", "site_id": "T2", "role": "crossing", "date": D1}] * 3
        + [{"class": "large_vehicle", "site_id": "T3", "role": "crossing", "date": D1}] * 9
        + [{"class": "large_vehicle", "site_id": "T1", "role": "crossing", "date": D2}]
    )
    tc = truth_class_counts(objs, D1)
    assert tc == {"T1": {"small_vehicle": 2, "large_vehicle": 60, "heavy_equipment": 0},
                  "T2": {"small_vehicle": 0, "large_vehicle": 0, "heavy_equipment": 3},
                  "T3": {"small_vehicle": 0, "large_vehicle": 9, "heavy_equipment": 0}}
    o = [{"site_id": "P1", "date": D1, "scale": "large", "counts": {"large_vehicle": 47, "small_vehicle": 3}},
         {"site_id": "P2", "date": D1, "scale": "small", "counts": {"heavy_equipment": 1, "small_vehicle": 2}}]
    s = evaluate_sites(p, o, t, {D1: {}}, truth_class_counts_by_date={D1: tc})
    c = s.count_summary
    # 47 of 60 is off by 13 (> 20 % of 60); 3 of 2 by one vehicle (within)
    assert c["large_vehicle"] == {"site_dates": 1, "truth": 60, "pred": 47, "mae": 13.0, "within": 0, "share_within": 0.0}
    assert c["small_vehicle"]["site_dates"] == 2 and c["small_vehicle"]["within"] == 1  # 2 seen at P2, none there
    assert c["heavy_equipment"] == {"site_dates": 1, "truth": 3, "pred": 1, "mae": 2.0, "within": 0, "share_within": 0.0}
    assert "counts large_vehicle: 1 site-dates, truth 60 / predicted 47" in format_scores(s)
    assert merge_scores([s, s]).count_summary["small_vehicle"]["site_dates"] == 4
    assert s.to_dict()["figures"]["counts"] == c
    assert evaluate_sites(p, o, t, {D1: {}}).count_summary == {}  # no truth counts given: nothing scored


def test_truth_direction_on_a_synthetic_stretch(corridor):
    dates = [date(2025, 7, 31), date(2025, 9, 13)]
    world = SynthWorld(corridor, seed=3, dates=dates)
    km = (0.0, 8.0)
    sites = {s["site_id"]: s for s in world.sites(km)}
    assert len(sites) >= 2
    seen = 0
    for d in dates:
        counts = truth_direction_counts(world, corridor, d, km)
        shares = truth_direction_shares(world, corridor, d, km)
        assert set(shares) == set(sites)
        objs = world.objects(d, km)
        for sid, s in sites.items():
            if s["scale_by_date"][d.isoformat()] == "inactive":
                assert shares[sid] is None and counts[sid] == {"KP": 0, "CN": 0}
                continue
            assert shares[sid] is not None and sum(shares[sid].values()) == pytest.approx(1.0)
            # independent check: vehicles clearly across the river, moved forward 20 m
            mine = [o for o in objs if o["site_id"] == sid and o["class"] in ("small_vehicle", "large_vehicle")]
            across = [o for o in mine if corridor.facing_country(o["chainage_km"], o["heading_deg"])[0]]
            expect = {"KP": 0, "CN": 0}
            for o in across:
                expect[_toward_by_moving(corridor, o)] += 1
            assert counts[sid] == expect
            assert sum(counts[sid].values()) <= len(mine)
            seen += 1
        # the list-of-objects path gives the same answer, and heavy equipment is left out
        with_vehicles = {o["site_id"] for o in objs if o["class"] in ("small_vehicle", "large_vehicle")}
        assert truth_direction_shares(objs, corridor, d) == {k: v for k, v in shares.items() if k in with_vehicles}
    assert seen >= 2


def test_truth_direction_ignores_heavy_equipment_and_along_river(corridor):
    k = 12.0
    river = corridor.direction_deg_at(k, 100.0)
    left = (river - 90) % 360  # facing the left bank
    objs = [
        {"class": "large_vehicle", "site_id": "S", "role": "crossing", "heading_deg": left, "chainage_km": k},
        {"class": "small_vehicle", "site_id": "S", "role": "crossing", "heading_deg": (left + 180) % 360, "chainage_km": k},
        {"class": "small_vehicle", "site_id": "S", "role": "crossing", "heading_deg": left + 5, "chainage_km": k},
        {"class": "heavy_equipment", "site_id": "S", "role": "crossing", "heading_deg": left, "chainage_km": k},
        {"class": "large_vehicle", "site_id": "S", "role": "crossing", "heading_deg": river, "chainage_km": k},
        {"class": "small_vehicle", "site_id": None, "role": "distractor", "heading_deg": left, "chainage_km": k},
    ]
    assert truth_direction_counts(objs, corridor, D1) == {"S": {"KP": 2, "CN": 1}}
    shares = truth_direction_shares(objs, corridor, D1)
    assert shares["S"]["KP"] == pytest.approx(2 / 3)
    assert truth_direction_shares(objs[3:5], corridor, D1) == {"S": None}
    assert np.isclose(sum(shares["S"].values()), 1.0)


def test_truth_sites_outside_the_imagery_are_left_out():
    import shapely

    truth = [
        {"site_id": "A", "chainage_km": 1.0, "scale_by_date": {"2025-07-31": "small"}, "polygon": [(0, 0), (100, 0), (100, 100), (0, 100)]},
        {"site_id": "B", "chainage_km": 3.0, "scale_by_date": {"2025-07-31": "small"}, "polygon": [(500, 0), (600, 0), (600, 100), (500, 100)]},
    ]
    imaged = shapely.box(-10, -10, 560, 110)  # B is only 60 % imaged: the other bank is not in the scene
    pred = [{"site_id": "p", "number": 1, "status": "site", "chainage_km": 1.0, "kind": "ford", "scale": "small"}]
    s = evaluate_sites(pred, [], truth, {"2025-07-31": None}, imaged=imaged)
    assert (s.n_truth, s.n_truth_edge, len(s.matches), len(s.misses)) == (1, 1, 1, 0)
    s = evaluate_sites(pred, [], truth, {"2025-07-31": None})
    assert (s.n_truth, len(s.misses)) == (2, 1)


def test_fronts_measured_says_what_each_date_applied():
    from borderwatch.sites.evaluate import fronts_measured

    m = {"factor": 1.3, "range": [1.12, 1.6], "pairs": 81, "agree": 0.963, "expected": 0.811, "applied": 1.12}
    obs = [{"date": "2025-09-13", "counts": {"front_reliability": {"large_vehicle": m, "small_vehicle": None}}},
           {"date": "2025-09-13", "counts": {"front_reliability": {}}}, {"date": "2025-07-31", "counts": {}}]
    line = fronts_measured(obs)
    assert "2025-09-13 large_vehicle: 81 pairs agree 0.963 vs 0.811 expected, factor 1.30 (1.12-1.60), applied 1.12" in line
    assert "2025-09-13 small_vehicle: too few queued pairs (calibration stands)" in line
    assert fronts_measured(obs[1:]) == "fronts measured per image: no vehicles facing a bank"


def test_explain_direction_names_what_moved_a_share():
    truth = [(0.0, 0.0, "CN"), (20.0, 0.0, "CN"), (40.0, 0.0, "KP"), (60.0, 0.0, "KP"),  # right, flipped, along, missed
             (80.0, 0.0, "CN"), (84.5, 0.0, "CN"),  # two cars nose to tail, read as one truck facing KP
             (200.0, 0.0, "")]  # driving along the river: in no share
    seen = [(0.5, 0.3, "CN"), (20.0, 1.0, "KP"), (41.0, 0.0, ""), (82.0, 0.0, "KP"),
            (120.0, 50.0, "CN"),  # a roof corner in the village
            (200.5, 0.0, "KP")]  # the along-river car, its heading a little turned: not an extra
    assert explain_direction(truth, seen) == {"right": 1, "flipped": 2, "along": 1, "merged": 1, "missed": 1, "extra": 1}
    # nearest pairs first: the truck is paired with the nearer car (2 m against 2.5 m), the other one merged
    assert explain_direction(truth[4:6], seen[3:4]) == {**dict.fromkeys(("right", "along", "missed", "extra"), 0),
                                                        "flipped": 1, "merged": 1}
    assert explain_direction([], seen[:1]) == {**dict.fromkeys(("right", "flipped", "along", "merged", "missed"), 0), "extra": 1}
    assert explain_direction(truth[:1], []) == {**dict.fromkeys(("right", "flipped", "along", "merged", "extra"), 0), "missed": 1}


def test_found_by_ground_counts_where_the_detector_loses_vehicles():
    truth = [{"class": "small_vehicle", "on": "water", "role": "crossing", "site_id": "S1", "x": 0.0, "y": 0.0},
             {"class": "small_vehicle", "on": "water", "role": "crossing", "site_id": "S1", "x": 50.0, "y": 0.0},
             {"class": "large_vehicle", "on": "land", "role": "crossing", "site_id": "S1", "x": 100.0, "y": 0.0},
             {"class": "heavy_equipment", "on": "sandbar", "role": "crossing", "site_id": "S1", "x": 150.0, "y": 0.0},
             {"class": "small_vehicle", "on": "land", "role": "distractor", "x": 200.0, "y": 0.0},  # a village car
             {"class": "small_vehicle", "role": "crossing", "x": 250.0, "y": 0.0}]  # no site: not a site's traffic
    seen = [(0.5, 0.5), (103.0, 0.0), (150.0, 5.0), (200.0, 0.0), (250.0, 0.0)]
    got = found_by_ground(truth, seen)
    assert got == {"small_vehicle": {"water": [1, 2]}, "large_vehicle": {"land": [1, 1]},
                   "heavy_equipment": {"sandbar": [0, 1]}}  # 5 m off: not found
    assert found_by_ground(truth, []) == {"small_vehicle": {"water": [0, 2]}, "large_vehicle": {"land": [0, 1]},
                                          "heavy_equipment": {"sandbar": [0, 1]}}
    add_found(got, {"small_vehicle": {"water": [2, 2], "land": [3, 4]}})
    assert got["small_vehicle"] == {"water": [3, 4], "land": [3, 4]}
    assert format_found(got) == ("small_vehicle: land 3/4, water 3/4; large_vehicle: land 1/1; "
                                 "heavy_equipment: sandbar 0/1")
    assert format_found({}) == "no crossing vehicles"
