"""Synthetic renderer figures: throughput (Mpx/s at 0.5 m) and peak memory over a corridor.

Not a test: prints numbers. ``python bench/bench_synth.py --km 0:10`` for a quick run;
without ``--km`` it renders the whole 81 km yalu-upper corridor tile by tile.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from datetime import date

from borderwatch.corridor import load_corridor, tile_corridor
from borderwatch.synth import SynthWorld


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corridor", default="yalu-upper")
    ap.add_argument("--km", default=None, help="A:B chainage range for the memory run (default: whole corridor)")
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--tile-m", type=float, default=512.0)
    ap.add_argument("--samples", type=int, default=9, help="tiles timed for the throughput figure")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    corridor = load_corridor(args.corridor)
    dates = [date(2025, 7, 31), date(2025, 9, 13)]
    world = SynthWorld(corridor, seed=args.seed, dates=dates)
    run = corridor
    if args.km:
        a, b = (float(v) for v in args.km.split(":"))
        run = corridor.stretch(a, b)
    tiles = tile_corridor(run, args.tile_m)
    print(f"corridor {run.name}: {run.length_km:.1f} km, {len(tiles)} tiles of {args.tile_m:g} m at {args.gsd:g} m GSD")

    # throughput: tiles spread along the run, near the river (busy) and inland
    step = max(1, len(tiles) // args.samples)
    sample = tiles[::step][: args.samples]
    rates = []
    for t in sample:
        world.render(t.bounds, args.gsd, dates[0])  # lay out the chunk first (truth, not pixels)
        t0 = time.perf_counter()
        rgb = world.render(t.bounds, args.gsd, dates[1])
        dt = time.perf_counter() - t0
        rates.append(rgb.shape[1] * rgb.shape[2] / dt / 1e6)
    print(f"throughput: median {statistics.median(rates):.2f} Mpx/s (min {min(rates):.2f}, max {max(rates):.2f}) "
          f"over {len(rates)} tiles, one core, one date")

    # memory: every tile of the run, one date, in river order
    base = rss_mib()
    t0 = time.perf_counter()
    px = 0
    fresh = SynthWorld(corridor, seed=args.seed, dates=dates)
    for i, t in enumerate(tiles):
        rgb = fresh.render(t.bounds, args.gsd, dates[1])
        px += rgb.shape[1] * rgb.shape[2]
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(tiles)} tiles, peak RSS {rss_mib():.0f} MiB", flush=True)
    dt = time.perf_counter() - t0
    print(f"full run: {len(tiles)} tiles, {px / 1e6:.0f} Mpx in {dt:.1f} s ({px / dt / 1e6:.2f} Mpx/s); "
          f"peak RSS {rss_mib():.0f} MiB (before the run {base:.0f} MiB)")


if __name__ == "__main__":
    main()
