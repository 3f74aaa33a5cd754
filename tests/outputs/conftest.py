"""Fixtures for the output tests (generated GeoTIFFs near Hyesan)."""

import pytest

from rasters import make_geotiff


@pytest.fixture
def geotiff(tmp_path):
    return make_geotiff(tmp_path / "scene.tif")
