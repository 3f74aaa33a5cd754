"""Rendering: determinism, seamless windows, seasons, crossing sites, bad arguments."""

from datetime import date

import numpy as np
import pytest

from borderwatch.errors import InputError
from borderwatch.synth import SynthWorld
from borderwatch.synth.palette import LANDCOVER


def _window(corridor, km, offset=0.0, size=256.0, gsd=1.0):
    p = corridor.point_at(km, offset)
    x0 = np.floor((p.x - size / 2) / gsd) * gsd
    y0 = np.floor((p.y - size / 2) / gsd) * gsd
    return (x0, y0, x0 + size, y0 + size)


def test_shape_dtype_and_valid_pixels(world, corridor, dates):
    b = _window(corridor, 3.0, size=200.0, gsd=0.5)
    rgb = world.render(b, 0.5, dates[0])
    assert rgb.shape == (3, 400, 400)
    assert rgb.dtype == np.uint8
    assert rgb.min() >= 1  # 0 is reserved for nodata
    assert rgb.std() > 5  # not a flat fill


def test_same_seed_same_pixels_other_seed_differs(corridor, dates):
    b = _window(corridor, 5.0)
    a = SynthWorld(corridor, seed=3, dates=dates).render(b, 1.0, dates[0])
    again = SynthWorld(corridor, seed=3, dates=dates).render(b, 1.0, dates[0])
    other = SynthWorld(corridor, seed=4, dates=dates).render(b, 1.0, dates[0])
    assert np.array_equal(a, again)
    assert np.mean(a != other) > 0.2


@pytest.mark.parametrize("gsd", [0.5, 1.0])
def test_window_equals_its_two_halves(world, corridor, dates, gsd):
    x0, y0, x1, y1 = _window(corridor, 3.9, size=240.0, gsd=gsd)  # a site is near here
    whole = world.render((x0, y0, x1, y1), gsd, dates[1])
    xm = x0 + 120.0
    left = world.render((x0, y0, xm, y1), gsd, dates[1])
    right = world.render((xm, y0, x1, y1), gsd, dates[1])
    assert np.array_equal(whole, np.concatenate([left, right], axis=2))
    ym = y0 + 100.0
    top = world.render((x0, ym, x1, y1), gsd, dates[1])
    bottom = world.render((x0, y0, x1, ym), gsd, dates[1])
    assert np.array_equal(whole, np.concatenate([top, bottom], axis=1))


def test_render_order_does_not_matter(corridor, dates):
    b1, b2 = _window(corridor, 2.0), _window(corridor, 9.0)
    w1 = SynthWorld(corridor, seed=11, dates=dates)
    w2 = SynthWorld(corridor, seed=11, dates=dates)
    a1, a2 = w1.render(b1, 1.0, dates[0]), w1.render(b2, 1.0, dates[1])
    c2, c1 = w2.render(b2, 1.0, dates[1]), w2.render(b1, 1.0, dates[0])
    assert np.array_equal(a1, c1) and np.array_equal(a2, c2)


def test_seasons_differ_green_july_brown_september(world, corridor, dates):
    # fields away from the water on the left bank
    b = _window(corridor, 6.0, offset=450.0, size=400.0, gsd=2.0)
    jul = world.render(b, 2.0, dates[0]).astype(float)
    sep = world.render(b, 2.0, dates[1]).astype(float)
    _, lab = world.render_with_landcover(b, 2.0, dates[0])
    veg = lab == 4
    assert veg.mean() > 0.2
    g_jul = (jul[1] - (jul[0] + jul[2]) / 2)[veg].mean()
    g_sep = (sep[1] - (sep[0] + sep[2]) / 2)[veg].mean()
    assert g_jul > g_sep + 8  # greener in July
    assert sep[0][veg].mean() > jul[0][veg].mean() + 10  # redder/browner in September


def test_landcover_classes_and_river(world, corridor, dates):
    b = _window(corridor, 8.0, size=600.0, gsd=2.0)
    rgb, lab = world.render_with_landcover(b, 2.0, dates[0])
    assert lab.shape == rgb.shape[1:]
    assert set(np.unique(lab)) <= set(LANDCOVER)
    water = lab == 1
    assert 0.03 < water.mean() < 0.6
    # water is darker and bluer-greener than land
    assert rgb[0][water].mean() < rgb[0][~water].mean()


def test_crossing_site_shows_tracks_on_both_banks(world, corridor, dates):
    ford = next(s for s in world.sites() if s["kind"] == "ford" and s["scale_by_date"][dates[1].isoformat()] == "large")
    rec = next(r for r in world.site_records() if r.site_id == ford["site_id"])
    gsd = 1.0
    x, y = ford["x"], ford["y"]
    b = (np.floor(x) - 300, np.floor(y) - 300, np.floor(x) + 300, np.floor(y) + 300)
    _, lab = world.render_with_landcover(b, gsd, dates[1])
    # sample the frame along the crossing on each bank, between the water and the road
    hw = float(world.layout.half_width(np.array([rec.s0]), [rec])[0])
    for sd in (1, -1):
        hits = 0
        for dd in np.linspace(hw + 8, hw + 25, 6):
            px, py, _ = world.layout.place(rec.s0, sd * dd, 0.0)
            c, r = int((px - b[0]) / gsd), int((b[3] - py) / gsd)
            hits += int((lab[r - 3 : r + 4, c - 3 : c + 4] == 3).any())
        assert hits >= 4, f"no disturbed ground on bank {sd}"
    # and the water at the crossing is present
    assert (lab == 1).mean() > 0.05


def test_objects_are_drawn_where_truth_says(world, dates):
    """A parking lot's trucks show on the date they are there and not on the date before."""
    lot = next(s for s in world.sites() if s["kind"] == "parking_field")
    assert lot["scale_by_date"][dates[0].isoformat()] == "inactive"
    objs = [o for o in world.objects(dates[1]) if o["site_id"] == lot["site_id"] and o["class"] == "large_vehicle"]
    gsd = 0.5
    changed = 0
    for o in objs[:10]:
        x0, y0 = np.floor(o["x"]) - 10, np.floor(o["y"]) - 10
        there = world.render((x0, y0, x0 + 20, y0 + 20), gsd, dates[1]).astype(int)
        before = world.render((x0, y0, x0 + 20, y0 + 20), gsd, dates[0]).astype(int)
        c = slice(17, 23)  # the 3 m around the vehicle's centre
        changed += np.abs(there[:, c, c] - before[:, c, c]).mean() > 15
    assert changed >= 8


@pytest.mark.parametrize("gsd", [0, -1, 0.05, 6, float("nan"), "x"])
def test_bad_gsd(world, corridor, dates, gsd):
    with pytest.raises(InputError):
        world.render(_window(corridor, 1.0), gsd, dates[0])


def test_bad_bounds_and_dates(world, corridor, dates):
    x0, y0, x1, y1 = _window(corridor, 1.0)
    with pytest.raises(InputError):
        world.render((x1, y0, x0, y1), 1.0, dates[0])
    with pytest.raises(InputError):
        world.render((x0, y0, x0 + 1e5, y0 + 1e5), 0.5, dates[0])
    with pytest.raises(InputError):
        world.render((x0, y0, x1, y1), 1.0, "2025-07-31")
    with pytest.raises(InputError):
        SynthWorld(corridor, seed=-1)
    with pytest.raises(InputError):
        SynthWorld(corridor, dates=[date(2025, 1, 1), date(2025, 1, 1)])
    with pytest.raises(InputError):
        world.sites(km_range=(5, 5))


def test_busy_site_tiles_seamlessly(world, dates):
    """A 2 x 2 tiling of a parking lot full of vehicles equals the window drawn whole."""
    lot = next(s for s in world.sites() if s["kind"] == "parking_field")
    gsd = 0.5
    x0, y0 = np.floor(lot["x"]) - 100, np.floor(lot["y"]) - 100
    whole = world.render((x0, y0, x0 + 200, y0 + 200), gsd, dates[1])
    xs, ys = (x0, x0 + 73.5, x0 + 200), (y0, y0 + 121.0, y0 + 200)
    rows = []
    for j in (1, 0):  # north row first
        rows.append(np.concatenate([world.render((xs[i], ys[j], xs[i + 1], ys[j + 1]), gsd, dates[1]) for i in (0, 1)], axis=2))
    assert np.array_equal(whole, np.concatenate(rows, axis=1))


def test_overlapping_windows_agree(world, corridor, dates):
    x0, y0, x1, y1 = _window(corridor, 4.0, size=160.0, gsd=0.5)
    a = world.render((x0, y0, x1, y1), 0.5, dates[0])
    b = world.render((x0 + 40.0, y0 - 30.0, x1 + 40.0, y1 - 30.0), 0.5, dates[0])
    # b starts 80 px east and 60 px south of a
    assert np.array_equal(a[:, 60:, 80:], b[:, :-60, :-80])


@pytest.mark.parametrize("offset", [900.0, -700.0])
def test_snowy_forest_is_dark_crowns_over_white_snow(corridor, offset):
    """In winter trees stand out of the snow: dark crowns and white snow, neither a grey speckle nor a white-out."""
    winter = SynthWorld(corridor, seed=7, dates=[date(2025, 9, 13), date(2026, 2, 10)])
    b = _window(corridor, 3.0, offset=offset, size=160.0, gsd=0.5)
    summer, lab = winter.render_with_landcover(b, 0.5, date(2025, 9, 13))
    forest = lab == 5
    assert forest.mean() > 0.2
    grey = winter.render(b, 0.5, date(2026, 2, 10)).astype(float).mean(axis=0)[forest]
    dark, median, bright = np.percentile(grey, [10, 50, 90])
    assert dark < 90 and 195 < bright < 235  # crowns, and snow that is white but not clipped
    assert 0.25 < (grey < 110).mean() < 0.6 and 100 < median < 170
    assert summer.mean(axis=0)[forest].mean() < 90  # the summer canopy is unchanged: dark green


def test_the_river_freezes_from_the_banks_in_december_and_is_closed_in_february(corridor):
    """Ice truth (code 8) grows out from both banks; closed but for open leads in February; gone by November."""
    dates = [date(2025, 9, 13), date(2025, 11, 15), date(2025, 12, 10), date(2026, 2, 10)]
    w = SynthWorld(corridor, seed=7, dates=dates)
    b = _window(corridor, 5.0, size=400.0, gsd=1.0)
    labels = {d: w.render_with_landcover(b, 1.0, d)[1] for d in dates}
    channel = labels[dates[0]] == 1  # open water in September
    assert channel.mean() > 0.1 and LANDCOVER[8] == "ice"
    assert not (labels[dates[1]] == 8).any() and np.array_equal(labels[dates[1]] == 1, channel)
    dec, feb = labels[dates[2]][channel], labels[dates[3]][channel]
    assert set(np.unique(dec)) == {1, 8} and 0.3 < (dec == 8).mean() < 0.8
    assert set(np.unique(feb)) == {1, 8} and (feb == 8).mean() > 0.6  # an open lead runs through this window
    closed = []
    for km in (1.0, 9.0, 13.0, 17.0):  # along the river, most of it is closed in February
        bk = _window(corridor, km, size=600.0, gsd=2.0)
        open_sept = w.render_with_landcover(bk, 2.0, dates[0])[1] == 1
        closed.append((w.render_with_landcover(bk, 2.0, dates[3])[1][open_sept] == 8).mean())
    assert np.mean(closed) > 0.85
    # freeze-up: the ice lies along the banks, the open water mid-channel
    from scipy import ndimage

    from_bank = ndimage.distance_transform_edt(channel)
    assert from_bank[channel][dec == 8].mean() < 0.75 * from_bank[channel][dec == 1].mean()
    # snow on the ice is white; land outside the channel is unchanged in its truth
    rgb = w.render(b, 1.0, dates[3]).astype(float).mean(axis=0)
    assert np.median(rgb[labels[dates[3]] == 8]) > 190
    assert np.array_equal(labels[dates[3]][~channel], labels[dates[0]][~channel])


def test_a_ford_is_a_packed_snow_road_across_the_ice(corridor):
    """Where vehicles ford the open river, in February they drive across the ice: a darker band, bank to bank,
    that find_ice_roads reads off the rendered image and its truth (as find_ford_traces reads the ford)."""
    from affine import Affine

    from borderwatch.analysis.crossings import find_ford_traces, find_ice_roads
    from borderwatch.analysis.landcover.codes import ICE, SANDBAR, WATER

    dates = [date(2025, 9, 13), date(2026, 2, 10)]
    w = SynthWorld(corridor, seed=7, dates=dates)
    ford = next(s for s in w.sites() if s["kind"] == "ford" and 2.0 < s["chainage_km"] < 3.0)
    gsd, cell = 0.5, 2.0
    x0, y0 = np.floor(ford["x"] / cell) * cell - 200.0, np.floor(ford["y"] / cell) * cell - 200.0
    transform = Affine(cell, 0, x0, 0, -cell, y0 + 400.0)
    found = {}
    for d, finder in zip(dates, (find_ford_traces, find_ice_roads)):
        rgb, lab = w.render_with_landcover((x0, y0, x0 + 400.0, y0 + 400.0), gsd, d)
        grid = lab[2::4, 2::4]
        found[d] = finder(rgb, grid, transform, cell, np.isin(grid, (WATER, ICE, SANDBAR)))
    summer, winter = found.values()
    assert [e.kind for e in summer] == ["ford_trace"] and {e.kind for e in winter} == {"ice_road"}
    # the road runs from bank to bank over the ice and the bar between its channels, on the ford's line
    assert np.hypot(summer[0].x - ford["x"], summer[0].y - ford["y"]) < 60.0
    (road,) = [e for e in winter if np.hypot(e.x - ford["x"], e.y - ford["y"]) < 60.0]
    assert road.details["ends"] == ["land", "land"] and road.details["darker_by"] > 15 and road.details["cover"] > 0.8
    assert road.details["warmer_by"] > 2  # dirt, not clear ice
