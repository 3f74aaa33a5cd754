"""How often the detector's fronts are right on real cars: lanes of divided roads in Munich and Minsk.

    python scripts/evaluate_real_fronts.py [--kit KIT_AIS_DIR] [--minsk MINSK_DRONE_DIR] [--gsd 0.5 0.8] [--front F]

Real aerial labels have no fronts, but the traffic on one carriageway of a
divided road faces one way (``borderwatch.analysis.detect.lanes``: KIT AIS
MOS155-179, Minsk DJI_0005-*). Each frame is resampled to the analysis GSD, as
the pipeline would, and the bundled detector runs with and without its front
check. Prints, per scene, GSD and lane direction, the share of cars whose front
is right, the balanced figure (the mean over the two directions, so a detector
that always picks one end scores 0.5), and the mean stated confidence against
the share right. Frames overlap and parked or queued cars repeat, so the
figures count detections, not distinct cars.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kit", type=Path, help="folder with the KIT AIS MOS*.png frames")
    ap.add_argument("--minsk", type=Path, help="folder with the Minsk drone DJI_*.jpg frames")
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.5, 0.8])
    ap.add_argument("--front", type=Path, help="a front-check file to score instead of the shipped one")
    a = ap.parse_args(argv)

    from borderwatch.analysis.detect.lanes import MINSK_JUNCTION, MUNICH_ROAD, frame_fronts, summarise_fronts
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.errors import InputError

    scenes = [(sc, d) for sc, d in ((MUNICH_ROAD, a.kit), (MINSK_JUNCTION, a.minsk)) if d is not None]
    if not scenes:
        ap.error("give --kit and/or --minsk")
    checked = Detector.load_default(front=a.front) if a.front else Detector.load_default()
    detectors = {"network alone": Detector.load_default(front=None), "with the front check": checked}
    print(f"detector {detectors['with the front check'].name}")
    print("| scene | GSD | fronts from | cars scored | westbound right | eastbound right | balanced |"
          " mean confidence vs share right |")
    print("|---|---|---|---|---|---|---|---|")
    for scene, folder in scenes:
        frames = [folder / name for name in scene.frames]
        missing = [p.name for p in frames if not p.is_file()]
        if missing:
            raise InputError(folder, f"frames of {scene.name} missing: {', '.join(missing[:5])}"
                                     f"{' ...' if len(missing) > 5 else ''}")
        images = []
        for p in frames:
            bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if bgr is None:
                raise InputError(p, "not a readable image")
            images.append(np.ascontiguousarray(bgr[:, :, ::-1]))
        for g in a.gsd:
            for label, det in detectors.items():
                rows = [r for rgb in images for r in frame_fronts(det, rgb, scene.gsd_m, g, scene.lanes)]
                s = summarise_fronts(rows)
                w, e = s.get("westbound", (float("nan"), 0)), s.get("eastbound", (float("nan"), 0))
                print(f"| {scene.name} | {g} m | {label} | {s['n']} | {w[0]:.2f} ({w[1]}) | {e[0]:.2f} ({e[1]}) |"
                      f" {s['balanced']:.2f} | {s['confidence']:.2f} vs {s['right']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
