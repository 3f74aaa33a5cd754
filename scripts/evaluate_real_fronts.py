"""How often the detector's fronts are right on real cars, and how sure it should say it is.

    python scripts/evaluate_real_fronts.py [--kit KIT_AIS_DIR] [--minsk MINSK_DRONE_DIR] [--gsd 0.5 0.8] [--front F]
    python scripts/evaluate_real_fronts.py --kit DIR --minsk DIR --calibrate OUT.onnx --version V
    python scripts/evaluate_real_fronts.py --kit DIR --minsk DIR --pairs
    ... --jpeg 75: every frame saved as JPEG after resampling, read by the detector's JPEG variant

Real aerial labels have no fronts, but the traffic on one carriageway of a
divided road faces one way (``borderwatch.analysis.detect.lanes``: KIT AIS
MOS155-179 in Munich; four Minsk drone scenes, DJI_0005-*, DJI_0762-*,
DJI-00760-* and DJI_0013-*). Each frame is resampled to the analysis GSD, as
the pipeline would, and the bundled detector runs with and without its front
check. Prints, per scene, GSD and lane direction, the share of cars whose front
is right, the balanced figure (the mean over the lane directions, so a detector
that always picks one end scores 0.5), and the mean stated confidence against
the share right. Frames overlap and parked or queued cars repeat, so the
figures count detections, not distinct cars.

``--calibrate OUT``: fit the check's :class:`FrontCalibration` (temperature and
ceiling) on the raw logits of every scene at every ``--gsd``, print how a fit
on all scenes but one does on the one left out, and write OUT: the front-check
file with the calibration fitted on all scenes and version ``--version`` in its
metadata.

``--pairs``: per scene, the front factor that :mod:`borderwatch.sites.fronts`
measures on the frames' queued pairs without any truth, against the factor the
lanes' truth gives, and the factor a direction share would apply.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np


def calibrate(scenes, front_path: Path, gsds, out: Path, version: str, jpeg: int | None = None) -> None:
    """Leave-one-scene-out table, then the calibration of all scenes written into a copy of the front file."""
    from borderwatch.analysis.detect.front import FrontCalibration, FrontModel
    from borderwatch.analysis.detect.lanes import frame_front_logits
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.onnxrt import write_metadata

    front = FrontModel.load(front_path)
    network = Detector.load_default(jpeg=jpeg is not None, front=None)
    data = {}
    for scene, images in scenes:
        rows = [r for rgb in images for g in gsds for r in frame_front_logits(network, front, rgb, scene.gsd_m, g,
                                                                             scene.lanes, jpeg=jpeg)]
        data[scene.name] = (np.array([r[2] for r in rows]), np.array([r[1] for r in rows], bool))
    print(f"front check {front.version} ({front_path.name}), detector {network.name}, "
          f"GSD {', '.join(map(str, gsds))} m pooled{_jpeg_words(jpeg)}; calibration fitted on the other scenes")
    print("| scene left out | cars | share right | stated (raw) | stated (calibrated) | log loss raw -> calibrated |"
          " temperature | ceiling |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (z, right) in data.items():
        others = [k for k in data if k != name]
        cal = FrontCalibration.fit(np.concatenate([data[k][0] for k in others]),
                                   np.concatenate([data[k][1] for k in others]))
        own = FrontCalibration()  # the identity: the network's own sigmoid
        print(f"| {name} | {len(z)} | {right.mean():.3f} | {own.probability(z).mean():.3f} |"
              f" {cal.probability(z).mean():.3f} | {own.log_loss(z, right):.3f} -> {cal.log_loss(z, right):.3f} |"
              f" {cal.temperature:.2f} | {cal.ceiling:.3f} |")
    z = np.concatenate([v[0] for v in data.values()])
    right = np.concatenate([v[1] for v in data.values()])
    cal = FrontCalibration.fit(z, right, fitted_on="; ".join(f"{k} ({len(v[0])})" for k, v in data.items())
                               + f"; GSD {', '.join(map(str, gsds))} m{_jpeg_words(jpeg)}")
    p = cal.probability(z)
    print(f"\nall scenes: {len(z)} cars, temperature {cal.temperature:.3f}, ceiling {cal.ceiling:.3f}; "
          f"stated {p.mean():.3f} vs right {right.mean():.3f}")
    print("| calibrated confidence | cars | share right |")
    print("|---|---|---|")
    for lo, hi in ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0)):
        m = (p >= lo) & (p < hi)
        if m.any():
            print(f"| {lo:.1f}-{hi:.1f} | {m.sum()} | {right[m].mean():.3f} |")
    shutil.copyfile(front_path, out)
    meta = dict(front.session.get_modelmeta().custom_metadata_map)
    meta["borderwatch.version"] = version
    meta["borderwatch.calibration"] = cal.to_json()
    write_metadata(out, meta)
    print(f"wrote {out} (version {version})")


def _jpeg_words(jpeg: int | None) -> str:
    return f", frames saved as JPEG quality {jpeg} after resampling" if jpeg is not None else ""


def pairs_table(scenes, gsds, jpeg: int | None = None) -> None:
    """Per scene: the front factor measured on queued pairs (sites.fronts, no truth) against the factor the lanes'
    truth gives, and the factor a direction share would apply."""
    from borderwatch.analysis.detect.lanes import frame_vehicles
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.sites.fronts import factor_and_range, factor_from_truth, pair_agreement
    from borderwatch.sites.queues import queue_pairs

    detector = Detector.load_default(jpeg=jpeg is not None)
    print(f"detector {detector.name}; cars; GSD {', '.join(map(str, gsds))} m pooled{_jpeg_words(jpeg)}; "
          "pairs within each frame")
    print("| scene | lane cars | right | factor from the lanes' truth | queued pairs | agree | expected |"
          " factor from pairs (95 % range) | applied (fixed range 0.6-1.2) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scene, images in scenes:
        pairs, heads, conf, lane_conf, lane_right = [], [], [], [], []
        for rgb in images:
            for g in gsds:
                found = frame_vehicles(detector, rgb, scene.gsd_m, g, scene.lanes, jpeg=jpeg)
                if not found:
                    continue
                boxes = [d.box for d, _, _ in found]
                h = np.array([b.angle_deg for b in boxes])
                pr = queue_pairs(np.array([b.cx * g for b in boxes]), -np.array([b.cy * g for b in boxes]), h,
                                 np.array([b.length * g for b in boxes]))
                pairs.append(pr + len(heads))
                heads += h.tolist()
                conf += [float(d.heading_conf) for d, _, _ in found]
                lane_conf += [float(d.heading_conf) for d, lane, _ in found if lane]
                lane_right += [bool(r) for _, lane, r in found if lane]
        rel = pair_agreement(np.concatenate(pairs) if pairs else np.zeros((0, 2), int), np.array(heads), np.array(conf))
        truth = factor_from_truth(lane_conf, lane_right)
        applied = factor_and_range(rel, (0.6, 1.2))
        got = f"{rel.factor:.2f} ({rel.low:.2f}-{rel.high:.2f})" if rel else "-"
        print(f"| {scene.name} | {len(lane_right)} | {np.mean(lane_right):.3f} | {truth:.2f} | {rel.pairs if rel else 0} |"
              f" {rel.agree if rel else float('nan'):.3f} | {rel.expected if rel else float('nan'):.3f} | {got} |"
              f" {applied[0]:.2f} ({applied[1]:.2f}-{applied[2]:.2f}) |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kit", type=Path, help="folder with the KIT AIS MOS*.png frames")
    ap.add_argument("--minsk", type=Path, help="folder with the Minsk drone DJI_*.jpg frames")
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.5, 0.8])
    ap.add_argument("--front", type=Path, help="a front-check file to score (or calibrate) instead of the shipped one")
    ap.add_argument("--calibrate", type=Path, metavar="OUT", help="fit the calibration and write it into OUT")
    ap.add_argument("--version", help="the version OUT gets (with --calibrate)")
    ap.add_argument("--jpeg", type=int, metavar="QUALITY",
                    help="save each resampled frame as JPEG at this quality, and run the detector's JPEG variant "
                         "(which a run picks for JPEG-compressed scenes)")
    ap.add_argument("--pairs", action="store_true",
                    help="the front factor from queued pairs (sites.fronts) against the lanes' truth, per scene")
    a = ap.parse_args(argv)

    from borderwatch.analysis.detect.front import default_front_path
    from borderwatch.analysis.detect.lanes import MINSK_SCENES, MUNICH_ROAD, frame_fronts, summarise_fronts
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.errors import InputError

    scenes = [(sc, a.kit) for sc in (MUNICH_ROAD,) if a.kit] + [(sc, a.minsk) for sc in MINSK_SCENES if a.minsk]
    if not scenes:
        ap.error("give --kit and/or --minsk")
    if a.calibrate and not a.version:
        ap.error("--calibrate needs --version")
    loaded = []
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
        loaded.append((scene, images))
    if a.calibrate:
        calibrate(loaded, a.front or default_front_path(jpeg=a.jpeg is not None), a.gsd, a.calibrate, a.version, a.jpeg)
        return 0
    if a.pairs:
        pairs_table(loaded, a.gsd, a.jpeg)
        return 0

    jpeg = a.jpeg is not None
    checked = Detector.load_default(jpeg=jpeg, front=a.front) if a.front else Detector.load_default(jpeg=jpeg)
    detectors = {"network alone": Detector.load_default(jpeg=jpeg, front=None), "with the front check": checked}
    print(f"detector {detectors['with the front check'].name}{_jpeg_words(a.jpeg)}")
    print("| scene | GSD | fronts from | cars scored | right, per lane direction | balanced |"
          " mean confidence vs share right |")
    print("|---|---|---|---|---|---|---|")
    for scene, images in loaded:
        for g in a.gsd:
            for label, det in detectors.items():
                rows = [r for rgb in images for r in frame_fronts(det, rgb, scene.gsd_m, g, scene.lanes, a.jpeg)]
                s = summarise_fronts(rows)
                per_lane = ", ".join(f"{k} {v[0]:.2f} ({v[1]})" for k, v in s.items() if isinstance(v, tuple))
                print(f"| {scene.name} | {g} m | {label} | {s['n']} | {per_lane} | {s['balanced']:.2f} |"
                      f" {s['confidence']:.2f} vs {s['right']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
