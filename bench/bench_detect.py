#!/usr/bin/env python
"""Detector throughput on a synthetic corridor scene: borderwatch sliced inference vs SAHI.

    python bench/bench_detect.py [--km 0:1] [--gsd 0.5] [--threads 2] [--model M.onnx] [--out DIR]

1. Renders a stretch of the synthetic Yalu corridor to a GeoTIFF (COG) at
   ``--gsd`` (not timed).
2. borderwatch: ``detect_raster`` end to end -- windowed read + resample to the
   model GSD, the screen (the cascade's first pass), batched ONNX inference on
   the blocks it selects, decoding, front check, cluster-wise seam merge -- and
   conversion of every detection to map coordinates ("store"-ready records).
   Also, in the same run, the same without the screen (every tile run whole),
   and how many detections the two share.
3. SAHI (``pip install sahi``): ``get_sliced_prediction`` on the same scene,
   read into memory, with the same ONNX detector (and front check, no screen)
   wrapped in a SAHI ``DetectionModel`` (same tile size and overlap, no extra
   full-image pass -- on a corridor scene that pass would only slow SAHI down;
   GREEDYNMM merging as SAHI's default). Its time includes reading the file.

All use ``--threads`` ONNX Runtime threads. Mpx/s counts source pixels.
Prints a JSON summary (and writes it to ``--out``/bench_detect.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def render_scene(km: tuple[float, float], gsd: float, out: Path, seed: int) -> Path:
    from borderwatch.corridor import load_corridor
    from borderwatch.synth import write_scenes

    c = load_corridor("yalu-upper")
    paths = write_scenes(c, km=km, gsd_m=gsd, seed=seed, out_dir=out, landcover=False, workers=1)
    tifs = [Path(p) for p in paths if str(p).endswith(".tif") and "truth" not in Path(p).parts]
    return tifs[-1]  # the later date (more activity)


def run_borderwatch(path: Path, model: str | None, threads: int, batch: int, tile: int, screen: bool = True):
    from borderwatch.analysis.detect.runtime import FROM_MODEL, Detector
    from borderwatch.analysis.detect.sliced import SliceStats, detect_raster, to_map

    kw = {"threads": threads, "screen": FROM_MODEL if screen else None}
    det = Detector(model, **kw) if model else Detector.load_default(**kw)
    stats = SliceStats()
    t0 = time.perf_counter()
    dets, transform, crs, g = detect_raster(path, det, stats=stats, batch=batch, tile=tile)
    records = [to_map(d, transform, g) for d in dets]
    dt = time.perf_counter() - t0
    return dt, stats, records, det


def shared(a: list[dict], b: list[dict], within_m: float = 1.0) -> int:
    """How many records of ``a`` have a record of ``b`` centred within ``within_m`` metres."""
    if not a or not b:
        return 0
    pb = np.array([[r["x"], r["y"]] for r in b])
    return sum(float(np.hypot(*(pb - (r["x"], r["y"])).T).min()) <= within_m for r in a)


def run_sahi(path: Path, det, tile: int, overlap: int):
    import rasterio
    from sahi.models.base import DetectionModel
    from sahi.predict import get_sliced_prediction
    from sahi.prediction import ObjectPrediction

    class BorderwatchOnnx(DetectionModel):
        """SAHI wrapper around borderwatch's ONNX Runtime detector (axis-aligned bounds for SAHI's merging)."""

        def load_model(self):
            self.model = det
            self.category_mapping = {str(i): c for i, c in enumerate(det.classes)}

        def perform_inference(self, image: np.ndarray):
            h, w = image.shape[:2]
            m = det.multiple
            H, W = -(-h // m) * m, -(-w // m) * m
            chip = np.zeros((1, H, W, 3), np.uint8)
            chip[0, :h, :w] = image[:, :, :3]
            self._original_predictions = det.predict_chips(chip, self.confidence_threshold)[0]

        def _create_object_prediction_list_from_original_predictions(self, shift_amount_list=[[0, 0]],
                                                                     full_shape_list=None):
            shift = shift_amount_list[0] if shift_amount_list else [0, 0]
            if isinstance(shift, (int, float)):
                shift = shift_amount_list
            full = None if full_shape_list is None else full_shape_list[0]
            if full is not None and isinstance(full, (int, float)):
                full = full_shape_list
            preds = []
            for d in self._original_predictions:
                x0, y0, x1, y1 = d.box.bounds()
                x0, y0 = max(x0, 0.0), max(y0, 0.0)
                if x1 <= x0 + 1 or y1 <= y0 + 1:
                    continue
                preds.append(ObjectPrediction(bbox=[x0, y0, x1, y1], category_id=det.classes.index(d.cls),
                                              category_name=d.cls, score=d.score, shift_amount=shift,
                                              full_shape=full))
            self._object_prediction_list_per_image = [preds]

    model = BorderwatchOnnx(confidence_threshold=det.score_threshold, load_at_init=True)
    t0 = time.perf_counter()
    with rasterio.open(path) as ds:
        img = np.ascontiguousarray(ds.read([1, 2, 3]).transpose(1, 2, 0))
    res = get_sliced_prediction(img, model, slice_height=tile, slice_width=tile,
                                overlap_height_ratio=overlap / tile, overlap_width_ratio=overlap / tile,
                                perform_standard_pred=False, verbose=0)
    dt = time.perf_counter() - t0
    return dt, len(res.object_prediction_list), img.shape[0] * img.shape[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--km", default="0:1")
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1001)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--tile", type=int, default=1024)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--model", default=None)
    ap.add_argument("--scene", default=None, help="use this GeoTIFF instead of rendering one")
    ap.add_argument("--no-sahi", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    work = Path(args.out or tempfile.mkdtemp(prefix="bench_detect_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.scene:
        scene = Path(args.scene)
    else:
        a, b = (float(v) for v in args.km.split(":"))
        t = time.perf_counter()
        scene = render_scene((a, b), args.gsd, work / "scene", args.seed)
        print(f"rendered {scene} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    import rasterio

    with rasterio.open(scene) as ds:
        mpx = ds.width * ds.height / 1e6
        size = (ds.width, ds.height)
    # warm-up (session creation, first-run allocations) on every side is excluded
    run_borderwatch(scene, args.model, args.threads, args.batch, args.tile)
    dt, stats, recs, det = run_borderwatch(scene, args.model, args.threads, args.batch, args.tile)
    run_borderwatch(scene, args.model, args.threads, args.batch, args.tile, screen=False)
    fdt, fstats, frecs, fdet = run_borderwatch(scene, args.model, args.threads, args.batch, args.tile, screen=False)
    out = {
        "scene": str(scene), "size_px": size, "mpx": round(mpx, 2), "gsd_m": args.gsd, "threads": args.threads,
        "cpu_count": os.cpu_count(), "model": det.name,
        "borderwatch": {"seconds": round(dt, 2), "mpx_per_s": round(mpx / dt, 2), "detections": len(recs),
                        "tiles": stats.tiles, "skipped_tiles": stats.skipped, "raw_detections": stats.detections_raw,
                        "detector_ran_on_share": round(det.screen.detected_share, 4) if det.screen else 1.0},
        "borderwatch_without_screen": {"seconds": round(fdt, 2), "mpx_per_s": round(mpx / fdt, 2),
                                       "detections": len(frecs), "model": fdet.name},
        "detections_shared_within_1m": shared(frecs, recs),
        "speedup_from_screen": round(fdt / dt, 2),
    }
    if not args.no_sahi:
        try:
            import sahi  # noqa: F401
        except ImportError:
            out["sahi"] = "not installed (pip install sahi)"
        else:
            sdt, sn, spx = run_sahi(scene, fdet, args.tile, args.overlap)
            out["sahi"] = {"seconds": round(sdt, 2), "mpx_per_s": round(spx / 1e6 / sdt, 2), "detections": sn,
                           "version": sahi.__version__}
            out["speedup_vs_sahi"] = round(sdt / dt, 2)
            out["speedup_vs_sahi_without_screen"] = round(sdt / fdt, 2)
    print(json.dumps(out, indent=2))
    (work / "bench_detect.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
