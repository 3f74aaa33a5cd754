"""GeoPackage geometry blobs (OGC GPKG 1.3, clause 2.1.3) and the R-tree SQL functions.

A blob is the "GP" header (version 0, flags, srs_id, xy envelope) followed by
ISO WKB written by shapely. The ST_* functions are registered on every
connection so that the standard gpkg_rtree_index triggers can run without
spatialite.
"""

from __future__ import annotations

import math
import sqlite3
import struct

import shapely
from shapely.geometry.base import BaseGeometry

WGS84_SRS_ID = 4326

# Bytes of envelope for each envelope-contents indicator (flags bits 1-3).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


class GeometryBlobError(ValueError):
    """A value that is not a usable geometry for the store (caller adds the file name)."""


def check_lonlat(geom: BaseGeometry) -> None:
    """Refuse coordinates that cannot be lon/lat: catches UTM metres passed by mistake."""
    if geom.is_empty:
        return
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise GeometryBlobError("geometry has non-finite coordinates")
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise GeometryBlobError(
            f"geometry bounds {minx:.6g},{miny:.6g},{maxx:.6g},{maxy:.6g} are not lon/lat (EPSG:4326)"
        )


def to_blob(geom: BaseGeometry, srs_id: int = WGS84_SRS_ID) -> bytes:
    """Encode a shapely geometry as a GeoPackage blob (little endian, xy envelope).

    The store is 2D (``z`` is 0 in gpkg_geometry_columns), so any Z is dropped.
    """
    if not isinstance(geom, BaseGeometry):
        raise GeometryBlobError(f"expected a shapely geometry, got {type(geom).__name__}")
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    wkb = shapely.to_wkb(geom, byte_order=1, output_dimension=2, flavor="iso")
    if geom.is_empty:
        flags = 0b0001_0001  # empty, no envelope, little endian
        return b"GP" + struct.pack("<BBi", 0, flags, srs_id) + wkb
    minx, miny, maxx, maxy = geom.bounds
    flags = 0b0000_0011  # not empty, xy envelope, little endian
    return b"GP" + struct.pack("<BBi4d", 0, flags, srs_id, minx, maxx, miny, maxy) + wkb


def _header(blob: bytes) -> tuple[int, bool, int, tuple[float, ...] | None, int]:
    """(srs_id, empty, header length, envelope or None, envelope code) of a blob."""
    if len(blob) < 8 or blob[:2] != b"GP":
        raise GeometryBlobError("not a GeoPackage geometry blob (no 'GP' magic)")
    version, flags = blob[2], blob[3]
    if version != 0:
        raise GeometryBlobError(f"unsupported GeoPackage blob version {version}")
    if flags & 0b0010_0000:
        raise GeometryBlobError("extended GeoPackage geometry blobs are not supported")
    order = "<" if flags & 1 else ">"
    code = (flags >> 1) & 0b111
    if code not in _ENVELOPE_BYTES:
        raise GeometryBlobError(f"invalid envelope indicator {code}")
    size = _ENVELOPE_BYTES[code]
    if len(blob) < 8 + size:
        raise GeometryBlobError("truncated GeoPackage geometry blob")
    (srs_id,) = struct.unpack(order + "i", blob[4:8])
    envelope = struct.unpack(order + f"{size // 8}d", blob[8 : 8 + size]) if size else None
    return srs_id, bool(flags & 0b0001_0000), 8 + size, envelope, code


def from_blob(blob: bytes | None) -> BaseGeometry | None:
    """Decode a GeoPackage blob into a shapely geometry (None for NULL)."""
    if blob is None:
        return None
    _, _, start, _, _ = _header(bytes(blob))
    try:
        return shapely.from_wkb(bytes(blob[start:]))
    except shapely.errors.GEOSException as exc:
        raise GeometryBlobError(f"invalid WKB in geometry blob: {exc}") from exc


def _bounds(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header envelope, or from the WKB when absent."""
    if blob is None:
        return None
    try:
        _, empty, _, envelope, _ = _header(bytes(blob))
        if empty:
            return None
        if envelope is not None:
            return envelope[0], envelope[1], envelope[2], envelope[3]
        geom = from_blob(blob)
    except GeometryBlobError:
        return None
    if geom is None or geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return minx, maxx, miny, maxy


def _is_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    try:
        _, empty, _, _, _ = _header(bytes(blob))
    except GeometryBlobError:
        return None
    return 1 if empty else 0


def _bound(index: int):
    def fn(blob):
        b = _bounds(blob)
        return None if b is None else b[index]

    return fn


def register_functions(conn: sqlite3.Connection) -> None:
    """Register ST_MinX/MaxX/MinY/MaxY/IsEmpty, used by the gpkg_rtree_index triggers."""
    conn.create_function("ST_MinX", 1, _bound(0), deterministic=True)
    conn.create_function("ST_MaxX", 1, _bound(1), deterministic=True)
    conn.create_function("ST_MinY", 1, _bound(2), deterministic=True)
    conn.create_function("ST_MaxY", 1, _bound(3), deterministic=True)
    conn.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
