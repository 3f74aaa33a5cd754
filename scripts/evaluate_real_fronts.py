"""How often the detector's fronts are right on real cars: KIT AIS frames of a divided road in Munich.

    python scripts/evaluate_real_fronts.py --kit DIR_WITH_KIT_AIS_PNGS [--gsd 0.5 0.8]

Real aerial labels have no fronts, but the traffic on one carriageway of a
divided road faces one way (``kit.MUNICH_ROAD_LANES``, frames MOS155-179).
Each frame is resampled to the analysis GSD, as the pipeline would, and the
bundled detector runs with and without its front check. Prints, per lane and
GSD, the share of cars whose front is right, the balanced figure (the mean of
the two lanes, so a detector that always picks one end scores 0.5), and the
mean stated confidence against the share right. Frames overlap and parked cars
repeat, so the figures count detections, not distinct cars.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np


def lane_fronts(detector, rgb: np.ndarray, source_gsd: float, gsd: float, lanes):
    """(lane, right, heading_conf) for the cars of ``lanes`` (source pixels) found at ``gsd``."""
    from dataclasses import replace

    from borderwatch.analysis.detect.front import fronts_in_lanes

    f = source_gsd / gsd
    small = cv2.resize(rgb, (round(rgb.shape[1] * f), round(rgb.shape[0] * f)), interpolation=cv2.INTER_AREA)
    scaled = [replace(lane, box=tuple(v * f for v in lane.box)) for lane in lanes]
    return fronts_in_lanes(detector.detect_array(small, gsd), scaled)


def summary(rows, lanes) -> dict:
    """Share right per lane, their mean (balanced) and the mean stated confidence."""
    out: dict = {"n": len(rows)}
    shares = []
    for lane in lanes:
        ok = [r for name, r, _ in rows if name == lane.name]
        out[lane.name] = (float(np.mean(ok)) if ok else float("nan"), len(ok))
        shares.append(out[lane.name][0])
    out["balanced"] = float(np.mean(shares))
    out["right"] = float(np.mean([r for _, r, _ in rows])) if rows else float("nan")
    out["confidence"] = float(np.mean([c for _, _, c in rows])) if rows else float("nan")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kit", type=Path, required=True, help="folder with the KIT AIS MOS*.png frames")
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.5, 0.8])
    a = ap.parse_args(argv)

    from borderwatch.analysis.detect.kit import KIT_AIS_GSD_M, MUNICH_ROAD_FRAMES, MUNICH_ROAD_LANES
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.errors import InputError

    frames = [a.kit / f"{name}.png" for name in MUNICH_ROAD_FRAMES]
    missing = [p.name for p in frames if not p.is_file()]
    if missing:
        raise InputError(a.kit, f"KIT AIS frames missing: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    detectors = {"network alone": Detector.load_default(front=None), "with the front check": Detector.load_default()}
    print(f"{len(frames)} frames ({frames[0].stem}-{frames[-1].stem}); detector {detectors['with the front check'].name}")
    print("| GSD | fronts from | cars scored | westbound right | eastbound right | balanced | mean confidence |")
    print("|---|---|---|---|---|---|---|")
    for g in a.gsd:
        for label, det in detectors.items():
            rows = []
            for p in frames:
                rgb = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if rgb is None:
                    raise InputError(p, "not a readable image")
                rows += lane_fronts(det, np.ascontiguousarray(rgb[:, :, ::-1]), KIT_AIS_GSD_M, g, MUNICH_ROAD_LANES)
            s = summary(rows, MUNICH_ROAD_LANES)
            w, e = s["westbound"], s["eastbound"]
            print(f"| {g} m | {label} | {s['n']} | {w[0]:.2f} ({w[1]}) | {e[0]:.2f} ({e[1]}) | {s['balanced']:.2f} |"
                  f" {s['confidence']:.2f} vs {s['right']:.2f} right |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
