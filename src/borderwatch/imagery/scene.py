"""The Scene record: one georeferenced image with its capture date and provenance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scene:
    """One registered image.

    ``footprint_wkt`` is the valid-data footprint in EPSG:4326 (lon/lat).
    ``path`` is the file that holds the pixels; for a Google Earth export
    ``sidecar`` is the KML whose GroundOverlay georeferences it.
    ``scene_id`` is the first 16 hex digits of ``sha256`` (content identity:
    the same file registered twice is the same scene).
    """

    scene_id: str
    path: str
    sha256: str
    capture_date: dt.date
    date_source: str  # "tag", "kml", "cli" or "filename"
    provider: str
    sensor: str
    gsd_m: float
    band_count: int
    band_names: tuple[str, ...]
    dtype: str
    width: int
    height: int
    crs_wkt: str
    footprint_wkt: str
    licence: str = ""
    sidecar: str | None = None
    extra: dict = field(default_factory=dict)
    #: Affine (a, b, c, d, e, f) pixel -> ``crs_wkt`` for images whose file has no
    #: georeferencing of its own (Google Earth exports georeferenced by a KML);
    #: None when the file itself is georeferenced.
    transform: tuple[float, float, float, float, float, float] | None = None
    #: The image's name inside ``path`` when ``path`` is an archive (a KMZ).
    member: str | None = None
