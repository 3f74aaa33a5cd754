"""Geometry helpers shared by the KML and web-map writers."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from borderwatch.errors import SceneError
from borderwatch.imagery.scene import Scene


def scene_footprint(s: Scene) -> BaseGeometry:
    """A scene's lon/lat footprint polygon, or a SceneError naming its file."""
    try:
        geom = shapely.from_wkt(s.footprint_wkt)
    except Exception as exc:  # shapely raises GEOSException
        raise SceneError(s.path, f"footprint is not valid WKT ({exc})") from None
    if geom is None or geom.is_empty or not isinstance(geom, (Polygon, MultiPolygon)):
        raise SceneError(s.path, "footprint is not a polygon")
    return geom


def geojson_geometry(geom: BaseGeometry, ndigits: int = 6) -> dict:
    """A GeoJSON geometry dict with coordinates rounded (1e-6 deg ~ 0.1 m) to keep pages small."""
    rounded = shapely.transform(geom, lambda c: np.round(c, ndigits))
    return mapping(rounded)


def feature(geom: BaseGeometry, **properties) -> dict:
    return {"type": "Feature", "geometry": geojson_geometry(geom), "properties": properties}


def feature_collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}
