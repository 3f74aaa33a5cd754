"""Coverage per capture date: covered share of the watched area and chainage gaps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely

from borderwatch.errors import InputError
from borderwatch.imagery import coverage_by_date, register_scene
from imagery_helpers import write_tif

GSD = 25.0


def _grid_scene(tmp_path, corridor, name, date, keep):
    """A scene over the corridor's whole bounding box, valid only where ``keep(km)`` is true."""
    minx, miny, maxx, maxy = corridor.area.buffer(100).bounds
    w, h = int((maxx - minx) // GSD) + 1, int((maxy - miny) // GSD) + 1
    cols, rows = np.meshgrid(np.arange(w), np.arange(h))
    km, _ = corridor.locate_xy(minx + (cols.ravel() + 0.5) * GSD, maxy - (rows.ravel() + 0.5) * GSD)
    ok = keep(km.reshape(h, w))
    data = np.where(ok, 120, 0).astype(np.uint8)[None].repeat(3, axis=0)
    path = write_tif(tmp_path / name, data, origin=(minx, maxy), gsd=GSD, nodata=0, tags={"CAPTURE_DATE": date})
    return register_scene(path), (minx, maxy, w, h, ok)


def test_share_and_gaps_per_date(tmp_path, corridor):
    half, (minx, maxy, w, h, ok) = _grid_scene(tmp_path, corridor, "half.tif", "2023-05-14", lambda km: km < 2.5)
    full, _ = _grid_scene(tmp_path, corridor, "full.tif", "2022-09-01", lambda km: km > -1)
    cov = coverage_by_date([half, full], corridor)
    assert [c.date for c in cov] == [dt.date(2022, 9, 1), dt.date(2023, 5, 14)]
    old, new = cov
    assert old.share == pytest.approx(1.0, abs=0.01) and old.gaps == ()
    assert old.scene_ids == (full.scene_id,)

    # expected share: pixel centres inside the watched area that have data
    cols, rows = np.meshgrid(np.arange(w), np.arange(h))
    pts = shapely.points(minx + (cols + 0.5) * GSD, maxy - (rows + 0.5) * GSD)
    inside = shapely.contains(corridor.area, pts)
    assert new.share == pytest.approx(ok[inside].mean(), abs=0.02)
    assert len(new.gaps) == 1
    start, end = new.gaps[0]
    assert start == pytest.approx(2.5, abs=0.1) and end == pytest.approx(corridor.length_km, abs=1e-3)
    assert new.gap_km == pytest.approx(2.5, abs=0.1)


def test_two_scenes_of_a_date_union_and_middle_gap(tmp_path, corridor):
    a, _ = _grid_scene(tmp_path, corridor, "a.tif", "2023-05-14", lambda km: km < 1.0)
    b, _ = _grid_scene(tmp_path, corridor, "b.tif", "2023-05-14", lambda km: km > 3.0)
    (c,) = coverage_by_date([a, b], corridor, step_km=0.5)
    assert set(c.scene_ids) == {a.scene_id, b.scene_id}
    assert c.gaps == ((1.0, 3.0),)
    assert 0.5 < c.share < 0.7


def test_bad_step(corridor):
    with pytest.raises(InputError):
        coverage_by_date([], corridor, step_km=0)
    assert coverage_by_date([], corridor) == []
