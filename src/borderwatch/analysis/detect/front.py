"""Which end is the front: a second look at each detected vehicle.

The detector reads the front from 1 m cells; on a 9 x 4 px car it swaps front
and rear about a third of the time, and the import/export share of a site is
built from those fronts. This check samples the vehicle along its own axis
(a fixed number of points per vehicle length, so the same weights serve every
GSD) and looks at both ends: a car's windscreen and bonnet against its roof and
boot, a truck's cab against its box.

A small convolutional network (:class:`~.model.FrontCheckNet`, one output
column per class; the shipped file is the mean of three fits) built to be odd:
its image part changes sign when the vehicle is turned round, so it cannot
prefer an end for any reason but what the ends look like. With the detector's own heading confidence it gives the
probability that the detector's front is right.
A detection below 0.5 is turned round, and ``heading_conf`` becomes the
probability that the front it now has is right (0.5 = a guess, 1 = sure).
The weights are fitted by ``scripts/train_front.py`` (:mod:`.front_fit`, torch)
on held-apart synthetic worlds and shipped as a small ONNX file beside the
detector; running it needs onnxruntime only.

The network's own probability is calibrated on synthetic vehicles, and real
cars are harder: on the lanes of five real streets (:mod:`.lanes`) fronts it
called near-certain were right about nine times in ten. So the file may carry
a :class:`FrontCalibration` (a temperature and a ceiling, fitted on those
streets by ``scripts/evaluate_real_fronts.py --calibrate``) that maps its logit
to the probability reported as ``heading_conf``. It never changes which end is
the front, only how sure the answer claims to be.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from borderwatch.errors import InputError

from .geometry import OrientedBox

__all__ = ["FORMAT", "FrontCalibration", "FrontExamples", "FrontModel", "collect_front_examples", "default_front_path",
           "normalise_patches", "vehicle_patch"]

FORMAT = "borderwatch-front/1"
DEFAULT_FRONT_MODEL = "front-check.onnx"
#: The check fitted for the detector's JPEG variant, on its detections in images saved as JPEG (model card, "The
#: front check for JPEG imagery"); it runs wherever that variant runs.
JPEG_FRONT_MODEL = "front-check-jpeg.onnx"
#: samples along (rear to front) and across (left to right) each vehicle
SAMPLES_ALONG, SAMPLES_ACROSS = 24, 12
#: half the sampled extent, in vehicle lengths and widths (a margin of ground around the body)
EXTENT_ALONG, EXTENT_ACROSS = 0.75, 0.8


@dataclass(frozen=True)
class FrontCalibration:
    """P(front right) = 0.5 + (ceiling - 0.5) * tanh(z / (2 * temperature)) for the check's logit z.

    The temperature spreads the network's over-sure logits; the ceiling is how
    often even its surest fronts were right on real streets. Odd in z, so the
    answer (which end) never changes. Identity: temperature 1, ceiling 1.
    """

    temperature: float = 1.0
    ceiling: float = 1.0
    fitted_on: str = ""

    def __post_init__(self):
        if not (self.temperature > 0 and 0.5 < self.ceiling <= 1.0):
            raise ValueError(f"front calibration needs temperature > 0 and 0.5 < ceiling <= 1, got {self}")

    def probability(self, z: np.ndarray) -> np.ndarray:
        """P(the detector's front is right) for logits ``z``."""
        return 0.5 + (self.ceiling - 0.5) * np.tanh(np.asarray(z, np.float64) / (2.0 * self.temperature))

    @classmethod
    def fit(cls, z: np.ndarray, right: np.ndarray, fitted_on: str = "") -> FrontCalibration:
        """Maximum likelihood on logits ``z`` (of the end the check chose) and whether that end was right."""
        from scipy.optimize import minimize

        a = np.abs(np.asarray(z, np.float64))
        y = np.asarray(right, bool)
        if len(a) < 10 or y.all() or not y.any():
            raise ValueError(f"need at least 10 fronts, some right and some wrong, to fit a calibration; got {len(a)}")

        def unpack(th) -> FrontCalibration:  # th = (log temperature, logit of (ceiling - 0.5) / 0.5): always valid
            return cls(float(np.exp(th[0])), float(0.5 + 0.5 / (1.0 + np.exp(-th[1]))), fitted_on)

        fit = minimize(lambda th: unpack(th).log_loss(a, y), [1.0, 2.0], method="Nelder-Mead",
                       options={"xatol": 1e-6, "fatol": 1e-12})
        return unpack(fit.x)

    def log_loss(self, z: np.ndarray, right: np.ndarray) -> float:
        """Mean negative log-likelihood of whether the chosen ends (logits ``z``) were right: what ``fit``
        minimises, and how a calibration is scored on a scene it was not fitted on."""
        p = np.clip(self.probability(np.abs(np.asarray(z, np.float64))), 1e-9, 1 - 1e-9)
        return -float(np.mean(np.where(np.asarray(right, bool), np.log(p), np.log1p(-p))))

    def to_json(self) -> str:
        return json.dumps({"temperature": self.temperature, "ceiling": self.ceiling, "fitted_on": self.fitted_on})

    @classmethod
    def from_json(cls, text: str) -> FrontCalibration:
        d = json.loads(text)
        return cls(float(d["temperature"]), float(d["ceiling"]), str(d.get("fitted_on", "")))


def default_front_path(jpeg: bool = False) -> Path:
    """The shipped check; ``jpeg``: the one that runs with the detector's JPEG variant."""
    name = JPEG_FRONT_MODEL if jpeg else DEFAULT_FRONT_MODEL
    return Path(str(resources.files("borderwatch.analysis.detect") / "weights" / name))


def vehicle_patch(image: np.ndarray, box: OrientedBox) -> np.ndarray:
    """(SAMPLES_ACROSS, SAMPLES_ALONG, 3) float32 samples of ``image`` in the box's own frame.

    Columns run from behind the rear to ahead of the front (the box's heading),
    rows from the vehicle's left to its right. Pixel centres are at i + 0.5, as
    in the labels.
    """
    h = np.radians(box.angle_deg)
    fa = np.array([np.sin(h), -np.cos(h)])  # the front, in pixels (y down)
    fb = np.array([np.cos(h), np.sin(h)])  # the vehicle's right
    sa = 2 * EXTENT_ALONG * box.length / SAMPLES_ALONG
    sb = 2 * EXTENT_ACROSS * box.width / SAMPLES_ACROSS
    # only the pixels around the vehicle, as float: the same samples as from the whole image
    # (bilinear needs one more pixel; a cut at the image edge reflects there either way)
    r = np.hypot(EXTENT_ALONG * box.length, EXTENT_ACROSS * box.width) + 2.0
    x0, y0 = max(int(np.floor(box.cx - r)), 0), max(int(np.floor(box.cy - r)), 0)
    x1, y1 = min(int(np.ceil(box.cx + r)) + 1, image.shape[1]), min(int(np.ceil(box.cy + r)) + 1, image.shape[0])
    if x1 <= x0 or y1 <= y0:  # centred off the image: nothing to see
        return np.zeros((SAMPLES_ACROSS, SAMPLES_ALONG, 3), np.float32)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1], dtype=np.float32)
    m = np.empty((2, 3))
    m[:, 0], m[:, 1] = sa * fa, sb * fb
    m[:, 2] = (np.array([box.cx - x0, box.cy - y0]) - 0.5 - m[:, 0] * (SAMPLES_ALONG - 1) / 2
               - m[:, 1] * (SAMPLES_ACROSS - 1) / 2)
    return cv2.warpAffine(crop, m, (SAMPLES_ALONG, SAMPLES_ACROSS), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def normalise_patches(patches: np.ndarray) -> np.ndarray:
    """(N, 4, across, along) float32: what the check's network reads from (N, across, along, 3) patches.

    RGB plus grey, each normalised by the patch's own mean and spread (the 4
    keeps flat patches from being blown up), so brightness and contrast of a
    scene do not decide the front; the network sees only shapes.
    """
    p = np.asarray(patches, np.float32)
    z = np.concatenate([p, p.mean(axis=3, keepdims=True)], axis=3)
    z = (z - z.mean(axis=(1, 2), keepdims=True)) / (z.std(axis=(1, 2), keepdims=True) + 4.0)
    return np.ascontiguousarray(z.transpose(0, 3, 1, 2), dtype=np.float32)


class FrontModel:
    """The shipped front check (``weights/front-check.onnx``): :class:`~.model.FrontCheckNet` in ONNX.

    The file's ``borderwatch.*`` metadata give its format, version and the
    classes of its output columns; onnxruntime runs it on one thread (about
    0.2 ms a vehicle for the shipped three-fit file).
    """

    def __init__(self, path: str | Path, calibrated: bool = True):
        """``calibrated=False``: report the network's own probability (fitted on synthetic vehicles) even
        when the file carries a calibration; the version then says so."""
        from borderwatch.onnxrt import cpu_session

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(self.path, "front-check model file not found")
        self.session = cpu_session(self.path, 1, what="front-check model")
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("borderwatch.format") != FORMAT:
            raise InputError(self.path, f"not a borderwatch front check (format {meta.get('borderwatch.format')!r}, "
                                        f"expected {FORMAT!r})")
        self.version: str = meta.get("borderwatch.version", "unknown")
        self.classes: list[str] = json.loads(meta.get("borderwatch.classes", "[]"))
        try:
            cal = meta.get("borderwatch.calibration")
            #: maps the logit to the reported probability; None: the network's own sigmoid
            self.calibration: FrontCalibration | None = FrontCalibration.from_json(cal) if cal else None
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(self.path, f"front-check calibration metadata unreadable: {e}") from None
        if not calibrated and self.calibration is not None:
            self.calibration = None
            self.version += "-uncalibrated"
        shape = self.session.get_inputs()[0].shape
        if not self.classes or list(shape[1:]) != [4, SAMPLES_ACROSS, SAMPLES_ALONG]:
            raise InputError(self.path, f"front-check input must be (N, 4, {SAMPLES_ACROSS}, {SAMPLES_ALONG}) with "
                                        f"classes named in its metadata; got {shape} and {self.classes}")

    @classmethod
    def load(cls, path: str | Path, calibrated: bool = True) -> FrontModel:
        return cls(path, calibrated)

    @classmethod
    def load_default(cls, calibrated: bool = True, jpeg: bool = False) -> FrontModel:
        """The shipped check; ``jpeg``: the one for the detector's JPEG variant."""
        return cls(default_front_path(jpeg), calibrated)

    def logits(self, patches: np.ndarray, heading_conf: np.ndarray) -> np.ndarray:
        """(N, classes) logits that the detector's front is right, one column per class."""
        if not len(patches):
            return np.zeros((0, len(self.classes)), np.float32)
        feeds = {"patches": normalise_patches(patches), "heading_conf": np.asarray(heading_conf, np.float32)}
        return self.session.run(None, feeds)[0]

    def class_logits(self, patches: np.ndarray, heading_conf: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """Each vehicle's logit in its own class's column (uncalibrated); NaN for a class without a check."""
        out = np.full(len(classes), np.nan)
        col = np.array([self.classes.index(c) if c in self.classes else -1 for c in classes], int)
        known = np.nonzero(col >= 0)[0]
        if len(known):
            z = self.logits(np.asarray(patches)[known], np.asarray(heading_conf, np.float32)[known])
            out[known] = z[np.arange(len(known)), col[known]]
        return out

    def probability(self, patches: np.ndarray, heading_conf: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """P(the detector's front is right) per vehicle, calibrated when the file carries a calibration;
        NaN for a class without a check."""
        z = self.class_logits(patches, heading_conf, classes)
        return self.calibration.probability(z) if self.calibration else 1.0 / (1.0 + np.exp(-z))

    def check(self, image: np.ndarray, dets: list) -> list:
        """``dets`` (with ``box``, ``cls``, ``heading_conf``) with fronts checked on ``image``.

        Boxes must be in ``image``'s pixels. A vehicle whose front is more likely
        behind it is turned round; ``heading_conf`` becomes the probability that
        the front is right. Classes without a check pass unchanged.
        """
        if not dets:
            return dets
        patches = np.stack([vehicle_patch(image, d.box) for d in dets])
        p = self.probability(patches, np.array([d.heading_conf for d in dets]), [d.cls for d in dets])
        out = []
        for d, pk in zip(dets, p):
            if np.isnan(pk):
                out.append(d)
                continue
            box = d.box
            if pk < 0.5:
                box = replace(box, angle_deg=(box.angle_deg + 180.0) % 360.0)
            out.append(replace(d, box=box, heading_conf=round(float(max(pk, 1.0 - pk)), 4)))
        return out


@dataclass
class FrontExamples:
    """Detected vehicles matched to labels with a known front, for fitting and scoring the check."""

    patches: np.ndarray  # (N, across, along, 3) float32, sampled at the detected pose
    heading_conf: np.ndarray  # (N,) the detector's own confidence
    classes: np.ndarray  # (N,) detected class
    error_deg: np.ndarray  # (N,) detected heading minus labelled heading, 0-180
    gsd_m: np.ndarray  # (N,)

    @property
    def front_right(self) -> np.ndarray:
        return self.error_deg < 90.0

    @classmethod
    def concat(cls, parts: Sequence[FrontExamples]) -> FrontExamples:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def save(self, path: str | Path) -> None:
        """One ``.npz`` file (a cache for fitting: collecting examples runs the detector)."""
        np.savez(Path(path), **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: str | Path) -> FrontExamples:
        with np.load(Path(path)) as z:
            return cls(*(z[f.name] for f in fields(cls)))


def collect_front_examples(detector, images, *, read=None) -> FrontExamples:
    """Run ``detector`` on labelled images and pair each detection with the nearest labelled vehicle.

    A detection pairs with a label whose centre is within a third of the
    vehicle's width (at least one pixel) and which no higher-scoring detection
    took. Only labels with a known front count. The detector must have no
    front check of its own (``Detector(front=None)``): the examples describe
    the network's heading.
    """
    from .geometry import angle_diff
    from .runtime import _read_image

    if getattr(detector, "front", None) is not None:
        raise ValueError("collect_front_examples needs a detector without a front check (front=None)")
    read = read or (lambda im: _read_image(im.path)[:, :, :3])
    patches, conf, classes, err, gsd = [], [], [], [], []
    for im in images:
        labs = [lab for lab in im.labels if lab.has_front]
        if not labs:
            continue
        rgb = read(im)
        dets = detector.detect_array(rgb, im.gsd_m)
        # sample where the detector looks: the image at the model's GSD, as its chips are
        f = im.gsd_m / detector.gsd_m
        img = rgb.astype(np.float32)
        if abs(f - 1.0) > 1e-9:
            from .sliced import resample_rgb

            img = resample_rgb(img, round(img.shape[1] * f), round(img.shape[0] * f))
        centres = np.array([[lab.box.cx, lab.box.cy] for lab in labs])
        taken: set[int] = set()
        for d in sorted(dets, key=lambda d: -d.score):
            dist = np.hypot(centres[:, 0] - d.box.cx, centres[:, 1] - d.box.cy)
            j = int(dist.argmin())
            if j in taken or dist[j] > max(1.0, labs[j].box.width / 3.0):
                continue
            taken.add(j)
            b = d.box
            patches.append(vehicle_patch(img, replace(b, cx=b.cx * f, cy=b.cy * f, length=b.length * f, width=b.width * f)))
            conf.append(d.heading_conf)
            classes.append(d.cls)
            err.append(angle_diff(d.box.angle_deg, labs[j].box.angle_deg))
            gsd.append(im.gsd_m)
    return FrontExamples(np.array(patches, np.float32).reshape(-1, SAMPLES_ACROSS, SAMPLES_ALONG, 3),
                         np.array(conf, float), np.array(classes, str), np.array(err, float), np.array(gsd, float))
