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
