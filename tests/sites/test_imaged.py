"""What each date's imagery shows: scene footprints within the analysed tiles, and a site's share of it."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from shapely.geometry import box

from borderwatch.corridor import load_corridor
from borderwatch.imagery.scene import Scene
from borderwatch.sites.imaged import imaged_areas, imaged_share


@pytest.fixture(scope="module")
def stretch():
    return load_corridor("yalu-upper[0:4]")


def _scene(name: str, footprint_lonlat, date: str = "2025-07-31") -> Scene:
    sha = (name * 64)[:64]
    return Scene(scene_id=sha[:16], path=f"{name}.tif", sha256=sha, capture_date=dt.date.fromisoformat(date),
                 date_source="tag", provider="test", sensor="test", gsd_m=0.5, band_count=3,
                 band_names=("red", "green", "blue"), dtype="uint8", width=1, height=1, crs_wkt="",
                 footprint_wkt=footprint_lonlat.wkt)


def _tile(c, date: str, x0: float, y0: float, size: float, scene_ids=None) -> dict:
    stats = {"coverage": 1.0} if scene_ids is None else {"coverage": 1.0, "scene_ids": scene_ids}
    return {"tile_id": f"{x0:.0f}_{y0:.0f}", "date": date, "geometry": c.to_lonlat(box(x0, y0, x0 + size, y0 + size)),
            "stats": stats}


def test_a_dates_ground_is_its_scenes_footprints_within_its_tiles(stretch):
    x, y = stretch.point_at(2.0).coords[0]
    left = _scene("a", stretch.to_lonlat(box(x - 1000, y - 1000, x, y + 1000)))
    right = _scene("b", stretch.to_lonlat(box(x, y - 1000, x + 1000, y + 1000)))
    other_day = _scene("c", stretch.to_lonlat(box(x - 1000, y - 1000, x + 1000, y + 1000)), "2025-09-13")
    tiles = [
        _tile(stretch, "2025-07-31", x - 1000, y - 500, 1000, [left.scene_id]),
        _tile(stretch, "2025-07-31", x, y - 500, 1000, [right.scene_id]),
        # the second date's run analysed one tile only, though its scene covers both
        _tile(stretch, "2025-09-13", x - 1000, y - 500, 1000, [other_day.scene_id]),
        # results written before tiles kept their scene ids: how much was imaged is unknown
        _tile(stretch, "2025-10-20", x - 1000, y - 500, 1000),
        # a date whose scenes touched none of these tiles: known, and nothing imaged
        _tile(stretch, "2025-11-05", x - 1000, y - 500, 1000, []),
        # a date naming a scene the store no longer holds: unknown
        _tile(stretch, "2025-12-01", x - 1000, y - 500, 1000, ["deleted-scene"]),
    ]
    areas = imaged_areas(tiles, [left, right, other_day], stretch)
    assert set(areas) == {"2025-07-31", "2025-09-13", "2025-11-05"}
    assert areas["2025-11-05"].is_empty
    assert areas["2025-07-31"].area == pytest.approx(2000 * 1000, rel=1e-3)
    assert areas["2025-09-13"].area == pytest.approx(1000 * 1000, rel=1e-3)
    site = box(x - 100, y - 50, x + 100, y + 50)  # across the two tiles' seam
    assert imaged_share(site, areas["2025-07-31"]) == pytest.approx(1.0, abs=1e-3)
    assert imaged_share(site, areas["2025-09-13"]) == pytest.approx(0.5, abs=1e-3)
    assert imaged_share(site, None) is None
    assert imaged_share(box(x + 2000, y, x + 2100, y + 100), areas["2025-07-31"]) == 0.0
    assert imaged_share(site, areas["2025-11-05"]) == 0.0


def test_an_outline_without_area_is_imaged_or_not(stretch):
    ground = box(0, 0, 10, 10)
    assert imaged_share(shapely.Point(5, 5), ground) == 1.0
    assert imaged_share(shapely.Point(50, 5), ground) == 0.0
