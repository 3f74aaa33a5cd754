#!/usr/bin/env python
"""Fit the cascade's screen to the bundled detector (CPU, about 15 minutes) and report what it keeps.

    python scripts/train_screen.py --synth-cache runs/det/cache_100_200_24_6.pkl \
        --kit PATH/kit_ais_munich --kit-holdout-run MOS74 --minutes 12 --out runs/screen

Training chips: the detector's synthetic training chips (``--synth-cache``
written by ``scripts/train_detector.py``, or rendered from ``--synth-seeds``)
and the KIT AIS training runs (the held-out run is never used), augmented as
the detector was trained, plus optional corridor-wide background chips
(``--wide-seeds``: towns, fields and forest far from the river, which make up
most of a corridor). The teacher is the bundled detector without its
front check. The last ``--calibration-share`` of the synthetic chips (the
highest seeds) are held apart: the threshold is chosen on them and on KIT
training frames drawn with another random stream, to keep ``--keep`` of the
detector's detections. Writes ``screen.onnx``, ``train.log`` and
``recipe.json`` into ``--out``; copy ``screen.onnx`` to
``src/borderwatch/analysis/detect/weights/`` to ship it.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synth-cache", type=Path, help="pickled synthetic Samples from train_detector.py")
    ap.add_argument("--synth-seeds", default="100:200", help="render these training seeds when no cache is given")
    ap.add_argument("--wide-seeds", default=None,
                    help="also render corridor-wide background chips of these training seeds START:END")
    ap.add_argument("--wide-per-date", type=int, default=12)
    ap.add_argument("--wide-spread-m", type=float, default=1500.0)
    ap.add_argument("--kit", type=Path, help="KIT AIS folder (PNG + YOLO txt); optional")
    ap.add_argument("--kit-holdout-run", action="append", default=["MOS74"])
    ap.add_argument("--real-share", type=float, default=0.3)
    ap.add_argument("--calibration-share", type=float, default=0.1)
    ap.add_argument("--calibration-chips", type=int, default=1500)
    ap.add_argument("--keep", type=float, default=0.998)
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--chip", type=int, default=192)
    ap.add_argument("--fire", type=float, default=0.2)
    ap.add_argument("--pos-weight", type=float, default=8.0)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--version", default="1")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    import torch

    from borderwatch.analysis.detect import Detector, load_kit_ais, split_by_sequence
    from borderwatch.analysis.detect.screen_fit import choose_threshold, draw_chips, export_screen, fit_screen
    from borderwatch.analysis.detect.train import file_logger, kit_samples, synth_samples

    args.out.mkdir(parents=True, exist_ok=True)
    log = file_logger(args.out)

    log(f"args: {vars(args)}")
    if args.synth_cache:
        synth = pickle.loads(args.synth_cache.read_bytes())
    else:
        a, b = (int(v) for v in args.synth_seeds.split(":"))
        if b > 1000:
            raise SystemExit("training seeds must stay below 1000 (seeds >= 1000 are for evaluation)")
        synth = synth_samples(range(a, b), rng=np.random.default_rng(args.seed), log=log)
    n_cal = int(round(len(synth) * args.calibration_share))
    synth_fit, synth_cal = synth[: len(synth) - n_cal], synth[len(synth) - n_cal:]
    if args.wide_seeds:
        a, b = (int(v) for v in args.wide_seeds.split(":"))
        if b > 1000:
            raise SystemExit("training seeds must stay below 1000 (seeds >= 1000 are for evaluation)")
        wide = synth_samples(range(a, b), chips_per_date=0, background_per_date=args.wide_per_date,
                             background_spread_m=args.wide_spread_m, rng=np.random.default_rng(args.seed + 7))
        n_wcal = int(round(len(wide) * args.calibration_share))
        synth_fit = list(synth_fit) + wide[: len(wide) - n_wcal]
        synth_cal = list(synth_cal) + wide[len(wide) - n_wcal:]
        log(f"wide background: {len(wide)} chips from seeds {a}-{b - 1}")
    real = []
    if args.kit:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ims = load_kit_ais(args.kit)
        split = split_by_sequence(ims, args.kit_holdout_run, whole_runs=True)
        real = kit_samples(split.train, gsd_m=0.3)
        log(f"KIT: {len(split.train)} training frames (held out: {len(split.test)})")
    samples = list(synth_fit) + real
    weights = None
    if real:
        weights = [(1 - args.real_share) / len(synth_fit)] * len(synth_fit) + [args.real_share / len(real)] * len(real)
    teacher = Detector.load_default(front=None, screen=None, threads=args.threads)
    log(f"teacher {teacher.name}; {len(synth_fit)} synthetic + {len(real)} real samples; {n_cal} held apart")
    net = fit_screen(samples, teacher, weights=weights, minutes=args.minutes, max_steps=args.max_steps,
                     batch=args.batch, chip=args.chip, fire=args.fire, pos_weight=args.pos_weight, width=args.width,
                     seed=args.seed, threads=args.threads, log=log)
    torch.save(net.state_dict(), args.out / "screen.pt")
    rng = np.random.default_rng(args.seed + 1)
    cal = list(synth_cal) + real
    cw = None
    if real:
        cw = np.array([(1 - args.real_share) / len(synth_cal)] * len(synth_cal) + [args.real_share / len(real)] * len(real))
        cw /= cw.sum()
    chips, _ = draw_chips(cal, args.calibration_chips, args.chip, rng, cw)
    thr, stats = choose_threshold(net, teacher, chips, keep=args.keep)
    log(f"calibration: {stats}")
    path = export_screen(net, args.out / "screen.onnx", version=args.version, threshold=thr,
                         detector_version=teacher.version,
                         extra={"training": {**net.train_info, "calibration": stats, "keep": args.keep}})
    recipe = {"args": {k: str(v) for k, v in vars(args).items()}, "train": net.train_info, "calibration": stats}
    (args.out / "recipe.json").write_text(json.dumps(recipe, indent=2), encoding="utf-8")
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
