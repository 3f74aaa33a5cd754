"""Crossing evidence from small hand-drawn land-cover grids (2 m cells, north up)."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from borderwatch.analysis.crossings import EvidenceParams, find_evidence
from borderwatch.analysis.landcover.codes import BUILT_UP, DISTURBED, ICE, ROAD, SANDBAR, VEGETATION, WATER

CELL = 2.0
T = Affine(CELL, 0, 1000.0, 0, -CELL, 5000.0)  # column 0 at x=1000, row 0 at y=5000


def river_grid(h: int = 150, w: int = 200, top: int = 60, bottom: int = 90) -> np.ndarray:
    """Vegetation with an east-west river (rows top..bottom-1) of water."""
    g = np.full((h, w), VEGETATION, np.uint8)
    g[top:bottom] = WATER
    return g


def kinds(found) -> list[str]:
    return sorted(e.kind for e in found)


def test_plain_river_has_no_evidence():
    found, zones = find_evidence(river_grid(), T, CELL)
    assert found == []
    assert zones.ground_at(*(T * (100, 75))) == "water"
    assert zones.ground_at(*(T * (100, 10))) == "land"
    assert zones.ground_at(*(T * (100, 55))) == "bank"  # 10 m from the water


def test_bridge_spanning_the_channel_is_found():
    g = river_grid()
    g[55:95, 100:103] = BUILT_UP  # a 6 m deck from bank to bank across 60 m of water
    found, zones = find_evidence(g, T, CELL)
    assert kinds(found) == ["bridge"]
    b = found[0]
    assert b.details["length_m"] >= 60 and b.details["width_m"] <= 10
    assert b.details["water_both_sides"] >= 0.7 and b.details["over_river_m"] >= 55  # the deck runs onto both banks
    assert zones.ground_at(*(T * (101.5, 75))) == "bridge"


@pytest.mark.parametrize("cells, bridge", [(1, False), (2, True), (7, True), (8, False)])
def test_a_deck_is_as_wide_as_a_lane_for_a_truck(cells, bridge):
    """2 m across is a footbridge, or a ford's track read as road (development world 21); 4 to 14 m carries a truck."""
    g = river_grid()
    g[55:95, 100:100 + cells] = BUILT_UP
    assert kinds(find_evidence(g, T, CELL)[0]) == (["bridge"] if bridge else [])
    assert (EvidenceParams().bridge_min_width_m, EvidenceParams().bridge_max_width_m) == (3.5, 14.0)


def test_a_deck_split_by_a_truck_is_one_bridge_with_the_road_in_line():
    g = river_grid()
    g[55:72, 100:103] = BUILT_UP  # the deck ...
    g[72:77, 100:103] = WATER  # ... where a dark truck stands (read as water: 10 m) ...
    g[77:95, 100:103] = BUILT_UP  # ... and on to the far bank
    g[0:55, 100:102] = ROAD  # the road down to the deck, in line with it, 110 m over land
    found, _ = find_evidence(g, T, CELL)
    assert kinds(found) == ["bridge"]
    assert found[0].details["over_river_m"] >= 60 and found[0].details["width_m"] <= 10
    g[70:79, 100:103] = WATER  # an 18 m gap: longer than a truck and trailer, so two piers, no deck
    assert "bridge" not in kinds(find_evidence(g, T, CELL)[0])


def test_vehicles_beside_a_split_decks_far_end_do_not_turn_it_out_of_line():
    g = river_grid()
    g[55:72, 100:103] = BUILT_UP
    g[72:77, 100:103] = WATER  # a truck on the deck
    g[77:95, 100:103] = BUILT_UP
    g[89:97, 103:109] = BUILT_UP  # vehicles waiting beside the far landing: that piece's axis turns 18 degrees
    assert kinds(find_evidence(g, T, CELL)[0]) == ["bridge"]
    g[77:95, 100:103] = WATER
    g[79:97, 106:109] = BUILT_UP  # the far piece 10 m to the side: not the same deck
    assert "bridge" not in kinds(find_evidence(g, T, CELL)[0])


def test_a_deck_over_a_braided_river_with_a_vegetated_island_is_a_bridge():
    g = river_grid(top=40, bottom=110)
    g[40:55] = WATER
    g[55:70] = SANDBAR
    g[70:85, :] = VEGETATION  # an island, 30 m across
    g[85:95] = SANDBAR
    g[95:110] = WATER
    g[36:114, 100:103] = BUILT_UP
    found, _ = find_evidence(g, T, CELL)
    assert kinds(found) == ["bridge"]


def test_a_deck_the_view_cuts_is_judged_on_what_is_seen():
    g = river_grid(top=60, bottom=150)  # the river runs off the bottom of the grid
    g[55:150, 100:103] = BUILT_UP  # from the north bank out of view
    assert kinds(find_evidence(g, T, CELL)[0]) == ["bridge"]
    g = river_grid(h=150, top=0, bottom=150)  # water from edge to edge: no end on land
    g[:, 100:103] = BUILT_UP
    assert "bridge" not in kinds(find_evidence(g, T, CELL)[0])


@pytest.mark.parametrize("where", ["boat in open water", "strip along the shore"])
def test_thin_strips_that_do_not_span_are_not_bridges(where):
    g = river_grid()
    if where == "boat in open water":
        g[70:82, 100:102] = ROAD  # water at both ends
    else:
        g[60:64, 20:180] = SANDBAR
        g[64:66, 20:180] = BUILT_UP  # misread line between bar and water: water on one side only
    found, _ = find_evidence(g, T, CELL)
    assert "bridge" not in kinds(found)


def test_a_strip_along_the_flow_between_two_bars_is_no_bridge_a_deck_across_it_is():
    # development seed 23, km 46.9 at 0.8 m: the tips of two mid-channel bars joined by a 50 m sliver read as road,
    # water on both sides, made a numbered "bridge" site. A deck crosses the channel; this runs along it.
    g = river_grid(top=40, bottom=110)
    g[72:77, 20:90] = SANDBAR
    g[72:77, 116:180] = SANDBAR
    g[73:76, 90:116] = ROAD
    assert kinds(find_evidence(g, T, CELL)[0]) == ["bridge"]  # without the river's direction it cannot tell
    assert "bridge" not in kinds(find_evidence(g, T, CELL, along_deg=90.0)[0])  # the river runs east-west
    deck = river_grid()
    deck[55:95, 100:103] = BUILT_UP
    for bearing in (90.0, 45.0):  # across the river, or at 45 degrees to it on a bend: still a deck
        assert kinds(find_evidence(deck, T, CELL, along_deg=bearing)[0]) == ["bridge"]
    assert kinds(find_evidence(deck, T, CELL, along_deg=0.0)[0]) == []
    # on a bend the tile's bearing can be far off: where the river's bearing at the deck is known, it decides
    assert kinds(find_evidence(deck, T, CELL, along_deg=0.0, bearing_at=lambda x, y: 90.0)[0]) == ["bridge"]
    assert "bridge" not in kinds(find_evidence(g, T, CELL, along_deg=0.0, bearing_at=lambda x, y: 90.0)[0])
    # no line near the deck: the tile's bearing stands
    assert "bridge" not in kinds(find_evidence(g, T, CELL, along_deg=90.0, bearing_at=lambda x, y: None)[0])


def test_track_to_the_water_gives_its_landing_point():
    g = river_grid()
    g[10:60, 50:53] = DISTURBED  # 100 m track from inland down to the north shore
    found, _ = find_evidence(g, T, CELL)
    assert kinds(found) == ["track_to_water"]
    t = found[0]
    col, row = ~T * (t.x, t.y)
    assert 57 <= row <= 60 and 50 <= col <= 53  # the landing, at the water's edge
    assert t.details["reach_m"] >= 90


def test_apron_at_the_edge_and_bar_camp_inside_the_river():
    g = river_grid(top=40, bottom=110)
    g[30:40, 20:34] = DISTURBED  # 28 x 20 m apron touching the water
    g[65:85, 80:130] = SANDBAR
    g[68:82, 85:125] = DISTURBED  # cleared ground on the bar
    found, zones = find_evidence(g, T, CELL)
    assert kinds(found) == ["cleared_bank", "cleared_bar"]
    assert zones.ground_at(*(T * (105, 75))) == "bar"


def test_ponds_are_not_the_river_and_far_fields_are_ignored():
    g = np.full((150, 200), VEGETATION, np.uint8)
    g[20:30, 20:30] = WATER  # a 400 m2 pond
    g[18:20, 20:30] = DISTURBED
    found, zones = find_evidence(g, T, CELL)
    assert found == []
    assert zones.ground_at(*(T * (25, 25))) == "land"
    g = river_grid()
    g[0:10, 0:200] = DISTURBED  # a big bare field 100 m from the water
    found, _ = find_evidence(g, T, CELL, params=EvidenceParams(area_max_dist_m=60.0))
    assert found == []


def test_owns_keeps_evidence_anchored_in_the_tile_only():
    g = river_grid()
    g[10:60, 50:53] = DISTURBED
    g[10:60, 150:153] = DISTURBED
    x_mid = (T * (100, 0))[0]
    found, _ = find_evidence(g, T, CELL, owns=lambda x, y: x < x_mid)
    assert len(found) == 1 and found[0].x < x_mid


def test_no_water_means_no_evidence():
    g = np.full((100, 100), VEGETATION, np.uint8)
    g[40:45, :] = DISTURBED
    found, zones = find_evidence(g, T, CELL)
    assert found == []
    assert zones.ground_at(*(T * (50, 50))) == "land"
    assert zones.ground_at(0.0, 0.0) is None  # outside the grid


def test_a_long_thin_cleared_strip_across_a_bar_is_a_route_not_a_camp():
    g = river_grid(top=40, bottom=110)
    g[44:106] = SANDBAR  # a bar over most of the river, narrow channels along both banks
    g[44:106, 100:102] = DISTURBED  # a 4 m wide route over the bar, 124 m long, square to the river
    found, zones = find_evidence(g, T, CELL, along_deg=90.0)
    assert kinds(found) == ["bar_track"]
    t = found[0]
    assert t.details["ends"] == ["water", "water"] and t.details["length_m"] >= 100
    ys = sorted((y for _, y in t.details["ends_xy"]), reverse=True)  # the tips: first and last cell centres
    assert ys == pytest.approx([5000 - 44.5 * CELL, 5000 - 105.5 * CELL], abs=CELL)
    assert zones.ground_at(t.x, t.y) == "bar"
    # the same strip running along the river is a cleared bar (a camp's lane), not a route across
    g2 = river_grid(top=40, bottom=110)
    g2[44:106] = SANDBAR
    g2[74:76, 40:140] = DISTURBED
    assert kinds(find_evidence(g2, T, CELL, along_deg=90.0)[0]) == ["cleared_bar"]
    # on a bend, the river's direction where the strip stands decides, not the tile's one bearing
    assert kinds(find_evidence(g, T, CELL, along_deg=0.0, bearing_at=lambda x, y: 90.0)[0]) == ["bar_track"]
    assert kinds(find_evidence(g2, T, CELL, along_deg=0.0, bearing_at=lambda x, y: 90.0)[0]) == ["cleared_bar"]


def test_a_route_over_a_bar_joined_to_a_bank_says_it_ends_on_land():
    g = river_grid(top=40, bottom=110)
    g[40:100] = SANDBAR  # the bar is joined to the north bank
    g[38:100, 100:102] = DISTURBED  # the route starts on the bank road's edge and ends at the channel
    found, _ = find_evidence(g, T, CELL, along_deg=90.0)
    routes = [e for e in found if e.kind == "bar_track"]
    assert len(routes) == 1 and sorted(routes[0].details["ends"]) == ["land", "water"]


def test_a_frozen_river_is_still_the_river():
    """Ice is the channel in winter: tracks reach it, decks span it, vehicles on it stand on ice, not land."""
    g = river_grid()
    g[60:90, :120] = ICE  # frozen, with an open lead in the east
    g[10:60, 50:53] = DISTURBED  # a track down to the ice
    g[55:95, 100:103] = BUILT_UP  # a deck across ice and water
    found, zones = find_evidence(g, T, CELL)
    assert kinds(found) == ["bridge", "track_to_water"]
    assert zones.ground_at(*(T * (30, 75))) == "ice"
    assert zones.ground_at(*(T * (160, 75))) == "water"
    assert zones.ground_at(*(T * (30, 55))) == "bank"
    assert zones.river[75, 30] and zones.river[75, 160] and not zones.river[30, 30]
    g[60:90] = ICE  # closed all across: still the river
    g[55:95, 100:103] = BUILT_UP
    found, _ = find_evidence(g, T, CELL)
    assert kinds(found) == ["bridge", "track_to_water"]


def test_crossings_are_read_up_to_two_metres_with_slack_for_a_measured_gsd():
    from borderwatch.analysis.crossings import EVIDENCE_MAX_GSD_M, resolves_crossings

    assert EVIDENCE_MAX_GSD_M == 2.0
    assert resolves_crossings(0.5) and resolves_crossings(2.0) and resolves_crossings(2.04)  # a nominal 2 m image
    assert not resolves_crossings(2.05) and not resolves_crossings(3.0)


def _town_beside(g: np.ndarray) -> np.ndarray:
    """A block of a town north of the river, 120 m from its bank: dark asphalt read as water, paving as sandbar
    (what real streets at 0.5 m give: scripts/landcover_negatives.py), with a cleared strip on its "bar"."""
    g[5:40, 20:120] = SANDBAR  # 70 x 200 m of paving ...
    g[12:16, 20:120] = WATER  # ... crossed by two dark streets
    g[24:28, 20:120] = WATER
    g[18:22, 40:90] = DISTURBED  # a strip of lighter ground on the "bar"
    return g


def test_wet_ground_away_from_the_corridor_line_is_not_the_river():
    import shapely

    g = _town_beside(river_grid(top=100, bottom=130))
    line = shapely.LineString([T * (0, 115), T * (200, 115)])  # the border, down the channel's middle, 150 m from the town
    _, zones = find_evidence(g, T, CELL)
    assert zones.ground_at(*(T * (60, 30))) == "bar"  # without the line the town is river
    found, zones = find_evidence(g, T, CELL, line=line)
    assert found == []
    assert zones.ground_at(*(T * (60, 30))) == "land"
    assert zones.ground_at(*(T * (60, 14))) == "land"  # its dark streets too
    assert zones.ground_at(*(T * (100, 115))) == "water"  # the channel stays the river
    assert zones.river[100:130].all() and not zones.river[:100].any()
    # a line within reach of the town that passes over no wet ground (a chord across a bend): it cannot tell
    near = shapely.LineString([T * (0, 85), T * (200, 85)])
    assert zones_ground(find_evidence(g, T, CELL, line=near)[1], 60, 30) == "bar"


def test_a_town_on_the_bank_within_reach_of_the_line_is_not_the_river():
    """Hyesan and Changbai face each other across the line: their streets lie within reach of it. The line passes
    over the channel, not over them, and their dark streets break into pieces far smaller than a channel's water."""
    import shapely

    g = _town_beside(river_grid(top=50, bottom=80))  # the town's edge 20 m from the water
    line = shapely.LineString([T * (0, 65), T * (200, 65)])  # 50 m from the town
    found, zones = find_evidence(g, T, CELL, line=line)
    assert found == []
    assert zones_ground(zones, 60, 30) == "land" and zones_ground(zones, 60, 14) == "land"
    assert zones.river[50:80].all() and not zones.river[:50].any()
    # the town kept when its water comes in one stretch as long as a channel's (the rule's bound, pinned)
    assert zones_ground(find_evidence(g, T, CELL, line=line, params=EvidenceParams(channel_min_m2=1500.0))[1], 60, 30) == "bar"
    assert EvidenceParams().channel_min_m2 == 8000.0 and EvidenceParams().line_on_m == 10.0


def test_a_deck_that_cuts_the_channel_in_two_leaves_both_halves_the_river():
    """The deck (built-up) splits the channel's wet ground; the line passes over both halves, whatever their size."""
    import shapely

    g = _channel_cut_by_a_deck()
    line = shapely.LineString([T * (0, 67), T * (200, 67)])
    found, zones = find_evidence(g, T, CELL, line=line)
    assert zones.river[60:75, :56].all() and zones.river[60:75, 60:].all()
    assert kinds(found) == ["bridge"]


def _channel_cut_by_a_deck() -> np.ndarray:
    g = river_grid(top=60, bottom=75)  # a narrow channel, 30 m
    g[60:75, 60:200] = SANDBAR  # downstream of the deck mostly bar, its water in small pieces
    g[66:69, 62:200:20] = WATER
    g[55:80, 56:60] = BUILT_UP  # the deck, 8 m wide, from bank to bank
    return g


def test_the_channel_past_a_deck_stays_the_river_where_the_line_leaves_it():
    """The line passes over the upstream half only: past the deck it runs over a camp's cleared island (bench world,
    sandbar camp S054a). The piece past the deck holds no channel's water in one piece, yet the deck cuts it off from
    the river: a deck across the flow with the river beyond one side and the piece beyond the other."""
    import shapely

    g = _channel_cut_by_a_deck()
    short = shapely.LineString([T * (0, 67), T * (50, 67)])
    found, zones = find_evidence(g, T, CELL, line=short, along_deg=90.0)
    assert zones.river[60:75, :56].all() and zones.river[60:75, 60:].all()
    assert kinds(found) == ["bridge"]
    # without the river's direction a deck cannot be told from a road along the bank: the piece is lost
    _, zones = find_evidence(g, T, CELL, line=short)
    assert not zones.river[60:75, 60:].any()
    # the same gap without a deck (trees across it): nothing shows the piece is the channel
    g[55:80, 56:60] = VEGETATION
    _, zones = find_evidence(g, T, CELL, line=short, along_deg=90.0)
    assert zones.river[60:75, :56].all() and not zones.river[60:75, 60:].any()


def test_a_road_or_street_between_a_town_and_the_river_does_not_join_the_town_to_it():
    """A town at the bank within reach of the line: a road along the bank between its dark streets and the river, or
    a street running down to the river between two of its blocks, is no deck across the channel."""
    import shapely

    def town() -> np.ndarray:
        g = river_grid(top=50, bottom=80)
        g[20:44, 20:190] = SANDBAR  # paving ...
        g[26:30, 20:190] = WATER  # ... with dark streets
        g[36:40, 20:190] = WATER
        return g

    line = shapely.LineString([T * (0, 65), T * (200, 65)])
    along = town()
    along[44:48, 20:190] = ROAD  # 8 m wide, the river beyond one side and the town beyond the other
    down = town()
    down[10:48, 100:106] = ROAD  # ends at the water, a block beyond each side
    for g in (along, down):
        for bearing in (90.0, None):  # the river's direction, known or not
            _, zones = find_evidence(g, T, CELL, line=line, along_deg=bearing)
            assert zones.river[50:80].all() and not zones.river[:50].any()
    # what keeps the road along the bank out: it runs with the flow (taken for a deck across the river, it would cut
    # the town off from the river and join it)
    _, zones = find_evidence(along, T, CELL, line=line, along_deg=90.0, params=EvidenceParams(bridge_angle_deg=0.0))
    assert zones.river[30, 60]


def test_a_side_channel_past_a_vegetated_island_is_the_river_if_it_holds_a_channel_of_water():
    import shapely

    g = river_grid(top=40, bottom=110)
    g[40:65] = WATER  # main channel, 50 m, with the line in it
    g[65:95] = VEGETATION  # an island 60 m across
    g[95:110] = WATER  # a side channel 30 m wide, 12,000 m2
    line = shapely.LineString([T * (0, 52), T * (200, 52)])
    _, zones = find_evidence(g, T, CELL, line=line)
    assert zones.river[100, 50] and zones.river[50, 50]
    g[95:110, 100:103] = VEGETATION  # cut in two pieces of about 6,000 m2 (a causeway): not shown to be a channel
    _, zones = find_evidence(g, T, CELL, line=line)
    assert not zones.river[100, 50] and zones.river[50, 50]


def zones_ground(zones, col: float, row: float) -> str | None:
    return zones.ground_at(*(T * (col, row)))


def test_the_river_still_counts_when_the_line_runs_off_its_water():
    """The line only has to come within reach of the river: a border drawn 80 m off the channel (an old survey,
    a moved channel) keeps the channel, one beyond reach loses it (no river: no evidence, never a made-up one)."""
    import shapely

    g = river_grid()
    g[55:95, 100:103] = BUILT_UP
    near = shapely.LineString([T * (0, 130), T * (200, 130)])  # 80 m south of the water's edge (row 90)
    assert kinds(find_evidence(g, T, CELL, line=near)[0]) == ["bridge"]
    far = shapely.LineString([T * (0, 180), T * (200, 180)])  # 180 m south of it, off the grid
    found, zones = find_evidence(g, T, CELL, line=far)
    assert found == [] and not zones.river.any()
    assert EvidenceParams().line_reach_m == 100.0


def test_fine_cells_puts_a_coarse_mask_back_on_the_pixel_grid():
    from borderwatch.analysis.crossings import coarse_classes, fine_cells

    full = np.zeros((10, 11), np.uint8)
    full[:, 6:] = WATER
    coarse = coarse_classes(full, 4) == WATER  # 3 x 3 cells, the last ones partial
    back = fine_cells(coarse, 4, full.shape)
    assert back.shape == full.shape
    assert back[:, 8:].all() and not back[:, :4].any()
    assert np.array_equal(fine_cells(full == WATER, 1, full.shape), full == WATER)
