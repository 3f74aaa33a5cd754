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

__all__ = ["export_onnx", "load_onnx_weights", "FORMAT"]

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


def load_onnx_weights(net, path: str | Path, calibration) -> None:
    """Fill ``net`` (an :class:`~.model.OrientedCenterNet` of the file's width) from an exported model.

    Lets a shipped model be fine-tuned from the repository alone: only the
    ONNX files ship, not the PyTorch state dicts. Export folds each BatchNorm
    into its convolution; loading puts the folded bias into the BatchNorm and
    re-estimates its statistics on ``calibration`` ((N, 3, H, W) float32
    training chips), so the net computes the file's function in eval mode
    exactly and, in train mode, on batches like the calibration ones.
    Raises ValueError when the file's layers do not match ``net``.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    folded = {}  # BatchNorm module name -> folded bias
    with torch.no_grad():
        for node in model.graph.node:
            if node.op_type != "Conv":
                continue
            name = node.name.removeprefix("/").removesuffix("/Conv").split("/")[-1]
            if name == "net":
                raise ValueError(f"{path}: unexpected layer {node.name}")
            try:
                conv = net.get_submodule(name)
            except AttributeError:
                raise ValueError(f"{path}: layer {name} is not in the network") from None
            weight = torch.from_numpy(inits[node.input[1]].copy())
            if conv.weight.shape != weight.shape:
                raise ValueError(f"{path}: layer {name} is {tuple(weight.shape)}, the network's "
                                 f"{tuple(conv.weight.shape)}")
            conv.weight.copy_(weight)
            bias = torch.from_numpy(inits[node.input[2]].copy())
            if conv.bias is not None:
                conv.bias.copy_(bias)
            else:
                head, _, idx = name.rpartition(".")
                folded[f"{head}.{int(idx) + 1}"] = bias
        stats: dict[str, list] = {}
        hooks = [net.get_submodule(bn).register_forward_pre_hook(
            lambda m, args, bn=bn: stats.setdefault(bn, []).append(args[0].detach())) for bn in folded]
        for bn, bias in folded.items():  # identity first, so the statistics see the file's function upstream
            m = net.get_submodule(bn)
            m.weight.fill_(1.0)
            m.bias.copy_(bias)
            m.running_mean.zero_()
            m.running_var.fill_(1.0 - m.eps)
        net.eval()
        net(torch.as_tensor(calibration))
        for h in hooks:
            h.remove()
        for bn, bias in folded.items():
            z = torch.cat(stats[bn])
            mean, var = z.mean((0, 2, 3)), z.var((0, 2, 3), unbiased=False)
            m = net.get_submodule(bn)
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.weight.copy_(torch.sqrt(var + m.eps))
            m.bias.copy_(mean + bias)
