"""Measure the fence finder (analysis.crossings.fence) against synthetic ground truth.

For each seed and GSD: the 512 m corridor tiles of a km range that reach the river, rendered with
the pipeline's 32 m margin, land cover and the river mask as the pipeline computes them, then
``find_fences`` per tile (with ``owns``/``clip`` set to the tile proper, as the pipeline does).

Scored, over the area of those tiles, against the synthetic world's own fence (drawn at
``Profile.fence_off`` from the water's edge on the fenced bank, open over each site's gate):
  - fence recall: share of the true fence length (gates excluded) within --tol m of a found line;
  - false fence: found line length farther than --tol m from the true fence (m, and m per km);
  - openings: truth gates matched by a found opening within 40 m of chainage on the fenced bank
    (recall, precision; openings outside the km range are not scored, like the truth sites);
  - CPU seconds of find_fences per tile (mean over tiles that hold river, and the max).

    python scripts/evaluate_fences.py --seeds 3,7 --km 10:30 --gsd 0.5,0.8 --cache runs/fence-cache
    python scripts/evaluate_fences.py --seeds 1000 --km 40:50 --gsd 0.5,0.8 --cache runs/fence-cache

Seeds below 1000 are for development; 1000 and up are held out: do not tune on them. Rendered tiles
(image and land cover) are cached under --cache, keyed by seed, GSD and tile id.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from affine import Affine

from borderwatch.corridor import load_corridor, tile_corridor
from borderwatch.errors import BorderwatchError
from borderwatch.pipeline.tasks import AnalysisParams, read_margin_m

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_sites import HELD_OUT_FROM, parse_floats, parse_km, parse_seeds  # noqa: E402  (shared argument parsing)

MATCH_KM = 0.040
RIVER_REACH_M = 300.0  # tiles farther than this from the border line hold no bank


def tile_inputs(world, tile, gsd: float, date, cache: Path | None) -> dict:
    """The tile with the pipeline's margin, its transform, and the river as the pipeline passes it
    (land cover on its coarse grid, then find_evidence's zones: water and bars, ponds left out).
    The image and the land cover are cached."""
    from borderwatch.analysis.crossings import coarse_classes, find_evidence
    from borderwatch.analysis.landcover import classify_landcover
    from borderwatch.analysis.landcover.features import factor_for

    path = cache / f"s{world.seed}_g{gsd:g}_{tile.tile_id}.npz" if cache else None
    minx, miny, maxx, maxy = tile.bounds
    margin = read_margin_m(AnalysisParams(gsd_m=gsd, landcover=True))  # what the pipeline reads
    transform = Affine(gsd, 0.0, minx - margin, 0.0, -gsd, maxy + margin)
    f = factor_for(gsd)
    if path is not None and path.exists():
        z = np.load(path)
        rgb, coarse = z["rgb"], z["coarse"]
    else:
        rgb = world.render((minx - margin, miny - margin, maxx + margin, maxy + margin), gsd, date)
        lc = classify_landcover(rgb, np.ones(rgb.shape[1:], bool), gsd)
        coarse = coarse_classes(lc.classes, f)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, rgb=rgb, coarse=coarse)
    river_transform = transform * Affine.scale(f)
    _, zones = find_evidence(coarse, river_transform, gsd * f)
    return {"rgb": rgb, "valid": np.ones(rgb.shape[1:], bool), "transform": transform, "river": zones.river,
            "river_transform": river_transform}


def river_tiles(corridor, km: tuple[float, float]):
    line = corridor.line
    out = []
    for t in tile_corridor(corridor):
        if not (km[0] <= t.chainage_km <= km[1]):
            continue
        if shapely.distance(line, shapely.box(*t.bounds)) <= RIVER_REACH_M:
            out.append(t)
    return out


def truth_fence(world, km: tuple[float, float]):
    """The world's fence on its fenced bank over a km range: (open lines, gate lines), map metres.

    Drawn as the renderer draws it (synth.render._fence): at Profile.fence_off from the water's
    edge (Layout.half_width), open over each site's gate.
    """
    c = world.corridor
    pa, pb = c.point_at(km[0]), c.point_at(km[1])
    s_ab, _ = world.frame.project(np.array([pa.x, pb.x]), np.array([pa.y, pb.y]))
    ss = np.arange(float(s_ab.min()), float(s_ab.max()), 1.0)
    sites = world.layout.sites_near(float(ss.min()), float(ss.max()))
    hw = world.layout.half_width(ss, sites)
    off = world.profile.wander(ss) + world.fence_side * (hw + world.profile.fence_off(ss))
    x, y = world.frame.to_xy(ss, off)
    gate = np.zeros(len(ss), bool)
    for st in sites:
        if st.gate is not None:
            gate |= (ss > st.gate[0]) & (ss < st.gate[1])

    def runs(mask):
        out = []
        idx = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
        for a, b in zip(idx[::2], idx[1::2]):
            if b - a >= 2:
                out.append(shapely.LineString(np.column_stack([x[a:b], y[a:b]])))
        return shapely.MultiLineString(out) if out else shapely.MultiLineString()

    return runs(~gate), runs(gate)


def evaluate(seed: int, gsd: float, km: tuple[float, float], cache: Path | None, tol_m: float, params=None) -> dict:
    from borderwatch.analysis.crossings.fence import find_fences
    from borderwatch.synth import SynthWorld

    corridor = load_corridor("yalu-upper")
    world = SynthWorld(corridor, seed=seed)
    date = world.dates[0]
    tiles = river_tiles(corridor, km)
    lines, openings, cpu = [], [], []
    for t in tiles:
        d = tile_inputs(world, t, gsd, date, cache)
        minx, miny, maxx, maxy = t.bounds

        def owns(x, y, b=t.bounds):
            return b[0] <= x < b[2] and b[1] < y <= b[3]

        t0 = time.process_time()
        found = find_fences(d["rgb"], d["valid"], d["transform"], gsd, d["river"], d["river_transform"],
                            along_deg=corridor.direction_deg_at(t.chainage_km), owns=owns, clip=t.bounds, params=params)
        dt = time.process_time() - t0
        if d["river"].any():
            cpu.append(dt)
        for e in found:
            (lines if e.kind == "fence_line" else openings).append(e)
    # the scored area is the tiles' (they reach past the km range at its ends): truth over it all
    fence, gates = truth_fence(world, (max(0.0, km[0] - 1.0), km[1] + 1.0))
    zone = shapely.union_all([shapely.box(*t.bounds) for t in tiles])
    fence = shapely.intersection(fence, zone)
    gates = shapely.intersection(gates, zone)
    found = shapely.union_all([e.geometry for e in lines]) if lines else shapely.MultiLineString()
    hit = shapely.intersection(fence, shapely.buffer(found, tol_m)).length if lines else 0.0
    near_truth = shapely.buffer(shapely.union_all([fence, gates]), tol_m)
    false_m = shapely.difference(found, near_truth).length if lines else 0.0
    # false lines on the other bank vs elsewhere on the fenced bank (fields, roads)
    other_bank = 0.0
    false_lines = []
    if lines and false_m > 0:
        falses = shapely.difference(found, near_truth)
        for g in getattr(falses, "geoms", [falses]):
            if g.is_empty:
                continue
            m = g.interpolate(0.5, normalized=True)
            k, off = corridor.locate_xy(m.x, m.y)
            if np.sign(off[0]) != world.fence_side:
                other_bank += g.length
            if g.length >= 10.0:
                false_lines.append((round(float(g.length)), round(float(k[0]), 3), round(float(off[0]))))
    false_lines.sort(reverse=True)
    truth_sites = [s for s in world.sites(km) if s["fence_gate_m"] > 0]
    truth_km = np.array([s["chainage_km"] for s in truth_sites])
    det = []
    for e in openings:
        k, off = corridor.locate_xy(e.x, e.y)
        if km[0] <= k[0] <= km[1]:  # openings are scored on the km range, as the truth sites are
            det.append((float(k[0]), float(off[0]), e))
    used: set[int] = set()  # truth sites matched
    hits: set[int] = set()  # detections that matched one
    matched = []
    order = sorted(range(len(det)), key=lambda i: -det[i][2].score)
    for i in order:
        k, off, _ = det[i]
        if np.sign(off) != world.fence_side or not len(truth_km):
            continue
        free = [j for j in range(len(truth_km)) if j not in used]
        if not free:
            break
        j = min(free, key=lambda j: abs(truth_km[j] - k))
        if abs(truth_km[j] - k) <= MATCH_KM:
            used.add(j)
            hits.add(i)
            matched.append(round(abs(truth_km[j] - k) * 1000.0, 1))
    tp = len(hits)
    n_det, n_true = len(det), len(truth_sites)
    listed = [{"km": round(det[i][0], 3), "offset_m": round(det[i][1]), "score": det[i][2].score, "true": i in hits,
               **det[i][2].details} for i in sorted(range(len(det)), key=lambda i: det[i][0])]
    missed = [round(float(truth_km[j]), 3) for j in range(n_true) if j not in used]
    false_open = sorted(round(det[i][0], 3) for i in range(len(det)) if i not in hits)
    span_km = km[1] - km[0]
    return {
        "seed": seed, "gsd_m": gsd, "km": list(km), "tiles": len(tiles), "river_tiles": len(cpu),
        "fence_truth_m": round(fence.length, 0), "fence_found_m": round(found.length if lines else 0.0, 0),
        "fence_recall": round(hit / fence.length, 3) if fence.length else None,
        "fence_false_m": round(false_m, 0), "fence_false_m_per_km": round(false_m / span_km, 1),
        "fence_false_other_bank_m": round(other_bank, 0),
        "false_lines_m_km_offset": false_lines[:8],
        "openings_true": n_true, "openings_found": n_det, "openings_matched": tp,
        "opening_recall": round(tp / n_true, 3) if n_true else None,
        "opening_precision": round(tp / n_det, 3) if n_det else None,
        "opening_error_m": matched, "openings": listed, "missed_km": missed, "false_openings_km": false_open,
        "cpu_s_per_tile_mean": round(float(np.mean(cpu)), 4) if cpu else None,
        "cpu_s_per_tile_max": round(float(np.max(cpu)), 4) if cpu else None,
        "pixels_per_tile": int(d["rgb"].shape[1] * d["rgb"].shape[2]) if tiles else 0,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="3,7")
    ap.add_argument("--km", default="10:30")
    ap.add_argument("--gsd", default="0.5,0.8")
    ap.add_argument("--cache", type=Path, default=None, help="folder for rendered tiles (reused when present)")
    ap.add_argument("--tol", type=float, default=3.0, help="metres from the true fence that count as on it")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    a = ap.parse_args(argv)
    try:
        seeds = parse_seeds(a.seeds)
        gsds = parse_floats(a.gsd, "--gsd")
        km = parse_km(a.km)
        rows = []
        for gsd in gsds:
            for seed in seeds:
                r = evaluate(seed, gsd, km, a.cache, a.tol)
                rows.append(r)
                print(json.dumps(r), flush=True)
    except BorderwatchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for gsd in gsds:
        rs = [r for r in rows if r["gsd_m"] == gsd]
        tt = sum(r["fence_truth_m"] for r in rs)
        hit = sum(r["fence_recall"] * r["fence_truth_m"] for r in rs if r["fence_recall"] is not None)
        nt = sum(r["openings_true"] for r in rs)
        nd = sum(r["openings_found"] for r in rs)
        tp = sum(r["openings_matched"] for r in rs)
        cpu = [r["cpu_s_per_tile_mean"] for r in rs if r["cpu_s_per_tile_mean"] is not None]
        held = " (held out)" if min(seeds) >= HELD_OUT_FROM else " (development)" if max(seeds) < HELD_OUT_FROM else " (MIXED development and held-out seeds)"
        print(f"gsd {gsd:g} m, seeds {','.join(map(str, seeds))}{held}, km {km[0]:g}-{km[1]:g}: "
              f"fence recall {hit / tt if tt else 0:.3f}, false {sum(r['fence_false_m'] for r in rs):.0f} m "
              f"(other bank {sum(r['fence_false_other_bank_m'] for r in rs):.0f} m); "
              f"openings recall {f'{tp / nt:.2f}' if nt else 'n/a'} ({tp}/{nt}), precision {f'{tp / nd:.2f}' if nd else 'n/a'} ({tp}/{nd}); "
              f"cpu {np.mean(cpu) if cpu else 0:.3f} s/tile (max {max((r['cpu_s_per_tile_max'] or 0) for r in rs):.3f})")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
