"""Shared tiny fixtures: small generated GeoTIFFs over the upper Yalu, made in tmp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasters import write_geotiff


@pytest.fixture
def geotiff_factory(tmp_path):
    def make(name: str = "scene.tif", **kwargs) -> Path:
        return write_geotiff(tmp_path / name, **kwargs)

    return make


@pytest.fixture(scope="session")
def short_corridor():
    from borderwatch.corridor import load_corridor

    return load_corridor("yalu-upper[0:2]")
