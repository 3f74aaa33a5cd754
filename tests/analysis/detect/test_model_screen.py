"""The cascade's screen: the shipped file, block plans and crops, and that it changes speed, not answers."""

from __future__ import annotations

import numpy as np
import pytest

from borderwatch.analysis.detect.runtime import Detector
from borderwatch.analysis.detect.screen import CELL, Region, Screen, ScreenPlan, default_screen_path, pack
from borderwatch.errors import InputError


@pytest.fixture(scope="module")
def screen():
    return Screen()


def test_shipped_screen_matches_the_bundled_detector(screen):
    det = Detector.load_default()
    assert det.screen is not None and det.version in screen.detector_versions
    assert screen.detector_version == screen.detector_versions[0]  # the one it was fitted to comes first
    assert 0.0 < screen.threshold <= 0.5
    assert det.name.endswith(f"+screen-{screen.version}")
    assert "+screen" not in Detector.load_default(screen=None).name
    assert default_screen_path().stat().st_size < 200_000


def test_bad_screen_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="screen model file not found"):
        Screen(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(InputError, match="not a loadable ONNX"):
        Screen(bad)
    from borderwatch.analysis.detect.runtime import default_model_path

    with pytest.raises(InputError, match="not a borderwatch screen"):
        Screen(default_model_path())


def test_plain_ground_plans_nothing_and_everything_plans_the_whole_chip(screen):
    flat = np.full((1, 512, 512, 3), (96, 120, 70), np.uint8)  # a uniform field
    plan = screen.plan(flat)[0]
    assert not plan.whole and plan.regions == []
    everything = Screen(threshold=0.0).plan(flat)[0]  # every cell fires: cheaper to run the chip whole
    assert everything.whole and everything.regions == []


def test_touching_fired_cells_make_one_region_with_context():
    s = Screen(threshold=0.5)
    prob = np.zeros((1, 32, 32))
    prob[0, 4, 4] = prob[0, 5, 6] = 0.9  # touching once dilated: one region
    prob[0, 20, 25] = 0.9  # alone
    s.probabilities = lambda chips: prob
    plan = s.plan(np.zeros((1, 256, 256, 3), np.uint8))[0]
    assert not plan.whole and len(plan.regions) == 2
    a, b = sorted(plan.regions, key=lambda r: r.y0)
    # cells 3..7 x 3..6 (with their neighbours) -> pixels 24..64 x 24..56, plus 32 px of context, sides x 16
    assert (a.x0, a.y0) == (3 * CELL - s.margin, 3 * CELL - s.margin)
    assert (a.x1 - a.x0) % 16 == 0 and (a.y1 - a.y0) % 16 == 0
    assert a.x1 >= 8 * CELL + s.margin and a.y1 >= 7 * CELL + s.margin
    assert plan.owns(a, 4.5 * CELL, 4.5 * CELL) and not plan.owns(b, 4.5 * CELL, 4.5 * CELL)
    assert plan.owns(b, 25.5 * CELL, 20.5 * CELL) and not plan.owns(a, 12 * CELL, 12 * CELL)
    assert not any(plan.owns(r, 12 * CELL, 12 * CELL) for r in plan.regions)  # a cell nobody fired


def test_crop_keeps_pixels_in_place_and_pads_with_zeros():
    chip = np.random.default_rng(0).integers(1, 255, (256, 256, 3), dtype=np.uint8)
    r = Region(-32, 128, 96, 288, 1)  # sticks out left and below
    crop = Screen.crop(chip, r)
    assert crop.shape == (160, 128, 3)
    assert (crop[:, :32] == 0).all() and (crop[128:] == 0).all()
    assert np.array_equal(crop[:128, 32:], chip[128:256, 0:96])


def test_a_region_owns_only_the_cells_labelled_for_it():
    cells = np.zeros((16, 16), np.int32)
    cells[2:5, 2:5] = 1
    cells[2:5, 5:8] = 2  # a neighbour region whose window overlaps region 1's
    plan = ScreenPlan(False, [], cells)
    r1, r2 = Region(-16, -16, 80, 80, 1), Region(8, -16, 96, 80, 2)
    assert plan.owns(r1, 3.5 * CELL, 3.5 * CELL) and not plan.owns(r2, 3.5 * CELL, 3.5 * CELL)
    assert plan.owns(r2, 6.5 * CELL, 3.5 * CELL) and not plan.owns(r1, 6.5 * CELL, 3.5 * CELL)
    assert not plan.owns(r1, 1.5 * CELL, 1.5 * CELL)  # inside r1's window, on a cell nobody fired
    assert not ScreenPlan(True, []).owns(r1, 3.5 * CELL, 3.5 * CELL)


def test_pack_places_crops_without_overlap_inside_their_sheets():
    rng = np.random.default_rng(1)
    shapes = [(int(h), int(w)) for h, w in rng.integers(5, 25, (40, 2)) * 16] + [(600, 96)]
    where = pack(shapes, side=512)
    big_sheet = where[-1][0]
    assert where[-1][1:] == (0, 0) and all(s != big_sheet for s, _, _ in where[:-1])  # too big: a sheet of its own
    sheets = {s for s, _, _ in where[:-1]}
    assert len(sheets) < len(shapes) - 1 and sheets == set(range(len(sheets)))  # crops share sheets
    for s in sheets:
        used = np.zeros((512, 512), np.int32)
        for (sh, x, y), (h, w) in zip(where, shapes):
            if sh == s:
                assert x + w <= 512 and y + h <= 512
                used[y:y + h, x:x + w] += 1
        assert used.max() == 1


@pytest.fixture(scope="module")
def river_scene():
    """A 0.5 m render (240 x 240 m) around the busiest site of a world seed never used in training."""
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    world = SynthWorld(load_corridor("yalu-upper[0:12]"), seed=1003)
    d = world.dates[-1]
    objs = [o for o in world.objects(d) if o["class"] in ("small_vehicle", "large_vehicle", "heavy_equipment")
            and o["site_id"]]
    by_site: dict[str, list[dict]] = {}
    for o in objs:
        by_site.setdefault(o["site_id"], []).append(o)
    site = by_site[max(by_site, key=lambda s: len(by_site[s]))]
    cx, cy = np.array([[o["x"], o["y"]] for o in site]).mean(0)
    img = world.render((cx - 120, cy - 120, cx + 120, cy + 120), 0.5, d).transpose(1, 2, 0)
    return np.ascontiguousarray(img)


def test_the_cascade_finds_what_the_detector_alone_finds(river_scene):
    """The same vehicles, classes and fronts with the screen, on less than the whole scene. Only detections near
    the operating point (0.35) may differ: the detector sees less context around a region than in a whole tile."""
    full = Detector.load_default(screen=None).detect_array(river_scene, 0.5)
    cascade = Detector.load_default()
    fast = cascade.detect_array(river_scene, 0.5)
    assert len(full) >= 10
    assert 0.0 < cascade.screen.detected_share < 1.0

    def match(d, others):
        near = [o for o in others if np.hypot(o.box.cx - d.box.cx, o.box.cy - d.box.cy) < 1.5 and o.cls == d.cls]
        return near[0] if near else None

    for a in full:
        b = match(a, fast)
        if b is None:
            assert a.score < 0.45
            continue
        assert abs(b.score - a.score) < 0.1
        assert abs((b.box.angle_deg - a.box.angle_deg + 180) % 360 - 180) < 10
    assert sum(match(a, fast) is not None for a in full) >= 0.95 * len(full)
    assert all(b.score < 0.45 for b in fast if match(b, full) is None)
