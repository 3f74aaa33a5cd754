"""Land-cover throughput: Mpx/s per core of classify_landcover on synthetic corridor tiles.

Not a test: prints numbers. OpenCV and BLAS are pinned to one thread so the figure is per core.
``python bench/bench_landcover.py`` times --samples tiles of 512 m at 0.5 m (and 0.8 m),
rendered once up front (rendering is not timed), each classified --repeat times (best kept).
At 3-10 m (``--gsd 5``) the RGB path runs the conv water net; ``--baseline-net OLD.onnx`` times that path again
with another net file in the same run and prints the ratio (e.g. a net before a refit); ``--baseline-params OLD.json``
does the same for the MLP heads (params.json) at every GSD.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # per-core figure (the classifier itself uses cv2.gemm)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import time
from datetime import date

import cv2
import numpy as np

from borderwatch.analysis.landcover import classify_landcover
from borderwatch.analysis.landcover.regions import uses_regions
from borderwatch.corridor import load_corridor, tile_corridor
from borderwatch.synth import SynthWorld


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corridor", default="yalu-upper")
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.5, 0.8])
    ap.add_argument("--tile-m", type=float, default=512.0)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (1 = per-core figure)")
    ap.add_argument("--baseline-net", help="another water_cnn.onnx to time the 3-10 m RGB path with, for a ratio")
    ap.add_argument("--baseline-params", help="another params.json (MLP heads) to time the RGB path with, for a ratio")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)

    corridor = load_corridor(args.corridor)
    world = SynthWorld(corridor, seed=args.seed)
    tiles = tile_corridor(corridor, args.tile_m)
    pick = [tiles[i] for i in np.linspace(0, len(tiles) - 1, args.samples).astype(int)]
    d = date(2025, 7, 31)
    for gsd in args.gsd:
        px = 0
        t_rgb = t_nir = c_rgb = 0.0
        for t in pick:
            rgb = world.render(t.bounds, gsd, d)
            valid = np.ones(rgb.shape[1:], bool)
            rgbn = np.concatenate([rgb, rgb[1:2]])  # a stand-in NIR band: same cost as a real one
            px += valid.size
            runs = [_time(lambda: classify_landcover(rgb, valid, gsd)) for _ in range(args.repeat)]
            t_rgb += min(r[0] for r in runs)
            c_rgb += min(r[1] for r in runs)
            t_nir += min(_time(lambda: classify_landcover(rgbn, valid, gsd, nir=True))[0] for _ in range(args.repeat))
        rgb_best, nir_best, rgb_cpu = px / t_rgb / 1e6, px / t_nir / 1e6, px / c_rgb / 1e6
        full = corridor_px(tiles, gsd)
        print(f"gsd {gsd} m: {len(pick)} tiles, {px / 1e6:.1f} Mpx; RGB {rgb_best:.1f} Mpx/s wall ({rgb_cpu:.1f} per CPU-second), "
              f"RGB+NIR {nir_best:.1f} Mpx/s wall "
              f"(threads={args.threads}); whole corridor ({len(tiles)} tiles, {full / 1e9:.2f} Gpx): "
              f"{full / rgb_best / 1e6 / 60:.1f} min RGB on one core")
        if args.baseline_net and uses_regions(gsd):
            base = _with_file("cnn", args.baseline_net, lambda: _best_rgb(world, pick, gsd, d, args.repeat))
            print(f"  baseline net {args.baseline_net}: RGB {px / base / 1e6:.2f} Mpx/s wall; shipped net "
                  f"{rgb_best:.2f}, {base / t_rgb:.2f}x the baseline's speed")
        if args.baseline_params:
            base = _with_file("model", args.baseline_params, lambda: _best_rgb(world, pick, gsd, d, args.repeat))
            print(f"  baseline heads {args.baseline_params}: RGB {px / base / 1e6:.2f} Mpx/s wall; shipped heads "
                  f"{rgb_best:.2f}, {base / t_rgb:.2f}x the baseline's speed")


def _best_rgb(world, pick, gsd, d, repeat) -> float:
    total = 0.0
    for t in pick:
        rgb = world.render(t.bounds, gsd, d)
        valid = np.ones(rgb.shape[1:], bool)
        total += min(_time(lambda: classify_landcover(rgb, valid, gsd))[0] for _ in range(repeat))
    return total


def _with_file(which: str, path, fn):
    """fn() with the 3-10 m water net (which="cnn") or the MLP heads (which="model") read from `path` instead of the
    shipped file."""
    from importlib import import_module
    from pathlib import Path

    mod = import_module(f"borderwatch.analysis.landcover.{which}")
    attr, loader = ("CNN_FILE", mod.load_cnn) if which == "cnn" else ("PARAMS_FILE", mod.load_params)
    shipped = getattr(mod, attr)
    setattr(mod, attr, Path(path))
    loader.cache_clear()
    try:
        return fn()
    finally:
        setattr(mod, attr, shipped)
        loader.cache_clear()


def corridor_px(tiles, gsd) -> float:
    return sum(round((t.bounds[2] - t.bounds[0]) / gsd) * round((t.bounds[3] - t.bounds[1]) / gsd) for t in tiles)


def _time(fn) -> tuple[float, float]:
    """(wall, CPU) seconds: on a shared machine CPU time is the fairer per-core figure."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


if __name__ == "__main__":
    main()
