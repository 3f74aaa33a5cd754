"""A cascade's first pass: look at every pixel cheaply, run the detector only where it could fire.

Along a border river most of a corridor is water, forest, fields and towns; a
few hundred vehicles sit in tens of square kilometres. The detector costs about
6000 multiply-adds per pixel. The screen (:class:`~.model.ScreenNet`) reads the
image at half resolution and answers, per 4 x 4 m cell, "would the detector
find something here?" for a few per cent of that. It was fitted to the
detector's own answers (distilled, ``scripts/train_screen.py``), with a
threshold that keeps 99.8 % of what the detector finds on held-apart chips.

Fired cells and their neighbours are grouped when they lie within
:data:`GROUP_CELLS` cells of each other. The detector runs on each group's
bounding window with :data:`MARGIN` px of real context on every side (it was
trained on 128 px chips), the windows packed onto 512 px sheets (small inputs
run several times slower per pixel), and each group keeps the detections
centred on its own cells, so every vehicle is reported once. A chip whose
windows would cover most of it is run whole. Detections near the score
threshold can differ from a whole-tile run (less context); the rest are the
same (measured in the model card).

The screen is an ONNX file (``weights/screen.onnx``) with its threshold and the
detector version it was fitted to in its metadata; :class:`~.runtime.Detector`
loads it with the bundled model and its name carries the screen's version, so
stored results made without it are recomputed.
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from borderwatch.errors import InputError
from borderwatch.onnxrt import cpu_session

__all__ = ["CELL", "FORMAT", "SHEET", "Region", "Screen", "ScreenPlan", "default_screen_path", "nchw_float", "pack",
           "screen_input"]

FORMAT = "borderwatch-screen/1"
DEFAULT_SCREEN_MODEL = "screen.onnx"
#: model pixels per screen cell (the net's output stride)
CELL = 8
#: context (model pixels) read around each region the detector runs on
MARGIN = 32
#: fired cells up to this many cells apart share a region: small crops cost more per pixel (a 96 px
#: crop runs at a third of a 1024 px chip's speed) and two nearby crops would read the same context twice
GROUP_CELLS = 4
#: regions are packed onto sheets of this side (model px) for inference: the network runs several times
#: faster per pixel on one 512 px input than on many 96 px ones
SHEET = 512
#: a chip whose regions would cost more than this share of running it whole is run whole
WHOLE_CHIP_SHARE = 0.85


def screen_input(chips: np.ndarray) -> np.ndarray:
    """(N, H/2, W/2, 3) uint8: each chip at half resolution (area average), what the screen network reads."""
    n, h, w = chips.shape[:3]
    out = np.empty((n, h // 2, w // 2, 3), np.uint8)
    for i in range(n):
        out[i] = cv2.resize(chips[i], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return out


def nchw_float(chips: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 -> contiguous (N, C, H, W) float32, what the ONNX networks read.

    Reordering the bytes first and converting after is about six times faster
    than converting while reordering (8 vs 52 ms for two 1024 px chips).
    """
    return np.ascontiguousarray(chips.transpose(0, 3, 1, 2)).astype(np.float32)


def default_screen_path() -> Path:
    return Path(str(resources.files("borderwatch.analysis.detect") / "weights" / DEFAULT_SCREEN_MODEL))


@dataclass(frozen=True)
class Region:
    """A window of a chip (model pixels, sides multiples of 16) that owns the detections centred on its cells."""

    x0: int
    y0: int
    x1: int
    y1: int
    label: int


@dataclass
class ScreenPlan:
    """Where the detector runs on one chip: the whole chip, or the regions listed.

    ``cells`` (H/CELL, W/CELL) holds each cell's region label (0: not run), so
    that a detection is kept by the one region whose cells hold its centre.
    """

    whole: bool
    regions: list[Region]
    cells: np.ndarray | None = None

    def owns(self, region: Region, cx: float, cy: float) -> bool:
        if self.cells is None:
            return False
        h, w = self.cells.shape
        r, c = min(max(int(cy // CELL), 0), h - 1), min(max(int(cx // CELL), 0), w - 1)
        return int(self.cells[r, c]) == region.label


class Screen:
    """One ONNX session of the screen network and the plan of regions built from its output."""

    def __init__(self, path: str | Path | None = None, *, threads: int | None = None,
                 threshold: float | None = None, margin: int = MARGIN, group: int = GROUP_CELLS):
        self.path = Path(path) if path is not None else default_screen_path()
        if not self.path.is_file():
            raise InputError(self.path, "screen model file not found")
        self.session = cpu_session(self.path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("borderwatch.format") != FORMAT:
            raise InputError(self.path, f"not a borderwatch screen (format {meta.get('borderwatch.format')!r}, "
                                        f"expected {FORMAT!r})")
        self.version = meta.get("borderwatch.version", "unknown")
        self.detector_version = meta.get("borderwatch.detector_version", "")  # the detector it was fitted to
        #: Detector versions it was fitted to or checked against (held-out accuracy with and without it,
        #: see the model card): a new detector ships with a refitted screen or a check recorded here.
        self.detector_versions: tuple[str, ...] = (self.detector_version,
                                                   *json.loads(meta.get("borderwatch.checked_with", "[]")))
        self.threshold = float(threshold if threshold is not None else meta["borderwatch.threshold"])
        self.margin = int(margin)
        self.group = int(group)
        #: model pixels screened / model pixels the detector then ran on (regions with margins, whole chips)
        self.pixels_screened = 0
        self.pixels_detected = 0

    def probabilities(self, chips: np.ndarray) -> np.ndarray:
        """(N, H/CELL, W/CELL) probability that the detector fires in each cell of (N, H, W, 3) uint8 chips."""
        x = nchw_float(screen_input(chips))
        logits = self.session.run(None, {"image": x})[0][:, 0]
        return 1.0 / (1.0 + np.exp(-logits))

    def plan(self, chips: np.ndarray) -> list[ScreenPlan]:
        """Per chip: one region per group of fired cells (with their neighbours), or the whole chip."""
        prob = self.probabilities(chips)
        n, h, w = chips.shape[:3]
        eight = np.ones((3, 3), bool)
        near = np.ones((2 * self.group + 1,) * 2, bool)
        plans = []
        for i in range(n):
            fired = ndimage.binary_dilation(prob[i] >= self.threshold, structure=eight)
            groups, _ = ndimage.label(ndimage.binary_dilation(fired, structure=near) if self.group else fired,
                                      structure=eight)
            cells = np.where(fired, groups, 0)
            regions, cost = [], 0
            for label, window in enumerate(ndimage.find_objects(cells), start=1):
                if window is None:
                    continue
                rows, cols = window
                x0, y0 = cols.start * CELL - self.margin, rows.start * CELL - self.margin
                x1 = x0 + _multiple_of_16(cols.stop * CELL + self.margin - x0)
                y1 = y0 + _multiple_of_16(rows.stop * CELL + self.margin - y0)
                regions.append(Region(x0, y0, x1, y1, label))
                cost += (x1 - x0) * (y1 - y0)
            whole = cost >= WHOLE_CHIP_SHARE * h * w
            plans.append(ScreenPlan(True, []) if whole else ScreenPlan(False, regions, cells))
            self.pixels_screened += h * w
            self.pixels_detected += h * w if whole else cost
        return plans

    @staticmethod
    def crop(chip: np.ndarray, r: Region) -> np.ndarray:
        """The region's pixels, zero outside the chip (as the chip is zero outside the image)."""
        out = np.zeros((r.y1 - r.y0, r.x1 - r.x0, 3), np.uint8)
        h, w = chip.shape[:2]
        ax0, ay0, ax1, ay1 = max(r.x0, 0), max(r.y0, 0), min(r.x1, w), min(r.y1, h)
        if ax1 > ax0 and ay1 > ay0:
            out[ay0 - r.y0: ay1 - r.y0, ax0 - r.x0: ax1 - r.x0] = chip[ay0:ay1, ax0:ax1]
        return out

    @property
    def detected_share(self) -> float:
        """Share of the screened pixels the detector ran on so far (regions count with their margins)."""
        return self.pixels_detected / self.pixels_screened if self.pixels_screened else 0.0


def pack(shapes: list[tuple[int, int]], side: int = SHEET) -> list[tuple[int, int, int]]:
    """Shelf-pack (h, w) crops onto ``side`` x ``side`` sheets: per crop (sheet, x, y); a crop larger than a sheet
    gets a sheet of its own (placed at 0, 0; the caller runs it alone)."""
    order = sorted(range(len(shapes)), key=lambda k: -shapes[k][0])
    out: list[tuple[int, int, int]] = [(0, 0, 0)] * len(shapes)
    big = [k for k in order if shapes[k][0] > side or shapes[k][1] > side]
    sheet, x, y, shelf = -1, 0, side, 0  # "the current sheet is full": the first crop opens sheet 0
    for k in order:
        h, w = shapes[k]
        if h > side or w > side:
            continue
        if x + w > side:  # next shelf
            x, y, shelf = 0, y + shelf, 0
        if y + h > side:  # next sheet
            sheet, x, y, shelf = sheet + 1, 0, 0, 0
        out[k] = (sheet, x, y)
        x, shelf = x + w, max(shelf, h)
    for k in big:
        sheet += 1
        out[k] = (sheet, 0, 0)
    return out


def _multiple_of_16(v: int) -> int:
    return -(-v // 16) * 16
