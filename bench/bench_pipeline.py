"""Pipeline overhead per tile: in-process and on a 2-worker dask LocalCluster.

Renders a short synthetic stretch, then times, in one process and one run:
  baseline   a plain loop calling analyse_tile on every task (no store, no executor);
  in-process run_pipeline with the in-process executor and a fresh GeoPackage store;
  dask-2     run_pipeline on a 2-worker LocalCluster (cluster start-up timed apart);
  no-op      each executor mapping a function that does nothing (pure scheduling cost).
Overhead per tile = (pipeline time - baseline time) / tiles. Medians of --repeat runs.
Usage: python bench/bench_pipeline.py [--km 0:2] [--gsd 0.5] [--repeat 3] [--detect] [--landcover]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from borderwatch.corridor import load_corridor
from borderwatch.imagery import register_scene
from borderwatch.pipeline import AnalysisParams, DaskExecutor, InProcessExecutor, analyse_tile, plan_tasks, run_pipeline
from borderwatch.store import Store
from borderwatch.synth import write_scenes


def _noop(x):
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--km", default="0:2")
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--detect", action="store_true", help="include vehicle detection in the per-tile work")
    ap.add_argument("--landcover", action="store_true", help="include land cover in the per-tile work")
    args = ap.parse_args()
    a, b = (float(v) for v in args.km.split(":"))
    corridor = load_corridor(f"yalu-upper[{a:g}:{b:g}]")
    params = AnalysisParams(gsd_m=args.gsd, detect=args.detect, landcover=args.landcover)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        paths = write_scenes(load_corridor("yalu-upper"), km=(a, b), gsd_m=args.gsd, dates=[dt.date(2025, 7, 31)], seed=11, out_dir=tmp / "scenes")
        print(f"rendered {args.km} km at {args.gsd} m in {time.perf_counter() - t:.1f} s")
        scenes = [register_scene(p) for p in paths if p.parent == tmp / "scenes" and p.suffix == ".tif"]
        _, tasks, _, _ = plan_tasks(corridor, scenes, params)
        n = len(tasks)
        mpx = sum(t.tile.shape_at(args.gsd)[0] ** 2 for t in tasks) / 1e6
        print(f"{n} tiles with imagery, {mpx:.0f} Mpx")

        def timed(fn):
            xs = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fn()
                xs.append(time.perf_counter() - t0)
            return statistics.median(xs)

        base = timed(lambda: [analyse_tile(t) for t in tasks])
        counter = iter(range(10_000))

        def pipeline(executor):
            with Store.open(tmp / f"bench-{next(counter)}.gpkg", create=True) as store:
                run_pipeline(corridor, scenes, store, params=params, executor=executor)

        inproc = timed(lambda: pipeline(InProcessExecutor()))
        noop_in = timed(lambda: list(InProcessExecutor().map_unordered(_noop, tasks)))
        t0 = time.perf_counter()
        dask = DaskExecutor(workers=2)
        startup = time.perf_counter() - t0
        try:
            list(dask.map_unordered(_noop, tasks[:4]))  # warm the workers' imports
            dask2 = timed(lambda: pipeline(dask))
            noop_dask = timed(lambda: list(dask.map_unordered(_noop, tasks)))
        finally:
            dask.close()

    ms = 1000.0 / n
    print(f"baseline (plain loop)      {base:7.2f} s  {base * ms:7.1f} ms/tile  {mpx / base:6.1f} Mpx/s")
    print(f"in-process pipeline        {inproc:7.2f} s  {inproc * ms:7.1f} ms/tile  overhead {(inproc - base) * ms:+6.1f} ms/tile  ratio {inproc / base:.2f}x baseline")
    print(f"dask LocalCluster 2 procs  {dask2:7.2f} s  {dask2 * ms:7.1f} ms/tile  overhead {(dask2 - base) * ms:+6.1f} ms/tile  ratio {dask2 / base:.2f}x baseline  (+{startup:.1f} s cluster start)")
    print(f"scheduling only (no-op)    in-process {noop_in * ms:.3f} ms/tile, dask {noop_dask * ms:.2f} ms/tile")


if __name__ == "__main__":
    main()
