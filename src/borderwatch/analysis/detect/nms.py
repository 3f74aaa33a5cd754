"""Rotated IoU, rotated non-maximum suppression, and merging detections across tile seams.

Two NMS backends: ``"shapely"`` (default; exact polygon clipping) and
``"cv2"`` (``cv2.dnn.NMSBoxesRotated``). They agree except when one box lies
wholly inside another: OpenCV (checked with 5.0) then takes the IoU as 1 and
suppresses the inner box even when the true IoU is small (a car box inside a
bus box). Speed is about the same (3000 boxes: ~0.6 s each), so the exact one
is the default. A box is suppressed when its IoU with a kept, higher-scored
box is *greater* than ``iou`` (OpenCV's rule).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely

from .geometry import OrientedBox
from .labels import Detection

__all__ = [
    "TileDetections",
    "iou_matrix",
    "merge_tiles",
    "nms_detections",
    "rotated_iou",
    "rotated_nms",
]

Backend = Literal["shapely", "cv2"]


def _polys(boxes: Sequence[OrientedBox]) -> np.ndarray:
    if not len(boxes):
        return np.empty(0, dtype=object)
    return shapely.polygons(np.stack([b.corners() for b in boxes]))


def _centres_radii(boxes: Sequence[OrientedBox]) -> tuple[np.ndarray, np.ndarray]:
    c = np.array([[b.cx, b.cy] for b in boxes], dtype=float).reshape(-1, 2)
    r = np.array([0.5 * np.hypot(b.length, b.width) for b in boxes], dtype=float)
    return c, r


def rotated_iou(a: OrientedBox, b: OrientedBox) -> float:
    """Intersection over union of two oriented boxes (exact, via shapely)."""
    return float(iou_matrix([a], [b])[0, 0])


def iou_matrix(a: Sequence[OrientedBox], b: Sequence[OrientedBox]) -> np.ndarray:
    """(len(a), len(b)) rotated IoU; only pairs whose circumcircles overlap are clipped."""
    out = np.zeros((len(a), len(b)), dtype=float)
    if not len(a) or not len(b):
        return out
    ca, ra = _centres_radii(a)
    cb, rb = _centres_radii(b)
    d = np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=-1)
    ii, jj = np.nonzero(d < ra[:, None] + rb[None, :])
    if not len(ii):
        return out
    pa, pb = _polys(a), _polys(b)
    inter = shapely.area(shapely.intersection(pa[ii], pb[jj]))
    area_a = np.array([x.area for x in a])
    area_b = np.array([x.area for x in b])
    union = area_a[ii] + area_b[jj] - inter
    out[ii, jj] = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    return out


def _nms_shapely(boxes: Sequence[OrientedBox], scores: np.ndarray, iou: float) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    polys = _polys(boxes)
    areas = np.array([b.area for b in boxes])
    c, r = _centres_radii(boxes)
    alive = np.ones(len(boxes), dtype=bool)
    keep: list[int] = []
    for pos, i in enumerate(order):
        if not alive[i]:
            continue
        keep.append(int(i))
        rest = np.array([j for j in order[pos + 1:] if alive[j]], dtype=int)
        if not len(rest):
            continue
        near = rest[np.linalg.norm(c[rest] - c[i], axis=1) < r[rest] + r[i]]
        if not len(near):
            continue
        inter = shapely.area(shapely.intersection(polys[i], polys[near]))
        ious = inter / np.maximum(areas[near] + areas[i] - inter, 1e-12)
        alive[near[ious > iou]] = False
    return keep


def _nms_cv2(boxes: Sequence[OrientedBox], scores: np.ndarray, iou: float) -> list[int]:
    import cv2

    rects = [b.to_cv2() for b in boxes]
    shifted = scores - float(scores.min()) + 1.0  # OpenCV needs a threshold >= 0; order is all that matters
    idx = cv2.dnn.NMSBoxesRotated(rects, [float(s) for s in shifted], 0.0, float(iou))
    return [int(i) for i in np.asarray(idx).reshape(-1)]


def rotated_nms(
    boxes: Sequence[OrientedBox],
    scores: Sequence[float] | np.ndarray,
    iou: float = 0.5,
    *,
    classes: Sequence[str | int] | None = None,
    backend: Backend = "shapely",
) -> np.ndarray:
    """Indices of the kept boxes, highest score first. With ``classes``, suppression stays within a class."""
    scores = np.asarray(scores, dtype=float).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
    if classes is not None and len(classes) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(classes)} classes")
    if not 0.0 <= iou <= 1.0:
        raise ValueError(f"iou must be in [0, 1], not {iou}")
    if not len(boxes):
        return np.empty(0, dtype=int)
    if backend not in ("shapely", "cv2"):
        raise ValueError(f"backend must be 'shapely' or 'cv2', not {backend!r}")
    run = _nms_cv2 if backend == "cv2" else _nms_shapely
    groups = [np.arange(len(boxes))] if classes is None else [
        np.array([i for i, c in enumerate(classes) if c == k]) for k in dict.fromkeys(classes)
    ]
    keep: list[int] = []
    for g in groups:
        sub = [boxes[i] for i in g]
        keep.extend(int(g[k]) for k in run(sub, scores[g], iou))
    keep_arr = np.array(keep, dtype=int)
    return keep_arr[np.argsort(-scores[keep_arr], kind="stable")]


def nms_detections(
    detections: Sequence[Detection], iou: float = 0.5, *, class_aware: bool = True, backend: Backend = "shapely"
) -> list[Detection]:
    """Rotated NMS on :class:`~.labels.Detection` records (highest score first)."""
    idx = rotated_nms(
        [d.box for d in detections], [d.score for d in detections], iou,
        classes=[d.cls for d in detections] if class_aware else None, backend=backend,
    )
    return [detections[i] for i in idx]


@dataclass(frozen=True)
class TileDetections:
    """Detections of one tile, in the tile's own pixel coordinates.

    ``window`` is (x0, y0, x1, y1) of the tile in the full image's pixels.
    """

    window: tuple[float, float, float, float]
    detections: Sequence[Detection]


def merge_tiles(
    tiles: Sequence[TileDetections],
    iou: float = 0.5,
    *,
    edge_margin: float = 2.0,
    ios: float = 0.5,
    image_size: tuple[float, float] | None = None,
    class_aware: bool = False,
) -> list[Detection]:
    """One detection per vehicle over overlapping tiles, in full-image pixel coordinates.

    A box that comes within ``edge_margin`` px of one of its tile's *inner*
    edges (an edge that is not the image border) is probably cut by the tile,
    so every complete box outranks every cut box; among equals the higher score
    wins. A later box is dropped when its IoU with a kept box exceeds ``iou``,
    or, for a cut box, when more than ``ios`` of its own area lies inside a kept
    box (a half vehicle has a low IoU with the whole one). Kept detections keep
    their own scores. ``class_aware=False`` (default) because one vehicle may be
    classed differently by two tiles and must still be counted once.
    ``image_size`` (width, height) defaults to the extent of all windows.
    A vehicle larger than the tile overlap, cut in both tiles, may stay as two
    pieces.
    """
    if not tiles:
        return []
    wins = np.array([t.window for t in tiles], dtype=float)
    ix0, iy0 = float(wins[:, 0].min()), float(wins[:, 1].min())
    ix1, iy1 = (float(image_size[0]), float(image_size[1])) if image_size else (
        float(wins[:, 2].max()), float(wins[:, 3].max()))
    items: list[tuple[bool, float, Detection]] = []  # (cut, score, global detection)
    for t in tiles:
        x0, y0, x1, y1 = t.window
        inner = (x0 > ix0 + 0.5, y0 > iy0 + 0.5, x1 < ix1 - 0.5, y1 < iy1 - 0.5)
        tw, th = x1 - x0, y1 - y0
        for d in t.detections:
            bx0, by0, bx1, by1 = d.box.bounds()
            cut = ((inner[0] and bx0 <= edge_margin) or (inner[1] and by0 <= edge_margin)
                   or (inner[2] and bx1 >= tw - edge_margin) or (inner[3] and by1 >= th - edge_margin))
            g = dataclasses.replace(d, box=d.box.translated(x0, y0))  # keeps subclass fields
            items.append((cut, d.score, g))
    items.sort(key=lambda it: (it[0], -it[1]))
    dets = [it[2] for it in items]
    cut_flags = np.array([it[0] for it in items])
    polys = _polys([d.box for d in dets])
    areas = np.array([d.box.area for d in dets])
    c, r = _centres_radii([d.box for d in dets])
    kept: list[int] = []
    for i, d in enumerate(dets):
        cand = np.array([k for k in kept if not class_aware or dets[k].cls == d.cls], dtype=int)
        if len(cand):
            cand = cand[np.linalg.norm(c[cand] - c[i], axis=1) < r[cand] + r[i]]
        if len(cand):
            inter = shapely.area(shapely.intersection(polys[i], polys[cand]))
            ious = inter / np.maximum(areas[cand] + areas[i] - inter, 1e-12)
            if np.any(ious > iou) or (cut_flags[i] and np.any(inter / areas[i] > ios)):
                continue
        kept.append(i)
    out = [dets[k] for k in kept]
    out.sort(key=lambda d: -d.score)
    return out
