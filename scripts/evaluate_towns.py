"""Real streets pasted beside a synthetic river: what the site register makes of a town on the bank.

On real frames at 0.5-0.8 m the land cover reads dark asphalt as water and paving as sandbar
(scripts/landcover_negatives.py). This measures what that does to the register. Real street frames (KIT Munich,
Minsk drone; no river in them) are resampled to the scene's GSD, packed into town blocks and pasted on land
right beside the river of a rendered synthetic stretch, away from its true sites. The pipeline and the register
then run on the clean scenes and on the pasted ones. A site, candidate or piece of evidence inside a town block
(plus a margin) is false by construction; true sites lie outside the blocks, so recall should not move.

    python scripts/evaluate_towns.py --kit DIR --minsk DIR --km 40:55 --seed 20 --workdir runs/towns

Seeds as in evaluate_sites.py (1000 and up are held out). The blocks are chosen from the seed alone, so every
variant of the code sees the same towns.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluate_sites import build, parse_date, parse_km, render, rows, score  # noqa: E402
from landcover_negatives import PLACES, frames  # noqa: E402

from borderwatch.synth.palette import LANDCOVER  # noqa: E402

#: truth land-cover codes a town block must not cover
NOT_LAND = tuple(code for code, name in LANDCOVER.items() if name in ("nodata", "water", "sandbar", "ice"))


def pick_towns(world, corridor, km, n: int, block_m: tuple[float, float], gsd: float, clear_km: float,
               step_m: float = 10.0, max_offset_m: float = 800.0, facing: bool = False, set_back_m: float = 0.0) -> list[dict]:
    """Up to n axis-aligned blocks on land beside the river, on alternate banks (``facing``: on both banks at each
    chainage, as Hyesan and Changbai face each other), at chainages at least ``clear_km`` from every true site and
    from each other: the first offset from the line whose block is land on every date (so the block's near edge is
    within ``step_m`` of the river or its bars), or, with ``set_back_m``, the first land one that much farther out."""
    import shapely

    sites = [s["chainage_km"] for s in world.sites(km)]
    area = corridor.stretch(*km).area
    clear = [c for c in np.arange(km[0] + 0.5, km[1] - 0.5, 0.05) if all(abs(c - s) >= clear_km for s in sites)]
    chosen: list[float] = []
    for c in clear:
        if all(abs(c - o) >= clear_km for o in chosen):
            chosen.append(float(c))
    if len(chosen) > n:
        chosen = [chosen[int(i)] for i in np.linspace(0, len(chosen) - 1, n).round()]
    w, h = block_m
    out = []
    spots = [(c, side) for c in chosen for side in (1.0, -1.0)] if facing else \
        [(c, 1.0 if i % 2 == 0 else -1.0) for i, c in enumerate(chosen)]
    for c, side in spots:
        first_land = None
        for off in np.arange(step_m, max_offset_m, step_m):
            if first_land is not None and off < first_land + set_back_m:
                continue
            p = corridor.point_at(c, side * (off + max(w, h) / 2))
            bounds = tuple(round(v / gsd) * gsd for v in (p.x - w / 2, p.y - h / 2, p.x + w / 2, p.y + h / 2))
            if not area.contains(shapely.box(*bounds)):
                break
            if all(not np.isin(world.render_with_landcover(bounds, gsd, d)[1], NOT_LAND).any() for d in world.dates):
                first_land = float(off) if first_land is None else first_land
                if off >= first_land + set_back_m:
                    out.append({"chainage_km": round(c, 3), "bank": corridor.country_for_offset(side),
                                "offset_m": float(off), "bounds": bounds})
                    break
    return out


def town_block(pieces: list[np.ndarray], shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(3, H, W) uint8 packed from street frames in shelves (random frames, cropped at the block's edges).
    Gaps left at a shelf's foot keep 0 and are filled from the scene."""
    h, w = shape
    out = np.zeros((3, h, w), np.uint8)
    y = 0
    while y < h:
        x, shelf = 0, 0
        while x < w:
            f = pieces[int(rng.integers(len(pieces)))]
            fh, fw = min(f.shape[1], h - y), min(f.shape[2], w - x)
            out[:, y:y + fh, x:x + fw] = f[:, :fh, :fw]
            x += fw
            shelf = max(shelf, fh)
        y += shelf
    return out


def paste(clean: Path, dst: Path, towns: list[dict], blocks: list[np.ndarray]) -> Path:
    """A copy of the scene with the town blocks written over it (every pasted pixel >= 1: 0 is nodata)."""
    import rasterio
    import rasterio.shutil
    from rasterio.windows import from_bounds

    dst.parent.mkdir(parents=True, exist_ok=True)
    rasterio.shutil.copy(clean, dst, driver="GTiff", tiled=True, blockxsize=512, blockysize=512, compress="ZSTD",
                         BIGTIFF="IF_SAFER")
    with rasterio.open(dst, "r+") as ds:
        for t, block in zip(towns, blocks):
            win = from_bounds(*t["bounds"], transform=ds.transform).round_offsets().round_lengths()
            old = ds.read(window=win)
            h, w = min(old.shape[1], block.shape[1]), min(old.shape[2], block.shape[2])
            new = old.copy()
            filled = block[:, :h, :w].any(axis=0)
            new[:, :h, :w][:, filled] = np.maximum(block[:, :h, :w][:, filled], 1)
            ds.write(new, window=win)
    return dst


def town_findings(register, store, key, corridor, towns, margin_m) -> dict:
    """Sites and candidates, evidence and detections inside the town blocks (plus margin)."""
    import shapely

    blocks = shapely.union_all([shapely.box(*t["bounds"]) for t in towns])
    zone = blocks.buffer(margin_m)

    def inside(row, area) -> bool:
        return corridor.from_lonlat(row["geometry"]).intersects(area)

    sites = [r for r in rows(register, "sites") if inside(r, zone)]
    evidence: dict[str, int] = {}
    for r in store.current_rows("evidence", *key):
        if inside(r, zone):
            evidence[r["kind"]] = evidence.get(r["kind"], 0) + 1
    dets = sum(inside(r, blocks) for r in store.current_rows("detections", *key))
    return {"sites": [{"site_id": r["site_id"], "status": r.get("status"), "kind": r.get("kind"),
                       "scale": r.get("scale"), "chainage_km": r.get("chainage_km")} for r in sites],
            "evidence": dict(sorted(evidence.items())), "detections": dets}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kit", required=True, type=Path, help="KIT AIS Munich folder")
    ap.add_argument("--minsk", required=True, type=Path, help="Minsk drone folder")
    ap.add_argument("--corridor", default="yalu-upper")
    ap.add_argument("--km", default="40:55", help="stretch START:END (km)")
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--dates", default="2025-07-31,2025-09-13")
    ap.add_argument("--towns", type=int, default=4, help="chainages to paste town blocks at")
    ap.add_argument("--facing", action="store_true", help="a block on each bank at every chainage (default: one, "
                    "on alternate banks)")
    ap.add_argument("--block-m", default="300x200", help="town block WIDTHxHEIGHT (m)")
    ap.add_argument("--set-back-m", type=float, default=0.0,
                    help="put each block this much farther from the river than the nearest all-land spot")
    ap.add_argument("--clear-km", type=float, default=1.0, help="least distance from a true site and between towns")
    ap.add_argument("--margin-m", type=float, default=100.0, help="a finding this close to a block is the town's")
    ap.add_argument("--workdir", required=True, type=Path)
    ap.add_argument("--workers", type=int, default=2, help="render processes")
    ap.add_argument("--skip-clean", action="store_true", help="only the pasted scenes")
    args = ap.parse_args(argv)

    from borderwatch.corridor import load_corridor
    from borderwatch.pipeline import AnalysisParams
    from borderwatch.store import Store
    from borderwatch.synth import SynthWorld

    corridor = load_corridor(args.corridor)
    km = parse_km(args.km)
    stretch = corridor.stretch(*km)
    dates = sorted({parse_date(t, "--dates") for t in args.dates.split(",") if t.strip()})
    try:
        bw, bh = (float(v) for v in args.block_m.lower().split("x"))
    except ValueError:
        ap.error(f"--block-m: expected WIDTHxHEIGHT in metres, e.g. 300x200, got {args.block_m!r}")
    world = SynthWorld(corridor, seed=args.seed, dates=dates)
    run_dir = args.workdir / f"{corridor.name}-km{km[0]:g}-{km[1]:g}-seed{args.seed}-gsd{args.gsd:g}"
    tifs = render(corridor, world, km, args.gsd, run_dir / "scenes", args.workers)

    towns = pick_towns(world, corridor, km, args.towns, (bw, bh), args.gsd, args.clear_km, facing=args.facing,
                       set_back_m=args.set_back_m)
    dirs = {"kit": args.kit, "minsk": args.minsk}
    pieces = [rgb for _, _, rgb in frames(dirs, tuple(PLACES), args.gsd)]
    rng = np.random.default_rng(args.seed)
    shape = (int(round(bh / args.gsd)), int(round(bw / args.gsd)))
    blocks = [town_block(pieces, shape, rng) for _ in towns]
    print(f"{len(towns)} town blocks of {bw:g} x {bh:g} m from {len(pieces)} street frames:", file=sys.stderr)
    for t in towns:
        print(f"  km {t['chainage_km']:.2f} {t['bank']} bank, {t['offset_m']:g} m out", file=sys.stderr)
    pasted = {d: paste(p, run_dir / "towns" / Path(p).name, towns, blocks) for d, p in tifs.items()}

    params = AnalysisParams(gsd_m=args.gsd, landcover=True, detect=True)
    report: dict = {"seed": args.seed, "km": list(km), "gsd": args.gsd, "towns": towns, "runs": {}}
    for name, scene_set in (("clean", tifs), ("towns", pasted)):
        if name == "clean" and args.skip_clean:
            continue
        store_path = run_dir / f"store-{name}.gpkg"
        store_path.unlink(missing_ok=True)
        with Store.open(store_path, create=True) as store:
            reg, t = build(stretch, [scene_set[d.isoformat()] for d in dates], store, params)
            s, _ = score(reg, world, corridor, stretch, km, dates, 250.0, f"seed {args.seed}, {name}")
            found = town_findings(reg, store, tuple(t["result_key"]), corridor, towns, args.margin_m)
        report["runs"][name] = {"true": s.tp, "truth": s.n_truth, "false": len(s.false_sites),
                                "false_candidates": s.candidates["false"], "recall": s.recall,
                                "in_towns": found, "pipeline_s": t["pipeline_s"]}
        print(f"{name}: true {s.tp}/{s.n_truth}, false {len(s.false_sites)} (candidates {s.candidates['false']}); "
              f"in towns: {len(found['sites'])} sites/candidates, evidence {found['evidence']}, "
              f"{found['detections']} detections", file=sys.stderr)
    tag = f"{'-facing' if args.facing else ''}{f'-back{args.set_back_m:g}' if args.set_back_m else ''}"
    out = args.workdir / f"towns-seed{args.seed}-gsd{args.gsd:g}{tag}.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
