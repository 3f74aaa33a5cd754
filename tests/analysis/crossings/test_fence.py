"""Fence lines and openings on small drawn scenes (0.5 m pixels, north up, a river along the bottom)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from affine import Affine

from borderwatch.analysis.crossings import Evidence, FenceParams, find_fences
from borderwatch.analysis.crossings import KINDS
from borderwatch.errors import InputError

GSD = 0.5
F = 4  # river grid cells are 4 x 4 pixels (2 m)
H, W = 400, 640  # 200 m x 320 m
WATER_ROW = 320  # the river from here down
FENCE_ROW = 280  # 20 m inland of the water's edge
X0, Y0 = 1000.0, 5000.0


def transform(gsd: float = GSD) -> Affine:
    return Affine(gsd, 0.0, X0, 0.0, -gsd, Y0)


def grass(seed: int = 0) -> np.ndarray:
    """Green ground with blotchy texture and pixel noise, float (3, H, W)."""
    rng = np.random.default_rng(seed)
    blotch = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 3.0) * 10.0
    fine = rng.normal(0, 3.0, (H, W)).astype(np.float32)
    base = np.array([95.0, 125.0, 70.0], np.float32)[:, None, None]
    img = base * (1.0 + (blotch + fine)[None] / 120.0)
    img[:, WATER_ROW:] = np.array([50.0, 70.0, 72.0], np.float32)[:, None, None]
    return img


def draw_fence(img: np.ndarray, row: int, c0: int, c1: int, gap: tuple[int, int] | None = None) -> None:
    """A one-pixel dark wire (x0.72) with darker posts (x0.58) every 3 m, from column c0 to c1."""
    cols = np.arange(c0, c1)
    if gap is not None:
        cols = cols[(cols < gap[0]) | (cols >= gap[1])]
    img[:, row, cols] *= 0.72
    posts = cols[cols % 6 == 0]
    img[:, row, posts] *= 0.8


def finish(img: np.ndarray) -> np.ndarray:
    """Sensor blur and 8-bit output, as a camera would."""
    out = np.stack([cv2.GaussianBlur(b, (0, 0), 0.6) for b in img])
    return np.clip(np.round(out), 1, 255).astype(np.uint8)


def river_grid(h: int = H, w: int = W) -> np.ndarray:
    r = np.zeros((h // F, w // F), bool)
    r[WATER_ROW // F:] = True
    return r


def run(rgb, *, valid=None, gsd=GSD, along_deg=90.0, **kw) -> list[Evidence]:
    t = transform(gsd)
    valid = np.ones(rgb.shape[1:], bool) if valid is None else valid
    return find_fences(rgb, valid, t, gsd, river_grid(*rgb.shape[1:]), t * Affine.scale(F), along_deg=along_deg, **kw)


def of_kind(found, kind):
    return [e for e in found if e.kind == kind]


def x_of_col(col: float) -> float:
    return X0 + col * GSD


def test_fence_with_a_gate_gives_the_line_and_one_opening():
    img = grass()
    draw_fence(img, FENCE_ROW, 0, W, gap=(300, 348))  # a 24 m gate...
    img[:, 150:WATER_ROW, 314:334] = np.array([166.0, 148.0, 120.0], np.float32)[:, None, None]  # ...a track through it
    img[:, 150:WATER_ROW, [318, 329]] *= 0.75  # with ruts
    found = run(finish(img))
    openings = of_kind(found, "fence_opening")
    assert len(openings) == 1
    o = openings[0]
    assert abs(o.x - x_of_col(324)) < 4.0 and abs(o.y - (Y0 - FENCE_ROW * GSD)) < 2.0
    assert 18.0 <= o.details["gap_m"] <= 30.0
    assert o.details["fence_m_before"] >= 100 and o.details["fence_m_after"] >= 100
    assert abs(o.details["dist_river_m"] - 20.0) <= 4.0
    assert 0.0 < o.score <= 1.0 and o.geometry.length == pytest.approx(o.details["gap_m"], abs=1.0)
    lines = of_kind(found, "fence_line")
    assert lines and sum(e.geometry.length for e in lines) >= 250.0
    for e in lines:  # on the drawn fence, nowhere else
        ys = np.asarray(e.geometry.coords if e.geometry.geom_type == "LineString" else [c for g in e.geometry.geoms for c in g.coords])[:, 1]
        assert np.all(np.abs(ys - (Y0 - (FENCE_ROW + 0.5) * GSD)) < 1.5)


def test_fence_without_a_gate_has_no_opening():
    img = grass(1)
    draw_fence(img, FENCE_ROW, 0, W)
    found = run(finish(img))
    assert of_kind(found, "fence_opening") == []
    assert sum(e.geometry.length for e in of_kind(found, "fence_line")) >= 280.0


def test_bearing_is_estimated_from_the_river_when_not_given():
    img = grass(2)
    draw_fence(img, FENCE_ROW, 0, W, gap=(300, 348))
    assert len(of_kind(run(finish(img), along_deg=None), "fence_opening")) == 1


def test_crop_rows_parallel_to_the_bank_are_no_fence():
    img = grass(3)
    for row in range(120, 300, 6):  # dark rows every 3 m across a field
        draw_fence(img, row, 0, W)
    found = run(finish(img))
    assert found == []


def test_field_edge_and_tracks_across_the_bank_are_no_fence():
    img = grass(4)
    img[:, :FENCE_ROW] *= 0.8  # a darker field beside the bank: a step, not a line
    for col in range(100, 600, 120):  # ruts running to the water
        img[:, 150:WATER_ROW, col] *= 0.6
        img[:, 150:WATER_ROW, col + 5] *= 0.6
    assert run(finish(img)) == []


def test_fence_fading_along_a_dark_field_edge_is_no_opening():
    img = grass(12)
    img[:, 200:FENCE_ROW, 300:348] *= 0.7  # a dark field right up to the fence: the wire merges into it
    draw_fence(img, FENCE_ROW, 0, W)
    found = run(finish(img))
    assert of_kind(found, "fence_line") and of_kind(found, "fence_opening") == []


def test_break_in_a_short_line_is_no_opening():
    img = grass(13)
    draw_fence(img, FENCE_ROW, 200, 440, gap=(300, 340))  # 100 m of line with a 20 m break: a hedge, a wall
    found = run(finish(img))
    assert of_kind(found, "fence_line") and of_kind(found, "fence_opening") == []


def test_short_line_is_no_fence():
    img = grass(5)
    draw_fence(img, FENCE_ROW, 300, 340)  # 20 m
    assert run(finish(img)) == []


def test_coarse_gsd_reports_nothing():
    img = grass(6)
    draw_fence(img, FENCE_ROW, 0, W, gap=(300, 348))
    rgb = finish(img)
    assert of_kind(run(rgb), "fence_opening")  # resolved at 0.5 m...
    assert run(rgb, gsd=1.5) == []  # ...the same pixels at 1.5 m are not a fence


def test_end_of_the_fence_at_the_tile_edge_is_no_opening():
    img = grass(7)
    draw_fence(img, FENCE_ROW, 0, W - 30)  # the fence stops 15 m short of the image edge
    found = run(finish(img))
    assert of_kind(found, "fence_line") and of_kind(found, "fence_opening") == []


def test_break_over_nodata_is_no_opening():
    img = grass(8)
    draw_fence(img, FENCE_ROW, 0, W, gap=(300, 348))
    valid = np.ones((H, W), bool)
    valid[:, 290:360] = False  # no imagery over the gate: unseen, not open
    rgb = finish(img)
    rgb[:, ~valid] = 0
    assert of_kind(run(rgb, valid=valid), "fence_opening") == []


def test_clip_and_owns_keep_evidence_to_the_tile_proper():
    img = grass(9)
    draw_fence(img, FENCE_ROW, 0, W, gap=(300, 348))
    rgb = finish(img)
    clip = (x_of_col(64), Y0 - (H - 64) * GSD, x_of_col(W - 64), Y0 - 64 * GSD)
    found = run(rgb, clip=clip, owns=lambda x, y: x < x_of_col(W // 2))
    lines = of_kind(found, "fence_line")
    assert lines and all(e.geometry.bounds[0] >= clip[0] - 1e-6 and e.geometry.bounds[2] <= clip[2] + 1e-6 for e in lines)
    assert sum(e.geometry.length for e in lines) <= (W - 128) * GSD + 1e-6
    assert of_kind(found, "fence_opening") == []  # the gate's centre lies in the other half
    found = run(rgb, clip=clip, owns=lambda x, y: x >= x_of_col(W // 2))
    assert len(of_kind(found, "fence_opening")) == 1


def test_fence_along_a_diagonal_river():
    """A river running north-west to south-east (bearing 135) and a fence 20 m inland of its bank."""
    rng = np.random.default_rng(10)
    n = 640
    img = np.array([95.0, 125.0, 70.0], np.float32)[:, None, None] * (
        1.0 + cv2.GaussianBlur(rng.normal(0, 1, (n, n)).astype(np.float32), (0, 0), 3.0)[None] / 12.0)
    rows, cols = np.mgrid[0:n, 0:n]
    across = (cols - rows) / math.sqrt(2)  # pixels across the river's direction, + to the north-east
    img[:, across > 60] = np.array([50.0, 70.0, 72.0], np.float32)[:, None]
    wire = np.zeros((n, n), np.float32)
    k = int(round((60 - 40) * math.sqrt(2)))  # the fence 40 px (20 m) inland: cols - rows = k
    cv2.line(wire, (k, 0), (n, n - k), 1.0, 1, cv2.LINE_AA)
    wire[np.abs(cols + rows - n) < 34] = 0.0  # a 24 m gate across the middle
    img *= 1.0 - 0.3 * wire[None]
    rgb = finish(img)
    river = (across > 60)[F // 2:: F, F // 2:: F]
    t = Affine(GSD, 0.0, X0, 0.0, -GSD, Y0)
    found = find_fences(rgb, np.ones((n, n), bool), t, GSD, river, t * Affine.scale(F))
    openings = of_kind(found, "fence_opening")
    assert len(openings) == 1
    col, row = ~t * (openings[0].x, openings[0].y)
    assert abs(col + row - n) < 12 and abs(col - row - k) < 4
    assert 15.0 <= openings[0].details["gap_m"] <= 32.0
    assert abs(openings[0].details["dist_river_m"] - 20.0) <= 4.0


def test_bad_inputs_are_refused():
    rgb = finish(grass())
    t = transform()
    with pytest.raises(InputError):
        find_fences(rgb[:2], np.ones((H, W), bool), t, GSD, river_grid(), t * Affine.scale(F))
    with pytest.raises(InputError):
        find_fences(rgb, np.ones((H, W - 1), bool), t, GSD, river_grid(), t * Affine.scale(F))
    with pytest.raises(InputError):
        find_fences(rgb, np.ones((H, W), bool), t, 0.0, river_grid(), t * Affine.scale(F))
    with pytest.raises(InputError):
        find_fences(rgb, np.ones((H, W), bool), Affine(GSD, 0.1, X0, 0.0, -GSD, Y0), GSD, river_grid(), t * Affine.scale(F))


def test_no_river_in_view_reports_nothing():
    img = grass(11)
    draw_fence(img, FENCE_ROW, 0, W, gap=(300, 348))
    t = transform()
    found = find_fences(finish(img), np.ones((H, W), bool), t, GSD, np.zeros((H // F, W // F), bool), t * Affine.scale(F))
    assert found == []


def test_kinds_and_params_are_described():
    assert {"fence_line", "fence_opening"} <= set(KINDS) and all(KINDS.values())
    d = FenceParams().to_dict()
    assert d["max_gsd_m"] == 1.0 and d["min_side_m"] > 0 and d["max_gap_m"] > d["min_gap_m"]


def test_gate_in_a_rendered_synthetic_crop_is_found():
    """A 300 m window of the synthetic corridor at a 24 m gate (about a second to render)."""
    from borderwatch.analysis.crossings import coarse_classes
    from borderwatch.analysis.landcover import CODES, classify_landcover
    from borderwatch.analysis.landcover.features import factor_for
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import SynthWorld

    corridor = load_corridor("yalu-upper")
    world = SynthWorld(corridor, seed=7)
    site = next(s for s in world.sites((20.3, 20.7)) if s["fence_gate_m"] >= 24)
    p = corridor.point_at(site["chainage_km"], 60.0)  # over the fenced (left, KP) bank
    half = 150.0
    rgb = world.render((p.x - half, p.y - half, p.x + half, p.y + half), GSD, world.dates[0])
    valid = np.ones(rgb.shape[1:], bool)
    lc = classify_landcover(rgb, valid, GSD)
    f = factor_for(GSD)
    coarse = coarse_classes(lc.classes, f)
    water, bar = ({v: k for k, v in CODES.items()}[name] for name in ("water", "sandbar"))
    river = (coarse == water) | (coarse == bar)
    t = Affine(GSD, 0.0, p.x - half, 0.0, -GSD, p.y + half)
    found = find_fences(rgb, valid, t, GSD, river, t * Affine.scale(f), along_deg=corridor.direction_deg_at(site["chainage_km"]))
    openings = of_kind(found, "fence_opening")
    km = [float(corridor.locate_xy(o.x, o.y)[0][0]) for o in openings]
    assert any(abs(k - site["chainage_km"]) <= 0.04 for k in km), km
    assert len(openings) <= 2
    _, off = corridor.locate_xy(np.array([o.x for o in openings]), np.array([o.y for o in openings]))
    assert np.all(off > 0)  # on the fenced bank
