"""Tiny generated scenes on the upper Yalu: GeoTIFFs and Google Earth JPEG/PNG + KML exports."""

from __future__ import annotations

import pytest
from imagery_helpers import kml_text, marked_image
from PIL import Image

from borderwatch.corridor import load_corridor
from borderwatch.imagery.handles import close_all


@pytest.fixture(scope="session")
def corridor():
    return load_corridor("yalu-upper[0:5]")


@pytest.fixture(scope="session")
def centre(corridor):
    """A point on the river mid-stretch: (x, y) in EPSG:32652 and (lon, lat)."""
    p = corridor.point_at(2.5)
    lon, lat = corridor.to_lonlat(p).coords[0]
    return p.x, p.y, lon, lat


@pytest.fixture(autouse=True)
def _close_handles():
    yield
    close_all()


@pytest.fixture
def ge_export(tmp_path, centre):
    """Factory: a Google Earth style JPEG (or PNG) + KML around the corridor centre."""

    def make(name="ge.jpg", rotation=0.0, kml=True, **kml_kw):
        _, _, lon, lat = centre
        box = dict(north=lat + 0.004, south=lat - 0.004, east=lon + 0.006, west=lon - 0.006)
        img_path = tmp_path / name
        Image.fromarray(marked_image()).save(img_path, **({"quality": 95} if name.endswith(".jpg") else {}))
        kml_path = None
        if kml:
            kml_path = img_path.with_suffix(".kml")
            kml_path.write_text(kml_text(img_path.name, rotation=rotation, **box, **kml_kw))
        return img_path, kml_path, box

    return make
