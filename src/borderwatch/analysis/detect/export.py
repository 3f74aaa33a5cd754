"""Export a trained :class:`~.model.OrientedCenterNet` to one self-contained ONNX file (needs torch).

The file carries its own description in ONNX metadata (``borderwatch.*`` keys:
format, classes, subclasses, model GSD, stride, GSD range, version), which
:class:`~.runtime.Detector` reads, so a model never needs a side file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from borderwatch.onnxrt import export_torch

from .classmap import CLASSES
from .model import ExportWrapper
from .modelspec import MODEL_GSD_M, STRIDE, SUBCLASSES

__all__ = ["export_onnx", "FORMAT"]

FORMAT = "borderwatch-centernet-obb/1"


def export_onnx(
    net,
    path: str | Path,
    *,
    version: str,
    gsd_range: tuple[float, float] = (0.25, 0.8),
    extra: Mapping[str, object] | None = None,
    opset: int = 17,
) -> Path:
    """Write ``net`` to ``path`` (weights embedded) with dynamic batch/height/width.

    Outputs: ``peaks`` (N, 3, H/2, W/2) sigmoid heat with non-maxima zeroed, and
    ``reg`` (N, 6 + n_sub [+ 2], H/2, W/2): log length, log width, sin, cos, offset x, y,
    subclass logits [, sin 2h, cos 2h of the axis when ``borderwatch.axis`` is "1"].
    """
    import torch

    meta = {
        "borderwatch.format": FORMAT,
        "borderwatch.version": version,
        "borderwatch.classes": json.dumps(list(CLASSES)),
        "borderwatch.subclasses": json.dumps(list(SUBCLASSES)),
        "borderwatch.gsd_m": str(MODEL_GSD_M),
        "borderwatch.stride": str(STRIDE),
        "borderwatch.gsd_range": json.dumps(list(gsd_range)),
        "borderwatch.multiple": "16",
        "borderwatch.axis": "1" if getattr(net, "axis", False) else "0",
    }
    return export_torch(ExportWrapper(net.eval()), torch.zeros(1, 3, 128, 128), path, input_names=["image"],
                        output_names=["peaks", "reg"],
                        dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "peaks": {0: "n", 2: "gh", 3: "gw"},
                                      "reg": {0: "n", 2: "gh", 3: "gw"}},
                        meta=meta, extra=extra, opset=opset)
