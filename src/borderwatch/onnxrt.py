"""One way to open an ONNX file for CPU inference (the detector, its screen, external models, the water net)."""

from __future__ import annotations

import os
from pathlib import Path

from borderwatch.errors import InputError

__all__ = ["cpu_session"]


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
