"""Measure how often a detection inside a site outline is a real vehicle, by score (for sites/belief.py).

Reads stores written by ``scripts/evaluate_sites.py --detect --keep-store`` (or any store built
from synthetic scenes of one seed) and the synthetic truth of that seed; a detection is a vehicle
when its centre lies within --match-m of a true vehicle of that date. Use development seeds only
(below 1000): the table it prints is shipped.

    python scripts/calibrate_detections.py --store W/yalu-upper-km30-40-seed1-gsd0.5/store-det-3d.gpkg \\
        --store W/yalu-upper-km30-40-seed1-gsd0.8/store-det-3d.gpkg --seed 1 --km 30:40 \\
        --dates 2025-07-31,2025-09-13,2025-10-20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import shapely
from scipy.spatial import cKDTree

from borderwatch.corridor import load_corridor
from borderwatch.errors import BorderwatchError, InputError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_sites import HELD_OUT_FROM, parse_date, parse_km  # noqa: E402  (shared argument parsing)

VEHICLE_CLASSES = ("small_vehicle", "large_vehicle", "heavy_equipment")
EDGES = (0.0, 0.40, 0.45, 0.50, 0.60, 0.70, 1.01)


def outcomes(store_path: Path, world, corridor, km, dates, match_m: float) -> list[tuple[float, bool]]:
    """(score, is a vehicle) for every detection of the given dates inside a registered site's outline, from the
    results the register was built on (its sites' ``result_key``)."""
    from borderwatch.store import Store

    out = []
    with Store.open(store_path) as store:
        sites = store.read_rows("sites")
        outlines = shapely.unary_union([corridor.from_lonlat(s["geometry"]).buffer(0) for s in sites])
        if outlines.is_empty:
            raise InputError(store_path, "no sites in this store: build the register first")
        # the detections the register was built from: a store can hold other runs' (other parameters or models)
        keys = {tuple((s.get("details") or {}).get("result_key") or ()) for s in sites}
        if len(keys) != 1 or len(next(iter(keys))) != 2:
            raise InputError(store_path, f"the sites come from {len(keys)} result keys (or none is recorded): "
                                         "build the register from one set of results")
        rows = store.current_rows("detections", *next(iter(keys)))
        for day in dates:
            truth = [o for o in world.objects(day, km) if o["class"] in VEHICLE_CLASSES]
            tree = cKDTree([[o["x"], o["y"]] for o in truth]) if truth else None
            for row in (r for r in rows if str(r["date"])[:10] == day.isoformat()):
                c = corridor.from_lonlat(row["geometry"]).centroid
                if not outlines.contains(c):
                    continue
                near = tree is not None and tree.query([c.x, c.y])[0] <= match_m
                out.append((float(row["score"]), bool(near)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, action="append", required=True, help="a store (repeat for more)")
    ap.add_argument("--seed", type=int, required=True, help="synthetic seed the stores were rendered with")
    ap.add_argument("--km", required=True, help="stretch START:END (km)")
    ap.add_argument("--dates", required=True, help="comma-separated capture dates")
    ap.add_argument("--corridor", default="yalu-upper")
    ap.add_argument("--match-m", type=float, default=4.0, help="largest centre distance to a true vehicle (m)")
    args = ap.parse_args(argv)
    try:
        from borderwatch.synth import SynthWorld

        if args.seed >= HELD_OUT_FROM:
            raise InputError("--seed", f"seeds from {HELD_OUT_FROM} are held out: calibrate on development seeds")
        a, b = parse_km(args.km)
        dates = sorted(parse_date(t, "--dates") for t in args.dates.split(",") if t.strip())
        corridor = load_corridor(args.corridor)
        world = SynthWorld(corridor, seed=args.seed, dates=dates)
        rows = [r for p in args.store for r in outcomes(p, world, corridor, (a, b), dates, args.match_m)]
    except BorderwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scores = np.array([s for s, _ in rows])
    real = np.array([v for _, v in rows])
    print(f"{len(rows)} detections inside site outlines (seed {args.seed}, km {a:g}-{b:g}, {len(args.store)} stores)")
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        m = (scores >= lo) & (scores < hi)
        share = f"{real[m].mean():.2f}" if m.any() else "-"
        print(f"  score {lo:.2f}-{min(hi, 1.0):.2f}: {m.sum():4d} detections, share that are vehicles {share}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
