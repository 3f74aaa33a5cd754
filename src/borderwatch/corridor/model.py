"""The Corridor: a border river as an oriented line, its two banks, and chainage.

All metric work happens in the corridor's local UTM CRS; lon/lat (EPSG:4326) is
kept for storage and exports. Offsets are signed: positive to the *left* of the
direction of travel from the origin, negative to the right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import substring

from borderwatch.errors import CorridorError

DEFAULT_BANK_WIDTH_M = 1500.0
OWN_GROUND_STEP_M = 20.0  # spacing of the parent-line points that split ground between a stretch and the rest


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone CRS holding a point (EPSG 326xx north, 327xx south)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


@dataclass(frozen=True)
class Place:
    """A named place with its position relative to the corridor."""

    name: str
    lon: float
    lat: float
    chainage_km: float
    offset_m: float
    country: str
    source: str = ""
    licence: str = ""

    @property
    def within_corridor(self) -> bool:
        return self.chainage_km >= -1e-6 and not math.isnan(self.chainage_km)


@dataclass(frozen=True)
class Location:
    """Where a point lies: km along the line, signed metres off it, and the bank's country."""

    chainage_km: float
    offset_m: float
    country: str


@dataclass
class Corridor:
    """A border river between two countries, oriented from a named origin.

    ``line`` is in ``crs`` (metres) and starts at the origin. ``left_country``
    holds the bank to the left of the direction of travel (positive offsets).
    ``chainage_offset_km`` is the chainage of this line's start on its parent
    line, so that places outside a cut stretch still get a chainage.
    """

    name: str
    line: LineString
    crs: CRS
    left_country: str
    right_country: str
    origin_name: str
    left_width_m: float = DEFAULT_BANK_WIDTH_M
    right_width_m: float = DEFAULT_BANK_WIDTH_M
    source: str = ""
    attribution: str = ""
    parent_line: LineString | None = None
    chainage_offset_km: float = 0.0
    place_points: list[tuple[str, float, float, str, str]] = field(default_factory=list)
    # ((month, day), (month, day)): the part of the year the river can be frozen, first and last day (None: never
    # considered). Land cover offers river ice only on these dates, so bright ground in summer is never a frozen river.
    freeze_season: tuple[tuple[int, int], tuple[int, int]] | None = None

    def __post_init__(self) -> None:
        if self.line.is_empty or self.line.length <= 0:
            raise CorridorError(self.name, "the corridor line is empty")
        if self.left_width_m <= 0 or self.right_width_m <= 0:
            raise CorridorError(self.name, "bank widths must be positive")

    # -- geometry ---------------------------------------------------------------
    @property
    def epsg(self) -> int:
        code = self.crs.to_epsg()
        if code is None:
            raise CorridorError(self.name, "the corridor CRS has no EPSG code")
        return code

    @property
    def length_km(self) -> float:
        return self.line.length / 1000.0

    @cached_property
    def _to_lonlat(self) -> Transformer:
        return Transformer.from_crs(self.crs, 4326, always_xy=True)

    @cached_property
    def _from_lonlat(self) -> Transformer:
        return Transformer.from_crs(4326, self.crs, always_xy=True)

    def to_lonlat(self, geom):
        """A geometry in the corridor CRS, transformed to EPSG:4326 (lon, lat)."""
        return shapely.transform(geom, self._to_lonlat.transform, interleaved=False)

    def from_lonlat(self, geom):
        """A lon/lat (EPSG:4326) geometry, transformed to the corridor CRS."""
        return shapely.transform(geom, self._from_lonlat.transform, interleaved=False)

    def xy_from_lonlat(self, lon, lat):
        return self._from_lonlat.transform(lon, lat)

    @property
    def line_lonlat(self) -> LineString:
        return self.to_lonlat(self.line)

    @cached_property
    def left_bank(self) -> Polygon:
        """The strip watched on the left bank (``left_country``)."""
        return self._own(self.line.buffer(self.left_width_m, single_sided=True))

    @cached_property
    def right_bank(self) -> Polygon:
        """The strip watched on the right bank (``right_country``)."""
        return self._own(self.line.buffer(-self.right_width_m, single_sided=True))

    def _own(self, strip: Polygon) -> Polygon:
        """``strip`` without the ground nearer another part of the parent line than to this one."""
        if self._own_ground is None:
            return _clean(strip)
        return _clean(shapely.intersection(shapely.make_valid(strip), self._own_ground))

    @cached_property
    def _own_ground(self) -> Polygon | None:
        """Where the nearest part of the parent line is this line (within reach of its banks); None for a line
        not cut from a longer one.

        A stretch cut from a meandering river would otherwise watch the river's next loop, which lies within a
        bank's width of the stretch but belongs to other chainages: what is found there would be placed at the
        stretch's nearer end and judged against the wrong direction of the river. Built from the Voronoi cells
        of points every ``OWN_GROUND_STEP_M`` along the parent line, so its edges are good to about that step."""
        if self.parent_line is None:
            return None
        parent, step = self.parent_line, OWN_GROUND_STEP_M
        start = self.chainage_offset_km * 1000.0
        end = start + self.line.length
        if start <= 1.0 and end >= parent.length - 1.0:
            return None  # the whole line: there is no other part of it
        xy = shapely.get_coordinates(shapely.segmentize(parent, step))  # the vertices, and points between them
        d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        keep = (np.abs(d - start) > 1.0) & (np.abs(d - end) > 1.0)
        ends = shapely.get_coordinates(shapely.line_interpolate_point(parent, [start, end]))
        xy, d = np.concatenate([xy[keep], ends]), np.concatenate([d[keep], [start, end]])
        _, first = np.unique(np.round(xy, 3), axis=0, return_index=True)  # Voronoi cells need distinct points
        first.sort()
        pts, d = shapely.points(xy[first]), d[first]
        reach = max(self.left_width_m, self.right_width_m)
        # a point within reach of this line has its nearest parent point within twice the reach of it
        near = shapely.dwithin(pts, self.line, 2.0 * reach + step)
        cells = shapely.get_parts(shapely.voronoi_polygons(
            shapely.multipoints(pts[near]), extend_to=self.line.buffer(3.0 * reach + step), ordered=True))
        mine = (d[near] >= start - 1e-6) & (d[near] <= end + 1e-6)
        return _clean(shapely.union_all(cells[mine]))

    @cached_property
    def area(self) -> Polygon:
        """The whole watched area: both banks (in the corridor CRS)."""
        return _clean(shapely.union(self.left_bank, self.right_bank).buffer(0.01))

    def bank_polygon(self, country: str) -> Polygon:
        if country == self.left_country:
            return self.left_bank
        if country == self.right_country:
            return self.right_bank
        raise CorridorError(self.name, f"no bank for country {country!r}")

    # -- chainage ---------------------------------------------------------------
    def locate_xy(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Chainage (km) and signed offset (m, + = left bank) for arrays of CRS points."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        y = np.atleast_1d(np.asarray(y, dtype=float))
        pts = shapely.points(x, y)
        along = shapely.line_locate_point(self.line, pts)
        near = shapely.line_interpolate_point(self.line, along)
        # tangent from two points either side of the foot (clamped to the line)
        step = 1.0
        a = shapely.line_interpolate_point(self.line, np.clip(along - step, 0, self.line.length))
        b = shapely.line_interpolate_point(self.line, np.clip(along + step, 0, self.line.length))
        tx = shapely.get_x(b) - shapely.get_x(a)
        ty = shapely.get_y(b) - shapely.get_y(a)
        dx = x - shapely.get_x(near)
        dy = y - shapely.get_y(near)
        cross = tx * dy - ty * dx
        dist = np.hypot(dx, dy)
        offset = np.where(cross >= 0, dist, -dist)
        return along / 1000.0, offset

    def locate(self, x: float, y: float) -> Location:
        """Where a point (in the corridor CRS) lies along and across the river."""
        km, off = self.locate_xy(x, y)
        return Location(float(km[0]), float(off[0]), self.country_for_offset(float(off[0])))

    def locate_lonlat(self, lon: float, lat: float) -> Location:
        x, y = self.xy_from_lonlat(lon, lat)
        return self.locate(x, y)

    def country_for_offset(self, offset_m: float) -> str:
        return self.left_country if offset_m >= 0 else self.right_country

    def point_at(self, chainage_km: float, offset_m: float = 0.0) -> Point:
        """The CRS point at a chainage, moved ``offset_m`` to the left (+) or right (-)."""
        d = min(max(chainage_km * 1000.0, 0.0), self.line.length)
        p = self.line.interpolate(d)
        if offset_m == 0.0:
            return p
        a = self.line.interpolate(max(d - 1.0, 0.0))
        b = self.line.interpolate(min(d + 1.0, self.line.length))
        tx, ty = b.x - a.x, b.y - a.y
        n = math.hypot(tx, ty) or 1.0
        return Point(p.x - ty / n * offset_m, p.y + tx / n * offset_m)

    def direction_deg_at(self, chainage_km: float, half_window_m: float = 25.0) -> float:
        """Compass bearing (0 = north, clockwise) of the line's direction of travel at a chainage."""
        return _bearing_along(self.line, chainage_km * 1000.0, half_window_m)

    def facing_country(self, chainage_km, heading_deg) -> np.ndarray:
        """The country whose bank a vehicle at ``chainage_km`` faces, from its grid heading.

        The river's direction is taken over 200 m so a wiggle of the border line
        does not flip the answer; a vehicle driving along the river (within 20°
        of it) faces neither bank and gets "" (it says nothing about import or export).
        """
        km = np.atleast_1d(np.asarray(chainage_km, dtype=float))
        hd = np.atleast_1d(np.asarray(heading_deg, dtype=float))
        river = np.array([self.direction_deg_at(float(k), 100.0) for k in km])
        across = np.sin(np.radians(river - hd))  # > 0: the heading turns left of the river's direction
        out = np.where(across > 0, self.left_country, self.right_country).astype(object)
        out[np.abs(across) < math.sin(math.radians(20.0))] = ""
        return out

    # -- places -----------------------------------------------------------------
    @cached_property
    def places(self) -> list[Place]:
        """The corridor's places with chainage measured from the origin.

        Places beyond the ends of a cut stretch are measured on the parent line,
        so Poch'on (upstream of Hyesan) gets a negative chainage.
        """
        ref = self.parent_line if self.parent_line is not None else self.line
        out = []
        for name, lon, lat, source, licence in self.place_points:
            x, y = self.xy_from_lonlat(lon, lat)
            pt = Point(x, y)
            km_parent = ref.project(pt) / 1000.0
            km = km_parent - (self.chainage_offset_km if self.parent_line is not None else 0.0)
            foot = ref.interpolate(ref.project(pt))
            # side from the local tangent of the reference line
            d = ref.project(pt)
            a = ref.interpolate(max(d - 1.0, 0.0))
            b = ref.interpolate(min(d + 1.0, ref.length))
            cross = (b.x - a.x) * (pt.y - foot.y) - (b.y - a.y) * (pt.x - foot.x)
            off = pt.distance(foot) * (1 if cross >= 0 else -1)
            out.append(Place(name, lon, lat, km, off, self.country_for_offset(off), source, licence))
        return sorted(out, key=lambda p: p.chainage_km)

    def place(self, query: str) -> Place:
        """A place by name: case-insensitive, ignoring punctuation, prefix allowed."""
        return _match_place(self.places, query, self.name)

    # -- stretches --------------------------------------------------------------
    def stretch(self, start_km: float, end_km: float, name: str | None = None) -> "Corridor":
        """The part of this corridor between two chainages (km from this corridor's origin)."""
        if not (0 <= start_km < end_km):
            raise CorridorError(self.name, f"bad stretch {start_km}:{end_km} km (need 0 <= start < end)")
        if start_km >= self.length_km:
            raise CorridorError(self.name, f"stretch starts at km {start_km} beyond the end (km {self.length_km:.1f})")
        end_km = min(end_km, self.length_km)
        cut = substring(self.line, start_km * 1000.0, end_km * 1000.0)
        parent = self.parent_line if self.parent_line is not None else self.line
        base = self.chainage_offset_km if self.parent_line is not None else 0.0
        return Corridor(
            name=name or f"{self.name}[{_fmt_km(start_km)}:{_fmt_km(end_km)}]",
            line=cut,
            crs=self.crs,
            left_country=self.left_country,
            right_country=self.right_country,
            origin_name=self.origin_name if start_km == 0 else f"km {start_km:g} from {self.origin_name}",
            left_width_m=self.left_width_m,
            right_width_m=self.right_width_m,
            source=self.source,
            attribution=self.attribution,
            parent_line=parent,
            chainage_offset_km=base + start_km,
            place_points=list(self.place_points),
            freeze_season=self.freeze_season,
        )

    def may_freeze_on(self, d: date) -> bool:
        """Whether the river can be frozen on date ``d`` (its freeze season; a season may run over New Year)."""
        if self.freeze_season is None:
            return False
        start, end = self.freeze_season
        md = (d.month, d.day)
        return start <= md <= end if start <= end else (md >= start or md <= end)

    def with_widths(self, left_m: float, right_m: float) -> "Corridor":
        from dataclasses import replace

        return replace(self, left_width_m=left_m, right_width_m=right_m)

    # -- records ----------------------------------------------------------------
    def describe(self) -> dict:
        """A plain summary (what ``borderwatch corridor show`` prints, and the store keeps)."""
        return {
            "name": self.name,
            "length_km": round(self.length_km, 3),
            "crs": f"EPSG:{self.epsg}",
            "origin": self.origin_name,
            "left_country": self.left_country,
            "right_country": self.right_country,
            "left_width_m": self.left_width_m,
            "right_width_m": self.right_width_m,
            "chainage_offset_km": round(self.chainage_offset_km, 3),
            "source": self.source,
            "attribution": self.attribution,
            "freeze_season": format_season(self.freeze_season),
        }


def parse_season(text: str, source: str = "freeze_season") -> tuple[tuple[int, int], tuple[int, int]]:
    """'MM-DD/MM-DD' (first and last day, e.g. '11-15/04-15') as ((month, day), (month, day))."""
    try:
        days = []
        for part in str(text).split("/"):
            m, d = (int(v) for v in part.strip().split("-"))
            date(2000, m, d)  # a real day (29 February allowed)
            days.append((m, d))
        if len(days) != 2:
            raise ValueError
    except ValueError:
        raise CorridorError(source, f"freeze season {text!r} is not 'MM-DD/MM-DD' (first and last day, e.g. 11-15/04-15)") from None
    return days[0], days[1]


def format_season(season: tuple[tuple[int, int], tuple[int, int]] | None) -> str | None:
    return None if season is None else "/".join(f"{m:02d}-{d:02d}" for m, d in season)


def _clean(geom):
    geom = shapely.make_valid(geom)
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        geom = shapely.union_all(polys)
    return geom


def _fmt_km(v: float) -> str:
    return f"{v:g}"


def _norm(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def _match_place(places: list[Place], query: str, where: str) -> Place:
    q = _norm(query)
    if not q:
        raise CorridorError(where, f"empty place name {query!r}")
    exact = [p for p in places if _norm(p.name) == q]
    if exact:
        return exact[0]
    pref = [p for p in places if _norm(p.name).startswith(q)]
    if len(pref) == 1:
        return pref[0]
    names = ", ".join(p.name for p in places) or "none"
    if len(pref) > 1:
        raise CorridorError(where, f"place {query!r} is ambiguous ({', '.join(p.name for p in pref)})")
    raise CorridorError(where, f"unknown place {query!r} (known: {names})")


def bearing_near(line, x: float, y: float, half_window_m: float = 100.0) -> float | None:
    """Compass bearing of ``line`` (LineString or MultiLineString, e.g. a corridor line clipped to a tile)
    where it passes nearest to (x, y), over ``half_window_m`` either side; None for an empty line.

    A 512 m tile on a bend holds several directions of the river; this is the one at a point.
    """
    parts = [g for g in getattr(line, "geoms", [line]) if not g.is_empty and g.length > 0]
    if not parts:
        return None
    here = shapely.Point(x, y)
    part = min(parts, key=here.distance)
    return _bearing_along(part, part.project(here), half_window_m)


def _bearing_along(line, d: float, half_window_m: float) -> float:
    """Compass bearing of ``line`` at ``d`` metres along it, from the points ``half_window_m`` either side."""
    d = min(max(d, 0.0), line.length)
    a = line.interpolate(max(d - half_window_m, 0.0))
    b = line.interpolate(min(d + half_window_m, line.length))
    return math.degrees(math.atan2(b.x - a.x, b.y - a.y)) % 360.0
