"""Run the bundled detector with ONNX Runtime (numpy + onnxruntime + OpenCV; no torch).

:class:`Detector` wraps one ONNX file in the format written by :mod:`.export`.
The pipeline calls, per tile or image::

    det = Detector.load_default()
    dets = det.detect_array(rgb_uint8, gsd_m)     # list[ModelDetection], input pixels

``detect_array`` resamples to the model's GSD, slices big images into
overlapping tiles (see :mod:`.sliced`) and returns boxes in the input's pixels.
Each :class:`ModelDetection` carries a heading (0-360, clockwise from up) and a
``heading_conf``. With the front check shipped beside the bundled model
(:mod:`.front`, on by default) it is the probability, 0.5-1, that the front is
the right end; without it, the length of the network's (sin, cos) vector, 0-1,
which drops when the network cannot tell front from rear. With the screen
shipped beside it (:mod:`.screen`, on by default) the detector runs only on the
regions of each chip where a cheap first pass says it could find something.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from borderwatch.errors import InputError, positive_gsd
from borderwatch.imagery.footprint import stretch_limits, to_uint8
from borderwatch.onnxrt import cpu_session

from .front import FrontModel, default_front_path
from .geometry import OrientedBox
from .labels import Detection
from .nms import nms_detections
from .screen import Screen, ScreenPlan, default_screen_path, nchw_float, pack

__all__ = ["DEFAULT_MODEL", "JPEG_MODEL", "Detector", "ModelDetection", "as_rgb8", "check_gsd_for"]

DEFAULT_MODEL = "borderwatch-vehicles.onnx"
#: The bundled model fine-tuned on chips passed through JPEG (model card, "The JPEG variant"): the pipeline and
#: ``detect`` run it on JPEG-compressed imagery only, whose colour is kept at half resolution.
JPEG_MODEL = "borderwatch-vehicles-jpeg.onnx"


@dataclass(frozen=True)
class ModelDetection(Detection):
    """A :class:`~.labels.Detection` plus how sure the model is of the front (0-1)."""

    heading_conf: float = 1.0
    subclass_score: float | None = None


def default_model_path(jpeg: bool = False) -> Path:
    """The bundled model file; ``jpeg``: its variant for JPEG-compressed imagery."""
    return Path(str(resources.files("borderwatch.analysis.detect") / "weights" / (JPEG_MODEL if jpeg else DEFAULT_MODEL)))


def is_bundled(path: Path) -> bool:
    """Whether ``path`` is one of the bundled models, which the shipped front checks and screen belong to."""
    return path in (default_model_path(), default_model_path(jpeg=True))


#: What JPEG does to the bundled detector (model card, "Limits"): measured on 352 synthetic site images per GSD
#: (development seeds 500-503, three dates) saved as JPEG at quality 75 (4:2:0 colour), front check on.
JPEG_CAVEAT = ("JPEG keeps colour at half resolution and costs the detector vehicles and fronts; the bundled model's "
               "JPEG variant reads it (synthetic test sites saved at quality 75: AP50 0.94 at 0.5 m and 0.69 at 0.8 m, "
               "against 0.98 and 0.96 uncompressed; fronts turned 3.0 % and 7.9 %, against 0.4 and 0.6 %); read counts "
               "and direction shares there with care, above all at 0.8 m, and use the provider's uncompressed product "
               "where there is one (saving a JPEG again as PNG does not undo it)")


def as_rgb8(image: np.ndarray, source: str | Path | None = "image", *, stretch: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 RGB from (H, W, 3) or (3, H, W) input, or a clear error.

    Single-band (panchromatic) and other band counts are refused: the model was
    trained on colour. A 4th band is dropped with a warning (RGBA / RGB + NIR
    in R, G, B, X order). Integer images wider than 8 bits are refused unless
    ``stretch``: then all bands go through one linear gain, as the pipeline
    reads such scenes (imagery.footprint.stretch_limits), with a warning.
    """
    a = np.asarray(image)
    if a.ndim == 2:
        raise InputError(source, "single-band (panchromatic) image: the detector needs 3-band RGB colour")
    if a.ndim != 3:
        raise InputError(source, f"expected an (H, W, bands) image, got shape {a.shape}")
    if a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    bands = a.shape[2]
    if bands == 1:
        raise InputError(source, "single-band (panchromatic) image: the detector needs 3-band RGB colour")
    if bands == 4:
        warnings.warn(f"{source}: 4-band image; using bands 1-3 as R, G, B and ignoring band 4", stacklevel=2)
        a = a[:, :, :3]
    elif bands != 3:
        raise InputError(source, f"{bands}-band image: the detector needs 3-band RGB (or RGB + alpha/NIR)")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InputError(source, f"unsupported pixel type {a.dtype}")
    if not stretch:
        raise InputError(source, f"{a.dtype} pixels: the detector needs 8-bit RGB; convert it first "
                                 "(e.g. gdal_translate -ot Byte -scale) or pass --stretch")
    bands_first = np.moveaxis(a, -1, 0)
    limits = stretch_limits(bands_first, np.ones(a.shape[:2], bool))
    warnings.warn(f"{source}: {a.dtype} image scaled linearly to 8 bits, one gain for all bands "
                  f"({limits[0][1]:.6g} -> 255)", stacklevel=2)
    return np.ascontiguousarray(np.moveaxis(to_uint8(bands_first, limits), 0, -1))


def check_gsd_for(gsd_m: float, gsd_range: tuple[float, float], source: str | Path | None = "gsd") -> float:
    """The GSD as a float, or an error when the model cannot see vehicles at that resolution."""
    g = positive_gsd(gsd_m, source)
    lo, hi = gsd_range
    if not lo <= g <= hi:
        raise InputError(source, f"ground sample distance {g:g} m is outside the detector's range "
                                 f"{lo:g}-{hi:g} m (vehicles would be {'too small' if g > hi else 'resampled too far'})")
    return g


#: ``Detector(score_threshold=FROM_MODEL, nms_iou=FROM_MODEL)`` (the defaults): the operating
#: point and the IoU of the class-agnostic NMS after decoding come from the model's
#: ``borderwatch.score_threshold`` / ``borderwatch.nms_iou`` metadata (chosen when it was
#: measured, see MODEL_CARD.md), else 0.3 each.
FROM_MODEL = "model"


class Detector:
    """One ONNX detector session (the bundled model format) and its decoding."""

    def __init__(self, path: str | Path | None = None, *, threads: int | None = None,
                 score_threshold: float | str = FROM_MODEL, nms_iou: float | None | str = FROM_MODEL,
                 front: FrontModel | str | Path | None = FROM_MODEL,
                 screen: Screen | str | Path | None = FROM_MODEL):
        """``front``: the front/rear check run on every chip (:mod:`.front`);
        ``screen``: the cascade's first pass (:mod:`.screen`). By default each is
        the one shipped beside the bundled model (the JPEG variant has a front
        check of its own), none for other model files unless given; None turns
        it off."""
        self.path = Path(path) if path is not None else default_model_path()
        if not self.path.is_file():
            raise InputError(self.path, "detector model file not found")
        self.session = cpu_session(self.path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if "borderwatch.format" not in meta:
            raise InputError(self.path, "not a borderwatch detector (no borderwatch.* metadata); "
                                        "use ExternalDetector for other ONNX models")
        self.meta = meta
        self.classes: list[str] = json.loads(meta["borderwatch.classes"])
        self.subclasses: list[str] = json.loads(meta["borderwatch.subclasses"])
        self.gsd_m = float(meta["borderwatch.gsd_m"])
        self.stride = int(meta["borderwatch.stride"])
        self.multiple = int(meta.get("borderwatch.multiple", "16"))
        self.gsd_range: tuple[float, float] = tuple(json.loads(meta["borderwatch.gsd_range"]))  # type: ignore
        self.version = meta.get("borderwatch.version", "unknown")
        self.axis_head = meta.get("borderwatch.axis", "0") == "1"  # older models have no axis channels
        if score_threshold == FROM_MODEL:
            score_threshold = meta.get("borderwatch.score_threshold", "0.3")
        self.score_threshold = float(score_threshold)
        if nms_iou == FROM_MODEL:
            nms_iou = float(meta.get("borderwatch.nms_iou", "0.3"))
        self.nms_iou = nms_iou  # class-agnostic NMS after decoding (see sliced.detect_source); None: off
        from .modelspec import SUBCLASS_PARENT

        if front == FROM_MODEL:
            front = default_front_path(jpeg=self.path == default_model_path(jpeg=True)) if is_bundled(self.path) else None
        self.front: FrontModel | None = front if isinstance(front, FrontModel) or front is None else FrontModel.load(front)
        if screen == FROM_MODEL:
            screen = default_screen_path() if is_bundled(self.path) else None
        self.screen: Screen | None = (screen if isinstance(screen, Screen) or screen is None
                                      else Screen(screen, threads=threads))
        self._sub_parent = np.array([self.classes.index(SUBCLASS_PARENT.get(s, self.classes[0]))
                                     for s in self.subclasses])

    @classmethod
    def load_default(cls, *, jpeg: bool = False, **kw) -> Detector:
        """The model shipped inside the package; ``jpeg``: its variant for JPEG-compressed imagery."""
        return cls(default_model_path(jpeg), **kw)

    @property
    def name(self) -> str:
        """Model file and version, plus the front check's and the screen's versions when they run
        (results differ with them)."""
        front = f"+front-{self.front.version}" if self.front is not None else ""
        screen = f"+screen-{self.screen.version}" if self.screen is not None else ""
        return f"{self.path.stem}@{self.version}{front}{screen}"

    # ---------------------------------------------------------------- core
    def predict_chips(self, chips: np.ndarray, score_threshold: float | None = None) -> list[list[ModelDetection]]:
        """Detections per chip for (N, H, W, 3) uint8 chips already at the model GSD (chip pixels).

        H and W must be multiples of the model's ``multiple`` (16). With a
        screen, only the regions it selects are run (see :mod:`.screen`).
        """
        if chips.ndim != 4 or chips.shape[3] != 3:
            raise InputError("chips", f"expected (N, H, W, 3), got {chips.shape}")
        if chips.shape[1] % self.multiple or chips.shape[2] % self.multiple:
            raise InputError("chips", f"chip sides must be multiples of {self.multiple}, got {chips.shape[1:3]}")
        thr = self.score_threshold if score_threshold is None else float(score_threshold)
        if self.screen is None:
            return self._predict_whole(chips, thr)
        plans = self.screen.plan(chips)
        found: list[list[ModelDetection]] = [[] for _ in range(len(chips))]
        whole = [i for i, p in enumerate(plans) if p.whole]
        if whole:
            for i, dets in zip(whole, self._predict_whole(chips[whole], thr)):
                found[i] = dets
        self._predict_regions(chips, plans, thr, found)
        return found

    def _predict_regions(self, chips: np.ndarray, plans: list[ScreenPlan], thr: float,
                         found: list[list[ModelDetection]]) -> None:
        """Add to ``found`` what the detector finds in the plans' regions, packed onto sheets (several times
        faster per pixel than small separate inputs); each region keeps the detections centred on its cells."""
        items = [(i, r) for i, p in enumerate(plans) for r in p.regions]
        if not items:
            return
        where = pack([(r.y1 - r.y0, r.x1 - r.x0) for _, r in items])
        sheets: dict[int, list[int]] = {}
        for k, (sheet, _, _) in enumerate(where):
            sheets.setdefault(sheet, []).append(k)
        for ids in sheets.values():
            h = max(where[k][2] + items[k][1].y1 - items[k][1].y0 for k in ids)
            w = max(where[k][1] + items[k][1].x1 - items[k][1].x0 for k in ids)
            canvas = np.zeros((1, h, w, 3), np.uint8)
            for k in ids:
                i, r = items[k]
                _, x, y = where[k]
                canvas[0, y:y + r.y1 - r.y0, x:x + r.x1 - r.x0] = Screen.crop(chips[i], r)
            for d in self._predict_whole(canvas, thr)[0]:
                b = d.box
                for k in ids:
                    i, r = items[k]
                    _, x, y = where[k]
                    if x <= b.cx < x + r.x1 - r.x0 and y <= b.cy < y + r.y1 - r.y0:
                        cx, cy = b.cx - x + r.x0, b.cy - y + r.y0
                        if plans[i].owns(r, cx, cy):
                            found[i].append(replace(d, box=OrientedBox(cx, cy, b.length, b.width, b.angle_deg)))
                        break

    def heat(self, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw network outputs for chips as in :meth:`predict_chips`: peaks (N, 3, H/2, W/2), regression maps."""
        peaks, reg = self.session.run(None, {"image": nchw_float(chips)})
        return peaks, reg

    def _predict_whole(self, chips: np.ndarray, thr: float) -> list[list[ModelDetection]]:
        peaks, reg = self.heat(chips)
        found = [self._decode(peaks[i], reg[i], thr) for i in range(len(chips))]
        if self.front is not None:
            found = [self.front.check(chips[i], dets) for i, dets in enumerate(found)]
        return found

    def _decode(self, peaks: np.ndarray, reg: np.ndarray, thr: float) -> list[ModelDetection]:
        best = peaks.max(0)
        ys, xs = np.nonzero(best >= thr)
        if not len(ys):
            return []
        cls_idx = peaks[:, ys, xs].argmax(0)
        score = best[ys, xs]
        r = reg[:, ys, xs]
        s = self.stride
        cx = (xs + r[4]) * s
        cy = (ys + r[5]) * s
        length = np.exp(np.clip(r[0], -2, 7))
        width = np.exp(np.clip(r[1], -2, 7))
        heading = np.degrees(np.arctan2(r[2], r[3])) % 360.0
        hconf = np.clip(np.hypot(r[2], r[3]), 0, 1)
        n_sub = len(self.subclasses)
        logits = r[6:6 + n_sub]
        if self.axis_head:
            heading = _heading_on_axis(r[6 + n_sub], r[7 + n_sub], heading)
        out = []
        for k in range(len(ys)):
            c = int(cls_idx[k])
            sub, sub_p = None, None
            if len(logits):
                lg = logits[:, k]
                allowed = self._sub_parent == c
                if allowed.any():
                    e = np.exp(lg[allowed] - lg[allowed].max())
                    p = e / e.sum()
                    j = int(p.argmax())
                    sub_p = float(p[j])
                    if sub_p >= 0.5:
                        sub = self.subclasses[int(np.nonzero(allowed)[0][j])]
            L, W = float(length[k]), float(width[k])
            if W > L:
                W = L
            out.append(ModelDetection(OrientedBox(float(cx[k]), float(cy[k]), L, W, float(heading[k])),
                                      float(score[k]), self.classes[c], sub, True, float(hconf[k]), sub_p))
        return out

    # ---------------------------------------------------------------- arrays
    def detect_array(
        self,
        image: np.ndarray,
        gsd_m: float,
        *,
        score_threshold: float | None = None,
        tile: int = 1024,
        overlap: int = 64,
        batch: int = 2,
        stretch: bool = False,
        source: str | Path | None = "image",
    ) -> list[ModelDetection]:
        """Detections in ``image``'s own pixel coordinates (lengths in those pixels).

        ``image``: (H, W, 3) or (3, H, W) RGB, 8-bit (see :func:`as_rgb8` for
        other inputs). ``gsd_m``: its metres per pixel, within the model's GSD
        range. Images bigger than ``tile`` model pixels are sliced.
        """
        from .sliced import ArraySource, detect_source

        rgb = as_rgb8(image, source, stretch=stretch)
        g = check_gsd_for(gsd_m, self.gsd_range, source)
        return detect_source(self, ArraySource(rgb, g), score_threshold=score_threshold, tile=tile,
                             overlap=overlap, batch=batch)

    def nms(self, dets: list[ModelDetection], iou: float = 0.5) -> list[ModelDetection]:
        """Class-agnostic rotated NMS (one vehicle, one detection)."""
        return nms_detections(dets, iou, class_aware=False)  # type: ignore[return-value]


def _heading_on_axis(sin2: np.ndarray, cos2: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """The axis angle from (sin 2h, cos 2h), turned to the end the heading vector points at."""
    axis = np.degrees(np.arctan2(sin2, cos2)) / 2.0 % 180.0
    d = np.abs((heading - axis + 180.0) % 360.0 - 180.0)
    return np.where(d <= 90.0, axis, axis + 180.0) % 360.0


# -------------------------------------------------------------------- evaluation
def _read_image(path: Path) -> np.ndarray:
    import cv2

    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise InputError(path, "cannot read image")
    if a.ndim == 3 and a.shape[2] >= 3:
        a = np.concatenate([a[:, :, 2::-1], a[:, :, 3:]], axis=2)
    return a


def _scaled_label(lab, f: float):
    from dataclasses import replace

    b = lab.box
    return replace(lab, box=OrientedBox(b.cx * f, b.cy * f, b.length * f, b.width * f, b.angle_deg))


def _is_hbb_set(images) -> bool:
    labs = [lab for im in images for lab in im.labels]
    return bool(labs) and all(not lab.has_front and abs(lab.box.angle_deg % 90.0) < 1e-6 for lab in labs)


def evaluate_detector(
    detector,
    images,
    *,
    gsd_m: float | None = None,
    resample_to: float | None = None,
    hbb: bool | None = None,
    iou: float = 0.5,
    score_threshold: float = 0.3,
    groups: dict[str, str] | None = None,
    stretch: bool = False,
):
    """Run ``detector`` on labelled images and score it with :func:`~.metrics.evaluate`.

    ``gsd_m`` is used for images without their own GSD. ``resample_to`` first
    resamples each image (area average) and its labels to that GSD, e.g. 0.3 m
    for KIT AIS. ``hbb`` (default: automatic, True when every label is an
    axis-aligned box without a front) scores the axis-aligned bounds of the
    predictions against the boxes, as DOTA's horizontal-box task does: an
    oriented prediction of a diagonal car cannot reach IoU 0.5 with its
    axis-aligned label. Returns (EvalResult, predictions by image key, the
    labelled images actually scored).
    """
    from .labels import LabelledImage
    from .metrics import evaluate
    from .sliced import resample_rgb

    if hbb is None:
        hbb = _is_hbb_set(images)
    preds: dict[str, list] = {}
    scored = []
    for im in images:
        g = im.gsd_m or gsd_m
        if g is None:
            raise InputError(im.path, "image has no GSD; pass --gsd")
        rgb = as_rgb8(_read_image(im.path), im.path, stretch=stretch)
        item = im
        if resample_to is not None and abs(resample_to - g) > 1e-9:
            f = g / resample_to
            rgb = resample_rgb(rgb, max(1, round(rgb.shape[1] * f)), max(1, round(rgb.shape[0] * f)))
            item = LabelledImage(im.path, rgb.shape[1], rgb.shape[0], [_scaled_label(lab, f) for lab in im.labels],
                                 resample_to, im.sequence, im.frame, dict(im.meta))
            g = resample_to
        dets = detector.detect_array(rgb, g, score_threshold=min(0.05, score_threshold), source=im.path)
        if hbb:
            from dataclasses import replace

            dets = [replace(d, box=OrientedBox.from_xyxy(*d.box.bounds()), has_front=False) for d in dets]
        preds[item.key] = dets
        scored.append(item)
    res = evaluate(preds, scored, iou, score_threshold=score_threshold, groups=groups)
    res.extra["hbb"] = float(bool(hbb))
    return res, preds, scored
