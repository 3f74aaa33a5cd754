"""Real vehicles with a known front: the lanes of divided roads.

Real aerial labels (KIT AIS, the Minsk drone frames) are axis-aligned boxes
without a front, so the front check (:mod:`.front`) could only be measured on
synthetic vehicles. On one carriageway of a divided road all traffic faces one
way, by the rules of the road. These scenes name such lanes in frames we have,
so fronts can be scored on real pixels (``scripts/evaluate_real_fronts.py``,
``tests/analysis/detect/test_model_front_real.py``) and the check's stated
confidence calibrated on them (:class:`~.front.FrontCalibration`). Both
countries keep right: the northern carriageway of an east-west road carries
westbound traffic, the western half of a north-south street southbound.
Lanes were drawn by eye on the frames; junctions and turning lanes are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import angle_diff

__all__ = ["MINSK_CROSSROADS", "MINSK_CROSSROADS_GREY", "MINSK_JUNCTION", "MINSK_SCENES", "MINSK_TRAM_STREET",
           "MUNICH_ROAD", "Lane", "LaneScene", "frame_front_logits", "frame_fronts", "fronts_in_lanes",
           "resample_frame", "summarise_fronts"]


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


#: Minsk drone frames DJI_0762-* (a fixed footprint, about 0.074 m from the median labelled car): an
#: east-west street with tram tracks between its carriageways, and the two-way street that meets it from the
#: south (southbound west of its centre line, northbound east of it, below the junction). The junction is left out.
MINSK_TRAM_STREET = LaneScene(
    "Minsk drone, DJI_0762",
    tuple(f"DJI_0762-{n:05d}.jpg" for n in (1, 3, 13, 21, 23, 24, 31, 32)),
    0.074,
    (Lane("westbound", (0.0, 290.0, 850.0, 400.0), 270.0), Lane("westbound", (1000.0, 290.0, 1920.0, 400.0), 270.0),
     Lane("eastbound", (0.0, 480.0, 800.0, 595.0), 90.0), Lane("eastbound", (1200.0, 455.0, 1920.0, 595.0), 90.0),
     Lane("southbound", (820.0, 700.0, 930.0, 1080.0), 180.0), Lane("northbound", (930.0, 700.0, 1000.0, 1080.0), 0.0)),
)

#: Minsk drone frames DJI-00760-* (sunny; about 0.062 m): a crossroads. East of it a straight divided road;
#: west of it the road runs about 13 degrees off east-west (its centre line from (0, 740) to (600, 600)), so
#: its lanes are boxes kept clear of that line. The north-south road and the junction are left out.
MINSK_CROSSROADS = LaneScene(
    "Minsk drone, DJI-00760",
    tuple(f"DJI-00760-{n:05d}.jpg" for n in (1, 2, 3, 13, 14, 21, 22, 23, 32, 33, 39)),
    0.062,
    (Lane("westbound", (1300.0, 440.0, 1920.0, 625.0), 270.0), Lane("eastbound", (1300.0, 650.0, 1920.0, 790.0), 90.0),
     Lane("westbound", (0.0, 560.0, 400.0, 640.0), 257.0), Lane("eastbound", (100.0, 720.0, 480.0, 800.0), 77.0)),
)

#: Minsk drone frames DJI_0013-* (overcast, another day; about 0.055 m): the crossroads of MINSK_CROSSROADS
#: from another footprint (the west road's centre line from (0, 695) to (710, 540)).
MINSK_CROSSROADS_GREY = LaneScene(
    "Minsk drone, DJI_0013",
    tuple(f"DJI_0013-{n:04d}.jpg" for n in (23, 28, 36, 41)),
    0.055,
    (Lane("westbound", (1360.0, 380.0, 1920.0, 580.0), 270.0), Lane("eastbound", (1450.0, 615.0, 1920.0, 720.0), 90.0),
     Lane("westbound", (0.0, 520.0, 230.0, 630.0), 258.0), Lane("eastbound", (150.0, 680.0, 400.0, 760.0), 78.0),
     Lane("eastbound", (400.0, 600.0, 620.0, 715.0), 78.0)),
)

#: the Minsk scenes, all in the drone folder
MINSK_SCENES = (MINSK_JUNCTION, MINSK_TRAM_STREET, MINSK_CROSSROADS, MINSK_CROSSROADS_GREY)


#: a vehicle whose axis is farther than this from its lane's is turning or parked: its front is not known
MAX_AXIS_DEG = 30.0


def _in_lanes(dets: Sequence, lanes: Sequence[Lane], classes: Sequence[str], max_axis_deg: float):
    """(detection, lane, whether its front is right) for each detection of ``classes`` centred in a lane
    with its axis along the lane (within ``max_axis_deg``: one standing across it is turning or parked,
    and its front is not known)."""
    for d in dets:
        if d.cls not in classes:
            continue
        for lane in lanes:
            x0, y0, x1, y1 = lane.box
            if not (x0 <= d.box.cx <= x1 and y0 <= d.box.cy <= y1):
                continue
            err = float(angle_diff(d.box.angle_deg, lane.heading_deg))
            if min(err, 180.0 - err) <= max_axis_deg:
                yield d, lane, err < 90.0
            break


def fronts_in_lanes(dets: Sequence, lanes: Sequence[Lane], *, classes: Sequence[str] = ("small_vehicle",),
                    max_axis_deg: float = MAX_AXIS_DEG) -> list[tuple[str, bool, float]]:
    """(lane name, front right, heading_conf) for each detection of ``classes`` centred in a lane, its axis
    along the lane."""
    return [(lane.name, right, float(d.heading_conf)) for d, lane, right in _in_lanes(dets, lanes, classes, max_axis_deg)]


def resample_frame(rgb: np.ndarray, factor: float, jpeg: int | None = None) -> np.ndarray:
    """The frame at another GSD, as the pipeline would (area average when shrinking); ``jpeg``: then saved as
    JPEG at that quality and read back, as an image exported at that GSD (Google Earth) would be."""
    if abs(factor - 1.0) > 1e-9:
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor)),
                         interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    if jpeg is not None:
        from .train import jpeg_roundtrip

        rgb = jpeg_roundtrip(rgb, jpeg)
    return rgb


def frame_fronts(detector, rgb: np.ndarray, source_gsd: float, gsd: float,
                 lanes: Sequence[Lane], jpeg: int | None = None) -> list[tuple[str, bool, float]]:
    """:func:`fronts_in_lanes` for one frame (lanes in its pixels) resampled to ``gsd`` (``jpeg``: then saved
    at that JPEG quality) and run through ``detector``."""
    f = source_gsd / gsd
    return fronts_in_lanes(detector.detect_array(resample_frame(rgb, f, jpeg), gsd), [lane.scaled(f) for lane in lanes])


def frame_vehicles(detector, rgb: np.ndarray, source_gsd: float, gsd: float, lanes: Sequence[Lane],
                   classes: Sequence[str] = ("small_vehicle",), jpeg: int | None = None) -> list[tuple]:
    """(detection, lane name or None, whether its front is right or None) for every detection of ``classes`` in one
    frame resampled to ``gsd`` (``jpeg``: then saved at that JPEG quality): the lane vehicles with their truth, the
    others (parked, turning) without. Boxes in the resampled frame's pixels."""
    f = source_gsd / gsd
    dets = [d for d in detector.detect_array(resample_frame(rgb, f, jpeg), gsd) if d.cls in classes]
    truth = {id(d): (lane.name, right) for d, lane, right in
             _in_lanes(dets, [lane.scaled(f) for lane in lanes], classes, MAX_AXIS_DEG)}
    return [(d, *truth.get(id(d), (None, None))) for d in dets]


def frame_front_logits(network, front, rgb: np.ndarray, source_gsd: float, gsd: float, lanes: Sequence[Lane],
                       classes: Sequence[str] = ("small_vehicle",), jpeg: int | None = None) -> list[tuple[str, bool, float]]:
    """(lane name, whether the end the front check picks is right, |logit|) per lane vehicle of one frame.

    ``network``: the detector without its front check; ``front``: the
    :class:`~.front.FrontModel`; ``jpeg``: as :func:`frame_fronts`. The raw logit, before any calibration, is
    what :meth:`~.front.FrontCalibration.fit` needs.
    """
    from .front import vehicle_patch

    f = source_gsd / gsd
    img = resample_frame(rgb, f, jpeg)
    found = [(d, lane, right) for d, lane, right in
             _in_lanes(network.detect_array(img, gsd), [lane.scaled(f) for lane in lanes], classes, MAX_AXIS_DEG)
             if d.cls in front.classes]
    if not found:
        return []
    z = front.class_logits(np.stack([vehicle_patch(img, d.box) for d, _, _ in found]),
                           np.array([d.heading_conf for d, _, _ in found], np.float32), [d.cls for d, _, _ in found])
    return [(lane.name, right != (zk < 0), abs(float(zk))) for (_, lane, right), zk in zip(found, z)]


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
