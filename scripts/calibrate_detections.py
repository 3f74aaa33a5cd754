"""Measure how often a detection inside a site outline is a real vehicle, by score (for sites/belief.py).

Reads stores written by ``scripts/evaluate_sites.py --detect --keep-store`` (or any store built
from synthetic scenes of one seed) and the synthetic truth of that seed; a detection is a vehicle
when its centre lies within --match-m of a true vehicle of that date. Use development seeds only
(below 1000): the table it prints is shipped.

    python scripts/calibrate_detections.py --store W/yalu-upper-km30-40-seed1-gsd0.5/store-det-3d.gpkg \\
        --store W/yalu-upper-km30-40-seed1-gsd0.8/store-det-3d.gpkg --seed 1 --km 30:40 \\
        --dates 2025-07-31,2025-09-13,2025-10-20

Stores of several seeds or stretches are pooled with one --seed and --km per --store, in the same order.
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


def outcomes(store_path: Path, world, corridor, km, dates, match_m: float) -> list[tuple[float, bool, str]]:
    """(score, is a vehicle, detected class) for every detection of the given dates inside a registered site's outline, from the
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
                out.append((float(row["score"]), bool(near), str(row["class"])))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, action="append", required=True, help="a store (repeat for more)")
    ap.add_argument("--seed", type=int, action="append", required=True,
                    help="synthetic seed the stores were rendered with: one for all stores, or one per --store")
    ap.add_argument("--km", action="append", required=True,
                    help="stretch START:END (km): one for all stores, or one per --store")
    ap.add_argument("--dates", required=True, help="comma-separated capture dates")
    ap.add_argument("--corridor", default="yalu-upper")
    ap.add_argument("--match-m", type=float, default=4.0, help="largest centre distance to a true vehicle (m)")
    args = ap.parse_args(argv)
    try:
        from borderwatch.synth import SynthWorld

        seeds, kms = (_per_store(v, args.store, name) for v, name in ((args.seed, "--seed"), (args.km, "--km")))
        if max(seeds) >= HELD_OUT_FROM:
            raise InputError("--seed", f"seeds from {HELD_OUT_FROM} are held out: calibrate on development seeds")
        dates = sorted(parse_date(t, "--dates") for t in args.dates.split(",") if t.strip())
        corridor = load_corridor(args.corridor)
        worlds = {s: SynthWorld(corridor, seed=s, dates=dates) for s in sorted(set(seeds))}
        rows = [r for p, s, km in zip(args.store, seeds, kms)
                for r in outcomes(p, worlds[s], corridor, parse_km(km), dates, args.match_m)]
    except BorderwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    where = ", ".join(sorted({f"seed {s} km {km}" for s, km in zip(seeds, kms)}))
    print(f"{len(rows)} detections inside site outlines ({where}; {len(args.store)} stores)")
    print(format_table(rows))
    return 0


def _per_store(values: list, stores: list, option: str) -> list:
    """One value for every store, or one per store in the order given."""
    if len(values) == 1:
        return values * len(stores)
    if len(values) != len(stores):
        raise InputError(option, f"give one value, or one per --store ({len(values)} values for {len(stores)} stores)")
    return values


def format_table(rows: list[tuple[float, bool, str]]) -> str:
    """Share that are vehicles by score bin: all classes pooled, then each detected class (the per-class curves
    of sites/belief.py)."""
    scores = np.array([s for s, _, _ in rows], float)
    real = np.array([v for _, v, _ in rows], bool)
    classes = np.array([c for _, _, c in rows], dtype=object)
    out = []
    for name in ("all", *VEHICLE_CLASSES):
        pick = np.ones(len(rows), bool) if name == "all" else classes == name
        out.append(f"{name} ({int(pick.sum())} detections):")
        for lo, hi in zip(EDGES[:-1], EDGES[1:]):
            m = pick & (scores >= lo) & (scores < hi)
            share = f"{real[m].mean():.2f}" if m.any() else "-"
            out.append(f"  score {lo:.2f}-{min(hi, 1.0):.2f}: {m.sum():4d} detections, share that are vehicles {share}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
