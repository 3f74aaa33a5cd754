"""Oriented vehicle boxes and their heading convention.

Heading convention (one convention everywhere in borderwatch.analysis.detect):

* ``angle_deg`` is the *heading* of the box's long axis, i.e. the direction the
  vehicle's front points, in degrees in [0, 360), measured **clockwise from
  "up"**.
* In **pixel coordinates** (x = column to the right, y = row *downwards*) "up"
  is -y, so a heading ``h`` is the pixel direction ``(dx, dy) = (sin h, -cos h)``:
  0 = towards the top of the image, 90 = right, 180 = down, 270 = left.
  "Clockwise" is clockwise as seen on screen.
* In **map coordinates** (x = easting, y = northing, y up) of a north-up image
  the same number is the compass bearing: direction ``(sin h, cos h)``, 0 = north,
  90 = east. For any other affine use :func:`pixel_to_map_heading` (it returns
  the bearing from *grid* north of the CRS; for UTM that differs from true north
  by the meridian convergence, under 1-2 degrees near the Yalu).
* When a label says nothing about which end is the front (axis-aligned boxes,
  plain DOTA polygons) only the axis is known: the box is stored with
  ``angle_deg`` in [0, 180) and the label's ``has_front`` is False. Use
  :func:`heading_from_axis` to pick the front once it is known.

Corner order of :meth:`OrientedBox.corners` is front-left, front-right,
rear-right, rear-left ("left" being the vehicle's own left seen from above):
clockwise on screen, starting with the front-left corner. This is the DOTA
order with the first point at the head, so a DOTA-style 8-number polygon
written by :meth:`OrientedBox.to_dota` keeps the heading.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

__all__ = [
    "OrientedBox",
    "PolygonError",
    "angle_diff",
    "axis_of",
    "heading_from_axis",
    "map_to_pixel_heading",
    "pixel_to_map_heading",
    "validate_polygon",
]


class PolygonError(ValueError):
    """A polygon that cannot be a box (too few points, zero area, self-intersecting)."""


def _wrap360(a: float) -> float:
    a = math.fmod(a, 360.0)
    if a < 0:
        a += 360.0
    return 0.0 if a >= 360.0 - 1e-9 or abs(a) < 1e-12 else a


def axis_of(heading_deg: float) -> float:
    """The undirected axis of a heading, in [0, 180) (front and rear ends not told apart)."""
    a = math.fmod(heading_deg, 180.0)
    if a < 0:
        a += 180.0
    return 0.0 if a >= 180.0 - 1e-9 else a


def heading_from_axis(axis_deg: float, front_sign: int) -> float:
    """Heading in [0, 360) from an undirected axis and which end is the front.

    ``front_sign`` +1: the front is at the end the axis angle points to;
    -1: at the opposite end (heading = axis + 180).
    """
    if front_sign not in (1, -1):
        raise ValueError(f"front_sign must be +1 or -1, not {front_sign!r}")
    return _wrap360(axis_of(axis_deg) + (0.0 if front_sign > 0 else 180.0))


def angle_diff(a_deg: float | np.ndarray, b_deg: float | np.ndarray, period: float = 360.0) -> Any:
    """Absolute circular difference, in [0, period/2]; period 180 compares axes."""
    d = np.abs(np.mod(np.asarray(a_deg, dtype=float) - np.asarray(b_deg, dtype=float), period))
    d = np.minimum(d, period - d)
    return float(d) if np.ndim(d) == 0 else d


def _affine6(transform: Any) -> tuple[float, float, float, float, float, float]:
    """(a, b, c, d, e, f) with x = a*col + b*row + c, y = d*col + e*row + f (rasterio/affine order)."""
    if all(hasattr(transform, k) for k in "abcdef"):
        return tuple(float(getattr(transform, k)) for k in "abcdef")  # type: ignore[return-value]
    vals = [float(v) for v in transform]
    if len(vals) not in (6, 9):
        raise ValueError("transform must be an affine with 6 coefficients (a, b, c, d, e, f)")
    return tuple(vals[:6])  # type: ignore[return-value]


def pixel_to_map_heading(heading_px: float, transform: Any) -> float:
    """Heading in pixel convention -> bearing clockwise from grid north in map coordinates.

    ``transform`` is an ``affine.Affine`` or a 6-tuple (a, b, c, d, e, f) as in
    rasterio/:class:`~borderwatch.imagery.scene.Scene`. For a north-up image
    (b = d = 0, e < 0) the result equals ``heading_px``; rotated or flipped
    affines are handled too.
    """
    a, b, _, d, e, _ = _affine6(transform)
    h = math.radians(heading_px)
    dc, dr = math.sin(h), -math.cos(h)
    mx, my = a * dc + b * dr, d * dc + e * dr
    if mx == 0 and my == 0:
        raise ValueError("degenerate transform")
    return _wrap360(math.degrees(math.atan2(mx, my)))


def map_to_pixel_heading(bearing_deg: float, transform: Any) -> float:
    """Inverse of :func:`pixel_to_map_heading`."""
    a, b, _, d, e, _ = _affine6(transform)
    det = a * e - b * d
    if det == 0:
        raise ValueError("degenerate transform")
    t = math.radians(bearing_deg)
    mx, my = math.sin(t), math.cos(t)
    dc = (e * mx - b * my) / det
    dr = (-d * mx + a * my) / det
    return _wrap360(math.degrees(math.atan2(dc, -dr)))


def validate_polygon(points: Sequence[Sequence[float]] | np.ndarray, *, min_area: float = 1e-6) -> np.ndarray:
    """Return the points as an (n, 2) float array, or raise :class:`PolygonError`.

    Rejects fewer than 3 distinct points, non-finite numbers, (near) zero area
    and self-intersecting rings (a "bow tie" from corners in the wrong order).
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim == 1 and pts.size % 2 == 0:
        pts = pts.reshape(-1, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise PolygonError(f"expected (x, y) pairs, got shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise PolygonError("non-finite coordinate")
    if len(np.unique(pts, axis=0)) < 3:
        raise PolygonError(f"degenerate polygon: fewer than 3 distinct points ({len(pts)} given)")
    centred = pts - pts.mean(axis=0)
    sv = np.linalg.svd(centred, compute_uv=False)
    if sv[1] <= 1e-9 * max(sv[0], 1.0):
        raise PolygonError("degenerate polygon: zero area (points on one line)")
    if not Polygon(pts).is_valid:
        raise PolygonError("self-intersecting polygon (corners out of order?)")
    if abs(_shoelace(pts)) <= min_area:
        raise PolygonError("degenerate polygon: zero area")
    return pts


def _shoelace(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


@dataclass(frozen=True)
class OrientedBox:
    """A vehicle footprint: centre, length along the heading, width across it, heading.

    Units are those of the coordinates (pixels unless stated). ``angle_deg`` is
    the heading (see the module docstring); ``length`` is measured along it.
    """

    cx: float
    cy: float
    length: float
    width: float
    angle_deg: float

    def __post_init__(self) -> None:
        vals = (self.cx, self.cy, self.length, self.width, self.angle_deg)
        if not all(math.isfinite(v) for v in vals):
            raise ValueError(f"non-finite box value in {vals}")
        if self.length <= 0 or self.width <= 0:
            raise ValueError(f"box sides must be positive (length={self.length}, width={self.width})")
        object.__setattr__(self, "angle_deg", _wrap360(float(self.angle_deg)))

    # -- directions -------------------------------------------------------
    @property
    def forward(self) -> tuple[float, float]:
        """Unit vector towards the front, pixel coordinates (y down)."""
        h = math.radians(self.angle_deg)
        return math.sin(h), -math.cos(h)

    @property
    def right(self) -> tuple[float, float]:
        """Unit vector towards the vehicle's right side, pixel coordinates."""
        h = math.radians(self.angle_deg)
        return math.cos(h), math.sin(h)

    @property
    def area(self) -> float:
        return self.length * self.width

    @property
    def axis_deg(self) -> float:
        """The undirected long-axis angle in [0, 180)."""
        return axis_of(self.angle_deg)

    # -- conversions ------------------------------------------------------
    def corners(self) -> np.ndarray:
        """(4, 2) array: front-left, front-right, rear-right, rear-left."""
        fx, fy = self.forward
        rx, ry = self.right
        hl, hw = self.length / 2.0, self.width / 2.0
        signs = ((1, -1), (1, 1), (-1, 1), (-1, -1))  # (along forward, along right)
        return np.array(
            [[self.cx + s * hl * fx + t * hw * rx, self.cy + s * hl * fy + t * hw * ry] for s, t in signs]
        )

    def to_dota(self) -> list[float]:
        """8 numbers x1 y1 ... x4 y4, starting at the front-left corner, clockwise on screen."""
        return [float(v) for v in self.corners().reshape(-1)]

    def to_polygon(self) -> Polygon:
        return Polygon(self.corners())

    def to_cv2(self) -> tuple[tuple[float, float], tuple[float, float], float]:
        """OpenCV ``RotatedRect`` ((cx, cy), (w, h), angle): width along x rotated clockwise by the heading."""
        return (self.cx, self.cy), (self.width, self.length), self.angle_deg

    def bounds(self) -> tuple[float, float, float, float]:
        """Axis-aligned (xmin, ymin, xmax, ymax) of the corners."""
        c = self.corners()
        return float(c[:, 0].min()), float(c[:, 1].min()), float(c[:, 0].max()), float(c[:, 1].max())

    def translated(self, dx: float, dy: float) -> OrientedBox:
        return OrientedBox(self.cx + dx, self.cy + dy, self.length, self.width, self.angle_deg)

    def with_heading(self, heading_deg: float) -> OrientedBox:
        return OrientedBox(self.cx, self.cy, self.length, self.width, heading_deg)

    def flipped(self) -> OrientedBox:
        """The same footprint facing the other way."""
        return self.with_heading(self.angle_deg + 180.0)

    def axis_only(self) -> OrientedBox:
        """The same footprint with the heading reduced to its axis in [0, 180)."""
        return self.with_heading(self.axis_deg)

    # -- constructors -----------------------------------------------------
    @classmethod
    def from_corners(cls, points: Sequence[Sequence[float]] | np.ndarray, *, front: bool = True) -> OrientedBox:
        """Box from 4 corners (or 8 numbers) in front-left, front-right, rear-right, rear-left order.

        With ``front=True`` the first edge (points 1-2) is the front edge and the
        heading points from the rear edge's midpoint to the front edge's midpoint.
        With ``front=False`` the order only fixes the rectangle; the long side
        becomes the length and the heading is the axis in [0, 180).
        Slightly non-rectangular quadrilaterals (hand-drawn labels) are
        averaged: sides are the mean of opposite edges. Raises
        :class:`PolygonError` for degenerate or self-intersecting input.
        """
        pts = validate_polygon(points)
        if len(pts) != 4:
            raise PolygonError(f"an oriented box needs 4 corners, got {len(pts)}")
        p1, p2, p3, p4 = pts
        if _shoelace(pts) < 0:  # counter-clockwise on screen (y down): mirror order, keep p1 first
            p2, p4 = p4, p2
        front_mid, rear_mid = (p1 + p2) / 2.0, (p3 + p4) / 2.0
        left_mid, right_mid = (p1 + p4) / 2.0, (p2 + p3) / 2.0
        width = (np.linalg.norm(p2 - p1) + np.linalg.norm(p3 - p4)) / 2.0
        length = (np.linalg.norm(p3 - p2) + np.linalg.norm(p4 - p1)) / 2.0
        centre = pts.mean(axis=0)
        fwd = front_mid - rear_mid
        if not front and width > length:
            length, width = width, length
            fwd = right_mid - left_mid
        heading = math.degrees(math.atan2(fwd[0], -fwd[1]))
        box = cls(float(centre[0]), float(centre[1]), float(length), float(width), heading)
        return box if front else box.axis_only()

    @classmethod
    def from_polygon(cls, points: Sequence[Sequence[float]] | np.ndarray) -> OrientedBox:
        """Minimum-area rectangle around any valid polygon; heading is the long axis in [0, 180)."""
        pts = validate_polygon(points)
        rect = shapely.minimum_rotated_rectangle(Polygon(pts))
        corners = np.asarray(rect.exterior.coords)[:4]
        return cls.from_corners(corners, front=False)

    @classmethod
    def from_xyxy(cls, x0: float, y0: float, x1: float, y1: float) -> OrientedBox:
        """Axis-aligned box; the long side is the length, heading 0 (vertical) or 90 (horizontal)."""
        w, h = abs(x1 - x0), abs(y1 - y0)
        if w <= 0 or h <= 0:
            raise PolygonError(f"degenerate box: width {w}, height {h}")
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        return cls(cx, cy, h, w, 0.0) if h >= w else cls(cx, cy, w, h, 90.0)

    @classmethod
    def from_cxcywh(cls, cx: float, cy: float, w: float, h: float) -> OrientedBox:
        return cls.from_xyxy(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
