"""Ford traces and ice roads from small generated images: a lighter band across a channel, a darker one
across a frozen channel, and what is not one."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from borderwatch.analysis.crossings import FordParams, find_ford_traces, find_ice_roads
from borderwatch.analysis.landcover.codes import ICE, SANDBAR, VEGETATION, WATER

CELL = 2.0
T = Affine(CELL, 0, 1000.0, 0, -CELL, 5000.0)  # column 0 at x=1000, row 0 at y=5000
ALONG = 90.0  # the river runs east-west


def scene(h: int = 160, w: int = 200, top: int = 50, bottom: int = 110, seed: int = 0):
    """An east-west river (rows top..bottom-1, 120 m wide) of dark, slightly noisy water between green banks;
    returns (rgb (3,h,w) uint8 on the 2 m grid, classes, river mask)."""
    rng = np.random.default_rng(seed)
    classes = np.full((h, w), VEGETATION, np.uint8)
    classes[top:bottom] = WATER
    grey = np.where(classes == WATER, 70.0, 110.0) + rng.normal(0.0, 2.0, (h, w))
    rgb = np.repeat(grey[None], 3, axis=0)
    return rgb, classes, classes == WATER


def lighten(rgb: np.ndarray, rows: slice, cols: slice, by: float = 18.0) -> None:
    rgb[:, rows, cols] += by


def as_u8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_lighter_band_across_the_channel_is_a_ford_trace():
    rgb, classes, river = scene()
    lighten(rgb, slice(50, 110), slice(100, 105))  # 10 m wide, bank to bank
    found = find_ford_traces(as_u8(rgb), classes, T, CELL, river, along_deg=ALONG)
    assert [e.kind for e in found] == ["ford_trace"]
    f = found[0]
    assert f.details["ends"] == ["land", "land"]
    assert f.details["cover"] >= 0.9 and f.details["angle_to_river_deg"] >= 80
    assert 100 <= f.details["length_m"] <= 125 and f.details["width_m"] <= 14
    assert f.x == pytest.approx(1000 + 102.5 * CELL, abs=4) and f.y == pytest.approx(5000 - 80 * CELL, abs=6)
    (x0, y0), (x1, y1) = f.details["ends_xy"]
    assert {round(y0 / 10), round(y1 / 10)} == {round((5000 - 50 * CELL) / 10), round((5000 - 110 * CELL) / 10)}
    assert f.geometry.contains(f.geometry.centroid) and f.score > 0.5


def test_the_river_direction_can_be_estimated_from_the_river():
    rgb, classes, river = scene(w=300)
    lighten(rgb, slice(50, 110), slice(150, 155))
    assert [e.kind for e in find_ford_traces(as_u8(rgb), classes, T, CELL, river)] == ["ford_trace"]


@pytest.mark.parametrize("what", ["plume along the river", "round shallow patch", "oblique band", "short band mid-channel", "too faint"])
def test_light_water_that_is_not_a_ford(what):
    rgb, classes, river = scene()
    if what == "plume along the river":
        lighten(rgb, slice(75, 80), slice(20, 180))
    elif what == "round shallow patch":
        yy, xx = np.mgrid[:160, :200]
        rgb[:, (yy - 80) ** 2 + (xx - 100) ** 2 < 15**2] += 18.0
    elif what == "oblique band":  # 45° to the river: not how vehicles cross a channel
        for r in range(50, 110):
            rgb[:, r, 40 + r: 45 + r] += 18.0
    elif what == "short band mid-channel":  # 20 m of a 120 m crossing
        lighten(rgb, slice(75, 85), slice(100, 105))
    else:
        lighten(rgb, slice(50, 110), slice(100, 105), by=3.0)
    assert find_ford_traces(as_u8(rgb), classes, T, CELL, river, along_deg=ALONG) == []


def test_a_band_from_a_bank_to_a_bar_reports_what_each_end_reaches():
    rgb, classes, river = scene()
    classes[50:70] = SANDBAR  # a bar along the north shore: the ford runs from it to the south bank
    river = np.isin(classes, (WATER, SANDBAR))
    lighten(rgb, slice(70, 110), slice(100, 105))
    found = find_ford_traces(as_u8(rgb), classes, T, CELL, river, along_deg=ALONG)
    assert [sorted(e.details["ends"]) for e in found] == [["bar", "land"]]


def test_ownership_and_coarse_grids():
    rgb, classes, river = scene()
    lighten(rgb, slice(50, 110), slice(100, 105))
    img = as_u8(rgb)
    assert find_ford_traces(img, classes, T, CELL, river, along_deg=ALONG, owns=lambda x, y: x < 1100) == []
    assert len(find_ford_traces(img, classes, T, CELL, river, along_deg=ALONG, owns=lambda x, y: x >= 1100)) == 1
    # a grid coarser than the trace's scale says nothing rather than guessing
    assert find_ford_traces(img, classes, T, CELL, river, along_deg=ALONG, params=FordParams(max_cell_m=1.0)) == []


def test_full_resolution_image_is_averaged_onto_the_grid():
    rgb, classes, river = scene()
    lighten(rgb, slice(50, 110), slice(100, 105))
    full = np.repeat(np.repeat(as_u8(rgb), 4, axis=1), 4, axis=2)  # 0.5 m pixels over the 2 m grid
    assert [e.kind for e in find_ford_traces(full, classes, T, CELL, river, along_deg=ALONG)] == ["ford_trace"]


def bend_scene(seed: int = 0):
    """A river turning in the tile: an east-west arm (rows 90-129) west of column 100 meeting a north-south arm
    (columns 100-139) that comes down from the top; both 80 m wide. Returns (rgb, classes, river, bearing_at),
    bearing_at giving each arm's own direction as the corridor line would."""
    rng = np.random.default_rng(seed)
    classes = np.full((160, 200), VEGETATION, np.uint8)
    classes[90:130, :140] = WATER
    classes[:130, 100:140] = WATER
    grey = np.where(classes == WATER, 70.0, 110.0) + rng.normal(0.0, 2.0, classes.shape)

    def bearing_at(x: float, y: float) -> float:
        col, row = ~T * (x, y)
        return 90.0 if col < 100 else 0.0 if row < 90 else 45.0

    return np.repeat(grey[None], 3, axis=0), classes, classes == WATER, bearing_at


def test_on_a_bend_a_trace_must_cross_the_river_where_it_lies_not_the_tiles_mean_direction():
    rgb, classes, river, bearing_at = bend_scene()
    lighten(rgb, slice(90, 130), slice(40, 45))  # across the east-west arm
    lighten(rgb, slice(10, 15), slice(100, 140))  # across the north-south arm
    lighten(rgb, slice(30, 100), slice(118, 122))  # a light plume running down the north-south arm: no ford
    img = as_u8(rgb)
    found = find_ford_traces(img, classes, T, CELL, river, along_deg=90.0, bearing_at=bearing_at)
    where = sorted((round((~T * (e.x, e.y))[0]), round((~T * (e.x, e.y))[1])) for e in found)  # (column, row)
    assert len(where) == 2
    assert abs(where[0][0] - 42) <= 3 and 90 <= where[0][1] < 130  # across the east-west arm
    assert 100 <= where[1][0] < 140 and abs(where[1][1] - 12) <= 3  # across the north-south arm
    assert all(e.details["angle_to_river_deg"] >= 80 for e in found)
    # the tile's one direction alone takes the plume for a ford and misses the trace across the other arm
    tile_only = find_ford_traces(img, classes, T, CELL, river, along_deg=90.0)
    rows = sorted(round((~T * (e.x, e.y))[1]) for e in tile_only if (~T * (e.x, e.y))[0] >= 100)
    assert len(rows) == 1 and rows[0] > 40
    # where the line is not known, the tile's direction stands in
    unknown = find_ford_traces(img, classes, T, CELL, river, along_deg=90.0, bearing_at=lambda x, y: None)
    assert [(e.x, e.y) for e in unknown] == [(e.x, e.y) for e in tile_only]


def test_no_river_no_traces():
    rgb, classes, _ = scene()
    classes[:] = VEGETATION
    assert find_ford_traces(as_u8(rgb), classes, T, CELL, classes == WATER, along_deg=ALONG) == []



SNOW_ON_ICE = np.array([220.0, 226.0, 234.0])[:, None, None]  # white with the cold blue of snow on ice
DIRTY_SNOW = np.array([-70.0, -74.0, -86.0])[:, None, None]  # a road: packed snow dirtied grey-brown by wheels
BARE_ICE = np.array([-100.0, -96.0, -86.0])[:, None, None]  # clear ice swept bare: as dark, but bluer


def frozen_scene(h: int = 160, w: int = 200, seed: int = 0):
    """scene() in winter: the channel frozen and snow-covered (white ice between snowy grey-white banks)."""
    rng = np.random.default_rng(seed)
    classes = np.full((h, w), VEGETATION, np.uint8)
    classes[50:110] = ICE
    rgb = np.where(classes == ICE, SNOW_ON_ICE, 200.0) + rng.normal(0.0, 2.0, (3, h, w))
    return rgb, classes, classes == ICE


def test_darker_band_across_a_frozen_channel_is_an_ice_road():
    rgb, classes, river = frozen_scene()
    rgb[:, 50:110, 100:106] += DIRTY_SNOW  # packed, dirtied snow, 12 m wide, bank to bank
    img = as_u8(rgb)
    found = find_ice_roads(img, classes, T, CELL, river, along_deg=ALONG)
    assert [e.kind for e in found] == ["ice_road"]
    r = found[0]
    assert r.details["ends"] == ["land", "land"] and r.details["darker_by"] > 30 and "lighter_by" not in r.details
    assert r.details["warmer_by"] > 10
    assert r.details["cover"] >= 0.9 and 100 <= r.details["length_m"] <= 125 and r.score > 0.5
    # the ford filter looks for lighter water: on ice it finds nothing, and on open water the ice filter neither
    assert find_ford_traces(img, classes, T, CELL, river, along_deg=ALONG) == []
    water = np.where(classes == ICE, WATER, classes).astype(np.uint8)
    assert find_ice_roads(img, water, T, CELL, water == WATER, along_deg=ALONG) == []


def test_an_ice_road_is_judged_against_the_rivers_direction_where_it_lies_too():
    rgb, classes, river = frozen_scene()
    rgb[:, 50:110, 100:106] += DIRTY_SNOW
    img = as_u8(rgb)
    # the tile's one direction (here: north-south, as on a bend) would take the road for a strip along the river
    assert find_ice_roads(img, classes, T, CELL, river, along_deg=0.0) == []
    found = find_ice_roads(img, classes, T, CELL, river, along_deg=0.0, bearing_at=lambda x, y: ALONG)
    assert [e.kind for e in found] == ["ice_road"] and found[0].details["angle_to_river_deg"] >= 80


@pytest.mark.parametrize("what", ["bare ice patch", "bare ice band", "drift along the river", "lighter band"])
def test_ice_marks_that_are_not_a_road(what):
    rgb, classes, river = frozen_scene()
    if what == "bare ice patch":  # wind-swept clear ice: dark and round
        yy, xx = np.mgrid[:160, :200]
        rgb[:, (yy - 80) ** 2 + (xx - 100) ** 2 < 15**2] += BARE_ICE[:, :, 0]
    elif what == "bare ice band":  # shaped like a road, as dark, but bluer than the snow: clear ice, not dirt
        rgb[:, 50:110, 100:106] += BARE_ICE
    elif what == "drift along the river":
        rgb[:, 75:80, 20:180] += DIRTY_SNOW
    else:
        lighten(rgb, slice(50, 110), slice(100, 106), by=20.0)
    assert find_ice_roads(as_u8(rgb), classes, T, CELL, river, along_deg=ALONG) == []


def test_a_road_across_the_ice_read_as_bar_is_still_an_ice_road():
    rgb, classes, river = frozen_scene()
    rgb[:, 50:110, 100:106] += DIRTY_SNOW
    classes[50:110, 100:106] = SANDBAR  # the land cover reads packed, dirtied snow as a gravel bar
    found = find_ice_roads(as_u8(rgb), classes, T, CELL, river | (classes == SANDBAR), along_deg=ALONG)
    assert [e.kind for e in found] == ["ice_road"] and found[0].details["ice_flanked"] >= 0.9


def test_bar_tips_in_line_across_a_narrow_gap_of_ice_are_no_road():
    """Two grey-brown bars in the frozen river, the tip of one above the other across a 16 m gap of white ice; the
    bars' darker ends line up across the gap into one dark strip with ice on only part of its flanks."""
    rgb, classes, river = frozen_scene()
    bars = [(slice(54, 76), slice(20, 106)), (slice(84, 106), slice(98, 190))]
    for rows, cols in bars:
        classes[rows, cols] = SANDBAR
        rgb[:, rows, cols] += DIRTY_SNOW * 0.8
    rgb[:, 54:106, 98:106] += DIRTY_SNOW * 0.4  # the darker tips, and the gap between them, in one line
    river = np.isin(classes, (ICE, SANDBAR))
    img = as_u8(rgb)
    assert find_ice_roads(img, classes, T, CELL, river, along_deg=ALONG) == []
    # the same strip with no bar beside it (the flank test off) would have been taken for a road
    loose = find_ice_roads(img, classes, T, CELL, river, along_deg=ALONG, params=FordParams(ice_min_flanked=0.0))
    assert [e.kind for e in loose] == ["ice_road"]


def test_a_ford_through_an_open_lead_ends_on_the_shore_ice():
    rgb, classes, river = scene()
    classes[50:70] = ICE  # shore ice along the north bank; open water beyond it
    river = np.isin(classes, (WATER, ICE))
    lighten(rgb, slice(70, 110), slice(100, 105))
    found = find_ford_traces(as_u8(rgb), classes, T, CELL, river, along_deg=ALONG)
    assert [sorted(e.details["ends"]) for e in found] == [["ice", "land"]]
