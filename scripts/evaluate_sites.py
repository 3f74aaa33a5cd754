"""Measure the crossing-site register against synthetic ground truth (issue 4 targets).

For each seed and GSD: render a stretch with ``borderwatch.synth.write_scenes``, register the
scenes, run the pipeline (land cover on, detection optional), build the register with
``borderwatch.sites.update_register`` and score it with ``borderwatch.sites.evaluate``.

    python scripts/evaluate_sites.py --km 20:32 --gsd 0.5,0.8 --seeds 1-3 --detect --workdir runs/sites
    python scripts/evaluate_sites.py --km 20:32 --seeds 1 --third-date 2025-10-20 --workdir runs/sites

Seeds below 1000 are for development; 1000 and up are held out for the final figures: do not
tune anything on them. Rendered scenes are reused when the settings match (rendering is the
slow part); the store is rebuilt from scratch unless --keep-store.

With --third-date, the world is built with all three dates (a site's pattern depends on how
many dates the world has), the register is built from the first two scenes, then the third
scene is added and the register rebuilt; ``compare_registers`` says whether ids and numbers
held. Both builds are scored (the first on two dates, the second on three).

With --detect, every site-date whose direction share is off by more than the tolerance is explained
vehicle by vehicle (right, flipped, along, merged, missed, extra: ``sites.evaluate.explain_direction``):
printed, and kept in the JSON under each run's ``direction_explained``; and the sites' true crossing vehicles
found by the detector are counted by class and by what they stand on (land, sandbar, water, bridge: a ford's
vehicles are the ones it loses), under ``found_by_ground``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import sys
import time
from pathlib import Path

from borderwatch.corridor import load_corridor
from borderwatch.errors import BorderwatchError, InputError
from borderwatch.sites.evaluate import (
    DIRECTION_OUTCOMES,
    SHARE_TOLERANCE,
    VEHICLE_CLASSES,
    add_found,
    as_row,
    chainage_offset_km,
    compare_registers,
    evaluate_sites,
    explain_direction,
    format_found,
    format_scores,
    found_by_ground,
    fronts_measured,
    merge_scores,
    shares_from_counts,
    truth_class_counts,
    truth_direction_counts,
)

HELD_OUT_FROM = 1000


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = (int(v) for v in part.split("-"))
                out.extend(range(a, b + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise InputError("--seeds", f"bad seed list {text!r} (use 1,2,5-7)") from None
    if not out or min(out) < 0:
        raise InputError("--seeds", f"bad seed list {text!r}")
    return out


def parse_floats(text: str, what: str) -> list[float]:
    try:
        out = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(what, f"bad number list {text!r}") from None
    if not out or min(out) <= 0:
        raise InputError(what, f"bad number list {text!r}")
    return out


def parse_km(text: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in text.split(":"))
    except ValueError:
        raise InputError("--km", f"bad range {text!r} (use START:END in km)") from None
    if not 0 <= a < b:
        raise InputError("--km", f"bad range {text!r} (need 0 <= START < END)")
    return a, b


def parse_date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(what, f"not an ISO date: {text!r}") from None


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def render(corridor, world, km, gsd, out_dir: Path, workers: int) -> dict[str, Path]:
    """Scenes of every world date (reused when rendered with the same settings)."""
    from borderwatch import __version__
    from borderwatch.synth import write_scenes

    settings = {"km": list(km), "gsd_m": gsd, "seed": world.seed, "dates": [d.isoformat() for d in world.dates],
                "corridor": corridor.name, "version": __version__}
    stamp = out_dir / "settings.json"
    tifs = {d.isoformat(): out_dir / f"{d.isoformat()}.tif" for d in world.dates}
    if stamp.exists() and json.loads(stamp.read_text()) == settings and all(p.exists() for p in tifs.values()):
        log(f"  reusing scenes in {out_dir}")
        return tifs
    stamp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    last = [0.0]

    def progress(done, total):
        if time.perf_counter() - last[0] > 10 or done == total:
            last[0] = time.perf_counter()
            log(f"  rendering {done}/{total} blocks")

    write_scenes(corridor, km=km, gsd_m=gsd, seed=world.seed, out_dir=out_dir, landcover=False, world=world,
                 workers=workers, progress=progress)
    stamp.write_text(json.dumps(settings))
    log(f"  rendered in {time.perf_counter() - t0:.0f} s")
    return tifs


def build(stretch, scene_paths, store, params) -> tuple[object, dict]:
    """Pipeline over the given scenes, then the register; returns (register, seconds)."""
    from borderwatch.imagery import register_scene
    from borderwatch.pipeline import run_pipeline
    from borderwatch.sites import update_register

    scenes = [register_scene(p, corridor=stretch) for p in scene_paths]
    t0 = time.perf_counter()
    summary = run_pipeline(stretch, scenes, store, params=params)
    t1 = time.perf_counter()
    key = (summary.param_hash, summary.versions_hash)
    register = update_register(stretch, store, key)
    t2 = time.perf_counter()
    return register, {"pipeline_s": round(t1 - t0, 1), "register_s": round(t2 - t1, 1),
                      "tiles": summary.tiles, "computed": summary.computed, "result_key": list(key)}


def rows(register, name: str) -> list[dict]:
    return [as_row(r) for r in getattr(register, name)]


def score(register, world, truth_corridor, stretch, km, dates, match_m, label):
    """Scores of one register build on the given dates (chainage put on the truth's line)."""
    sites = rows(register, "sites")
    observations = rows(register, "observations")
    shift = chainage_offset_km(sites, stretch, truth_corridor) if sites else 0.0
    shifted = [{**s, "chainage_km": float(s["chainage_km"]) + shift} for s in sites]
    counts = {d.isoformat(): truth_direction_counts(world, truth_corridor, d, km) for d in dates}
    shares = {d: shares_from_counts(c) for d, c in counts.items()}
    scores = evaluate_sites(shifted, observations, world.sites(km), shares, match_m=match_m, dates=list(shares),
                            km_range=km, left_country=truth_corridor.left_country, truth_counts_by_date=counts,
                            truth_class_counts_by_date={d.isoformat(): truth_class_counts(world, d, km) for d in dates},
                            label=label, imaged=stretch.area)
    return scores, shift


def detections_by_date(store, key, truth_corridor) -> dict[str, list[dict]]:
    """One build's detections (sites.clues.detection_points on the truth's line), read once, by ISO date."""
    from borderwatch.sites.clues import detection_points

    out: dict[str, list[dict]] = {}
    for d in detection_points(truth_corridor, store.current_rows("detections", *key)):
        out.setdefault(str(d["date"])[:10], []).append(d)
    return out


def explain_misses(scores, register, dets_by_date, world, truth_corridor, km) -> list[dict]:
    """For each site-date whose share is off by more than the tolerance: how the vehicles its share rests on stand
    against the site's true traffic (sites.evaluate.explain_direction), so a miss can be put down to the detector
    (missed, merged, flipped, extra vehicles) or to the share's weighing (every vehicle right, share still off)."""
    from borderwatch.pipeline.run import convergence_deg
    from borderwatch.sites.observe import inside_outline, movers_facing

    misses = [x for x in scores.direction if x.error is not None and x.error > SHARE_TOLERANCE + 1e-9]
    if not misses:
        return []
    outlines = {r["site_id"]: truth_corridor.from_lonlat(r["geometry"]) for r in rows(register, "sites")}
    out = []
    for x in misses:
        outline = outlines[x.pred_id]
        turn = convergence_deg(truth_corridor, float(outline.centroid.x), float(outline.centroid.y))
        movers, facing = movers_facing(truth_corridor, inside_outline(outline, dets_by_date.get(x.date, [])), turn)
        cars = [o for o in world.objects(dt.date.fromisoformat(x.date), km) if o.get("site_id") == x.truth_id
                and o.get("role", "crossing") == "crossing" and o.get("class") in VEHICLE_CLASSES]
        t_km = truth_corridor.locate_xy([o["x"] for o in cars], [o["y"] for o in cars])[0] if cars else []
        t_face = truth_corridor.facing_country(t_km, [o["heading_deg"] for o in cars]) if cars else []
        why = explain_direction([(o["x"], o["y"], str(f)) for o, f in zip(cars, t_face)],
                                [(d["x"], d["y"], f) for d, f in zip(movers, facing)])
        out.append({"truth_id": x.truth_id, "pred_id": x.pred_id, "date": x.date, "truth_share": x.truth_share,
                    "pred_share": x.pred_share, "truth_vehicles": x.truth_vehicles, **why})
    return out


def found_at_sites(dets_by_date, world, km, dates) -> dict:
    """The sites' true crossing vehicles found by the detector, by class and what they stand on, over the dates
    (sites.evaluate.found_by_ground): where the detector loses vehicles (fords) shows before it moves a share."""
    out: dict = {}
    for d in dates:
        day = [(p["x"], p["y"]) for p in dets_by_date.get(d.isoformat(), [])]
        add_found(out, found_by_ground(world.objects(d, km), day))
    return out


def format_explained(label: str, explained: list[dict]) -> str:
    """One line per explained miss: the truth, the share, and what became of the site's vehicles."""
    lines = []
    for e in explained:
        parts = ", ".join(f"{e[k]} {k}" for k in DIRECTION_OUTCOMES if e[k])
        lines.append(f"  direction off, {label}, {e['truth_id']} {e['date']}: truth {e['truth_share']:.2f} of "
                     f"{e['truth_vehicles']}, share {e['pred_share']:.2f}; vehicles: {parts or 'none'}")
    return "\n".join(lines)


def table(runs: list[dict]) -> str:
    head = (f"{'seed':>5} {'gsd':>4} {'build':<6} {'truth':>5} {'true':>4} {'false':>5} {'miss':>4} {'recall':>6} "
            f"{'prec.s':>6} {'prec.a':>6} {'ce.med':>6} {'ce.max':>6} {'dir.ok':>6} {'order':>5} {'ids/nos':>7}")
    out = [head, "-" * len(head)]

    def f(v, spec=".2f"):
        return "n/a" if v is None else format(v, spec)

    for r in runs:
        for build_name, s in r["scores"].items():
            ce = s.chainage_error_m
            d = s.direction_summary["all"]["share_within_incl_missing"]
            cmp = r.get("compare")
            ids = "" if cmp is None or build_name != "after" else (
                f"{'ok' if cmp['ids_unchanged'] else 'CHG'}/{'ok' if cmp['numbers_unchanged'] else 'CHG'}")
            out.append(
                f"{r['seed']:>5} {r['gsd']:>4g} {build_name:<6} {s.n_truth:>5} {s.tp:>4} {len(s.false_sites):>5} "
                f"{len(s.misses):>4} {f(s.recall):>6} {f(s.precision_confirmed):>6} {f(s.precision):>6} "
                f"{f(ce['median'], '.0f'):>6} {f(ce['max'], '.0f'):>6} {f(d):>6} {str(s.numbering_in_order)[:5]:>5} {ids:>7}"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corridor", default="yalu-upper", help="corridor spec the truth is measured on")
    ap.add_argument("--km", default="20:30", help="stretch START:END (km)")
    ap.add_argument("--gsd", default="0.5,0.8", help="comma-separated GSDs (m)")
    ap.add_argument("--seeds", default="1", help="seeds, e.g. 1,2,5-7 (1000+ are held out)")
    ap.add_argument("--dates", default="2025-07-31,2025-09-13", help="comma-separated capture dates")
    ap.add_argument("--third-date", default=None, help="add this date after building the register, and compare")
    ap.add_argument("--detect", action=argparse.BooleanOptionalAction, default=True, help="run the vehicle detector (needed for counts and direction shares)")
    ap.add_argument("--workdir", required=True, type=Path, help="scenes, stores and scores go here")
    ap.add_argument("--out", type=Path, default=None, help="JSON scores (default WORKDIR/site_scores.json)")
    ap.add_argument("--match-m", type=float, default=250.0, help="largest chainage difference of a match (m)")
    ap.add_argument("--workers", type=int, default=1, help="render processes")
    ap.add_argument("--keep-store", action="store_true", help="reuse the stores (tile results) of an earlier run")
    ap.add_argument("--front-calibration", choices=("real", "none"), default="real",
                    help="heading_conf calibrated on real streets (the default, as users run it) or the front "
                         "check's own (fitted on synthetic vehicles: matches these worlds)")
    args = ap.parse_args(argv)

    try:
        from borderwatch.pipeline import AnalysisParams
        from borderwatch.store import Store
        from borderwatch.synth import SynthWorld

        truth_corridor = load_corridor(args.corridor)
        km = parse_km(args.km)
        stretch = truth_corridor.stretch(*km)
        gsds = parse_floats(args.gsd, "--gsd")
        seeds = parse_seeds(args.seeds)
        dates = sorted({parse_date(t, "--dates") for t in args.dates.split(",") if t.strip()})
        third = parse_date(args.third_date, "--third-date") if args.third_date else None
        if third is not None and (third in dates or third < max(dates)):
            raise InputError("--third-date", f"{third} must come after {max(dates)}")
        world_dates = dates + ([third] if third else [])
        if any(s >= HELD_OUT_FROM for s in seeds):
            log(f"note: seeds >= {HELD_OUT_FROM} are held out: report them, do not tune on them")

        runs = []
        for seed in seeds:
            world = SynthWorld(truth_corridor, seed=seed, dates=world_dates)
            for gsd in gsds:
                label = f"seed {seed}, {gsd:g} m"
                log(f"{label}: km {km[0]:g}-{km[1]:g}, dates {', '.join(d.isoformat() for d in world_dates)}")
                run_dir = args.workdir / f"{truth_corridor.name}-km{km[0]:g}-{km[1]:g}-seed{seed}-gsd{gsd:g}"
                tifs = render(truth_corridor, world, km, gsd, run_dir / "scenes", args.workers)
                store_path = run_dir / f"store{'-det' if args.detect else ''}{'-3d' if third else ''}.gpkg"
                if store_path.exists() and not args.keep_store:
                    store_path.unlink()
                params = AnalysisParams(gsd_m=gsd, landcover=True, detect=args.detect,
                                        front_calibration=args.front_calibration)
                rec: dict = {"seed": seed, "gsd": gsd, "km": list(km), "scores": {}, "timing": {}}
                with Store.open(store_path, create=True) as store:
                    first = [tifs[d.isoformat()] for d in dates]
                    reg, t = build(stretch, first, store, params)
                    rec["timing"]["before" if third else "build"] = t
                    before_sites = copy.deepcopy(rows(reg, "sites"))
                    s, shift = score(reg, world, truth_corridor, stretch, km, dates, args.match_m, label)
                    rec["scores"]["before" if third else "build"] = s
                    rec["chainage_shift_km"] = shift
                    first_name = "before" if third else "build"
                    explained, found = {}, {}
                    if args.detect:
                        dets = detections_by_date(store, t["result_key"], truth_corridor)
                        explained[first_name] = explain_misses(s, reg, dets, world, truth_corridor, km)
                        found[first_name] = found_at_sites(dets, world, km, dates)
                    if third:
                        reg, t = build(stretch, [*first, tifs[third.isoformat()]], store, params)
                        rec["timing"]["after"] = t
                        s3, _ = score(reg, world, truth_corridor, stretch, km, world_dates, args.match_m, label + ", 3 dates")
                        rec["scores"]["after"] = s3
                        rec["compare"] = compare_registers(before_sites, rows(reg, "sites"), match_m=args.match_m)
                        if args.detect:
                            dets = detections_by_date(store, t["result_key"], truth_corridor)
                            explained["after"] = explain_misses(s3, reg, dets, world, truth_corridor, km)
                            found["after"] = found_at_sites(dets, world, km, world_dates)
                    rec["direction_explained"] = explained
                    rec["found_by_ground"] = found
                log(format_scores(s))
                log(fronts_measured(reg.observations))
                for build_name, explained_here in rec["direction_explained"].items():
                    if explained_here:
                        log(format_explained(f"{label}, {build_name}", explained_here))
                for build_name, found_here in rec["found_by_ground"].items():
                    log(f"  site vehicles found, {build_name}, by what they stand on: {format_found(found_here)}")
                runs.append(rec)

        print(table(runs))
        pooled = {}
        for gsd in gsds:
            for build_name in runs[0]["scores"]:
                items = [r["scores"][build_name] for r in runs if r["gsd"] == gsd]
                m = merge_scores(items, label=f"{gsd:g} m, {build_name}, seeds {args.seeds}")
                pooled[f"{gsd:g}/{build_name}"] = m
                print()
                print(format_scores(m))
                found: dict = {}
                for r in runs:
                    if r["gsd"] == gsd and build_name in r["found_by_ground"]:
                        add_found(found, r["found_by_ground"][build_name])
                if found:
                    print(f"  site vehicles found by what they stand on: {format_found(found)}")
        for r in runs:
            if "compare" in r:
                c = r["compare"]
                print(f"\nthird date, seed {r['seed']}, {r['gsd']:g} m: ids unchanged {c['ids_unchanged']}, numbers unchanged "
                      f"{c['numbers_unchanged']} ({c['n_before']} -> {c['n_after']} sites; lost {len(c['lost'])}, new {len(c['new'])}, "
                      f"numbered on confirmation {len(c['numbered'])}, renumbered {len(c['renumbered'])}, "
                      f"max shift {c['max_shift_m']:.0f} m)")
        out = args.out or args.workdir / "site_scores.json"
        doc = {
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "runs": [{**r, "scores": {k: v.to_dict() for k, v in r["scores"].items()}} for r in runs],
            "pooled": {k: v.to_dict() for k, v in pooled.items()},
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1, default=str))
        print(f"\nwrote {out}")
        return 0
    except BorderwatchError as exc:
        log(f"evaluate_sites: error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
