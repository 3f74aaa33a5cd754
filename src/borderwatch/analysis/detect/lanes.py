"""Real vehicles with a known front: the lanes of divided roads.

Real aerial labels (KIT AIS, the Minsk drone frames) are axis-aligned boxes
without a front, so the front check (:mod:`.front`) could only be measured on
synthetic vehicles. On one carriageway of a divided road all traffic faces one
way, by the rules of the road. These scenes name such lanes in frames we have,
so fronts can be scored on real pixels (``scripts/evaluate_real_fronts.py``,
``tests/analysis/detect/test_model_front_real.py``). Both countries keep right:
the northern carriageway of an east-west road carries westbound traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import angle_diff

__all__ = ["MINSK_JUNCTION", "MUNICH_ROAD", "Lane", "LaneScene", "frame_fronts", "fronts_in_lanes", "summarise_fronts"]


@dataclass(frozen=True)
class Lane:
    """A stretch of road where all traffic faces one way."""

    name: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the frame's pixels
    heading_deg: float  # where the traffic faces, clockwise from up

    def scaled(self, factor: float, dy: float = 0.0) -> Lane:
        """The lane in an image cropped ``dy`` rows from the top, then resized by ``factor``."""
        x0, y0, x1, y1 = self.box
        return Lane(self.name, (x0 * factor, (y0 - dy) * factor, x1 * factor, (y1 - dy) * factor), self.heading_deg)


@dataclass(frozen=True)
class LaneScene:
    """Frames of one place, nearly the same footprint, and its lanes in those frames' pixels."""

    name: str
    frames: tuple[str, ...]  # file names
    gsd_m: float
    lanes: tuple[Lane, ...]


#: KIT AIS MOS155-179 (Munich, 0.13 m, 1764 x 430 px): a divided east-west road beside a junction. The
#: northern lanes hold the queue at the junction and the row parked along the kerb (facing the traffic).
#: The detector's boxes were trained on these frames, its headings were not (KIT has none); the front check
#: never saw KIT.
MUNICH_ROAD = LaneScene(
    "KIT AIS Munich, MOS155-179",
    tuple(f"MOS{n}.png" for n in range(155, 180)),
    0.13,
    (Lane("westbound", (330.0, 190.0, 1150.0, 268.0), 270.0), Lane("eastbound", (330.0, 272.0, 1764.0, 332.0), 90.0)),
)

#: Minsk drone frames DJI_0005-* (1920 x 1080 px, about 0.055 m from the median labelled car, 4.5 m): a
#: junction of a divided east-west road; the junction itself (turning traffic) and a band along the
#: median are left out.
MINSK_JUNCTION = LaneScene(
    "Minsk drone, DJI_0005",
    tuple(f"DJI_0005-{n:04d}.jpg" for n in (18, 19, 41, 70, 71, 78, 90, 99, 118, 124, 127, 147, 151, 162, 165, 166,
                                             169, 174, 175, 176, 185, 186, 187, 202, 203, 204)),
    0.055,
    (Lane("westbound", (0.0, 420.0, 780.0, 570.0), 270.0), Lane("westbound", (1320.0, 420.0, 1920.0, 570.0), 270.0),
     Lane("eastbound", (0.0, 615.0, 780.0, 790.0), 90.0), Lane("eastbound", (1320.0, 615.0, 1920.0, 790.0), 90.0)),
)


def fronts_in_lanes(dets: Sequence, lanes: Sequence[Lane], *, classes: Sequence[str] = ("small_vehicle",),
                    max_axis_deg: float = 30.0) -> list[tuple[str, bool, float]]:
    """(lane name, front right, heading_conf) for each detection of ``classes`` centred in a lane.

    Only vehicles whose axis runs along the lane (within ``max_axis_deg``) are
    scored: one standing across it is turning or parked, and its front is not
    known.
    """
    out = []
    for d in dets:
        if d.cls not in classes:
            continue
        for lane in lanes:
            x0, y0, x1, y1 = lane.box
            if not (x0 <= d.box.cx <= x1 and y0 <= d.box.cy <= y1):
                continue
            err = float(angle_diff(d.box.angle_deg, lane.heading_deg))
            if min(err, 180.0 - err) <= max_axis_deg:
                out.append((lane.name, err < 90.0, float(d.heading_conf)))
            break
    return out


def frame_fronts(detector, rgb: np.ndarray, source_gsd: float, gsd: float,
                 lanes: Sequence[Lane]) -> list[tuple[str, bool, float]]:
    """:func:`fronts_in_lanes` for one frame (lanes in its pixels) resampled to ``gsd`` as the pipeline would
    (area average when shrinking) and run through ``detector``."""
    f = source_gsd / gsd
    if abs(f - 1.0) > 1e-9:
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * f), round(rgb.shape[0] * f)),
                         interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    return fronts_in_lanes(detector.detect_array(rgb, gsd), [lane.scaled(f) for lane in lanes])


def summarise_fronts(rows: Sequence[tuple[str, bool, float]]) -> dict:
    """Share right per lane direction (with its count), their mean ("balanced": a rule that always picks one
    end scores 0.5), the share right overall and the mean stated confidence."""
    out: dict = {"n": len(rows)}
    names = sorted({name for name, _, _ in rows})
    for name in names:
        ok = [r for n, r, _ in rows if n == name]
        out[name] = (float(np.mean(ok)), len(ok))
    out["balanced"] = float(np.mean([out[n][0] for n in names])) if names else float("nan")
    out["right"] = float(np.mean([r for _, r, _ in rows])) if rows else float("nan")
    out["confidence"] = float(np.mean([c for _, _, c in rows])) if rows else float("nan")
    return out
