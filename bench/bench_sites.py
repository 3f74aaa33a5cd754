"""The whole pipeline over a corridor for one date: imagery -> land cover, evidence, detection -> site register.

Renders the synthetic corridor (block by block, to a COG; timed as its own
stage), then runs, in one process and one run:
  read-only  a plain loop reading every tile's pixels (the I/O floor: the baseline), and a sample of
             tiles read from the scene moved half a pixel off the grid (the warp every scene in
             another grid or CRS goes through);
  pipeline   run_pipeline with land cover, crossing evidence and (unless --no-detect)
             detection, into a fresh GeoPackage store;
  register   update_register over the stored evidence and detections.
Prints seconds and Mpx/s per stage (the pipeline's stages from the per-tile timings),
peak RSS, and the register against the synthetic truth.
Usage: python bench/bench_sites.py [--km 0:81.08] [--gsd 0.5] [--no-detect] [--workers 2] [--off-grid] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import rasterio
import rasterio.shutil
from affine import Affine

from borderwatch.corridor import load_corridor
from borderwatch.imagery import register_scene
from borderwatch.imagery.reader import read_tile
from borderwatch.pipeline import AnalysisParams, make_executor, plan_tasks, run_pipeline
from borderwatch.pipeline.tasks import versions
from borderwatch.sites import update_register
from borderwatch.sites.evaluate import (
    evaluate_sites, format_scores, fronts_measured, shares_from_counts, truth_class_counts, truth_direction_counts,
)
from borderwatch.store import Store
from borderwatch.synth import SynthWorld, write_scenes

DATE = dt.date(2025, 9, 13)


#: every how many tiles the off-grid read is timed
WARP_SAMPLE = 4


def _off_grid_copy(tif: Path, vrt: Path) -> Path:
    """A VRT of ``tif`` moved half a pixel south-east, so every read of it goes through the warp."""
    rasterio.shutil.copy(tif, vrt, driver="VRT")
    with rasterio.open(vrt, "r+") as ds:
        ds.transform = ds.transform * Affine.translation(0.5, 0.5)
    return vrt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--km", default="0:81.08")
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--detect", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--workers", type=int, default=2, help="dask worker processes (1 = in-process)")
    ap.add_argument("--front-calibration", choices=("real", "none"), default="real",
                    help="heading_conf calibrated on real streets (default) or the front check's own (synthetic)")
    ap.add_argument("--off-grid", action="store_true",
                    help="run the pipeline on the scene moved half a pixel off the grid (every read warped, as for "
                         "imagery in another grid or CRS)")
    ap.add_argument("--workdir", help="keep the rendered scene here and reuse it (default: a temporary folder)")
    args = ap.parse_args()
    a, b = (float(v) for v in args.km.split(":"))
    whole = load_corridor("yalu-upper")
    b = min(b, whole.length_km)
    corridor = load_corridor(f"yalu-upper[{a:g}:{b:g}]")
    params = AnalysisParams(gsd_m=args.gsd, detect=args.detect, landcover=True,
                            front_calibration=args.front_calibration)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        scene_dir = work / f"scenes-{a:g}-{b:g}-{args.gsd:g}-{args.seed}"
        tif = scene_dir / f"{DATE}.tif"
        if not tif.exists():
            t0 = time.perf_counter()
            write_scenes(whole, km=(a, b), gsd_m=args.gsd, dates=[DATE], seed=args.seed, out_dir=scene_dir, landcover=False)
            render = time.perf_counter() - t0
        else:
            render = None
        scene = register_scene(tif)
        _, tasks, _, _ = plan_tasks(corridor, [scene], params)
        mpx = sum(t.tile.shape_at(args.gsd)[0] ** 2 for t in tasks) / 1e6
        print(f"{corridor.name}: {corridor.length_km:.2f} km, {len(tasks)} tiles with imagery, {mpx:.0f} Mpx at {args.gsd} m, one date")
        if args.detect:  # which detector, front check and calibration the figures are for
            print(f"detector {versions(params)['detector']} (front calibration: {params.front_calibration})")
        if render is not None:
            print(f"render (write_scenes, COG)   {render:7.1f} s  {mpx / render:6.2f} Mpx/s")
        else:
            print(f"render: reused {tif}")

        t0 = time.perf_counter()
        for t in tasks:
            read_tile([scene], t.tile.bounds, corridor.crs, args.gsd)
        read_only = time.perf_counter() - t0
        print(f"read-only baseline           {read_only:7.1f} s  {mpx / read_only:6.2f} Mpx/s  "
              f"(the scene is on the corridor grid: read without a warp)")
        off_grid = register_scene(_off_grid_copy(tif, scene_dir / "off-grid.vrt"))
        sample = tasks[::WARP_SAMPLE]
        t0 = time.perf_counter()
        for t in sample:
            read_tile([off_grid], t.tile.bounds, corridor.crs, args.gsd)
        warped = time.perf_counter() - t0
        sample_mpx = sum(t.tile.shape_at(args.gsd)[0] ** 2 for t in sample) / 1e6
        print(f"  the same off the grid        {warped:7.1f} s  {sample_mpx / warped:6.2f} Mpx/s  (every {WARP_SAMPLE}th tile of "
              f"the scene shifted half a pixel: warped, as imagery in another grid or CRS is)")

        executor = make_executor(workers=args.workers if args.workers > 1 else None, scheduler=None)
        try:
            with Store.open(work / f"bench-sites-{time.time_ns()}.gpkg", create=True) as store:
                t0 = time.perf_counter()
                summary = run_pipeline(corridor, [off_grid if args.off_grid else scene], store, params=params,
                                       executor=executor)
                pipe = time.perf_counter() - t0
                t0 = time.perf_counter()
                reg = update_register(corridor, store, (summary.param_hash, summary.versions_hash))
                register = time.perf_counter() - t0
                stage = defaultdict(float)
                for r in store.tile_results():
                    for k, v in (r["stats"].get("seconds") or {}).items():
                        stage[k] += v
        finally:
            executor.close()
        total = pipe + register
        if args.off_grid:
            print("pipeline on the off-grid scene (every read warped)")
        print(f"pipeline ({executor.name:10s})     {pipe:7.1f} s  {mpx / pipe:6.2f} Mpx/s  ratio {pipe / read_only:.1f}x the read-only baseline")
        for k, v in stage.items():
            print(f"  {k:10s} (CPU s in tiles) {v:7.1f} s  {mpx / v if v else float('inf'):6.2f} Mpx per CPU-s")
        print(f"register                     {register:7.1f} s  ({len(reg.sites)} sites and candidates)")
        print(f"pipeline + register          {total:7.1f} s  ({total / 60:.2f} min; target <= 5 min on 2 cores)")
        print(f"peak RSS (this process)      {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        for w in reg.warnings:
            print(f"warning: {w}")
        print(f"summary: {reg.summary}")
        world = SynthWorld(whole, seed=args.seed, dates=[DATE])
        counts = {DATE.isoformat(): truth_direction_counts(world, whole, DATE, (a, b))}
        shares = {d: shares_from_counts(c) for d, c in counts.items()}
        scores = evaluate_sites(reg.sites, reg.observations, world.sites((a, b)), shares, truth_counts_by_date=counts,
                                truth_class_counts_by_date={DATE.isoformat(): truth_class_counts(world, DATE, (a, b))},
                                km_range=(a, b), label=f"seed {args.seed}, {args.gsd} m", imaged=corridor.area)
        print(format_scores(scores))
        print(fronts_measured(reg.observations))


if __name__ == "__main__":
    main()
