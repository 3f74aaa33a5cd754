"""ONNX files, one way: open them for CPU inference, and write them, with the metadata that describes them
(the detector, its screen and front check, external models, the water net). Running needs onnxruntime only;
writing (fit time) needs onnx, and torch for :func:`export_torch`."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from borderwatch.errors import InputError

__all__ = ["cpu_session", "export_torch", "write_metadata"]


def cpu_session(path: str | Path, threads: int | None = None, *, what: str = "ONNX model"):
    """An onnxruntime CPU session with ``threads`` intra-op threads (default: up to 2) and full graph
    optimisation. A file that does not load is an InputError naming it."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads or min(2, os.cpu_count() or 1))
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises several types
        raise InputError(path, f"not a loadable {what}: {str(e).splitlines()[0]}") from None


def write_metadata(path: Path, meta: Mapping[str, str], extra: Mapping[str, object] | None = None) -> None:
    """Replace the metadata of the ONNX file at ``path`` (``extra`` keys get the ``borderwatch.`` prefix),
    keep its weights inside it and check it. Needs the ``onnx`` package (a fit-time dependency)."""
    import onnx

    path = Path(path)
    model = onnx.load(str(path), load_external_data=True)
    meta = dict(meta)
    for k, v in (extra or {}).items():
        meta[f"borderwatch.{k}"] = v if isinstance(v, str) else json.dumps(v)
    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    onnx.save_model(model, str(path), save_as_external_data=False)
    for stray in path.parent.glob(path.name + ".data"):
        stray.unlink()
    onnx.checker.check_model(str(path))


def export_torch(module, example_inputs, path: str | Path, *, input_names: Sequence[str],
                 output_names: Sequence[str], dynamic_axes: Mapping[str, Mapping[int, str]],
                 meta: Mapping[str, str], extra: Mapping[str, object] | None = None, opset: int = 17) -> Path:
    """Export a torch module (in eval mode) to one self-contained ONNX file at ``path`` and write its
    metadata (:func:`write_metadata`). The TorchScript exporter gives a fixed, simple graph."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module.eval(), example_inputs, str(path), input_names=list(input_names),
                          output_names=list(output_names), dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
                          opset_version=opset, dynamo=False)
    write_metadata(path, meta, extra)
    return path
