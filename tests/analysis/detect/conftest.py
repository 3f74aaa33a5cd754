"""Tiny generated images and label files for the detect tests (no shared data)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def write_png(path: Path, width: int, height: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.zeros((height, width, 3), dtype=np.uint8))
    return path


@pytest.fixture
def png():
    return write_png
