"""Fit and export the front check (:class:`~.model.FrontCheckNet`); training only, imports torch.

The examples are detections paired with labelled vehicles whose front is known
(:func:`.front.collect_front_examples`), sampled at the *detected* pose, so the
check learns the detector's real box errors. One network serves all classes
(a shared trunk, one output column per class); each example's loss reads its
own class's column, and the most common class is subsampled so that trucks do
not drown the cars, whose fronts are the hard part.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .front import FORMAT, SAMPLES_ACROSS, SAMPLES_ALONG, FrontModel, normalise_patches

__all__ = ["export_front", "fit_front_model", "fit_front_net", "merge_front_columns"]


def fit_front_net(
    patches: np.ndarray,
    heading_conf: np.ndarray,
    classes: Sequence[str],
    front_right: np.ndarray,
    *,
    epochs: int = 30,
    width: int = 16,
    seed: int = 0,
    max_per_class: int = 16000,
    threads: int = 1,
    log: Callable[[str], None] | None = None,
):
    """A trained :class:`~.model.FrontCheckNet` (eval mode) and its class order.

    AdamW with a one-cycle schedule, batches of 256, dropout 0.2 and a random
    brightness gain as augmentation; ``front_right`` says for each example
    whether the detector's front was right.
    """
    import torch
    from torch import nn

    from .model import FrontCheckNet

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    cls_arr = np.asarray(classes, str)
    names = sorted(set(cls_arr.tolist()))
    keep = []
    for c in names:
        k = np.nonzero(cls_arr == c)[0]
        keep.append(np.sort(rng.choice(k, max_per_class, replace=False)) if len(k) > max_per_class else k)
    idx = np.concatenate(keep)
    x = torch.from_numpy(normalise_patches(np.asarray(patches)[idx]))
    hc = torch.from_numpy(np.asarray(heading_conf, np.float32)[idx])
    col = torch.from_numpy(np.array([names.index(c) for c in cls_arr[idx]], np.int64))
    y = torch.from_numpy(np.asarray(front_right, np.float32)[idx])
    net = FrontCheckNet(len(names), SAMPLES_ACROSS, SAMPLES_ALONG, width)
    n, bs = len(idx), 256
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * ((n + bs - 1) // bs))
    t0 = time.time()
    for ep in range(epochs):
        net.train()
        perm = torch.from_numpy(rng.permutation(n))
        total = 0.0
        for i in range(0, n, bs):
            k = perm[i:i + bs]
            gain = 1.0 + 0.1 * torch.randn(len(k), 1, 1, 1)
            z = net(x[k] * gain, hc[k]).gather(1, col[k][:, None])[:, 0]
            loss = nn.functional.binary_cross_entropy_with_logits(z, y[k])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(k)
        if log:
            log(f"  epoch {ep + 1}/{epochs} loss {total / n:.4f} ({time.time() - t0:.0f} s)")
    return net.eval(), names


def export_front(net, classes: Sequence[str], path: str | Path, *, version: str, extra: dict | None = None,
                 opset: int = 17) -> Path:
    """Write the check to one ONNX file with ``borderwatch.*`` metadata (format, version, classes)."""
    import torch

    from borderwatch.onnxrt import export_torch

    return export_torch(net, (torch.zeros(2, 4, SAMPLES_ACROSS, SAMPLES_ALONG), torch.zeros(2)), path,
                        input_names=["patches", "heading_conf"], output_names=["logits"],
                        dynamic_axes={"patches": {0: "n"}, "heading_conf": {0: "n"}, "logits": {0: "n"}},
                        meta={"borderwatch.format": FORMAT, "borderwatch.version": version},
                        extra={"classes": list(classes), **(extra or {})}, opset=opset)


def fit_front_model(
    patches: np.ndarray,
    heading_conf: np.ndarray,
    classes: Sequence[str],
    front_right: np.ndarray,
    path: str | Path,
    *,
    version: str,
    members: int = 1,
    seed: int = 0,
    extra: dict | None = None,
    **fit_kw,
) -> FrontModel:
    """Fit (:func:`fit_front_net`; ``members`` > 1: that many seeds from ``seed``, their mean logit in one
    :class:`~.model.FrontCheckEnsemble`), export to ``path`` and load it back as the runtime check."""
    from .model import FrontCheckEnsemble

    nets = []
    for k in range(members):
        net, names = fit_front_net(patches, heading_conf, classes, front_right, seed=seed + k, **fit_kw)
        nets.append(net)
    model = nets[0] if members == 1 else FrontCheckEnsemble(nets).eval()
    export_front(model, names, path, version=version, extra=extra)
    return FrontModel.load(path)


def merge_front_columns(columns: Mapping[str, str | Path], path: str | Path, *, version: str,
                        calibration_from: str | Path | None = None, extra: dict | None = None) -> FrontModel:
    """One front-check file whose column for each class is taken from another check file.

    ``columns`` maps each class to the file whose column it keeps (weights untouched, so each class answers
    exactly as in its source). The graphs run side by side on the same inputs; the output gathers the chosen
    columns. The metadata are the first source's plus ``borderwatch.columns`` naming the sources; the
    calibration is ``calibration_from``'s (a check file), else none. Needs the ``onnx`` package (fit time only).
    """
    import onnx
    from onnx import compose, helper, numpy_helper

    from borderwatch.onnxrt import write_metadata

    sources = list(dict.fromkeys(str(Path(p)) for p in columns.values()))
    models = [onnx.load(p) for p in sources]
    classes = list(columns)
    nodes, inits, outs = [], [], []
    for i, m in enumerate(models):
        names = json.loads({p.key: p.value for p in m.metadata_props}.get("borderwatch.classes", "[]"))
        g = compose.add_prefix_graph(m.graph, f"m{i}_", rename_inputs=False)
        nodes += list(g.node)
        inits += list(g.initializer)
        outs.append((g.output[0].name, names))
    parts = []
    for c in classes:
        k = sources.index(str(Path(columns[c])))
        out_name, names = outs[k]
        if c not in names:
            raise ValueError(f"{sources[k]} has no column for {c!r} (it has {names})")
        idx = f"col_{c}"
        inits.append(numpy_helper.from_array(np.array([names.index(c)], np.int64), idx))
        nodes.append(helper.make_node("Gather", [out_name, idx], [f"logit_{c}"], axis=1))
        parts.append(f"logit_{c}")
    nodes.append(helper.make_node("Concat", parts, ["logits"], axis=1))
    first = models[0]
    graph = helper.make_graph(nodes, "front_check_merged", list(first.graph.input),
                              [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["n", len(classes)])],
                              inits)
    merged = helper.make_model(graph, opset_imports=list(first.opset_import), ir_version=first.ir_version)
    path = Path(path)
    onnx.save_model(merged, str(path))
    meta = {p.key: p.value for p in first.metadata_props if p.key != "borderwatch.calibration"}
    meta.update({"borderwatch.format": FORMAT, "borderwatch.version": version,
                 "borderwatch.classes": json.dumps(classes),
                 "borderwatch.columns": json.dumps({c: Path(columns[c]).name for c in classes})})
    if calibration_from is not None:
        cal = FrontModel.load(calibration_from).calibration
        if cal is None:
            raise ValueError(f"{calibration_from} carries no calibration")
        meta["borderwatch.calibration"] = cal.to_json()
        meta["borderwatch.calibration_from"] = Path(calibration_from).name
    write_metadata(path, meta, extra)
    return FrontModel.load(path)
