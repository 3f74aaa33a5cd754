"""Detector evaluation: per-class AP50 on rotated boxes, precision/recall, count error, heading error.

Matching follows PASCAL VOC: per class, detections of all images in
descending score order; each takes the ground-truth box of the same image and
class with the highest rotated IoU; if that IoU reaches ``iou`` it is a true
positive unless that box is already taken (then a false positive), and a
detection whose best box is ``difficult`` is ignored. Difficult boxes do not
count as positives. AP is the area under the all-point interpolated
precision/recall curve (VOC 2010+).

Counts ignore class (the output is "how many vehicles"); difficult boxes
count as vehicles there. Heading error uses true-positive pairs scoring at
least ``score_threshold`` whose truth has a front; a "flip" is an error over
135 degrees (the front and rear were swapped).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from borderwatch.errors import InputError

from .geometry import angle_diff
from .labels import Detection, LabelledImage
from .nms import iou_matrix

__all__ = ["ClassResult", "CountResult", "EvalResult", "HeadingResult", "average_precision", "evaluate"]

FLIP_THRESHOLD_DEG = 135.0


@dataclass(frozen=True)
class ClassResult:
    """AP and the operating point at the score threshold for one class."""

    ap: float | None  # None when the class has no (non-difficult) truth
    n_true: int
    n_pred: int  # predictions at or above the score threshold
    tp: int
    fp: int
    precision: float | None
    recall: float | None


@dataclass(frozen=True)
class CountResult:
    """Predicted vs true vehicle count; ``rel_error`` = |pred - true| / true (None when true = 0)."""

    pred: int
    true: int
    rel_error: float | None


@dataclass(frozen=True)
class HeadingResult:
    """Absolute circular heading error in degrees over matched pairs with a true front."""

    n: int
    median_deg: float | None
    p90_deg: float | None
    flip_share: float | None


@dataclass
class EvalResult:
    per_class: dict[str, ClassResult]
    mean_ap: float | None  # over classes with truth
    count: CountResult
    count_per_group: dict[str, CountResult]
    count_per_class: dict[str, CountResult]
    heading: HeadingResult
    iou: float
    score_threshold: float
    extra: dict[str, float] = field(default_factory=dict)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP (VOC 2010+) from recall/precision at each rank."""
    mrec = np.concatenate([[0.0], np.asarray(recall, float), [1.0]])
    mpre = np.concatenate([[0.0], np.asarray(precision, float), [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _rel(pred: int, true: int) -> CountResult:
    return CountResult(pred, true, abs(pred - true) / true if true else None)


def evaluate(
    predictions: Mapping[str | Path, Sequence[Detection]],
    ground_truth: Sequence[LabelledImage],
    iou: float = 0.5,
    *,
    score_threshold: float = 0.5,
    groups: Mapping[str | Path, str] | None = None,
) -> EvalResult:
    """Score ``predictions`` (image key -> detections, keyed like ``LabelledImage.key``) against truth.

    ``groups`` maps image keys to a group id (e.g. a site id) for per-group
    count errors; images without a group form their own group. Images missing
    from ``predictions`` have no detections; a prediction key that is not a
    ground-truth image is an error (it usually means mismatched paths).
    """
    if not 0.0 < iou <= 1.0:
        raise InputError(None, f"iou must be in (0, 1], not {iou}")
    preds = {str(k): list(v) for k, v in predictions.items()}
    gts = {im.key: im for im in ground_truth}
    unknown = sorted(set(preds) - set(gts))
    if unknown:
        raise InputError(unknown[0], f"prediction for an image not in the ground truth ({len(unknown)} such)")
    group_of = {str(k): str(v) for k, v in (groups or {}).items()}

    classes = sorted({lab.cls for im in ground_truth for lab in im.labels}
                     | {d.cls for ds in preds.values() for d in ds})
    per_class: dict[str, ClassResult] = {}
    headings: list[float] = []
    for cls in classes:
        # detections of this class over all images, by score
        dets = [(d.score, key, j) for key, ds in preds.items() for j, d in enumerate(ds) if d.cls == cls]
        dets.sort(key=lambda t: -t[0])
        gt_idx = {key: [i for i, lab in enumerate(im.labels) if lab.cls == cls] for key, im in gts.items()}
        n_true = sum(1 for im in gts.values() for lab in im.labels if lab.cls == cls and not lab.difficult)
        ious = {}
        for key, idx in gt_idx.items():
            pd_ = [d for d in preds.get(key, []) if d.cls == cls]
            if idx and pd_:
                ious[key] = iou_matrix([d.box for d in pd_], [gts[key].labels[i].box for i in idx])
        # position of each detection among its image's detections of this class
        pos_in_class: dict[tuple[str, int], int] = {}
        for key, ds in preds.items():
            k = 0
            for j, d in enumerate(ds):
                if d.cls == cls:
                    pos_in_class[(key, j)] = k
                    k += 1
        taken: dict[str, set[int]] = defaultdict(set)
        tp = np.zeros(len(dets))
        fp = np.zeros(len(dets))
        for r, (score, key, j) in enumerate(dets):
            m = ious.get(key)
            if m is None:
                fp[r] = 1
                continue
            row = m[pos_in_class[(key, j)]]
            best = int(np.argmax(row))
            if row[best] >= iou:
                lab = gts[key].labels[gt_idx[key][best]]
                if lab.difficult:
                    continue
                if best not in taken[key]:
                    taken[key].add(best)
                    tp[r] = 1
                    det = preds[key][j]
                    if score >= score_threshold and lab.has_front and det.has_front:
                        headings.append(angle_diff(det.box.angle_deg, lab.box.angle_deg))
                else:
                    fp[r] = 1
            else:
                fp[r] = 1
        ctp, cfp = np.cumsum(tp), np.cumsum(fp)
        ap = None
        if n_true:
            rec = ctp / n_true
            prec = ctp / np.maximum(ctp + cfp, np.finfo(float).eps)
            ap = average_precision(rec, prec) if len(dets) else 0.0
        above = np.array([s >= score_threshold for s, _, _ in dets], dtype=bool)
        tp_t, fp_t = int(tp[above].sum()), int(fp[above].sum())
        n_pred = int(above.sum())
        per_class[cls] = ClassResult(
            ap=ap, n_true=n_true, n_pred=n_pred, tp=tp_t, fp=fp_t,
            precision=tp_t / (tp_t + fp_t) if tp_t + fp_t else None,
            recall=tp_t / n_true if n_true else None,
        )
    aps = [c.ap for c in per_class.values() if c.ap is not None]

    def n_pred(key: str, cls: str | None = None) -> int:
        return sum(1 for d in preds.get(key, []) if d.score >= score_threshold and (cls is None or d.cls == cls))

    def n_true(key: str, cls: str | None = None) -> int:
        return sum(1 for lab in gts[key].labels if cls is None or lab.cls == cls)

    by_group: dict[str, list[str]] = defaultdict(list)
    for key in gts:
        by_group[group_of.get(key, key)].append(key)
    count = _rel(sum(n_pred(k) for k in gts), sum(n_true(k) for k in gts))
    count_per_group = {g: _rel(sum(n_pred(k) for k in ks), sum(n_true(k) for k in ks)) for g, ks in by_group.items()}
    count_per_class = {c: _rel(sum(n_pred(k, c) for k in gts), sum(n_true(k, c) for k in gts)) for c in classes}

    h = np.asarray(headings, dtype=float)
    heading = HeadingResult(
        n=len(h),
        median_deg=float(np.median(h)) if len(h) else None,
        p90_deg=float(np.percentile(h, 90)) if len(h) else None,
        flip_share=float(np.mean(h > FLIP_THRESHOLD_DEG)) if len(h) else None,
    )
    return EvalResult(
        per_class=per_class,
        mean_ap=float(np.mean(aps)) if aps else None,
        count=count,
        count_per_group=count_per_group,
        count_per_class=count_per_class,
        heading=heading,
        iou=iou,
        score_threshold=score_threshold,
    )
