"""observe(): one site on one date, here what it records about where its counts came from."""

from __future__ import annotations

import shapely

from borderwatch.corridor import load_corridor
from borderwatch.sites.observe import observe

PLAIN = "borderwatch-vehicles@0.2.3+front-4.1+screen-1"
JPEG = "borderwatch-vehicles-jpeg@0.2.4+front-jpeg-1+screen-1"


def _trucks(corridor, names):
    at = corridor.line.interpolate(1000.0)
    km, off = corridor.locate_xy([at.x], [at.y])
    return [{"x": at.x + 12.0 * i, "y": at.y, "km": float(km[0]), "offset_m": float(off[0]), "class": "large_vehicle",
             "subclass": "truck", "score": 0.9, "heading_deg": 90.0, "heading_conf": 0.9, "length_m": 10.0,
             "width_m": 2.5, "polygon_xy": shapely.Point(at.x + 12.0 * i, at.y).buffer(3.0), "detector": name}
            for i, name in enumerate(names)], shapely.Point(at.x, at.y).buffer(200.0)


def test_the_detectors_that_counted_a_site_are_recorded():
    """A run reads JPEG scenes with the detector's JPEG variant (pipeline.tasks.detector_for): each site-date says
    which detector(s) its counts came from; unknown (None) where no detector ran, none where nothing was found."""
    c = load_corridor("yalu-upper[0:4]")
    dets, outline = _trucks(c, [JPEG, PLAIN, JPEG, None])  # None: a row of an older store (schema 4)
    counts, _, _ = observe(c, outline, dets, [], detected=True)
    assert counts["vehicles"] == 4 and counts["detectors"] == sorted([PLAIN, JPEG])
    assert observe(c, outline, dets, [], detected=False)[0]["detectors"] is None
    assert observe(c, outline, [], [], detected=True)[0]["detectors"] == []
