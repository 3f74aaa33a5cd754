#!/usr/bin/env python
"""Reproducible training recipe for the bundled vehicle detector (CPU, under an hour).

    python scripts/train_detector.py --kit PATH/kit_ais_munich --kit-holdout-run MOS74 \
        --partial PATH/drone_minsk --out runs/det --synth-seeds 100:200 --minutes 40

Real data: KIT AIS Munich (YOLO HBB labels), split by sequence: either the last
block (``--kit-holdout`` fraction) or whole runs (``--kit-holdout-run``: every
frame of the run holding that frame) is held out and never trained on;
resampled to 0.3 m, then warped to the model GSD with scale jitter. Optional
``--partial`` YOLO folders whose labels miss vehicles (e.g. drone frames): their
GSD is estimated from the labelled cars (4.5 m long), they are resampled to
0.3 m and train positives only (no background loss far from labels).
Synthetic data: borderwatch.synth worlds with the given seeds (training seeds
only; evaluation uses seeds >= 1000); ``--hard-per-date`` adds chips on queued
cars, vehicles in the water or on a bridge, and boats. Writes ``model.onnx``
(weights embedded), ``model.pt`` (state dict), ``train.log`` and
``recipe.json`` into ``--out``; synthetic chips are cached in
``--out/cache_*.pkl`` (``--chips-only`` makes the cache and stops, without torch: caches that
several runs share through ``--add-chips``, e.g. winter worlds beside the summer ones).

Fine-tuning the shipped model: ``--init`` takes its ONNX file (only ONNX files
ship). On a GPU machine: ``--device cuda --workers N --procs N`` (the network is
small; chip making is the bottleneck), and ``--real-cache FILE`` to carry the
prepared real samples where the data sets are not.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", type=Path, help="KIT AIS folder (PNG + YOLO txt); optional")
    ap.add_argument("--kit-holdout", type=float, default=0.2, help="fraction held out by sequence (default 0.2)")
    ap.add_argument("--kit-holdout-run", action="append", default=[],
                    help="hold out the whole run containing this frame (e.g. MOS74); repeatable; "
                         "replaces --kit-holdout")
    ap.add_argument("--partial", type=Path, action="append", default=[],
                    help="YOLO folder (with aerial.names) whose labels miss vehicles; positives only")
    ap.add_argument("--partial-share", type=float, default=0.4,
                    help="share of the real chips drawn from --partial folders (default 0.4)")
    ap.add_argument("--synth-seeds", default="100:200", help="training world seeds START:END (default 100:200)")
    ap.add_argument("--synth-gsd", default="0.3,0.6", metavar="MIN,MAX",
                    help="GSD range (m) synthetic chips are rendered at before resampling to the model's 0.5 m "
                         "(default 0.3,0.6; the runtime accepts 0.25-0.8)")
    ap.add_argument("--synth-dates", default=None, metavar="DATE,DATE,...",
                    help="capture dates of every training world, ISO (default: the worlds' 2025-07-31 and "
                         "2025-09-13); add autumn and winter dates to train on harvested fields and snow")
    ap.add_argument("--add-chips", type=Path, action="append", default=[],
                    help="also train on the synthetic chips cached by an earlier run (its cache_*.pkl), e.g. "
                         "winter worlds beside the summer ones; repeatable")
    ap.add_argument("--chips-per-date", type=int, default=24)
    ap.add_argument("--background-per-date", type=int, default=6)
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--chip", type=int, default=128)
    ap.add_argument("--real-share", type=float, default=0.3)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--init", type=Path,
                    help="start from this model.pt or exported model.onnx (e.g. the shipped one): fine-tuning")
    ap.add_argument("--nms-iou", type=float, default=0.3,
                    help="class-agnostic NMS IoU the runtime applies by default (stored in the model)")
    ap.add_argument("--score", type=float, default=0.3,
                    help="default operating point (score threshold) stored in the model")
    ap.add_argument("--front-sign", type=float, default=0.0,
                    help="weight of the front/rear logistic heading term (default 0: off)")
    ap.add_argument("--front-class-weight", type=float, nargs=3, default=None,
                    metavar=("SMALL", "LARGE", "HEAVY"), help="per-class weights of the front/rear term")
    ap.add_argument("--zero-border", type=float, default=0.0,
                    help="share of chips that may straddle the image edge with a black (zero) border, as the "
                         "runtime pads tiles, instead of a mirrored one (default 0)")
    ap.add_argument("--jpeg", type=float, default=0.0,
                    help="share of chips whose source pixels go through JPEG first (quality 50-95, 4:2:0 colour), as "
                         "Google Earth exports and JPEG GeoTIFFs are (default 0: off)")
    ap.add_argument("--hard-per-date", type=int, default=0,
                    help="extra synthetic chips per world and date on the cases that turn direction shares: "
                         "queued small vehicles, vehicles in water or on a bridge, boats (default 0)")
    ap.add_argument("--hard-gsd", default=None, metavar="MIN,MAX",
                    help="GSD range (m) of the --hard-per-date chips (default: --synth-gsd)")
    ap.add_argument("--procs", type=int, default=0,
                    help="render synthetic worlds in this many processes; each world then draws its chips from "
                         "its own random stream (seed, world), so the set does not depend on the number of "
                         "processes (default 0: one stream in this process, as before)")
    ap.add_argument("--real-cache", type=Path, default=None,
                    help="pickle of the prepared real samples: read when it exists (no --kit/--partial needed), "
                         "else written from --kit/--partial; lets a machine without the data sets train")
    ap.add_argument("--real-cache-only", action="store_true",
                    help="write --real-cache from --kit/--partial and stop (no synthetic chips, no training)")
    ap.add_argument("--chips-only", action="store_true",
                    help="render and cache the synthetic chips (--out/cache_*.pkl), then stop: e.g. to make the "
                         "caches that several --add-chips runs share")
    ap.add_argument("--device", default="cpu", help="torch device of the network (e.g. cuda)")
    ap.add_argument("--workers", type=int, default=0,
                    help="processes making training chips (default 0: in the training process, as before)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    synth_dates = _dates(args.synth_dates) if args.synth_dates else None  # bad input stops before any slow work
    added = [(extra, _chip_cache(extra)) for extra in args.add_chips]

    from borderwatch.analysis.detect import load_kit_ais, read_yolo, split_by_sequence
    from borderwatch.analysis.detect.train import estimate_gsd, file_logger, kit_samples, real_samples, synth_samples
    from borderwatch.synth import DEFAULT_DATES

    args.out.mkdir(parents=True, exist_ok=True)
    log = file_logger(args.out)

    log(f"args: {vars(args)}")
    t0 = time.time()
    real, kit_info = [], {}
    partial, partial_info, weights = [], {}, None
    cached = bool(args.real_cache and args.real_cache.is_file())
    if cached:
        real, weights, kit_info, partial_info = pickle.loads(args.real_cache.read_bytes())
        log(f"real: {len(real)} samples, {sum(s.n for s in real)} boxes from {args.real_cache}"
            + (" (--kit/--partial not read)" if args.kit or args.partial else ""))
    if args.kit and not cached:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # KIT boxes clipped at crop edges are reported per line
            ims = load_kit_ais(args.kit)
        if args.kit_holdout_run:
            split = split_by_sequence(ims, args.kit_holdout_run, whole_runs=True)
        else:
            split = split_by_sequence(ims, args.kit_holdout)
        real = kit_samples(split.train, gsd_m=0.3)
        kit_info = {"train": [im.path.name for im in split.train], "test": [im.path.name for im in split.test],
                    "excluded": [im.path.name for im in split.excluded]}
        log(f"KIT: {len(split.train)} train, {len(split.test)} held out, {len(split.excluded)} excluded; "
            f"{sum(s.n for s in real)} training boxes")
    for folder in [] if cached else args.partial:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # boxes clipped at the frame edge
            ims = read_yolo(folder, folder / "aerial.names")
        for im in ims:
            im.gsd_m = estimate_gsd(im)
        ims = [im for im in ims if im.gsd_m]
        partial += real_samples(ims, gsd_m=0.3, exhaustive=False)
        partial_info.update({im.path.name: round(im.gsd_m, 4) for im in ims})
        log(f"partial {folder}: {len(ims)} images, GSD {min(im.gsd_m for im in ims):.3f}-"
            f"{max(im.gsd_m for im in ims):.3f} m (from car lengths), {sum(s.n for s in partial)} boxes so far")
    if real and partial:
        share = args.partial_share
        weights = [(1 - share) / len(real)] * len(real) + [share / len(partial)] * len(partial)
    real = real + partial
    if args.real_cache and not cached and real:
        args.real_cache.parent.mkdir(parents=True, exist_ok=True)
        args.real_cache.write_bytes(pickle.dumps((real, weights, kit_info, partial_info), protocol=5))
        log(f"real samples written to {args.real_cache}")
    if args.real_cache_only:
        if not (args.real_cache and args.real_cache.is_file()):
            raise SystemExit("--real-cache-only needs --real-cache FILE and --kit or --partial")
        return 0
    a, b = (int(v) for v in args.synth_seeds.split(":"))
    if b > 1000:
        raise SystemExit("training seeds must stay below 1000 (seeds >= 1000 are for evaluation)")
    gsd_range = _gsd_range(args.synth_gsd, "--synth-gsd")
    hard_gsd = _gsd_range(args.hard_gsd, "--hard-gsd") if args.hard_gsd else None
    tag = "" if gsd_range == (0.3, 0.6) else f"_gsd{gsd_range[0]:g}-{gsd_range[1]:g}"
    if args.hard_per_date:
        hg = hard_gsd or gsd_range
        tag += f"_hard{args.hard_per_date}_{hg[0]:g}-{hg[1]:g}"
    if synth_dates:
        tag += "_d" + "-".join(d.strftime("%y%m%d") for d in synth_dates)
    if args.procs:
        tag += f"_pw{args.seed}"
    cache = args.out / f"cache_{a}_{b}_{args.chips_per_date}_{args.background_per_date}{tag}.pkl"
    options = dict(chips_per_date=args.chips_per_date, background_per_date=args.background_per_date,
                   gsd_range=gsd_range, hard_per_date=args.hard_per_date, hard_gsd_range=hard_gsd,
                   dates=synth_dates)
    if cache.is_file():
        synth = pickle.loads(cache.read_bytes())
        log(f"synthetic: {len(synth)} chips from cache")
    elif args.procs:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial as bind

        with ProcessPoolExecutor(args.procs) as pool:
            parts = pool.map(bind(_one_world, seed=args.seed, options=options), range(a, b))
            synth = [s for part in parts for s in part]
        log(f"synthetic: worlds {a}-{b - 1} in {args.procs} processes")
        cache.write_bytes(pickle.dumps(synth, protocol=5))
    else:
        synth = synth_samples(range(a, b), rng=np.random.default_rng(args.seed), log=log, **options)
        cache.write_bytes(pickle.dumps(synth, protocol=5))
    if args.chips_only:
        log(f"synthetic: {len(synth)} chips, {sum(s.n for s in synth)} boxes in {cache} ({time.time() - t0:.0f}s)")
        return 0
    import torch  # training only: --real-cache-only and --chips-only run without it

    from borderwatch.analysis.detect.export import export_onnx, load_onnx_weights
    from borderwatch.analysis.detect.model import OrientedCenterNet, load_compatible
    from borderwatch.analysis.detect.train import calibration_chips, train

    for extra, more in added:
        synth = synth + more
        log(f"synthetic: {len(more)} more chips from {extra}")
    log(f"synthetic: {len(synth)} chips, {sum(s.n for s in synth)} boxes; data ready in {time.time() - t0:.0f}s")
    init = None
    if args.init:
        init = OrientedCenterNet(width=args.width)
        if args.init.suffix == ".onnx":  # a shipped model: its BatchNorms are re-estimated on training chips
            load_onnx_weights(init, args.init, calibration_chips(synth, real, real_share=args.real_share,
                                                                 seed=args.seed))
            log(f"init {args.init}: weights from the ONNX file")
        else:
            widened = load_compatible(init, torch.load(args.init))
            if widened:
                log(f"init {args.init}: new output channels in {', '.join(widened)}")
    net = train(synth, real, minutes=args.minutes, max_steps=args.max_steps, batch=args.batch, chip=args.chip,
                real_share=args.real_share if real else 0.0, lr=args.lr, width=args.width, seed=args.seed,
                threads=args.threads, log=log, init=init, real_weights=weights, front_sign=args.front_sign,
                front_class_weight=args.front_class_weight, zero_border=args.zero_border, jpeg=args.jpeg, device=args.device,
                workers=args.workers)
    torch.save(net.state_dict(), args.out / "model.pt")
    info = dict(net.train_info)
    training = {"steps": info["steps"], "seconds": round(info["seconds"]), "synth_seeds": [a, b],
                "added_chips": [p.name for p in args.add_chips],
                "synth_dates": [d.isoformat() for d in synth_dates or DEFAULT_DATES],
                "kit_train": kit_info.get("train", []), "partial_train": sorted(partial_info)}
    export_onnx(net, args.out / "model.onnx", version=args.version,
                extra={"nms_iou": str(args.nms_iou), "score_threshold": str(args.score), "training": training})
    recipe = {"args": {k: str(v) for k, v in vars(args).items()}, "kit": kit_info, "partial_gsd_m": partial_info,
              "train_info": info, "total_seconds": time.time() - t0}
    (args.out / "recipe.json").write_text(json.dumps(recipe, indent=2), encoding="utf-8")
    log(f"done: {info['steps']} steps in {info['seconds']:.0f}s; wrote {args.out / 'model.onnx'}")
    return 0


def _gsd_range(text: str, option: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise SystemExit(f"{option}: expected MIN,MAX in metres, got {text!r}") from None
    if not 0 < lo <= hi:
        raise SystemExit(f"{option}: expected 0 < MIN <= MAX, got {text!r}")
    return lo, hi


def _dates(text: str) -> list:
    """--synth-dates: ISO dates, comma-separated, each once (parsed as the CLI's --dates)."""
    from borderwatch.cli import parse_dates
    from borderwatch.errors import InputError

    try:
        out = parse_dates(text, "--synth-dates")
    except InputError as e:
        raise SystemExit(str(e)) from None
    if len(out) != len([v for v in text.split(",") if v.strip()]):
        raise SystemExit(f"--synth-dates: a date repeats in {text!r}")
    return out


def _chip_cache(path: Path) -> list:
    """--add-chips: the synthetic chips an earlier run cached (a list of train.Sample)."""
    from borderwatch.analysis.detect.train import Sample

    if not path.is_file():
        raise SystemExit(f"--add-chips: {path} is not a file")
    try:
        chips = pickle.loads(path.read_bytes())
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as e:
        raise SystemExit(f"--add-chips: {path} is not a chip cache of train_detector.py ({e})") from None
    if not isinstance(chips, list) or not all(isinstance(c, Sample) for c in chips):
        raise SystemExit(f"--add-chips: {path} is not a chip cache of train_detector.py (not a list of samples)")
    return chips


def _one_world(world_seed: int, *, seed: int, options: dict) -> list:
    """The chips of one synthetic world, from the stream (seed, world): for --procs."""
    from borderwatch.analysis.detect.train import synth_samples

    return synth_samples([world_seed], rng=np.random.default_rng([seed, world_seed]), **options)


if __name__ == "__main__":
    sys.exit(main())
