"""Plug in an external ONNX oriented-box detector (e.g. an Ultralytics YOLO-OBB export) with a YAML class map.

Expected output layout (YOLO-OBB ONNX export): one tensor ``[1, 4 + nc + 1, N]``
per image: ``cx, cy, w, h`` in input pixels, ``nc`` class scores (already
sigmoid), and the box angle in radians (clockwise on screen, the rotation of
the ``w`` side from the x axis). Input: float32 ``[1, 3, S, S]`` RGB in 0-1.
Such models see only the box, not the front: detections have ``has_front``
False and their heading is the long axis in [0, 180).

YAML class map (required keys ``gsd_m`` and ``classes``)::

    gsd_m: 0.3                # the GSD the model was trained at
    gsd_range: [0.2, 0.5]     # optional; default gsd_m / 1.6 .. gsd_m * 1.6
    input_size: 1024          # optional; read from the model when it is fixed
    classes:                  # model class index or name -> borderwatch target (or null to drop)
      0: small_vehicle
      1: {class: large_vehicle, subclass: truck}
      2: null

Classes not listed in ``classes`` are dropped with a warning at load time,
never mapped silently.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from borderwatch.errors import InputError
from borderwatch.onnxrt import cpu_session

from .classmap import CLASSES, Target, normalize_name
from .geometry import OrientedBox, axis_of
from .labels import Detection
from .nms import rotated_nms

__all__ = ["ExternalDetector"]


class ExternalDetector:
    """A YOLO-OBB-style ONNX model behind the same ``predict_chips``/``detect_array`` API as :class:`~.runtime.Detector`."""

    multiple = 32

    def __init__(self, model: str | Path, class_map: str | Path | dict[str, Any], *, threads: int | None = None,
                 score_threshold: float = 0.3, iou: float = 0.5):
        self.path = Path(model)
        if not self.path.is_file():
            raise InputError(self.path, "external detector model not found")
        src = class_map if isinstance(class_map, (str, Path)) else "class map"
        if isinstance(class_map, (str, Path)):
            try:
                cfg = yaml.safe_load(Path(class_map).read_text(encoding="utf-8"))
            except OSError as e:
                raise InputError(class_map, f"cannot read class map: {e.strerror or e}") from None
            except yaml.YAMLError as e:
                raise InputError(class_map, f"not valid YAML: {str(e).splitlines()[0]}") from None
        else:
            cfg = dict(class_map)
        if not isinstance(cfg, dict) or "classes" not in cfg or "gsd_m" not in cfg:
            raise InputError(src, "external class map needs 'gsd_m' and 'classes'")
        try:
            self.gsd_m = float(cfg["gsd_m"])
        except (TypeError, ValueError):
            raise InputError(src, f"gsd_m {cfg['gsd_m']!r} is not a number") from None
        rng = cfg.get("gsd_range") or [self.gsd_m / 1.6, self.gsd_m * 1.6]
        self.gsd_range = (float(rng[0]), float(rng[1]))
        self.session = cpu_session(self.path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        if len(shape) != 4 or shape[1] not in (3, "3"):
            raise InputError(self.path, f"expected an input [N, 3, H, W], got {shape}")
        fixed = shape[2] if isinstance(shape[2], int) else None
        self.input_size = int(cfg.get("input_size") or fixed or 1024)
        if fixed and fixed != self.input_size:
            raise InputError(src, f"input_size {self.input_size} differs from the model's fixed {fixed}")
        out = self.session.get_outputs()[0].shape
        if len(out) != 3:
            raise InputError(self.path, f"expected one output [1, 4 + nc + 1, N], got shape {out}")
        ch = out[1] if isinstance(out[1], int) else None
        self.nc = (ch - 5) if ch else None
        if self.nc is not None and self.nc < 1:
            raise InputError(self.path, f"output has {ch} channels; need 4 + classes + 1 angle")
        names = cfg.get("names")
        self.targets: dict[int, Target | None] = {}
        for key, tgt in (cfg["classes"] or {}).items():
            idx = self._index(key, names, src)
            self.targets[idx] = self._target(tgt, src, key)
        if self.nc is not None:
            bad = [i for i in self.targets if i >= self.nc]
            if bad:
                raise InputError(src, f"class index {bad[0]} not in the model's {self.nc} classes")
            unmapped = [i for i in range(self.nc) if i not in self.targets]
            if unmapped:
                warnings.warn(f"{src}: model classes {unmapped} are not in the class map and will be dropped",
                              stacklevel=2)
        self.score_threshold = float(score_threshold)
        self.iou = float(iou)
        self.version = "external"
        self.name = f"external:{self.path.name}"

    @staticmethod
    def _index(key: Any, names: Any, src: Any) -> int:
        if isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit()):
            return int(key)
        if isinstance(names, list):
            norm = [normalize_name(n) for n in names]
            if normalize_name(key) in norm:
                return norm.index(normalize_name(key))
        raise InputError(src, f"class key {key!r} is not an index (or a name listed under 'names')")

    @staticmethod
    def _target(tgt: Any, src: Any, key: Any) -> Target | None:
        if tgt is None or (isinstance(tgt, str) and normalize_name(tgt) == "ignore"):
            return None
        if isinstance(tgt, dict):
            cls, sub = tgt.get("class"), tgt.get("subclass")
        else:
            cls, sub = tgt, None
        cls = normalize_name(str(cls)).replace(" ", "_")
        if cls not in CLASSES:
            raise InputError(src, f"class {key!r}: unknown target {cls!r} (allowed: {', '.join(CLASSES)})")
        return Target(cls, sub)

    # ------------------------------------------------------------------ running
    def predict_chips(self, chips: np.ndarray, score_threshold: float | None = None) -> list[list[Detection]]:
        """Detections per (H, W, 3) uint8 chip at the model GSD, letterboxed into the model input."""
        thr = self.score_threshold if score_threshold is None else float(score_threshold)
        res = []
        s = self.input_size
        for chip in chips:
            h, w = chip.shape[:2]
            x = np.zeros((1, 3, s, s), np.float32)
            x[0, :, :min(h, s), :min(w, s)] = chip[:s, :s].transpose(2, 0, 1) / 255.0
            out = self.session.run(None, {self.input_name: x})[0]
            res.append(self._decode(np.asarray(out)[0], thr))
        return res

    def _decode(self, out: np.ndarray, thr: float) -> list[Detection]:
        if out.ndim != 2 or out.shape[0] < 6:
            raise InputError(self.path, f"unexpected output shape {out.shape}; need [4 + nc + 1, N]")
        nc = out.shape[0] - 5
        scores = out[4:4 + nc]
        cls = scores.argmax(0)
        best = scores.max(0)
        keep = np.nonzero(best >= thr)[0]
        boxes, sc, names, subs = [], [], [], []
        for k in keep:
            tgt = self.targets.get(int(cls[k]))
            if tgt is None:
                continue
            cx, cy, bw, bh, ang = (float(out[0, k]), float(out[1, k]), float(out[2, k]), float(out[3, k]),
                                   float(out[4 + nc, k]))
            if not (bw > 0 and bh > 0 and all(map(math.isfinite, (cx, cy, bw, bh, ang)))):
                continue
            # w runs along the x axis rotated clockwise by ang: its heading is 90 + ang degrees
            h_w = 90.0 + math.degrees(ang)
            if bw >= bh:
                box = OrientedBox(cx, cy, bw, bh, axis_of(h_w))
            else:
                box = OrientedBox(cx, cy, bh, bw, axis_of(h_w + 90.0))
            boxes.append(box)
            sc.append(float(best[k]))
            names.append(tgt.cls)
            subs.append(tgt.subclass)
        if not boxes:
            return []
        idx = rotated_nms(boxes, sc, self.iou)
        return [Detection(boxes[i], sc[i], names[i], subs[i], False) for i in idx]

    def detect_array(self, image: np.ndarray, gsd_m: float, *, score_threshold: float | None = None,
                     overlap: int = 64, batch: int = 1, stretch: bool = False,
                     source: str | Path | None = "image", **_: Any) -> list[Detection]:
        """Same contract as :meth:`.runtime.Detector.detect_array` (boxes in the input's pixels)."""
        from .runtime import as_rgb8, check_gsd_for
        from .sliced import ArraySource, detect_source

        rgb = as_rgb8(image, source, stretch=stretch)
        g = check_gsd_for(gsd_m, self.gsd_range, source)
        tile = self.input_size - self.input_size % 16
        return detect_source(self, ArraySource(rgb, g), score_threshold=score_threshold, tile=tile,
                             overlap=min(overlap, tile // 4), batch=batch)
