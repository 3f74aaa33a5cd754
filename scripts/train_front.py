"""Fit the front/rear check shipped beside the detector (``weights/front-check.onnx``).

Recipe (torch at fit time only; about 3.5 min per member on 2 cores once the examples are cached)::

    python scripts/train_front.py --fit-seeds 2000-2039 --dev-seeds 2040-2049 --eval-seeds 1000-1009 \\
        --gsd 0.5 0.8 --members 3 --version 4 --workdir /tmp/front \\
        --out src/borderwatch/analysis/detect/weights/front-check.onnx

For each GSD it renders one image per synthetic crossing site and date
(``train.synth_eval_set``), runs the bundled detector without a front check,
pairs its detections with the labelled vehicles and samples each at its
detected pose (cached per seed and GSD in the workdir, keyed by the detector's
name). The fit seeds were never used to train the detector or to tune anything
else; the development seeds are for choosing the recipe; the evaluation seeds
are the detector's held-out seeds, scored once. Prints flips before and after,
per class and GSD, and how well the probabilities are calibrated.

``--jpeg`` fits for the detector's JPEG variant: its detections in the same
images saved as JPEG (model card, "The front check for JPEG imagery"; the
shipped ``front-check-jpeg.onnx`` keeps only the truck and machine columns of
such a fit, merged by ``scripts/merge_front_columns.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_sites import parse_seeds  # noqa: E402  (shared argument parsing)


def jpeg_reader(quality: int | None, seed: int):
    """How ``collect_front_examples`` reads an image saved as JPEG: at ``quality``, or (None) at a quality drawn
    per image from the detector's JPEG_QUALITY range (the same draw on every run)."""
    import zlib

    from borderwatch.analysis.detect.runtime import _read_image
    from borderwatch.analysis.detect.train import JPEG_QUALITY, jpeg_roundtrip

    def read(im):
        q = quality
        if q is None:
            rng = np.random.default_rng([seed, zlib.crc32(im.path.name.encode())])
            q = int(rng.integers(*JPEG_QUALITY, endpoint=True))
        return jpeg_roundtrip(_read_image(im.path)[:, :, :3], q)

    return read


def examples(detector, seeds, gsds, workdir: Path, log, jpeg: str = ""):
    """``jpeg``: '' reads the rendered images as they are; a quality ('75') or 'random' saves each as JPEG first."""
    from borderwatch.analysis.detect.front import FrontExamples, collect_front_examples
    from borderwatch.analysis.detect.train import synth_eval_set

    parts = []
    tag = detector.name.replace("/", "_").replace("@", "-") + (f"_jpeg{jpeg}" if jpeg else "")
    for g in gsds:
        for s in seeds:
            cache = workdir / "examples" / f"{tag}_{s}_{g}.npz"
            if cache.is_file():
                parts.append(FrontExamples.load(cache))
                continue
            t = time.time()
            images = synth_eval_set([s], workdir / f"{s}_{g}", gsd_m=g)
            read = jpeg_reader(None if jpeg == "random" else int(jpeg), s) if jpeg else None
            ex = collect_front_examples(detector, images, read=read)
            cache.parent.mkdir(parents=True, exist_ok=True)
            ex.save(cache)
            parts.append(ex)
            log(f"seed {s} at {g} m: {len(ex.classes)} vehicles ({time.time() - t:.0f} s)")
    return FrontExamples.concat(parts)


def report(model, ex) -> list[str]:
    """Markdown rows: class, GSD, vehicles, flips before/after, and calibration."""
    p = model.probability(ex.patches, ex.heading_conf, list(ex.classes))
    turned = p < 0.5
    after = np.where(turned, 180.0 - ex.error_deg, ex.error_deg)
    conf = np.maximum(p, 1 - p)
    rows = ["| class | GSD m | vehicles | flipped, detector | flipped, checked | checked, p >= 0.9: share / flipped |"
            " mean p vs right |", "|---|---|---|---|---|---|---|"]
    for c in sorted(set(ex.classes.tolist())):
        for g in sorted(set(ex.gsd_m.tolist())):
            k = (ex.classes == c) & (ex.gsd_m == g) & ~np.isnan(p)
            if not k.any():
                continue
            sure = k & (conf >= 0.9)
            rows.append(f"| {c} | {g} | {k.sum()} | {np.mean(ex.error_deg[k] > 135):.1%} | {np.mean(after[k] > 135):.1%} |"
                        f" {sure.sum() / k.sum():.0%} / {np.mean(after[sure] > 135) if sure.any() else float('nan'):.1%} |"
                        f" {conf[k].mean():.2f} vs {np.mean(after[k] < 90):.2f} |")
    return rows


def _seeds_or_none(text: str) -> list[int]:
    return parse_seeds(text) if text.strip() else []


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit-seeds", type=parse_seeds, default=parse_seeds("2000-2039"))
    ap.add_argument("--dev-seeds", type=_seeds_or_none, default=parse_seeds("2040-2049"), help="'' to skip")
    ap.add_argument("--eval-seeds", type=_seeds_or_none, default=parse_seeds("1000-1009"), help="'' to skip")
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.5, 0.8])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--members", type=int, default=3, help="fits (seeds from --seed) whose mean logit is shipped")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--version", default="4")
    ap.add_argument("--jpeg", action="store_true",
                    help="fit the check for the detector's JPEG variant: its detections on images saved as JPEG "
                         "(fit seeds at a quality drawn per image from JPEG_QUALITY, the others at --jpeg-quality)")
    ap.add_argument("--jpeg-quality", type=int, default=75, help="the quality of the development and held-out images")
    ap.add_argument("--and-uncompressed", action="store_true",
                    help="with --jpeg: fit on the variant's detections in the uncompressed images as well")
    ap.add_argument("--baseline", type=Path, help="also report this front-check file on the development and held-out "
                                                  "examples (e.g. the shipped check, for comparison)")
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)

    from borderwatch.analysis.detect.front import FrontExamples, FrontModel
    from borderwatch.analysis.detect.front_fit import fit_front_model
    from borderwatch.analysis.detect.runtime import Detector

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    det = Detector.load_default(jpeg=a.jpeg, front=None, threads=1)
    fit = examples(det, a.fit_seeds, a.gsd, a.workdir, log, "random" if a.jpeg else "")
    if a.jpeg and a.and_uncompressed:
        fit = FrontExamples.concat([fit, examples(det, a.fit_seeds, a.gsd, a.workdir, log)])
    t = time.time()
    extra = {"detector": det.name, "fit_seeds": [a.fit_seeds[0], a.fit_seeds[-1]], "gsd_m": a.gsd, "epochs": a.epochs,
             "width": a.width, "seed": a.seed, "members": a.members, "recipe": "scripts/train_front.py"}
    if a.jpeg:
        from borderwatch.analysis.detect.train import JPEG_QUALITY

        extra["jpeg_quality"] = list(JPEG_QUALITY)
        extra["fit_images"] = "JPEG and uncompressed" if a.and_uncompressed else "JPEG"
    model = fit_front_model(fit.patches, fit.heading_conf, fit.classes, fit.front_right, a.out, version=a.version,
                            members=a.members, seed=a.seed, extra=extra, epochs=a.epochs, width=a.width,
                            threads=a.threads, log=log)
    log(f"wrote {a.out} ({len(fit.classes)} vehicles from seeds {a.fit_seeds[0]}-{a.fit_seeds[-1]}, "
        f"{time.time() - t:.0f} s)")
    print("Fit set:\n" + "\n".join(report(model, fit)))
    for name, seeds in (("Development", a.dev_seeds), ("Held out", a.eval_seeds)):
        if seeds:
            ex = examples(det, seeds, a.gsd, a.workdir, log, str(a.jpeg_quality) if a.jpeg else "")
            seen = f"JPEG quality {a.jpeg_quality}" if a.jpeg else "uncompressed"
            print(f"\n{name} (seeds {seeds[0]}-{seeds[-1]}, {seen}, detector {det.name}):\n" + "\n".join(report(model, ex)))
            if a.baseline:
                print(f"\n{name}, {a.baseline.name}:\n" + "\n".join(report(FrontModel.load(a.baseline), ex)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
